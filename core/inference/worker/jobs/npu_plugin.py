"""The npu_plugin job: run one LiteRT NPU compiler plugin on the model with the wheel's own
``apply_plugin_main`` and hand back its placement (``--cmd=partition``) or whether each
partition compiles (``--cmd=apply``).

The plugin sees a copy with stamped tensor names (``core.model.stamp``). Its output keeps the
ops left on the CPU as ordinary ops and turns each partition into a ``DISPATCH_OP`` (the body
outlined into a new subgraph, or compiled to bytecode). Sent back (message ``plugin``): whether
the plugin library loads (``load_error``: the loader's own words, e.g. an undefined symbol), the
tool's exit code and log lines, the per-subgraph counts it logs, and the ops of its output.
When ``apply`` fails, ``partitions`` says which partitions the vendor compiler rejects, each
compiled alone.
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
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.toolchains import litert_dir, plugin_library
from core.inference.worker.npu_dispatch import (
    TOOL_TIMEOUT_S,
    compile_for_dispatch,
    dispatch_environment,
    tool_lines,
)
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession
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


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    from importlib.metadata import version
    p = cfg.get("params") or {}
    if p.get("cmd") == "run":
        run_against_xnnpack(cfg, ch, stop)
        return
    base = litert_dir()
    ch.send("hello", pid=os.getpid(), python=sys.executable,
            backend=f"ai-edge-litert {version('ai-edge-litert')}" if base else "ai-edge-litert "
                                                                           "(not installed)")
    if base is None:
        raise WorkerError("backend_missing", "ai-edge-litert is not installed")
    tool = base / "tools" / "apply_plugin_main"
    lib = plugin_library(p["dir"])
    if lib is None or not tool.is_file():
        missing = f"compiler plugin for {p['dir']}" if lib is None else "apply_plugin_main"
        if getattr(sys, "frozen", False):
            # build.spec leaves the OpenVINO-linked plugin out with OpenVINO itself
            raise WorkerError("backend_missing",
                              f"this LiteLens bundle has no {missing} (the bundle leaves the NPU "
                              "plugins that need OpenVINO out); `pip install "
                              "'LiteLens[npu-intel]'` has it")
        raise WorkerError("backend_missing",
                          f"ai-edge-litert {version('ai-edge-litert')} has no {missing}")
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
        tool_args = [f"--libs={lib.parent}", f"--soc_manufacturer={p['manufacturer']}",
                     f"--soc_model={p['soc']}", *p.get("flags", [])]
        cmd = p.get("cmd", "partition")
        ch.send("stage", stage=cmd)
        proc, ok, log = _tool(tool, cmd, src, out, tool_args, work, env)
        partitions = None
        if cmd == "apply" and not ok:
            # the apply step stops at the first partition the vendor compiler rejects and names
            # none: compile each partition on its own to know which ones fail
            ch.send("stage", stage="compile_partitions")
            partitions = compile_each_partition(tool, src, tool_args, work, env)
        ch.send("stage", stage="read")
        ch.send("plugin", ok=ok, load_error=None, returncode=proc.returncode,
                lines=tool_lines(log), counts=logged_counts(log), library=str(lib),
                compiled=compiled_ops(out) if ok else None, partitions=partitions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ch.send("done", stopped=stop.is_set())


def _tool(tool: Path, cmd: str, src: Path, out: Path, tool_args: list[str], work: Path,
          env: dict[str, str]) -> tuple[subprocess.CompletedProcess, bool, str]:
    """Run apply_plugin_main ``--cmd=cmd`` on ``src``: (the process, whether it wrote a
    non-empty output without a failed stage, its whole log)."""
    try:
        proc = subprocess.run([str(tool), f"--cmd={cmd}", f"--model={src}", f"--o={out}",
                               *tool_args], capture_output=True, text=True, errors="replace",
                              timeout=TOOL_TIMEOUT_S, cwd=work, env=env)
    except subprocess.TimeoutExpired:
        raise WorkerError("timeout", f"apply_plugin_main did not finish in "
                                     f"{TOOL_TIMEOUT_S} s") from None
    log = proc.stdout + "\n" + proc.stderr
    ok = proc.returncode == 0 and out.is_file() and out.stat().st_size > 0 and \
        "\tFailed" not in log
    return proc, ok, log


def compile_each_partition(tool: Path, src: Path, tool_args: list[str], work: Path,
                           env: dict[str, str]) -> list[dict]:
    """Partition ``src``, then compile each partition alone (``--cmd=compile`` on a model
    whose only subgraph is that partition's outlined body): [{"subgraph": index of the body in
    the partitioned model, "ok", "lines"}]."""
    from core.model.builder import rewrite
    from core.model.reader import open_model
    parted = work / "partitioned.tflite"
    _, ok, log = _tool(tool, "partition", src, parted, tool_args, work, env)
    if not ok:
        raise WorkerError("tool", "apply_plugin_main could not partition the model again: "
                                  + "; ".join(tool_lines(log)[-3:]))
    with open_model(src) as original, open_model(parted) as outlined:
        bodies = range(len(original.subgraphs), len(outlined.subgraphs))
    data = parted.read_bytes()
    found = []
    for k in bodies:
        def only_body(model_t, k: int = k) -> None:
            model_t.subgraphs = [model_t.subgraphs[k]]
            model_t.signatureDefs = []
        one = work / f"partition{k}.tflite"
        one.write_bytes(rewrite(data, only_body))
        _, ok, log = _tool(tool, "compile", one, work / f"partition{k}.bin", tool_args, work,
                           env)
        found.append({"subgraph": k, "ok": ok, "lines": tool_lines(log)})
    return found


def _timed(fn, runs: int) -> float:
    import time
    fn()                                            # warm-up (first run allocates)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1000.0


def run_against_xnnpack(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    """Compile with the Intel plugin, run through its dispatch library (CompiledModel, NPU
    accelerator) and with XNNPACK (Interpreter) on the same inputs: each one's median latency
    and how far each output of the dispatch run is from XNNPACK's. params: ``soc``, ``device``
    (OpenVINO device, cpu here), ``runs``."""
    import numpy as np
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.interpreter import Interpreter

    from core.inference.error_metrics import cosine
    from core.inference.inputs import load_inputs
    p = cfg.get("params") or {}
    runs = int(p.get("runs", 20))
    ch.send("hello", pid=os.getpid(), python=sys.executable, backend="ai-edge-litert "
            "CompiledModel + Intel OpenVINO dispatch")
    arrays = load_inputs(cfg["inputs"])
    ch.send("stage", stage="apply")
    work = Path(tempfile.mkdtemp(prefix="litelens-npu-run-"))
    try:
        compiled = compile_for_dispatch(cfg["model"], work / "compiled.tflite",
                                        p.get("soc", "LNL"), p.get("device", "cpu"))
        ch.send("stage", stage="dispatch")
        cm = CompiledModel.from_file(str(compiled), environment=dispatch_environment(),
                                     hardware_accel=HardwareAccelerator.NPU |
                                     HardwareAccelerator.CPU)
        inp, out = cm.create_input_buffers(0), cm.create_output_buffers(0)
        for b, a in zip(inp, arrays, strict=False):
            b.write(a)
        npu_ms = _timed(lambda: cm.run_by_index(0, inp, out), runs)
        ch.send("stage", stage="xnnpack")
        it = Interpreter(model_path=str(cfg["model"]))
        it.allocate_tensors()
        for d, a in zip(it.get_input_details(), arrays, strict=False):
            it.set_tensor(d["index"], a)
        xnn_ms = _timed(it.invoke, runs)
        outputs = []
        for d, b in zip(it.get_output_details(), out, strict=False):
            ref = it.get_tensor(d["index"])
            got = np.asarray(b.read(ref.size, ref.dtype)).reshape(ref.shape)
            a64, b64 = got.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
            # a NaN in either travels as null (the channel's strict JSON); the cosine is the
            # one every other output comparison uses (non-finite values that disagree: 0)
            outputs.append({"name": d["name"], "shape": list(ref.shape),
                            "max_abs": float(np.max(np.abs(a64 - b64))) if a64.size else 0.0,
                            "ref_max_abs": float(np.max(np.abs(b64))) if b64.size else 0.0,
                            "cosine": cosine(b64, a64)})
        ch.send("npu_run", fully_accelerated=bool(cm.is_fully_accelerated()), runs=runs,
                npu_median_ms=npu_ms, xnnpack_median_ms=xnn_ms, outputs=outputs,
                device=p.get("device", "cpu"), soc=p.get("soc", "LNL"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "npu_plugin"

    def __init__(self, session: JobSession):
        self.session = session
        self.plugin: dict | None = None
        self.npu_run: dict | None = None

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "plugin":
            self.plugin = {k: v for k, v in m.items() if k != "t"}
        elif m["t"] == "npu_run":
            self.npu_run = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        return {"load_plugin": "while loading the compiler plugin",
                "stamp": "while preparing the model for the plugin",
                "partition": "while the plugin partitioned the model",
                "apply": "while the plugin compiled the model",
                "compile_partitions": "while the plugin compiled each partition alone",
                "dispatch": "while running the model through the plugin's dispatch library",
                "xnnpack": "while running the model with XNNPACK",
                "read": "while reading the plugin's output"}.get(self.session.stage)

    def result(self) -> dict[str, Any]:
        s = self.session
        return {"model": str(s.cfg.model), "plugin": self.plugin, "npu_run": self.npu_run,
                **s.outcome().to_json()}
