"""Versions of LiteLens and the libraries it runs on, for the About box and bug reports."""
from __future__ import annotations

import platform
from importlib import metadata

from core import __version__

# what a user reporting a problem is asked about: distribution name -> shown name
COMPONENTS = (("ai-edge-litert", "LiteRT (ai-edge-litert)"), ("numpy", "numpy"),
              ("ai-edge-quantizer", "ai-edge-quantizer"), ("flatbuffers", "flatbuffers"),
              ("PySide6-Essentials", "PySide6"), ("pyqtgraph", "pyqtgraph"))


def distribution_version(dist: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def component_versions() -> list[tuple[str, str]]:
    """(name, version or 'not installed') for LiteLens, Python and COMPONENTS."""
    rows = [("LiteLens", __version__), ("Python", platform.python_version())]
    rows += [(shown, distribution_version(dist) or "not installed") for dist, shown in COMPONENTS]
    return rows
