"""The ethos_u job: compile the model with Arm's vela for one Ethos-U accelerator and hand back
what vela decided and estimated.

Vela runs as a child process of the worker (it prints its report on stdout and may raise or exit
anywhere; the worker only imports the model reader). It compiles a copy whose tensors carry
stamped names (``core.model.stamp``), so every name vela prints or writes leads back to the
original tensor. Sent back (message ``vela``):
- ``compiled``: per subgraph of vela's ``*_vela.tflite``, each op with its type, custom code and
  the original (subgraph, tensor) of its inputs and outputs (None for tensors vela made). Ops left
  on the CPU stay ordinary ops there; NPU work is an ``ethos-u`` custom op. This file is the
  record for every subgraph (the text report covers only the first);
- ``reasons``: vela's "placing on the CPU" warnings (op type, output tensor, reason text);
- ``layers``: the per-layer performance CSV rows (NPU op, cycles, original tensor of its name);
- ``summary``: the network summary CSV row (SRAM/off-chip use, cycles, inference time, clock).
params: ``accelerator`` (vela's --accelerator-config), ``system_config``, ``memory_mode``,
``optimise``, ``config`` (vela .ini, default its Arm/vela.ini).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.toolchains import vela_version
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession

VELA_TIMEOUT_S = 600
# vela 5's regor front end: "Warning (supported operators) operator: CONV_2D, ofm: 'x'" then
# "Reason: ..." and detail lines up to a blank line; the older Python path: "Warning:
# Unsupported TensorFlow Lite semantics for CONV_2D 'x'. Placing on CPU instead" then " - ..."
_REGOR_WARNING = re.compile(r"^Warning \(supported operators\) operator: (\w+), ofm: '(.*)'$")
_PY_WARNING = re.compile(r"^Warning: (?:Unsupported TensorFlow Lite semantics|"
                         r"[\w ]*not supported) for (\w+) '(.*)'\. Placing on CPU instead$")


def parse_reasons(stdout: str) -> list[dict]:
    """vela's CPU-placement warnings: [{"op", "ofm", "reason"}] in the order printed."""
    out: list[dict] = []
    lines = stdout.splitlines()
    i = 0
    while i < len(lines):
        m = _REGOR_WARNING.match(lines[i]) or _PY_WARNING.match(lines[i])
        i += 1
        if not m:
            continue
        detail = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("Warning"):
            detail.append(lines[i].strip().removeprefix("Reason: ").removeprefix("- ").strip())
            i += 1
        out.append({"op": m.group(1), "ofm": m.group(2), "reason": "; ".join(detail)})
    return out


def _failure(stdout: str, stderr: str) -> str:
    """The line that says why vela gave up ("Compilation failed: ..." or its last words)."""
    text = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    for ln in text:
        if "Error" in ln or "error" in ln:
            detail = text[text.index(ln) + 1:text.index(ln) + 3]
            return " ".join([ln.removeprefix("RuntimeError: ")] +
                            [d for d in detail if not d.startswith("Failed to")])
    return text[-1] if text else "vela failed without a message"


def _layers(path: Path) -> list[dict]:
    from core.model.stamp import stamped_tensor
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({"original": r.get("Original Operator"), "op": r.get("NNG Operator"),
                         "target": r.get("Target"), "cycles": float(r.get("Op Cycles") or 0),
                         "macs": float(r.get("MAC Count") or 0),
                         "tensor": list(stamped_tensor(r.get("Name", "")) or ()) or None})
    return rows


def _summary(path: Path) -> dict:
    with open(path, newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh), None) or {}
    out: dict = {}
    for k, v in row.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            out[k] = v
    return out


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    version = vela_version()
    ch.send("hello", pid=os.getpid(), python=sys.executable,
            backend=f"vela {version}" if version else "vela (not installed)")
    if version is None:
        raise WorkerError("backend_missing", "ethos-u-vela is not installed in "
                                             f"{sys.executable} (pip install ethos-u-vela, or "
                                             "pip install 'LiteLens[micro]')")
    p = cfg.get("params") or {}
    ch.send("stage", stage="stamp")
    from core.model.stamp import compiled_ops, stamped_copy
    try:
        stamped = stamped_copy(Path(cfg["model"]).read_bytes())
    except (OSError, ValueError) as e:
        raise WorkerError("load", f"cannot prepare a copy for vela: {e}") from None
    work = Path(tempfile.mkdtemp(prefix="litelens-vela-"))
    try:
        src = work / "model.tflite"
        src.write_bytes(stamped)
        out = work / "out"
        cmd = [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; "
                                     "sys.exit(main())",
               str(src), "--output-dir", str(out), "--accelerator-config", p["accelerator"],
               "--config", p.get("config") or "Arm/vela.ini",
               "--system-config", p["system_config"], "--memory-mode", p["memory_mode"],
               "--optimise", p.get("optimise", "Performance"), "--verbose-performance"]
        ch.send("stage", stage="vela")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=VELA_TIMEOUT_S, cwd=work,
                                  env={**os.environ, "PYTHONHASHSEED": "0"})
        except subprocess.TimeoutExpired:
            raise WorkerError("timeout", f"vela did not finish in {VELA_TIMEOUT_S} s") from None
        ch.send("stage", stage="read")
        compiled_path = out / "model_vela.tflite"
        if proc.returncode != 0 or not compiled_path.is_file():
            ch.send("vela", version=version, ok=False, command=cmd[3:],
                    failure=_failure(proc.stdout, proc.stderr),
                    reasons=parse_reasons(proc.stdout))
        else:
            layers = out / "model_per-layer.csv"
            summaries = sorted(out.glob("model_summary_*.csv"))
            ch.send("vela", version=version, ok=True, command=cmd[3:], failure=None,
                    reasons=parse_reasons(proc.stdout), compiled=compiled_ops(compiled_path),
                    layers=_layers(layers) if layers.is_file() else [],
                    summary=_summary(summaries[0]) if summaries else {})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "ethos_u"

    def __init__(self, session: JobSession):
        self.session = session
        self.vela: dict | None = None

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "vela":
            self.vela = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        return {"stamp": "while preparing the model for vela",
                "vela": "while vela compiled the model",
                "read": "while reading vela's output"}.get(self.session.stage)

    def result(self) -> dict[str, Any]:
        s = self.session
        return {"model": str(s.cfg.model), "vela": self.vela, **s.outcome().to_json()}
