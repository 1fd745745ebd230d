"""Where the target toolchains LiteLens runs live, found without importing them (importing vela or
a LiteRT vendor SDK is slow, and the Intel SDK copies files on import): the installed
ethos-u-vela's version, the ai_edge_litert folder, a vendor's compiler plugin library."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path


def dist_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def vela_version() -> str | None:
    """The installed ethos-u-vela's version, or None when it is not installed."""
    return dist_version("ethos-u-vela")


def package_dir(module: str) -> Path | None:
    """The folder of package ``module`` (not imported), or None."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def litert_dir() -> Path | None:
    """The installed ai_edge_litert package folder, or None."""
    return package_dir("ai_edge_litert")


def plugin_library(vendor_dir: str) -> Path | None:
    """``ai_edge_litert/vendors/<vendor_dir>/compiler/libLiteRtCompilerPlugin*``, or None."""
    base = litert_dir()
    if base is None:
        return None
    found = sorted((base / "vendors" / vendor_dir / "compiler").glob("libLiteRtCompilerPlugin*"))
    return found[0] if found else None


def intel_dispatch_ready() -> bool:
    """The Intel OpenVINO plugin can compile and dispatch here: its compiler plugin and dispatch
    library are in the wheel and openvino is installed (``LiteLens[npu-intel]``)."""
    base = litert_dir()
    return (base is not None and plugin_library("intel_openvino") is not None
            and any((base / "vendors" / "intel_openvino" / "dispatch").glob("libLiteRtDispatch*"))
            and dist_version("openvino") is not None)
