"""Estimated compute per op from shapes and options: multiply-accumulates (MACs), FLOPs and bytes
moved (inputs read + outputs written). Dynamic dimensions count as their stored size (usually 1).

Conventions (stated, since tools differ): a MAC is one multiply plus one add, FLOPs = 2 x MACs for
the matrix ops; elementwise, pooling and reduction ops count one FLOP per element touched and no
MACs; data movement ops (reshape, transpose, concat, ...) count neither."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from core.model.ops import mac_formula, section
from core.model.types import Operator, Subgraph, Tensor


@lru_cache(maxsize=1)
def _kinds() -> dict[str, str]:
    """Op -> elementwise | reduce | pool (how its FLOPs are counted), from the op catalogue."""
    return {op: kind for kind, ops in (section("compute_kinds") or {}).items() for op in ops}


@dataclass(frozen=True)
class Compute:
    macs: int
    flops: int
    bytes: int


def _n(shape) -> int:
    return math.prod(max(d, 0) for d in shape) if shape else 1


def _tensor(op: Operator, sg: Subgraph, ref: str) -> Tensor:
    """'input1' / 'output0' of ``op`` (IndexError when the op has no such tensor)."""
    side, k = (op.inputs, ref[5:]) if ref.startswith("input") else (op.outputs, ref[6:])
    t = side[int(k)]
    if t < 0:
        raise IndexError(f"{ref} is omitted")
    return sg.tensors[t]


def _axes(spec: list[int] | str, rank: int) -> list[int]:
    if isinstance(spec, str):               # "from K": axis K to the last
        return list(range(int(spec.split()[1]), rank))
    return [a + rank if a < 0 else a for a in spec]


def op_macs(op: Operator, sg: Subgraph) -> int:
    """Multiply-accumulates from shapes, by the op's formula in the catalogue (mac_formulas)."""
    formula = mac_formula(op.custom_code if op.op == "CUSTOM" and op.custom_code else op.op)
    if formula is None:
        return 0
    try:
        if "taps" in formula:               # a fixed number of weighted inputs per element
            return _n(_tensor(op, sg, formula["elements_of"]).shape) * int(formula["taps"])
        shape = _tensor(op, sg, formula["dims_of"]).shape
        dims = formula["dims"]
        for option, axes in formula.get("dims_if_option", {}).items():
            if op.options.get(option):
                dims = axes
        axes = _axes(dims, len(shape))
        if any(not 0 <= a < len(shape) for a in axes):
            return 0                        # a rank the formula does not fit: no estimate
        return _n(_tensor(op, sg, formula["elements_of"]).shape) * \
            math.prod(max(shape[a], 0) for a in axes)
    except IndexError:   # malformed: a tensor the op lacks; no estimate rather than a crash
        return 0


def op_work(op: Operator, sg: Subgraph) -> tuple[int, int]:
    """(MACs, FLOPs) of one op, without the bytes it moves (totals need only these)."""
    macs = op_macs(op, sg)
    if macs:
        return macs, 2 * macs
    ts = sg.tensors
    kind = _kinds().get(op.op)
    try:
        if kind == "elementwise":
            flops = _n(ts[op.outputs[0]].shape) if op.outputs else 0
        elif kind == "reduce":
            flops = _n(ts[op.inputs[0]].shape)
        elif kind == "pool":
            o = op.options
            flops = (_n(ts[op.outputs[0]].shape) * o.get("filter_width", 1)
                     * o.get("filter_height", 1))
        else:
            flops = 0
    except IndexError:   # an op of a malformed file without the tensors it needs (found by fuzzing)
        flops = 0
    return 0, flops


def op_compute(op: Operator, sg: Subgraph) -> Compute:
    ts = sg.tensors
    moved = sum(ts[t].bytes for t in op.inputs if t >= 0) + \
        sum(ts[t].bytes for t in op.outputs if t >= 0)
    return Compute(*op_work(op, sg), moved)


def subgraph_compute(sg: Subgraph) -> list[Compute]:
    return [op_compute(op, sg) for op in sg.operators]

