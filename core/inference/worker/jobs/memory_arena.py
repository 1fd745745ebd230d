"""The memory_arena job: where the runtime put every tensor after ``allocate_tensors()``.

Worker side: load and allocate (the config's delegate: ``builtin`` = default delegates off, or
``xnnpack``; its threads), then for every subgraph read each tensor's data address through the
interpreter's ``tensor(i)`` view — kernel temporaries too, whose indices follow the model's.
Skipped: tensors without a shape or type (temporaries a kernel reserved but did not use),
resource and variant tensors (heap memory; their data is never read: a view of a resource handle
crashes the runtime),
without data (dynamic, custom, optional) and 0-d ones (the view comes back as a copy, so its
address is not the tensor's). One message per subgraph, so a crash keeps what was read.
The resident anonymous memory (heap, not the mapped file) before loading and after allocating is
sent too: with XNNPACK on, what it adds there (packed weights, its own buffers) is its footprint.
Parent side: ``{"subgraphs": {s: {i: [addr, bytes]}}, "tensor_counts": {s: n},
"anon_rss_bytes": {"before_load", "after_allocate"} or None, "error": ...}``,
which ``core.analysis.memory.runtime.compare`` turns into offsets against a plan.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from core.inference.worker.backends import load_model, start_backend
from core.inference.worker.probes import anon_rss_bytes
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession
    from core.inference.results import ArenaResult


# -- worker side ------------------------------------------------------------------------------
def _addresses(it, s: int) -> list[list[int]]:
    w = it._interpreter  # the wrapper: per-subgraph tensor views the public API lacks
    rows = []
    for i in range(w.NumTensors(s)):
        try:
            w.TensorSize(i, s)
            dtype = w.TensorType(i, s)
        except ValueError:  # no shape or no type: a reserved temporary the kernel left unused
            continue
        if dtype is np.object_:
            # resource/variant handles: a view would read the runtime's own structures as
            # Python objects and crash; they live on the heap, not in an arena
            continue
        try:
            arr = w.tensor(it, i, s)
        except ValueError:  # null data: not allocated (dynamic, custom, optional)
            continue
        if getattr(arr, "ndim", 0) == 0:
            continue
        rows.append([i, int(arr.ctypes.data), int(arr.nbytes)])
        del arr  # a live view would block the interpreter
    return rows


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    if cfg.get("delegate") not in ("builtin", "xnnpack", "reference"):
        raise WorkerError("delegate", "the arena is read through LiteRT's Interpreter: use the "
                                      "builtin, reference or xnnpack delegate")
    backend = start_backend(cfg, ch)
    if backend != "litert":
        raise WorkerError("backend", "the arena is read through LiteRT's Interpreter (backend "
                                     "litert)")
    from core.inference.inputs import load_inputs  # numpy only
    arrays = load_inputs(cfg["inputs"])
    ch.send("stage", stage="load")
    before = anon_rss_bytes()
    runner = load_model(cfg, backend, arrays)
    after = anon_rss_bytes()
    if before is not None and after is not None:
        ch.send("footprint", before_load=before, after_allocate=after)
    it = runner.it
    for s in range(it._interpreter.NumSubgraphs()):
        ch.send("stage", stage="read", subgraph=s)
        ch.send("arena", subgraph=s, tensors=it._interpreter.NumTensors(s),
                addresses=_addresses(it, s))
    ch.send("done", stopped=stop.is_set())


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "memory_arena"

    def __init__(self, session: JobSession):
        self.session = session
        self.subgraphs: dict[int, dict[int, tuple[int, int]]] = {}
        self.counts: dict[int, int] = {}
        self.anon_rss: dict[str, int] | None = None

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "arena":
            self.counts[m["subgraph"]] = m["tensors"]
            self.subgraphs[m["subgraph"]] = {i: (a, b) for i, a, b in m["addresses"]}
        elif m["t"] == "footprint":
            self.anon_rss = {"before_load": int(m["before_load"]),
                             "after_allocate": int(m["after_allocate"])}

    def where(self) -> str | None:
        if self.session.stage == "read":
            # subgraphs are read in order, each reported when done
            return f"while reading the tensors of subgraph {len(self.subgraphs)}"
        return None

    def result(self) -> ArenaResult:
        s, out = self.session, self.session.outcome()
        res: ArenaResult = {"model": str(s.cfg.model), "delegate": s.cfg.delegate, "threads": s.cfg.threads,
                "subgraphs": self.subgraphs, "tensor_counts": self.counts,
                "anon_rss_bytes": self.anon_rss,
                "status": out.status, "error": out.error, "error_kind": out.error_kind}
        target = s.target_json()
        if target is not None:
            res["target"] = target
        return res
