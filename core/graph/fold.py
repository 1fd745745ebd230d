"""Constant-only producers: ops that read nothing but constants, such as the DEQUANTIZE that turns
a float16 weight into float32 when the model runs (MediaPipe models store their weights so: 192 of
pose_landmark's 332 ops). View → Fold Constants draws such an op as a row of its consumers' cards
("filter · fp16 weights") instead of a node of its own; the inspector still shows it."""
from __future__ import annotations

from dataclasses import dataclass

from core.model.types import Subgraph

_WEIGHTS = {"float16": "fp16 weights", "int8": "int8 weights", "uint8": "uint8 weights",
            "int4": "int4 weights", "int16": "int16 weights"}


@dataclass(frozen=True)
class FoldedProducer:
    op: int
    output: int          # the tensor it writes, drawn as a constant row of its consumers
    consumer: int        # the first op that reads it (where the folded op is shown)
    note: str            # what the row says: "fp16 weights", "DEQUANTIZE of a constant"


def constant_producers(sg: Subgraph) -> dict[int, FoldedProducer]:
    """By op index: the ops of ``sg`` whose inputs are all constants (at least one), that write
    one tensor, read by some op and not a graph output."""
    tensors = sg.tensors
    consumers: dict[int, int] = {}
    for op in sg.operators:
        for t in op.inputs:
            if t >= 0 and t not in consumers:
                consumers[t] = op.index
    outputs = set(sg.outputs)
    out: dict[int, FoldedProducer] = {}
    for op in sg.operators:
        ins = [t for t in op.inputs if t >= 0]
        if (not ins or len(op.outputs) != 1 or op.outputs[0] < 0
                or op.outputs[0] in outputs or op.outputs[0] not in consumers):
            continue
        if not all(0 <= t < len(tensors) and tensors[t].constant and not tensors[t].variable
                   for t in ins):
            continue
        src = tensors[ins[0]].dtype
        note = (_WEIGHTS.get(src, f"{src} weights") if op.op == "DEQUANTIZE"
                else f"{op.label} of a constant")
        t = op.outputs[0]
        out[op.index] = FoldedProducer(op.index, t, consumers[t], note)
    return out
