"""Tensor memory plans: LiteRT's arena exactly (bytes and offsets), TFLM's greedy planner, the
lower bound, and the runtime's real arena to prove the prediction.

``memory_report(model, threads)`` returns a ``MemoryReport`` (``core.analysis.memory.result``);
its ``to_json()`` is the JSON contract (``litelens memory --json``, the ``memory`` key of
``litelens report --json``); the GUI's Memory panel reads it typed.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from core import format as fmt
from core.analysis.memory.arena import NEVER, live_bytes
from core.analysis.memory.bounds import live_by_op, tflm_lower_bound
from core.analysis.memory.libstdcxx import runtime_tie_order
from core.analysis.memory.litert import LiteRtPlanner, Placement, SubgraphPlan
from core.analysis.memory.result import (
    Arena,
    ArenaPlan,
    GreedyPlan,
    MemoryConfig,
    MemoryReport,
    PlannedTensor,
    PlannerKey,
    RuntimeCheck,
    SubgraphMemory,
    TflmBlock,
    TieOrder,
)
from core.analysis.memory.tflm import TflmPlan, plan_tflm
from core.analysis.overlay import KIND_MEMORY, Overlay, heat_overlay
from core.inference.resize import dynamic_note, resized_model
from core.inference.ssh_target import SshTarget
from core.model.types import Model

PLANNERS = ("tflite", "tflm")


def plan_litert(model: Model, threads: int = 1,
                tie_order: TieOrder | None = None) -> dict[int, SubgraphPlan]:
    """LiteRT's arena plan per subgraph; ``tie_order``: the runtime's (detected when None)."""
    exact = (tie_order or runtime_tie_order()).exact
    return LiteRtPlanner(model, threads, libstdcxx=exact).plan()


def _last(op: int, n_ops: int) -> int:
    return max(n_ops - 1, 0) if op >= NEVER else op


def live_profile(plan: SubgraphPlan) -> np.ndarray:
    """Main-arena bytes alive at each op step (shared buffers counted once)."""
    roots = [p for p in plan.placements.values() if p.arena == "main" and p.shares is None]
    return live_bytes([p.bytes for p in roots], [p.first_op for p in roots],
                      [_last(p.last_op, plan.ops) for p in roots], max(plan.ops, 1))


def weights_bytes(model: Model, subgraph: int) -> int:
    sg = model.subgraphs[subgraph]
    bufs = {t.buffer for t in sg.tensors if t.constant}
    return sum(model.buffers[b].size for b in bufs)


def memory_report(model: Model, threads: int = 1, planners: Iterable[str] = PLANNERS,
                  runtime: bool = False, target: SshTarget | None = None,
                  shapes: Mapping[str, Sequence[int]] | None = None,
                  tie_order: TieOrder | None = None) -> MemoryReport:
    """Per subgraph the planned arenas and tensors, the lower bound, the weights; with
    ``runtime`` the real arena measured in a child process (on ``target``, a board over SSH,
    when given) and the difference. ``shapes`` (``--shape``): the LiteRT plan and its runtime
    check are made at those input shapes (the inputs resized, then allocated); a dynamic input
    left unset is named in ``config.dynamic_note``. ``tie_order``: whether LiteRT's tie order
    can be replayed (the installed runtime's, detected, when None)."""
    planners = tuple(planners)
    tie_order = tie_order or runtime_tie_order()
    plans = plan_litert(resized_model(model, shapes), threads, tie_order)
    tflm = plan_tflm(model) if "tflm" in planners else None
    tflm_bound = tflm_lower_bound(model, tflm) if tflm is not None else 0
    # TFLM's whole-arena view: one region for every subgraph
    tflm_total = tflm_block(model, tflm, runtime) if tflm is not None else None
    subgraphs: list[SubgraphMemory] = []
    for si, sg in enumerate(model.subgraphs):
        plan = plans[si]
        live = live_profile(plan)
        bound = int(live.max()) if live.size else 0
        arena = None
        if "tflite" in planners:
            arena = ArenaPlan(
                arena_bytes=plan.arena_bytes, persistent_bytes=plan.persistent_bytes,
                peak_op=int(live.argmax()) if plan.ops else None,
                tensors=[_planned(plan, p) for p in
                         sorted(plan.placements.values(), key=lambda p: p.index)],
                lower_bound_bytes=bound)
        greedy = None
        if tflm is not None:
            greedy = GreedyPlan(
                arena_bytes=tflm.head_bytes,
                tensors=[PlannedTensor(index=t.index,
                                       name=(sg.tensors[t.index].name if t.index >= 0 else
                                             f"scratch of op {t.scratch_of}"),
                                       arena="main", offset=t.offset, bytes=t.bytes,
                                       first_op=t.first_op, last_op=t.last_op,
                                       temporary=t.index < 0, shares=None)
                         for t in tflm.buffers if t.subgraph == si],
                lower_bound_bytes=tflm_bound)
        subgraphs.append(SubgraphMemory(
            index=si, name=sg.name, ops=plan.ops, planned_ops=plan.planned_ops,
            allocated_by_allocate_tensors=plan.reached,
            lower_bound_bytes=bound,
            weights_bytes=weights_bytes(model, si),
            live_bytes=[int(x) for x in live] if plan.ops else [],
            notes=list(plan.notes), tflite_arena=arena, tflm_greedy=greedy))
    return MemoryReport(
        config=MemoryConfig(threads=threads, tie_order=tie_order,
                            shapes={k: list(v) for k, v in (shapes or {}).items()},
                            dynamic_note=dynamic_note(model, shapes, "the plan")),
        # the plan stands either way; these ops make allocate_tensors() fail on the stock runtime
        runtime_may_reject=[n for sg in subgraphs for n in sg.notes if "rejects it" in n],
        subgraphs=subgraphs,
        runtime=(runtime_check(model.path, plans, threads, target, shapes) if runtime
                 else None),
        tflm=tflm_total)


def tflm_block(model: Model, plan: TflmPlan, runtime: bool = False) -> TflmBlock:
    """``memory.tflm``: TFLM's head and tail (planned exactly) and total (the smallest
    ``arena_size``), whether TFLM refuses the model (its op support), and with ``runtime`` the figures
    tflite-micro itself reports (None when not asked)."""
    from core.analysis.support.analyze import analyze_delegate
    support = analyze_delegate(model, "tflm")
    block = TflmBlock(head_bytes=plan.head_bytes, tail_bytes=plan.tail_bytes,
                      total_bytes=plan.total_bytes, total_bound=plan.total_bound,
                      refused=support.refused, tail_exact=plan.tail_exact,
                      tail_parts=dict(plan.tail_parts),
                      scratch_buffers=sum(1 for b in plan.buffers if b.index < 0),
                      unknown_ops=list(plan.unknown_ops))
    if runtime:
        from core.analysis.memory.tflm_runtime import measure
        block.runtime = measure(model.path, plan)
    return block


def _planned(plan: SubgraphPlan, p: Placement) -> PlannedTensor:
    s = plan.slots[p.index]
    arena: Arena = "main" if p.arena == "main" else "persistent"
    return PlannedTensor(index=p.index, name=s.name, arena=arena, offset=p.offset,
                         bytes=p.bytes, first_op=p.first_op, last_op=_last(p.last_op, plan.ops),
                         temporary=s.temporary_of is not None, shares=p.shares)


def runtime_check(path: str, plans: dict[int, SubgraphPlan], threads: int,
                  target: SshTarget | None = None,
                  shapes: Mapping[str, Sequence[int]] | None = None) -> RuntimeCheck:
    """Measure ai-edge-litert's arena (delegates off, then XNNPACK on; on ``target`` when given;
    inputs resized to ``shapes`` first) and diff it with the plan. Imported lazily: planning
    never needs the runtime."""
    from core.analysis.memory import runtime as rt
    plain = rt.measure(path, threads, target=target, shapes=shapes)
    result = rt.compare(plans, plain)
    xnn = rt.measure(path, threads, xnnpack=True, target=target, shapes=shapes)
    return RuntimeCheck(result.subgraphs, result.error, rt.delegate_effect(plain, xnn),
                        target=plain.target)


def planner_live_bytes(subgraph: SubgraphMemory, key: PlannerKey) -> list[int]:
    """Bytes alive at each op step of the subgraph under one planner's lifetimes and sizes:
    LiteRT's main arena (``live_bytes``) or this subgraph's buffers in TFLM's region."""
    if key == "tflite_arena":
        return list(subgraph.live_bytes)
    plan = subgraph.tflm_greedy
    return live_by_op(plan.tensors, subgraph.ops) if plan is not None else []


def live_memory_overlay(subgraph: SubgraphMemory) -> Overlay:
    """The graph overlay of a subgraph's live main-arena memory per op (LiteRT's lifetimes),
    peak named; sizes in adaptive units."""
    live = subgraph.live_bytes
    si = subgraph.index
    if not live:
        return Overlay("live memory", "", kind=KIND_MEMORY)
    peak = int(np.argmax(live))
    return heat_overlay(dict(enumerate(live)), subgraph=si, name="live memory", text=fmt.size,
                        kind=KIND_MEMORY,
                        summary=f"LiteRT arena bytes alive, peak {fmt.size(live[peak])} at op "
                                f"{peak}")
