"""What every delegate's rules ask about a subgraph, computed once: producers, consumers, tensor
type classes. Shared by the six rule modules so each op is looked at as little as possible."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from core.model.ops import runtime_control_flow
from core.model.types import Model, Operator, Subgraph, Tensor

FLOAT = frozenset({"float32", "float16"})
SIDE_EFFECT_OPS = runtime_control_flow()   # OpMightHaveSideEffect: ops that run subgraphs


@dataclass
class SubgraphView:
    model: Model
    subgraph: Subgraph
    _producer: dict[int, int] = field(default_factory=dict)
    _consumers: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._producer.update(self.subgraph.producers())   # the model's one rule (first writer)
        cons = self._consumers
        for op in self.subgraph.operators:
            for t in op.inputs:
                if t >= 0:
                    cons.setdefault(t, []).append(op.index)

    @property
    def ops(self) -> list[Operator]:
        return self.subgraph.operators

    @property
    def tensors(self) -> list[Tensor]:
        return self.subgraph.tensors

    def producer(self, tensor: int) -> int | None:
        return self._producer.get(tensor)

    def consumers(self, tensor: int) -> list[int]:
        return self._consumers.get(tensor, [])

    @cached_property
    def op_inputs(self) -> list[list[int]]:
        """Each op's real (non-omitted) input tensors, for the partitioner."""
        return [[t for t in op.inputs if t >= 0] for op in self.ops]

    @cached_property
    def folded(self) -> set[int]:
        return folded_dequantize(self)

    @cached_property
    def op_keys(self) -> list[tuple]:
        """Per op, everything a rule may look at (kind, version, options, each tensor's type,
        shape, constness, data buffer, quantization): ops with equal keys get equal answers, so
        each delegate checks each distinct key once (a 10k-op chain has a handful)."""
        folded = self.folded
        tkeys = [(t.dtype, t.shape, t.shape_signature, t.constant, t.index in folded,
                  t.buffer if t.constant else -1, t.sparse,
                  (t.quantization.scale[:4], t.quantization.zero_point[:4],
                   t.quantization.quantized_dimension, len(t.quantization.scale),
                   t.quantization.details) if t.quantization else None)
                 for t in self.tensors]
        keys = []
        for op in self.ops:
            keys.append((op.op, op.custom_code, op.version, repr(sorted(op.options.items())),
                         tuple(tkeys[t] if t >= 0 else None for t in op.inputs),
                         tuple(tkeys[t] for t in op.outputs if t >= 0)))
        return keys

    def per_key(self, reason: Callable[[Operator], str | None]) -> list[str | None]:
        """``reason(op)`` for every op, computed once per distinct ``op_keys`` entry."""
        cache: dict[tuple, str | None] = {}
        out = []
        for op, key in zip(self.ops, self.op_keys, strict=False):
            if key in cache:
                out.append(cache[key])
            else:
                out.append(cache.setdefault(key, checked(reason, op)))
        return out

    @cached_property
    def deps(self) -> list[list[int]]:
        """Per op, the ops it must wait for: producers of its inputs plus, for ops with side
        effects (control flow, resource tensors), the previous such op (the runtime's control
        edges)."""
        deps: list[list[int]] = []
        last_side_effect = -1
        tensors = self.tensors
        for op, ins in zip(self.ops, self.op_inputs, strict=False):
            d = [p for p in map(self.producer, ins) if p is not None]
            if op.op in SIDE_EFFECT_OPS or any(
                    tensors[t].dtype == "resource" for t in (*ins, *op.outputs) if t >= 0):
                if last_side_effect >= 0:
                    d.append(last_side_effect)
                last_side_effect = op.index
            deps.append(d)
        return deps


def checked(reason: Callable[[Operator], str | None], op: Operator) -> str | None:
    """``reason(op)``; an op too malformed for a rule to read (an input slot missing, a shape
    shorter than the op needs) is reported as its reason instead of failing the whole model."""
    try:
        return reason(op)
    except (IndexError, KeyError, TypeError, ValueError) as e:
        return f"cannot check this op: malformed ({type(e).__name__}: {e})"


def per_tensor_quant(t: Tensor) -> bool:
    """Affine quantization with one scale (and one zero point): what 8-bit activations need."""
    q = t.quantization
    return bool(q and len(q.scale) == 1 and len(q.zero_point) <= 1
                and q.quantized_dimension == 0)


def scale(t: Tensor) -> float | None:
    q = t.quantization
    return q.scale[0] if q and q.scale else None


def zero_point(t: Tensor) -> int:
    q = t.quantization
    return q.zero_point[0] if q and q.zero_point else 0


def is_static(t: Tensor) -> bool:
    """Constant data in the file (the runtime's kTfLiteMmapRo)."""
    return t.constant


def folded_dequantize(view: SubgraphView) -> set[int]:
    """Outputs of DEQUANTIZE ops over constant fp16 (or int8) weights: the delegate folds them."""
    out: set[int] = set()
    for op in view.ops:
        if op.op == "DEQUANTIZE" and len(op.inputs) == 1 and op.inputs[0] >= 0:
            t = view.tensors[op.inputs[0]]
            if t.constant and t.dtype in ("float16", "int8"):
                out.update(x for x in op.outputs if x >= 0)
    return out


def claim_dequantize(view: SubgraphView, reasons: list[str | None], fp16: set[int]) -> list[str | None]:
    """FP16GraphPartitionHelper: a DEQUANTIZE of fp16 weights goes with its consumers, and stays
    on the CPU when any consumer does."""
    for op in view.ops:
        if op.op != "DEQUANTIZE" or not set(op.outputs) <= fp16:
            continue
        for t in op.outputs:
            for c in view.consumers(t):
                if reasons[c] is not None:
                    reasons[op.index] = f"feeds op {c} ({view.ops[c].label}), which stays on the CPU"
                    break
    return reasons
