"""Estimated compute per op from shapes and options: multiply-accumulates (MACs), FLOPs and bytes
moved (inputs read + outputs written). Dynamic dimensions count as their stored size (usually 1).

Conventions (stated, since tools differ): a MAC is one multiply plus one add, FLOPs = 2 x MACs for
the matrix ops; elementwise, pooling and reduction ops count one FLOP per element touched and no
MACs; data movement ops (reshape, transpose, concat, ...) count neither."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from core.model.ops import section
from core.model.types import Operator, Subgraph


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


def op_macs(op: Operator, sg: Subgraph) -> int:
    ts = sg.tensors
    name = op.custom_code if op.op == "CUSTOM" else op.op
    try:
        if name in ("CONV_2D", "CONV_3D"):
            w = ts[op.inputs[1]].shape         # [Cout, (D,) KH, KW, Cin/groups]
            return _n(ts[op.outputs[0]].shape) * _n(w[1:])
        if name == "DEPTHWISE_CONV_2D":
            w = ts[op.inputs[1]].shape         # [1, KH, KW, Cout]
            return _n(ts[op.outputs[0]].shape) * w[1] * w[2]
        if name == "FULLY_CONNECTED":
            w = ts[op.inputs[1]].shape         # [Cout, Cin]
            return _n(ts[op.outputs[0]].shape) * w[-1]
        if name == "BATCH_MATMUL":
            a = ts[op.inputs[0]].shape
            k = a[-2] if op.options.get("adj_x") else a[-1]
            return _n(ts[op.outputs[0]].shape) * k
        if name == "TRANSPOSE_CONV":
            w = ts[op.inputs[1]].shape         # [Cout, KH, KW, Cin]
            return _n(ts[op.inputs[2]].shape) * w[0] * w[1] * w[2]
        if name == "Convolution2DTransposeBias":
            w = ts[op.inputs[1]].shape
            return _n(ts[op.inputs[0]].shape) * w[0] * w[1] * w[2]
    except IndexError:   # malformed shapes: no estimate rather than a crash
        return 0
    return 0


def op_compute(op: Operator, sg: Subgraph) -> Compute:
    ts = sg.tensors
    moved = sum(ts[t].bytes for t in op.inputs if t >= 0) + \
        sum(ts[t].bytes for t in op.outputs if t >= 0)
    macs = op_macs(op, sg)
    if macs:
        return Compute(macs, 2 * macs, moved)
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
    return Compute(0, flops, moved)


def subgraph_compute(sg: Subgraph) -> list[Compute]:
    return [op_compute(op, sg) for op in sg.operators]

