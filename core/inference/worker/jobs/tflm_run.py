"""The tflm_run job: load and run the model on TensorFlow Lite Micro (the ``tflite-micro``
package) with a given arena, and read back the arena TFLM really used.

TFLM aborts or segfaults the process on some models and arena sizes (a softmax scale check that
``abort()``s, out-of-arena writes), so it only ever runs here, in the worker.

Worker side, with ``params = {"arena_size": N, "compare": bool}``:
- with ``compare``, LiteRT's builtin kernels run the model first on the same inputs (stage
  ``litert``), so the outputs can be compared even if TFLM then kills the process;
- TFLM loads the model (stage ``tflm_load``: the interpreter allocates and prepares every kernel
  in its constructor), runs it once (``tflm_invoke``) and its recording allocator prints the head,
  tail and per-kind figures to fd 2 (captured and parsed);
- TFLM's refusal (a kernel's Prepare failing, an op without a kernel) is the message it logged.
Messages: ``tflm_refused`` {reason, log}, ``tflm_arena`` {head, tail, total, kinds},
``tflm_outputs`` {outputs: [...comparison...]}.

Parent side: ``{"model", "arena_size", "runtime", "refused", "arena", "outputs", **outcome}``.
"""
from __future__ import annotations

import re
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.worker.probes import NativeLog
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession

INSTALL_HINT = "pip install 'LiteLens[micro]' (or: pip install tflite-micro)"

_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_KIND = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes "
                   r"for (\d+) ")
# lines TFLM logs when it refuses a model (kernel checks, missing registrations)
_REFUSAL = re.compile(r"(was not true|failed to prepare|Didn't find op|Failed to get registration"
                      r"|not supported|Hybrid models|Type .* not|Only .* supported|"
                      r"Unsupported|failed to allocate|Failed to allocate|Too many buffers|"
                      r"arena size is too small|ERROR|Error)", re.I)


def parse_allocations(text: str) -> dict | None:
    """The recording allocator's printout -> {head, tail, total, kinds: {name: {used, requested,
    count}}}; None when it printed no totals."""
    totals = {k: int(v) for k, v in _TOTALS.findall(text)}
    if len(totals) < 3:
        return None
    kinds = {name: {"used": int(u), "requested": int(r), "count": int(n)}
             for name, u, r, n in _KIND.findall(text)}
    return {"head": totals["head"], "tail": totals["tail"], "total": totals["total"],
            "kinds": kinds}


def refusal_reason(text: str) -> str:
    """TFLM's own words for a refusal: its first meaningful log lines, joined."""
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    keep = [s for s in lines if _REFUSAL.search(s)] or lines
    return " | ".join(dict.fromkeys(keep[:4])) or "TFLM refused the model (no message)"


def runtime_label() -> str:
    try:
        return f"tflite-micro {version('tflite-micro')}"
    except PackageNotFoundError:
        return "tflite-micro (version unknown)"


# -- worker side ------------------------------------------------------------------------------
def _litert_outputs(cfg: dict, arrays) -> list:
    from core.inference.worker.backends import InterpreterRun, load_model
    runner = load_model({**cfg, "delegate": "builtin", "signature": None}, "litert", arrays)
    assert isinstance(runner, InterpreterRun)
    runner.set_inputs(arrays)
    runner.invoke_fn()()
    return [(name, arr.copy(), q) for name, arr, q in runner.outputs()]


def _compare(ref: list, got: list) -> list[dict]:
    import numpy as np

    from core.inference.error_metrics import cosine, dequantize
    out = []
    for k, (name, r, q) in enumerate(ref):
        if k >= len(got):
            out.append({"index": k, "name": name, "error": "TFLM gave no such output"})
            continue
        g = np.asarray(got[k])
        if g.shape != r.shape or g.dtype != r.dtype:
            out.append({"index": k, "name": name,
                        "error": f"TFLM gave {g.dtype}{list(g.shape)}, LiteRT "
                                 f"{r.dtype}{list(r.shape)}"})
            continue
        scale, zp = (q[0], q[1]) if q else (0.0, 0)
        rr, gg = dequantize(r, scale, zp), dequantize(g, scale, zp)
        raw = np.abs(r.astype(np.float64) - g.astype(np.float64))
        out.append({"index": k, "name": name, "dtype": str(r.dtype), "shape": list(r.shape),
                    "equal": int(np.count_nonzero(raw == 0)), "elements": int(raw.size),
                    "max_abs_diff": float(raw.max(initial=0.0)),
                    "max_abs_diff_real": float(np.abs(rr - gg).max(initial=0.0)),
                    "cosine": cosine(rr, gg)})
    return out


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    import numpy as np
    ch.send("stage", stage="import")
    try:
        from tflite_micro.python.tflite_micro import runtime as tflm
    except ImportError as e:
        raise WorkerError("backend_missing", f"tflite-micro is not installed ({e}); "
                                             f"{INSTALL_HINT}") from None
    label = runtime_label()
    ch.send("hello", backend=label, backend_key="tflm", numpy=np.__version__)
    params = cfg.get("params") or {}
    arena = int(params["arena_size"])
    from core.inference.inputs import load_inputs
    arrays = load_inputs(cfg["inputs"])
    reference = None
    if params.get("compare"):
        ch.send("stage", stage="litert")
        try:
            reference = _litert_outputs(cfg, arrays)
        except WorkerError as e:   # LiteRT cannot run it: TFLM still can
            ch.send("litert_failed", message=str(e))
    ch.send("stage", stage="tflm_load")
    log = NativeLog(cfg.get("native_log"))
    try:
        with log:
            it = tflm.Interpreter.from_file(cfg["model"], arena_size=arena)
    except (RuntimeError, ValueError) as e:
        ch.send("tflm_refused", reason=refusal_reason(log.text), detail=str(e).strip(),
                runtime=label)
        ch.send("done", stopped=stop.is_set())
        return
    ch.send("stage", stage="tflm_invoke")
    with NativeLog() as invoke_log:
        try:
            for i, a in enumerate(arrays):
                it.set_input(a, i)
            it.invoke()
            failed = None
        except (RuntimeError, ValueError) as e:
            failed = str(e).strip()
    if failed is not None:
        ch.send("tflm_refused", reason=refusal_reason(invoke_log.text), detail=failed,
                runtime=label, stage="invoke")
        ch.send("done", stopped=stop.is_set())
        return
    got = []
    for k in range(len(reference) if reference is not None else 0):
        got.append(it.get_output(k))
    ch.send("stage", stage="tflm_report")
    with NativeLog() as report:
        it.print_allocations()
    figures = parse_allocations(report.text)
    if figures is None:
        raise WorkerError("tflm_report", "TFLM printed no arena figures: "
                                         + (report.text.strip()[:200] or "(nothing)"))
    ch.send("tflm_arena", runtime=label, **figures)
    if reference is not None:
        ch.send("tflm_outputs", outputs=_compare(reference, got))
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "tflm_run"

    def __init__(self, session: JobSession):
        self.session = session
        self.refused: dict | None = None
        self.arena: dict | None = None
        self.outputs: list | None = None
        self.runtime: str | None = None
        self.litert_error: str | None = None

    def fold(self, m: dict[str, Any]) -> None:
        t = m["t"]
        if t == "tflm_refused":
            self.runtime = m["runtime"]
            self.refused = {"reason": m["reason"], "detail": m["detail"],
                            "stage": m.get("stage", "load")}
        elif t == "tflm_arena":
            self.runtime = m["runtime"]
            self.arena = {k: m[k] for k in ("head", "tail", "total", "kinds")}
        elif t == "tflm_outputs":
            self.outputs = m["outputs"]
        elif t == "litert_failed":
            self.litert_error = m["message"]

    def where(self) -> str | None:
        return {"litert": "while running the model on LiteRT for the reference outputs",
                "tflm_load": "while TFLM loaded and prepared the model",
                "tflm_invoke": "while TFLM ran the model",
                "tflm_report": "while TFLM printed its arena"}.get(self.session.stage)

    def result(self) -> dict[str, Any]:
        s = self.session
        return {"model": str(s.cfg.model), "arena_size": s.params.get("arena_size"),
                "runtime": self.runtime or s.info.get("backend"), "refused": self.refused,
                "arena": self.arena, "outputs": self.outputs, "litert_error": self.litert_error,
                **s.outcome().to_json()}
