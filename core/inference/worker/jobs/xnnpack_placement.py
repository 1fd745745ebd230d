"""The xnnpack_placement job: which nodes the real XNNPACK delegate replaced.

The model is loaded with the runtime's default op resolver (XNNPACK applied when tensors are
allocated); then ``execution_plan.PlanProbe`` reads every subgraph's execution plan and the nodes
each DELEGATE kernel replaced, as the runtime recorded them (``partitions``: the primary
subgraph; ``subgraphs``: every subgraph the runtime delegates, CALL_ONCE init and control-flow
bodies included). Allocation may fail after delegation (unresolved custom or Flex ops); the
placement is still what the runtime did, so it is reported with the allocation error. ``delegate_options`` may turn off delegate
clustering or node fusion (``{"clustering": false}``, ``{"node_fusion": false}``), the interpreter
settings that change how partitions form.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.worker.backends import start_backend
from core.inference.worker.execution_plan import PlanProbe, PlanSeen
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession
    from core.inference.results import PlacementResult


# -- worker side ------------------------------------------------------------------------------
def _per_subgraph(w, plans: list[PlanSeen]) -> list[dict]:
    """The probe's plans, in subgraph order with the runtime's skipped subgraphs left out,
    matched to subgraph indices by their tensor counts."""
    out, si = [], 0
    for plan in plans:
        while si < w.NumSubgraphs() and w.NumTensors(si) != plan.tensors:
            si += 1
        if si == w.NumSubgraphs():
            raise WorkerError("delegate", "the execution plans read back match no subgraph")
        out.append({"subgraph": si, "partitions": plan.partitions})
        si += 1
    return out


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    if cfg.get("backend", "litert") != "litert" or cfg.get("delegate", "xnnpack") != "xnnpack":
        raise WorkerError("config", "the placement check runs LiteRT's Interpreter with its "
                                    "default XNNPACK delegate (backend litert, delegate xnnpack)")
    start_backend(cfg, ch)
    from importlib.metadata import version

    from ai_edge_litert.interpreter import Interpreter
    ch.send("stage", stage="load")
    opts = cfg.get("delegate_options") or {}
    try:
        it = Interpreter(model_path=str(cfg["model"]),
                         experimental_disable_delegate_clustering=not opts.get("clustering", True),
                         experimental_disable_delegate_node_fusion=not opts.get("node_fusion",
                                                                                 True))
    except ValueError as e:
        raise WorkerError("load", str(e).strip().splitlines()[0]) from None
    # --shape: resize first; XNNPACK is applied when the tensors are allocated, at that shape
    shapes = cfg.get("shapes") or {}
    for d in it.get_input_details():
        if d["name"] in shapes:
            it.resize_tensor_input(d["index"], list(shapes[d["name"]]), strict=False)
    # the wrapper exposes the node table the public API does not; no reference to it may be
    # held while allocating (the interpreter refuses to run with outside references)
    own = it._interpreter.NumNodes()
    ch.send("stage", stage="delegate")
    error = None
    try:
        it.allocate_tensors()
    except RuntimeError as e:   # prepare failed after delegation: the placement still counts
        error = str(e).strip().splitlines()[0]
    w = it._interpreter
    probe = PlanProbe()   # held until the interpreter is gone
    subgraphs = _per_subgraph(w, probe.apply(w))
    partitions: list[list[int]] = next(
        (s["partitions"] for s in subgraphs if s["subgraph"] == 0), [])
    ch.send("placement", runtime=f"LiteRT {version('ai-edge-litert')}", subgraph=0, nodes=own,
            options={"clustering": opts.get("clustering", True),
                     "node_fusion": opts.get("node_fusion", True)},
            delegate_nodes=len(partitions), partitions=partitions, subgraphs=subgraphs,
            allocation_error=error)
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "xnnpack_placement"

    def __init__(self, session: JobSession):
        self.session = session
        self.placement: dict[str, Any] | None = None

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "placement":
            self.placement = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        stage = self.session.stage
        return {"load": "while loading the model",
                "delegate": "while applying the XNNPACK delegate"}.get(stage)

    def result(self) -> PlacementResult:
        s, out = self.session, self.session.outcome()
        res: PlacementResult = {"model": str(s.cfg.model), "placement": self.placement, "status": out.status,
                "error": out.error, "error_kind": out.error_kind}
        target = s.target_json()
        if target is not None:
            res["target"] = target
        return res
