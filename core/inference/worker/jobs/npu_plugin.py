"""The npu_plugin job: run one LiteRT NPU compiler plugin on the model with the wheel's own
``apply_plugin_main`` and hand back its placement (``--cmd=partition``) or whether each
partition compiles (``--cmd=apply``).

The plugin sees a copy with stamped tensor names (``core.model.stamp``). Its output keeps the
ops left on the CPU as ordinary ops and turns each partition into a ``DISPATCH_OP`` (the body
outlined into a new subgraph, or compiled to bytecode). Sent back (message ``plugin``): whether
the plugin library loads (``load_error``: the loader's own words, e.g. an undefined symbol), the
tool's exit code and log lines, the per-subgraph counts it logs, and the ops of its output.
params: ``dir`` (vendors/<dir>/compiler), ``manufacturer``, ``soc``, ``cmd`` (partition |
apply, or load: only try loading the plugin library), ``flags`` (extra ``--name=value`` for the tool), ``lib_path`` (directories the plugin's
SDK libraries live in).
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from core.inference.toolchains import litert_dir, plugin_library
from core.inference.worker.protocol import Channel, WorkerError

TOOL_TIMEOUT_S = 600
_PARTITIONED = re.compile(r"Partitioned subgraph<(\d+)>, selected (\d+) ops, from a total of "
                          r"(\d+) ops\. resulted in (\d+) partitions")


def load_error(lib: Path) -> str | None:
    """None when the plugin library loads here, else the dynamic loader's message."""
    try:
        ctypes.CDLL(str(lib))
    except OSError as e:
        return str(e)
    return None


def logged_counts(log: str) -> list[dict]:
    """The tool's own per-subgraph summary: [{"subgraph", "selected", "total", "partitions"}]."""
    return [{"subgraph": int(m.group(1)), "selected": int(m.group(2)), "total": int(m.group(3)),
             "partitions": int(m.group(4))} for m in _PARTITIONED.finditer(log)]


def _tool_lines(log: str) -> list[str]:
    """The tool's and the plugin's warnings and errors (not the registry chatter)."""
    keep = []
    for ln in log.splitlines():
        s = ln.strip()
        if not s or "registry.cc" in s or "outstream.h" in s:
            continue
        if s.startswith(("ERROR", "E0", "F0", "WARNING")) or "Failed" in s or "error" in s:
            keep.append(s[:400])
    return keep[-30:]


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    from importlib.metadata import version
    p = cfg.get("params") or {}
    base = litert_dir()
    ch.send("hello", pid=os.getpid(), python=sys.executable,
            backend=f"ai-edge-litert {version('ai-edge-litert')}" if base else "ai-edge-litert "
                                                                           "(not installed)")
    if base is None:
        raise WorkerError("backend_missing", "ai-edge-litert is not installed")
    tool = base / "tools" / "apply_plugin_main"
    lib = plugin_library(p["dir"])
    if lib is None or not tool.is_file():
        raise WorkerError("backend_missing", f"ai-edge-litert {version('ai-edge-litert')} has no "
                                             f"{'compiler plugin for ' + p['dir'] if lib is None else 'apply_plugin_main'}")
    env = dict(os.environ)
    extra = [d for d in p.get("lib_path") or [] if d]
    if extra:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(extra + [env.get("LD_LIBRARY_PATH", "")])
        os.environ["LD_LIBRARY_PATH"] = env["LD_LIBRARY_PATH"]
    ch.send("stage", stage="load_plugin")
    problem = load_error(lib)
    if problem or p.get("cmd") == "load":
        ch.send("plugin", ok=problem is None, load_error=problem, returncode=None, lines=[], counts=[],
                compiled=None, library=str(lib))
        ch.send("done", stopped=stop.is_set())
        return
    ch.send("stage", stage="stamp")
    from core.model.stamp import compiled_ops, stamped_copy
    try:
        stamped = stamped_copy(Path(cfg["model"]).read_bytes())
    except (OSError, ValueError) as e:
        raise WorkerError("load", f"cannot prepare a copy for the plugin: {e}") from None
    work = Path(tempfile.mkdtemp(prefix="litelens-npu-"))
    try:
        src, out = work / "model.tflite", work / "out.tflite"
        src.write_bytes(stamped)
        cmd = [str(tool), f"--cmd={p.get('cmd', 'partition')}", f"--model={src}",
               f"--libs={lib.parent}", f"--soc_manufacturer={p['manufacturer']}",
               f"--soc_model={p['soc']}", f"--o={out}", *p.get("flags", [])]
        ch.send("stage", stage=p.get("cmd", "partition"))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=TOOL_TIMEOUT_S, cwd=work, env=env)
        except subprocess.TimeoutExpired:
            raise WorkerError("timeout", f"apply_plugin_main did not finish in "
                                         f"{TOOL_TIMEOUT_S} s") from None
        log = proc.stdout + "\n" + proc.stderr
        ok = proc.returncode == 0 and out.is_file() and out.stat().st_size > 0 and \
            "\tFailed" not in log
        ch.send("stage", stage="read")
        ch.send("plugin", ok=ok, load_error=None, returncode=proc.returncode,
                lines=_tool_lines(log), counts=logged_counts(log), library=str(lib),
                compiled=compiled_ops(out) if ok else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    def __init__(self, session):
        self.session = session
        self.plugin: dict | None = None

    def fold(self, m: dict) -> None:
        if m["t"] == "plugin":
            self.plugin = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        return {"load_plugin": "while loading the compiler plugin",
                "stamp": "while preparing the model for the plugin",
                "partition": "while the plugin partitioned the model",
                "apply": "while the plugin compiled the model",
                "read": "while reading the plugin's output"}.get(self.session.stage)

    def result(self) -> dict:
        s = self.session
        return {"model": str(s.cfg.model), "plugin": self.plugin, **s.outcome()}
