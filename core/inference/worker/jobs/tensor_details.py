"""The tensor_details job: what the runtime itself reports for every tensor of the allocated model
(``Interpreter.get_tensor_details()``): index, name, shape, shape signature, dtype, quantization.

The smallest complete job, and the pattern for the others: ``run`` in the worker, ``Folder`` in
the parent. The CompiledModel API has no per-tensor view, so ``compiled`` uses LiteRT's
Interpreter.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.worker.backends import dtype_name, load_model, start_backend
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession
    from core.inference.results import TensorDetailsResult


# -- worker side ------------------------------------------------------------------------------
def _tensor_row(d: dict) -> dict:
    scale, zero_point = d.get("quantization") or (0.0, 0)
    sig = d.get("shape_signature")
    return {"index": int(d["index"]), "name": d["name"],
            "shape": [int(x) for x in d["shape"]],
            "shape_signature": [int(x) for x in sig] if sig is not None else None,
            "dtype": dtype_name(d["dtype"]),
            "scale": float(scale), "zero_point": int(zero_point)}


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    if cfg.get("delegate") == "gpu":
        raise WorkerError("delegate", "tensor details come from the Interpreter API: choose a "
                                      "CPU delegate, not the gpu accelerator")
    backend = start_backend(cfg, ch)
    if backend == "compiled":  # no per-tensor view in CompiledModel: LiteRT's Interpreter
        backend = "litert"
    from core.inference.inputs import load_inputs  # numpy only
    arrays = load_inputs(cfg["inputs"])
    ch.send("stage", stage="load")
    runner = load_model(cfg, backend, arrays)
    ch.send("stage", stage="details")
    ch.send("tensors", tensors=[_tensor_row(d) for d in runner.it.get_tensor_details()])
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "tensor_details"

    def __init__(self, session: JobSession):
        self.session = session
        self.tensors: list[dict[str, Any]] = []

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "tensors":
            self.tensors = m["tensors"]

    def where(self) -> str | None:
        return "while reading the tensor details" if self.session.stage == "details" else None

    def result(self) -> TensorDetailsResult:
        s, out = self.session, self.session.outcome()
        res: TensorDetailsResult = {"model": str(s.cfg.model), "backend": s.runtime_label() or s.cfg.backend,
                "delegate": s.cfg.delegate, "python": s.worker_python(),
                "tensors": self.tensors, "status": out.status, "error": out.error,
                "error_kind": out.error_kind}
        target = s.target_json()
        if target is not None:
            res["target"] = target
        return res
