"""Lower bounds on an arena, each under the rules of the planner whose arena it bounds.

Two buffers alive at the same step can never share bytes, so an arena is at least the bytes alive
at its busiest step. That figure only bounds a planner's arena when it counts what that planner
counts: the same buffers, the same sizes and the same lifetimes. LiteRT and TFLite Micro differ
in all three (LiteRT plans each subgraph alone over op steps with its own kernels' temporaries;
TFLM plans every subgraph in one region over "allocation scopes", with its own scratch buffers,
sizes rounded to 16 and offline-planned offsets), so each gets its own bound:

- LiteRT: the main-arena bytes alive at each op step of the subgraph
  (``core.analysis.memory.live_profile``, shared buffers counted once);
- TFLM: the bytes alive at each allocation scope of the whole region, the lifetimes those of
  TFLM's ``AllocationInfoBuilder`` as ``core.analysis.memory.tflm`` replays them.
"""
from __future__ import annotations

import numpy as np

from core.analysis.memory.tflm import TflmPlan, TflmTensor, _Lifetimes, offline_offsets
from core.model.types import Model


def _steps_alive(sizes: list[int], firsts: list[int], lasts: list[int]) -> np.ndarray:
    """Bytes alive at each step from min(firsts) to max(lasts) (lifetimes inclusive)."""
    if not sizes:
        return np.zeros(0, np.int64)
    lo = min(firsts)
    delta = np.zeros(max(lasts) - lo + 2, np.int64)
    np.add.at(delta, np.asarray(firsts) - lo, np.asarray(sizes, np.int64))
    np.add.at(delta, np.asarray(lasts) - lo + 1, -np.asarray(sizes, np.int64))
    return np.cumsum(delta[:-1])


def _union_length(ranges: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for lo, hi in sorted(ranges):
        if end is None or lo >= end:
            total += hi - lo
            end = hi
        elif hi > end:
            total += hi - end
            end = hi
    return total


def tflm_scope_lifetimes(model: Model, buffers: list[TflmTensor]) -> list[tuple[int, int]]:
    """Each planned buffer's (first, last) allocation scope, as TFLM's greedy planner sees it
    (tensors not reached by the walk at scope -1, where the planner puts them too)."""
    life = _Lifetimes(model)
    life.walk(0)
    out = []
    for b in buffers:
        if b.index >= 0:
            key = (b.subgraph, b.index)
            out.append((life.first.get(key, -1), life.last.get(key, -1)))
        else:
            span = life.scratch.get((b.subgraph, b.scratch_of if b.scratch_of is not None
                                     else -1), [-1, -1])
            out.append((span[0], span[1]))
    return out


def tflm_lower_bound(model: Model, plan: TflmPlan) -> int:
    """The fewest bytes TFLM's head can take for this model under its own rules: at the busiest
    allocation scope, the buffers the greedy planner places itself (sizes rounded as it rounds
    them) add up; offline-planned buffers sit where the metadata puts them, possibly over each
    other, so they count by the bytes their ranges cover together."""
    lifetimes = tflm_scope_lifetimes(model, plan.buffers)
    offline = offline_offsets(model)
    placed: list[int] = []
    fixed: list[int] = []
    for k, b in enumerate(plan.buffers):
        (fixed if b.index >= 0 and (b.subgraph, b.index) in offline else placed).append(k)
    firsts = [lifetimes[k][0] for k in placed]
    lasts = [lifetimes[k][1] for k in placed]
    alive = _steps_alive([plan.buffers[k].bytes for k in placed], firsts, lasts)
    if not fixed:
        return int(alive.max()) if alive.size else 0
    lo = min(f for f, _ in lifetimes)
    hi = max(last for _, last in lifetimes)
    base = min(firsts) if firsts else lo
    best = 0
    for step in range(lo, hi + 1):
        ranges = [(plan.buffers[k].offset, plan.buffers[k].offset + plan.buffers[k].bytes)
                  for k in fixed if lifetimes[k][0] <= step <= lifetimes[k][1]]
        i = step - base
        online = int(alive[i]) if 0 <= i < alive.size else 0
        best = max(best, online + _union_length(ranges))
    return best


def live_by_op(tensors, ops: int) -> list[int]:
    """Bytes of ``tensors`` (``PlannedTensor``s of one subgraph) alive at each op step
    0..ops-1, lifetimes inclusive: the curve of one planner's buffers in one subgraph."""
    if ops <= 0:
        return []
    delta = np.zeros(ops + 1, np.int64)
    for t in tensors:
        if t.bytes and t.shares is None and t.first_op < ops:
            delta[max(t.first_op, 0)] += t.bytes
            delta[min(t.last_op, ops - 1) + 1] -= t.bytes
    return [int(x) for x in np.cumsum(delta[:-1])]
