"""Op placement read back from a model a target's own compiler rewrote (vela's ``*_vela.tflite``,
a LiteRT NPU plugin's partitioned model).

The compiler saw a copy with stamped tensor names (``core.model.stamp``), so each tensor of its
output is known as (original subgraph, tensor) or as one the compiler made. Ops it left on the
CPU stay ordinary ops there: each is found again by the original producer of its outputs (or, for
an op without outputs such as ASSIGN_VARIABLE, by its kind and inputs). Each accelerator op
(``ethos-u``, ``DISPATCH_OP``) stands for one partition: the original ops between its inputs and
its outputs, walked back from its outputs. An op in neither was removed by the compiler (a
constant folded, a no-op reshape absorbed): it does not run on the CPU, so it counts as part of
the partition of its neighbours when one of them is in one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from core.analysis.support.graph import SubgraphView

TensorRef = tuple[int, int] | None     # (original subgraph, tensor), None: made by the compiler
REMOVED = "not in {tool}'s output: removed by the compiler (runs neither on the CPU nor on {where})"


@dataclass
class CompiledOp:
    op: str                      # builtin name or "CUSTOM"
    custom: str | None
    inputs: list[TensorRef]
    outputs: list[TensorRef]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "CompiledOp":
        def ref(r) -> TensorRef:
            return (int(r[0]), int(r[1])) if r else None
        return cls(d["op"], d.get("custom"), [ref(r) for r in d["inputs"]],
                   [ref(r) for r in d["outputs"]])


@dataclass
class Placement:
    """Per original subgraph: the ops the compiler left on the CPU, the partitions it took (lists
    of op indices, in the compiled model's order), the ops it removed, and compiled CPU ops that
    match no original op (the compiler made them)."""
    cpu: list[set[int]]
    partitions: list[list[list[int]]]
    removed: list[set[int]]
    unmatched: list[str] = field(default_factory=list)


def _walk(view: SubgraphView, outputs: set[int], boundary: set[int], cpu: set[int]) -> list[int]:
    stack = [p for t in outputs if (p := view.producer(t)) is not None]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if n in seen or n in cpu:
            continue
        seen.add(n)
        for t in view.op_inputs[n]:
            if t not in boundary:
                p = view.producer(t)
                if p is not None:
                    stack.append(p)
    return sorted(seen)


def _match_cpu(view: SubgraphView, s: int, op: CompiledOp, taken: set[int]) -> int | None:
    for ref in op.outputs:
        if ref and ref[0] == s:
            p = view.producer(ref[1])
            if p is not None and p not in taken:
                return p
    ins = [r[1] if r and r[0] == s else None for r in op.inputs]
    for cand in view.ops:
        if cand.index in taken or cand.op != op.op or cand.outputs and op.outputs:
            continue
        if [t if t >= 0 else None for t in cand.inputs] == ins:
            return cand.index
    return None


def placement(views: list[SubgraphView], compiled: list[list[CompiledOp]],
              is_accelerator: Callable[[CompiledOp], bool]) -> Placement:
    n = len(views)
    cpu: list[set[int]] = [set() for _ in range(n)]
    parts: list[list[list[int]]] = [[] for _ in range(n)]
    unmatched: list[str] = []
    accel: list[CompiledOp] = []
    # the original subgraphs keep their places; subgraphs past them are the compiler's own
    # (LiteRT outlines each partition into a new subgraph), reached through the accelerator ops
    for where, ops in enumerate(compiled[:n]):
        for op in ops:
            if is_accelerator(op):
                accel.append(op)
                continue
            refs = [r for r in op.outputs + op.inputs if r]
            # an op with no tensors at all (CALL_ONCE) stays in the subgraph it was in
            s = refs[0][0] if refs else where
            if s >= n:
                continue
            i = _match_cpu(views[s], s, op, cpu[s])
            if i is None:
                unmatched.append(op.custom or op.op)
            else:
                cpu[s].add(i)
    for op in accel:
        outs = [r for r in op.outputs if r]
        if not outs:
            continue
        s = outs[0][0]
        if s >= n:
            continue
        boundary = {r[1] for r in op.inputs if r and r[0] == s}
        walked = _walk(views[s], {r[1] for r in outs if r[0] == s}, boundary, cpu[s])
        taken = {i for p in parts[s] for i in p}
        fresh = [i for i in walked if i not in taken]
        if fresh:
            parts[s].append(fresh)
    removed: list[set[int]] = []
    for s, view in enumerate(views):
        part_of = {i: p for p, members in enumerate(parts[s]) for i in members}
        gone = set(range(len(view.ops))) - cpu[s] - set(part_of)
        for i in sorted(gone):
            near = [part_of[j] for j in _neighbours(view, i) if j in part_of]
            if near:
                parts[s][near[0]].append(i)
                part_of[i] = near[0]
        for p in parts[s]:
            p.sort()
        removed.append({i for i in gone if i not in part_of})
    return Placement(cpu, parts, removed, unmatched)


def _neighbours(view: SubgraphView, i: int) -> list[int]:
    prods = [p for t in view.op_inputs[i] if (p := view.producer(t)) is not None]
    cons = [c for t in view.ops[i].outputs if t >= 0 for c in view.consumers(t)]
    return prods + cons
