"""The typed results of the memory analyses: what ``memory_report()`` and ``runtime_check()``
return and the GUI's Memory panel and the CLI read. JSON is made only at the edge
(``to_json()``, for ``litelens memory --json`` and the ``memory`` key of ``litelens report
--json``); the keys and their order are the contract in README.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Arena = Literal["main", "persistent"]


@dataclass(frozen=True)
class PlannedTensor:
    """Where a planner puts one runtime tensor (a model tensor or a kernel temporary)."""
    index: int           # the runtime's tensor index (temporaries numbered after the model's)
    name: str
    arena: Arena
    offset: int
    bytes: int
    first_op: int
    last_op: int
    temporary: bool      # a kernel temporary
    shares: int | None   # the tensor whose buffer it reuses (in-place), if any

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "arena": self.arena,
                "offset": self.offset, "bytes": self.bytes, "first_op": self.first_op,
                "last_op": self.last_op, "temporary": self.temporary, "shares": self.shares}


@dataclass(frozen=True)
class ArenaPlan:
    """LiteRT's arena plan of one subgraph (``tflite_arena``). ``lower_bound_bytes``: the most
    main-arena bytes alive at one op step under LiteRT's lifetimes, sizes and temporaries (shared
    buffers once), so never above ``arena_bytes``."""
    arena_bytes: int
    persistent_bytes: int
    peak_op: int | None
    tensors: list[PlannedTensor]
    lower_bound_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"arena_bytes": self.arena_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "persistent_bytes": self.persistent_bytes,
                "peak_op": self.peak_op, "tensors": [t.to_json() for t in self.tensors]}


@dataclass(frozen=True)
class GreedyPlan:
    """TFLM's greedy plan, the subgraph's share of the one region (``tflm_greedy``). Like
    ``arena_bytes``, ``lower_bound_bytes`` is the whole region's: the most bytes alive at one
    allocation scope under TFLM's lifetimes and sizes (``core.analysis.memory.bounds``)."""
    arena_bytes: int     # the whole region (every subgraph)
    tensors: list[PlannedTensor]
    lower_bound_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"arena_bytes": self.arena_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "tensors": [t.to_json() for t in self.tensors]}


PlannerKey = Literal["tflite_arena", "tflm_greedy"]


@dataclass(frozen=True)
class SubgraphMemory:
    """One subgraph: the plans, the lower bound, the weights, the live-bytes curve."""
    index: int
    name: str
    ops: int
    planned_ops: int                     # ops prepared at allocate_tensors()
    allocated_by_allocate_tensors: bool  # else: allocated when first run
    # LiteRT's bound (= ``tflite_arena.lower_bound_bytes``), kept at this level for the JSON
    # contract; each planner's own bound is in its block
    lower_bound_bytes: int
    weights_bytes: int
    live_bytes: list[int]                # main-arena bytes alive at each op
    notes: list[str]
    tflite_arena: ArenaPlan | None = None
    tflm_greedy: GreedyPlan | None = None

    def plan(self, key: PlannerKey) -> ArenaPlan | GreedyPlan | None:
        return self.tflite_arena if key == "tflite_arena" else self.tflm_greedy

    def to_json(self) -> dict[str, Any]:
        planners: dict[str, Any] = {}
        if self.tflite_arena is not None:
            planners["tflite_arena"] = self.tflite_arena.to_json()
        if self.tflm_greedy is not None:
            planners["tflm_greedy"] = self.tflm_greedy.to_json()
        return {"index": self.index, "name": self.name, "ops": self.ops,
                "planned_ops": self.planned_ops,
                "allocated_by_allocate_tensors": self.allocated_by_allocate_tensors,
                "lower_bound_bytes": self.lower_bound_bytes,
                "weights_bytes": self.weights_bytes, "live_bytes": list(self.live_bytes),
                "notes": list(self.notes), "planners": planners}


@dataclass(frozen=True)
class TieOrder:
    """Whether LiteRT's equal-key tie order is reproduced, so planned offsets are exact."""
    exact: bool
    reason: str


@dataclass(frozen=True)
class MemoryConfig:
    threads: int
    tie_order: TieOrder
    shapes: dict[str, list[int]] = field(default_factory=dict)   # inputs resized (--shape)
    dynamic_note: str | None = None    # a dynamic input left unset, and where to set it
    delegates: str = "none"
    note: str = "LiteRT builtin kernels with default delegates (XNNPACK) off"

    def to_json(self) -> dict[str, Any]:
        return {"threads": self.threads, "delegates": self.delegates, "note": self.note,
                "shapes": {k: list(v) for k, v in self.shapes.items()},
                "dynamic_note": self.dynamic_note,
                "offsets_exact": self.tie_order.exact, "offsets_note": self.tie_order.reason}


# -- the runtime's real arena against the plan -------------------------------------------------

@dataclass(frozen=True)
class ArenaCheck:
    """One arena (main or persistent) of one subgraph as the runtime laid it out. Without
    readable tensors (``runtime_bytes`` None) only the planned size and zero counts are known."""
    planned_bytes: int
    runtime_bytes: int | None
    tensors: int
    offsets_agree: int
    planned_readable_bytes: int = 0     # the furthest byte of a tensor the runtime can show
    base_aligned_64: bool = False
    missing_at_runtime: list[int] = field(default_factory=list)
    unreadable_0d: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        if self.runtime_bytes is None:
            return {"planned_bytes": self.planned_bytes, "runtime_bytes": None,
                    "tensors": self.tensors, "offsets_agree": self.offsets_agree}
        return {"planned_bytes": self.planned_bytes,
                "planned_readable_bytes": self.planned_readable_bytes,
                "runtime_bytes": self.runtime_bytes, "base_aligned_64": self.base_aligned_64,
                "tensors": self.tensors, "offsets_agree": self.offsets_agree,
                "missing_at_runtime": list(self.missing_at_runtime),
                "unreadable_0d": list(self.unreadable_0d)}


@dataclass(frozen=True)
class OffsetMismatch:
    index: int
    arena: Arena
    planned_offset: int
    runtime_offset: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "arena": self.arena, "planned_offset": self.planned_offset,
                "runtime_offset": self.runtime_offset, "bytes": self.bytes}


@dataclass(frozen=True)
class SubgraphCheck:
    index: int
    allocated: bool
    main_arena: ArenaCheck
    persistent_arena: ArenaCheck
    unplanned_in_arena: list[int]   # given arena memory by the runtime, not by the plan
    outside_arenas: list[int]       # given heap or file memory instead
    mismatches: list[OffsetMismatch]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "allocated": self.allocated,
                "main_arena": self.main_arena.to_json(),
                "persistent_arena": self.persistent_arena.to_json(),
                "unplanned_in_arena": list(self.unplanned_in_arena),
                "outside_arenas": list(self.outside_arenas),
                "mismatches": [m.to_json() for m in self.mismatches]}


@dataclass(frozen=True)
class XnnpackTakes:
    """Tensors the default XNNPACK delegate takes out of one subgraph's arena."""
    index: int
    tensors_out_of_arena: list[int]
    bytes_out_of_arena: int

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "tensors_out_of_arena": list(self.tensors_out_of_arena),
                "bytes_out_of_arena": self.bytes_out_of_arena}


@dataclass(frozen=True)
class AllocateFootprint:
    """What loading the model and ``allocate_tensors()`` added to the worker's resident
    anonymous memory (heap and private allocations, not the mapped model file), as the OS
    counts it, without and with XNNPACK: the difference is XNNPACK's own footprint at that
    point (packed weights, its buffers) less the arena bytes it saves. Buffers XNNPACK reserves
    but first touches when the model runs are not in it yet."""
    builtin_bytes: int
    xnnpack_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"builtin_bytes": self.builtin_bytes, "xnnpack_bytes": self.xnnpack_bytes,
                "xnnpack_extra_bytes": self.xnnpack_bytes - self.builtin_bytes}


@dataclass(frozen=True)
class XnnpackEffect:
    """With the default XNNPACK delegate: the tensors it leaves out of LiteRT's arena (a sum of
    their sizes, not memory XNNPACK uses) and, where the OS reports it, the memory it really
    adds (``footprint``)."""
    subgraphs: list[XnnpackTakes]
    error: str | None
    footprint: AllocateFootprint | None = None

    def to_json(self) -> dict[str, Any]:
        return {"subgraphs": [s.to_json() for s in self.subgraphs], "error": self.error,
                "footprint": self.footprint.to_json() if self.footprint else None}


@dataclass(frozen=True)
class RuntimeCheck:
    """The runtime's arenas against the plan, and what XNNPACK changes."""
    subgraphs: list[SubgraphCheck]
    error: str | None
    xnnpack: XnnpackEffect | None = None
    # measured on a board over SSH: its address and facts, as the remote job reports them
    target: dict[str, Any] | None = None

    def subgraph(self, index: int) -> SubgraphCheck | None:
        return next((s for s in self.subgraphs if s.index == index), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subgraphs": [s.to_json() for s in self.subgraphs],
                               "error": self.error}
        if self.xnnpack is not None:
            out["xnnpack"] = self.xnnpack.to_json()
        if self.target is not None:
            out["target"] = self.target
        return out


@dataclass
class TflmBlock:
    """TFLite Micro's whole-model arena (``memory.tflm``): the head (planned as TFLM does), the
    tail (replayed allocation by allocation), ``total_bytes`` = the smallest ``arena_size`` TFLM
    loads and runs the model in (``total_bound``: the load stage that sets it), whether TFLM
    refuses the model; with the check the figures tflite-micro itself reported
    (``core.analysis.memory.tflm_runtime.measure``) and the smallest arena it ran in
    (``find_arena``)."""
    head_bytes: int
    tail_bytes: int
    total_bytes: int
    total_bound: str
    refused: str | None
    tail_exact: bool
    tail_parts: dict[str, int]
    scratch_buffers: int
    unknown_ops: list[str]
    runtime: dict[str, Any] | None = None
    find_arena: dict[str, Any] | None = None

    @property
    def reported_total_bytes(self) -> int:
        return self.head_bytes + self.tail_bytes

    @property
    def note(self) -> str:
        extra = self.total_bytes - self.reported_total_bytes
        bound = {"final": "head + tail",
                 "planning": f"head + tail + {extra} B the load needs while the greedy planner "
                             "runs: its arrays and one AllocationInfo per tensor",
                 "prepare": f"head + tail + {extra} B the load needs while a kernel's Prepare "
                            "holds its tensors as temp TfLiteTensors"}[self.total_bound]
        out = (f"arena_size = the smallest that works = {bound}; sizes for a 64-bit build "
               "(the tflite-micro wheel, as on this machine): on a 32-bit MCU its structs are "
               "smaller")
        if not self.tail_exact:
            out += ("; what the kernels of " + ", ".join(self.unknown_ops) + " keep is not "
                    "fully in the table (op data estimated at 32 B, or Prepare-time data and "
                    "scratch buffers left out): the tail and total are estimates, check them "
                    "with --runtime / --find-arena")
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "head_bytes": self.head_bytes, "tail_bytes": self.tail_bytes,
            "total_bytes": self.total_bytes, "total_bound": self.total_bound,
            "reported_total_bytes": self.reported_total_bytes, "refused": self.refused,
            "tail_exact": self.tail_exact, "tail_parts": dict(self.tail_parts),
            "unknown_ops": list(self.unknown_ops),
            "scratch_buffers": self.scratch_buffers, "note": self.note,
            "runtime": self.runtime}
        if self.find_arena is not None:
            out["find_arena"] = self.find_arena
        return out


@dataclass(frozen=True)
class MemoryReport:
    config: MemoryConfig
    runtime_may_reject: list[str]   # notes on ops the stock runtime refuses to allocate
    subgraphs: list[SubgraphMemory]
    runtime: RuntimeCheck | None = None   # with ``runtime=True`` only
    tflm: TflmBlock | None = None         # with the TFLM planner

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config.to_json(),
                "runtime_may_reject": list(self.runtime_may_reject),
                "subgraphs": [s.to_json() for s in self.subgraphs],
                # the key is always there (stable contract); null until the runtime is asked
                "runtime": self.runtime.to_json() if self.runtime is not None else None,
                "tflm": self.tflm.to_json() if self.tflm is not None else None}
