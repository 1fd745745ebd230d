"""Running a model through LiteRT's Intel OpenVINO NPU plugin on this machine: the plugin's compile
step (``apply_plugin_main --cmd=apply``) for an OpenVINO device, and a LiteRT Environment whose
NPU accelerator is the plugin's dispatch library. Used by the compiled backend's ``npu-intel``
delegate and by the ``npu_plugin`` job."""
from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

from core.inference.toolchains import litert_dir, package_dir, plugin_library
from core.inference.worker.protocol import WorkerError

TOOL_TIMEOUT_S = 600
INTEL = {"dir": "intel_openvino", "manufacturer": "IntelOpenVINO"}


def tool_lines(log: str) -> list[str]:
    """The tool's and the plugin's warnings and errors (not the registry chatter). An error's
    untagged continuation lines (OpenVINO's exception text: the node and the reason) join it."""
    keep: list[str] = []
    joining = False
    for ln in log.splitlines():
        s = ln.strip()
        if not s or "registry.cc" in s or "outstream.h" in s:
            joining = False
            continue
        if s.startswith(("ERROR", "E0", "F0", "WARNING")) or "Failed" in s or "error" in s:
            keep.append(s[:400])
            joining = s.startswith(("ERROR", "E0", "F0"))
        elif joining and not s.startswith(("INFO", "I0", "W0", "[")):
            keep[-1] = f"{keep[-1]} {s}"[:1200]
        else:
            joining = False
    return keep[-30:]


def preload_openvino() -> None:
    """Load OpenVINO's runtime globally before LiteRT opens the Intel dispatch library, which
    links it by soname (libopenvino.so.<release>) and would not find it in openvino/libs."""
    libs = package_dir("openvino")
    found = sorted((libs / "libs").glob("libopenvino.so.*")) if libs else []
    if not found:
        raise WorkerError("backend_missing", "openvino is not installed (pip install "
                                             "'LiteLens[npu-intel]')")
    ctypes.CDLL(str(found[0]), mode=ctypes.RTLD_GLOBAL)


def compile_for_dispatch(model: str, out: Path, soc: str = "LNL", device: str = "cpu") -> Path:
    """``model`` compiled by the Intel plugin (``--cmd=apply``) for OpenVINO device ``device``
    into ``out``; WorkerError with the tool's words when a partition does not compile."""
    base = litert_dir()
    lib = plugin_library(INTEL["dir"])
    if base is None or lib is None:
        raise WorkerError("backend_missing", "ai-edge-litert has no Intel OpenVINO compiler plugin")
    cmd = [str(base / "tools" / "apply_plugin_main"), "--cmd=apply", f"--model={model}",
           f"--libs={lib.parent}", f"--soc_manufacturer={INTEL['manufacturer']}",
           f"--soc_model={soc}", f"--intel_openvino_graph_backends={device}", f"--o={out}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                          timeout=TOOL_TIMEOUT_S)
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        said = tool_lines(proc.stdout + "\n" + proc.stderr)
        raise WorkerError("delegate", "the Intel OpenVINO plugin could not compile the model: "
                          + ("; ".join(said[-3:]) or f"exit code {proc.returncode}"))
    return out


def dispatch_environment():
    """A LiteRT Environment whose NPU accelerator is the Intel plugin's dispatch library."""
    from ai_edge_litert.environment import Environment
    base = litert_dir()
    assert base is not None
    preload_openvino()
    return Environment.create(
        dispatch_library_path=str(base / "vendors" / INTEL["dir"] / "dispatch"))
