"""Model totals: parameters, MACs/FLOPs and weight bytes, per subgraph and for the whole model.

What counts as a parameter (tools differ, so it is stated here and in README.md): the elements of
every *weight* tensor, a tensor with constant data in the file that holds numbers a kernel
computes with: a floating-point type (float32, float16, bfloat16, float64) or a quantized
integer one (quantization scales in the file: int8/int4 weights, int32/int64 biases). Integer
constants without quantization (shapes, axes, paddings, gather indices) and variables are not
parameters. An fp16 weight read through DEQUANTIZE counts once, as its float16 constant (the
DEQUANTIZE output is computed, not stored); a sparse weight counts the elements of its dense
shape. Each tensor counts once however many ops read it.

``weight_bytes`` is what those weights take in the file: the sizes of their distinct buffers (a
buffer shared by tensors, or by subgraphs, counts once), so int8 weights take one byte per
parameter, fp16 two, int4 a half.

MACs and FLOPs are the sums of ``core.analysis.support.compute.op_work`` over the ops (its
conventions hold, e.g. a DEQUANTIZE counts one FLOP per element). A subgraph that a WHILE, IF or
CALL_ONCE runs counts once: the totals are of the graph as stored, not of an unrolled run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.analysis.support.compute import op_work
from core.model.types import Model, Subgraph, Tensor

_FLOAT_TYPES = frozenset({"float32", "float16", "bfloat16", "float64"})


def is_weight(t: Tensor) -> bool:
    """A constant tensor holding numbers a kernel computes with (the module docstring's rule)."""
    if not t.constant or t.variable:
        return False
    return t.dtype in _FLOAT_TYPES or (t.quantization is not None and bool(t.quantization.scale))


@dataclass(frozen=True)
class Totals:
    params: int                  # elements of the weight tensors
    macs: int
    flops: int
    weight_bytes: int            # bytes of the weights' distinct buffers
    weight_tensors: int
    params_by_dtype: dict[str, int] = field(default_factory=dict)  # dtype -> params, by count

    def to_json(self) -> dict[str, Any]:
        return {"params": self.params, "macs": self.macs, "flops": self.flops,
                "weight_bytes": self.weight_bytes, "weight_tensors": self.weight_tensors,
                "params_by_dtype": dict(self.params_by_dtype)}


@dataclass(frozen=True)
class ModelTotals:
    model: Totals
    subgraphs: list[Totals]      # in subgraph order


def _weights(sg: Subgraph) -> list[Tensor]:
    return [t for t in sg.tensors if is_weight(t)]


def _totals(weights: list[Tensor], buffer_sizes: dict[int, int], macs: int, flops: int) -> Totals:
    by_dtype: dict[str, int] = {}
    params = 0
    for t in weights:
        n = 1
        for d in t.shape:
            n *= max(d, 0)
        params += n
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + n
    ordered = dict(sorted(by_dtype.items(), key=lambda kv: (-kv[1], kv[0])))
    return Totals(params=params, macs=macs, flops=flops,
                  weight_bytes=sum(buffer_sizes.values()), weight_tensors=len(weights),
                  params_by_dtype=ordered)


def model_totals(model: Model) -> ModelTotals:
    """Totals of each subgraph and of the model (weights shared between subgraphs: bytes once)."""
    per_sg: list[Totals] = []
    all_weights: list[Tensor] = []
    all_buffers: dict[int, int] = {}
    macs = flops = 0
    for sg in model.subgraphs:
        weights = _weights(sg)
        buffers = {t.buffer: model.buffers[t.buffer].size for t in weights}
        sg_macs = sg_flops = 0
        for op in sg.operators:
            op_macs, op_flops = op_work(op, sg)
            sg_macs += op_macs
            sg_flops += op_flops
        per_sg.append(_totals(weights, buffers, sg_macs, sg_flops))
        all_weights += weights
        all_buffers.update(buffers)
        macs += sg_macs
        flops += sg_flops
    return ModelTotals(model=_totals(all_weights, all_buffers, macs, flops), subgraphs=per_sg)
