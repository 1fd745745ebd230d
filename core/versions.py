"""Versions of LiteLens and the libraries it runs on, for the About box and bug reports."""
from __future__ import annotations

import platform
from importlib import metadata

from core import __version__

# The ai-edge-litert release the delegate tables (resources/ops/delegates/*.json, "runtime") and
# the memory planner (core.analysis.memory.litert.RUNTIME) were read from and checked against;
# tests/analysis/test_runtime_pins.py fails when the installed wheel or a table says otherwise.
LITERT_TABLES_VERSION = "2.3.0"

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


def runtime_version_note(runtime_version: str | None) -> str | None:
    """The note to show when a run uses a runtime other than the one the tables follow (e.g. a
    ``--python`` venv): "tables follow LiteRT 2.3.0; this runtime is 2.4.1". None when equal or
    unknown (nothing to warn about that can be said truthfully)."""
    if not runtime_version or runtime_version == LITERT_TABLES_VERSION:
        return None
    return f"tables follow LiteRT {LITERT_TABLES_VERSION}; this runtime is {runtime_version}"
