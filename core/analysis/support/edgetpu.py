"""Edge TPU rules (compiler documentation, resources/ops/delegates/edgetpu.json): an op maps only
when every tensor it computes is 8-bit quantized with a static shape whose dimensions beyond the
3 innermost are 1, its parameters are constant, and the op is in the compiler's table. The
compiler maps one run of ops: from the first it can map to the next it cannot
(``partition.prefix``); a float-input QUANTIZE before it stays on the CPU."""
from __future__ import annotations

from typing import Any

from core.analysis.support.common import Reason
from core.analysis.support.graph import SubgraphView
from core.analysis.support.table import op_reason, runtime_tensors
from core.model.types import Operator


def _fully_connected(view: SubgraphView, op: Operator, f, opts) -> Reason:
    if op.options.get("weights_format", "DEFAULT") != "DEFAULT":
        return f"weights format {op.options['weights_format']}"
    return None


CHECKS = {"fully_connected": _fully_connected}


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    inner = facts["max_inner_dims"]
    return view.per_key(lambda op: _tensor_reason(view, op, inner) or op_reason(
        view, op, facts, opts, CHECKS, "{op} is not an Edge TPU op"))


def _tensor_reason(view: SubgraphView, op: Operator, inner: int) -> Reason:
    for role, t in runtime_tensors(view, op):
        if t.dtype not in ("int8", "uint8"):
            return f"{role} is {t.dtype} (not 8-bit quantized)"
        if any(d < 0 for d in t.shape_signature[1:]):   # a dynamic batch compiles as 1
            return f"{role} has a dynamic shape {list(t.shape_signature)}"
        outer = t.shape[:-inner] if len(t.shape) > inner else ()
        if any(d != 1 for d in outer):
            return f"{role} {list(t.shape)} has more than {inner} dimensions > 1"
    return None
