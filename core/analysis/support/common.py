"""Small predicates every delegate's rules share: fused activations, padding, ranks, custom ops."""
from __future__ import annotations

from core.model.types import Operator, Tensor

Reason = str | None   # None: the delegate takes the op; else why not, in plain words

# Fused activations a delegate can fold into an output clamp (XNNPACK, and most GPU kernels)
ACTIVATIONS_CLAMP = frozenset({"NONE", "RELU", "RELU_N1_TO_1", "RELU6"})


def activation_reason(op: Operator, allowed: frozenset[str]) -> Reason:
    act = op.options.get("fused_activation_function", "NONE") or "NONE"
    return None if act in allowed else f"fused activation {act} not supported"


def padding_reason(op: Operator) -> Reason:
    pad = op.options.get("padding", "SAME")
    return None if pad in ("SAME", "VALID") else f"padding {pad} not supported"


def dims_reason(t: Tensor, role: str, lo: int, hi: int) -> Reason:
    rank = len(t.shape)
    if lo == hi and rank != lo:
        return f"{role} has rank {rank}, needs {lo}"
    if rank < lo:
        return f"{role} has rank {rank} < {lo}"
    if rank > hi:
        return f"{role} has rank {rank} > {hi}"
    if any(d <= 0 for d in t.shape):
        return f"{role} has an empty dimension {list(t.shape)}"
    return None


def custom_reason(op: Operator) -> str:
    code = op.custom_code or "?"
    if code.startswith("Flex"):
        return f"Flex (Select TF) op {code[4:]} runs only with the Flex delegate"
    return f"custom op {code}"
