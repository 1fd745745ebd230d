"""Delegate partitions the way the runtime forms them (tflite/graph_info.cc,
``PartitionGraphIntoIndependentNodeSubsets`` with greedy clustering, the interpreter's default).

The runtime sweeps the execution plan again and again: a new subset takes the type (delegated or
CPU) of the first ready node, then keeps absorbing every node of that type whose inputs are ready,
until none is left; then the next subset starts. Ops with side effects (control flow, resource
tensors) are chained by control edges. Here the same fixed point is reached with one ready-heap per
type, O(n log n) instead of sweeps."""
from __future__ import annotations

import heapq
from collections.abc import Sequence


def partition(deps: Sequence[Sequence[int]], delegated: Sequence[bool]) -> list[list[int]]:
    """The delegated subsets (lists of op indices), in the order the runtime creates them."""
    n = len(deps)
    pending = [len(d) for d in deps]
    waiters: list[list[int]] = [[] for _ in range(n)]
    for i, d in enumerate(deps):
        for p in d:
            waiters[p].append(i)
    ready: tuple[list[int], list[int]] = ([], [])
    for i in range(n):
        if not pending[i]:
            ready[bool(delegated[i])].append(i)   # ascending: already heaps
    out: list[list[int]] = []
    while ready[0] or ready[1]:
        if not ready[0]:
            kind = 1
        elif not ready[1]:
            kind = 0
        else:
            kind = 1 if ready[1][0] < ready[0][0] else 0
        heap, subset = ready[kind], []
        while heap:
            i = heapq.heappop(heap)
            subset.append(i)
            for w in waiters[i]:
                pending[w] -= 1
                if not pending[w]:
                    heapq.heappush(ready[bool(delegated[w])], w)
        if kind:
            out.append(sorted(subset))
    return out


def partition_sweeps(deps: Sequence[Sequence[int]], delegated: Sequence[bool],
                     greedy: bool = True, fusion: bool = True) -> list[list[int]]:
    """The runtime's sweep, step for step, for the interpreter options that change it: without
    clustering (greedy=False) a subset ends at the first node a sweep cannot take after taking
    one; without node fusion every subset holds one node. O(n x sweeps): for these options only."""
    n = len(deps)
    assigned = [False] * n
    out: list[list[int]] = []
    while True:
        kind: bool | None = None
        nodes: list[int] = []
        done = False
        while not done:
            did = False
            for i in range(n):
                ok = (not assigned[i] and (fusion or not nodes)
                      and all(assigned[p] for p in deps[i])
                      and (kind is None or bool(delegated[i]) == kind))
                if ok:
                    kind = bool(delegated[i])
                    assigned[i] = True
                    nodes.append(i)
                    did = True
                elif did and not greedy:
                    done = True
                    break
            if not did:
                done = True
        if not nodes:
            return out
        if kind:
            out.append(sorted(nodes))


def select(parts: list[list[int]], max_partitions: int, min_nodes: int) -> list[list[int]]:
    """GraphPartitionHelper::GetFirstNLargestPartitions: the N largest with >= min_nodes ops
    (N <= 0: all of them)."""
    keep = [p for p in parts if len(p) >= max(1, min_nodes)]
    if max_partitions > 0 and len(keep) > max_partitions:
        keep = sorted(keep, key=len, reverse=True)[:max_partitions]
    return keep


def prefix(delegated: Sequence[bool]) -> list[list[int]]:
    """Edge TPU: one segment, from the first op the compiler maps to the first it cannot after
    that (it cannot partition more than once)."""
    start = next((i for i, d in enumerate(delegated) if d), None)
    if start is None:
        return []
    end = next((i for i in range(start, len(delegated)) if not delegated[i]), len(delegated))
    return [list(range(start, end))]
