"""The xnnpack_placement job: which nodes the real XNNPACK delegate replaced.

The model is loaded with the runtime's default op resolver (XNNPACK applied when tensors are
allocated) and the primary subgraph's node table is read back: nodes past the model's own are the
DELEGATE kernels; each one's outputs, walked back through producers until its inputs, give the
ops it replaced. Allocation may fail after delegation (unresolved custom or Flex ops); the
placement is still what the runtime did, so it is reported with the allocation error. Only the
primary subgraph is visible through the Python API. ``delegate_options`` may turn off delegate
clustering or node fusion (``{"clustering": false}``, ``{"node_fusion": false}``), the interpreter
settings that change how partitions form.
"""
from __future__ import annotations

import threading

from core.inference.worker.backends import start_backend
from core.inference.worker.protocol import Channel, WorkerError


# -- worker side ------------------------------------------------------------------------------
def _replaced(w, delegate_node: int, producer: dict[int, int]) -> list[int]:
    boundary = {int(t) for t in w.NodeInputs(delegate_node)}
    stack = [producer[int(t)] for t in w.NodeOutputs(delegate_node) if int(t) in producer]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for t in w.NodeInputs(n):
            t = int(t)
            if t >= 0 and t not in boundary and t in producer:
                stack.append(producer[t])
    return sorted(seen)


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
    producer = {int(t): n for n in range(own) for t in w.NodeOutputs(n)}
    partitions = [_replaced(w, d, producer) for d in range(own, w.NumNodes())
                  if w.NodeName(d) == "DELEGATE"]
    ch.send("placement", runtime=f"LiteRT {version('ai-edge-litert')}", subgraph=0, nodes=own,
            options={"clustering": opts.get("clustering", True),
                     "node_fusion": opts.get("node_fusion", True)},
            delegate_nodes=len(partitions), partitions=partitions, allocation_error=error)
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    def __init__(self, session):
        self.session = session
        self.placement: dict | None = None

    def fold(self, m: dict) -> None:
        if m["t"] == "placement":
            self.placement = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        stage = self.session.stage
        return {"load": "while loading the model",
                "delegate": "while applying the XNNPACK delegate"}.get(stage)

    def result(self) -> dict:
        s = self.session
        return {"model": str(s.cfg.model), "placement": self.placement, **s.outcome()}
