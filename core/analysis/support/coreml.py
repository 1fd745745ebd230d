"""Core ML rules: the per-op table (resources/ops/delegates/coreml.json) follows
``IsNodeSupportedByDelegate`` and the builders' ``Is*OpSupported`` checks: version 1 ops (DEPTHWISE
up to 2, FULLY_CONNECTED up to 6) on float32 inputs. DEQUANTIZE of fp16 weights is claimed with its
consumers (the dummy op builder), so fp16-weight models delegate as float ones."""
from __future__ import annotations

import math
from typing import Any

from core.analysis.support.common import Reason
from core.analysis.support.graph import SubgraphView, claim_dequantize
from core.analysis.support.table import op_reason
from core.model.types import Operator


def _shape(view, i):
    return view.tensors[i].shape


def _binary(view: SubgraphView, op: Operator, f, opts) -> Reason:
    if len(op.inputs) != 2:
        return "expects 2 inputs"
    a, b = _shape(view, op.inputs[0]), _shape(view, op.inputs[1])
    if a == b or math.prod(b) == 1 or math.prod(a) == 1:
        return None
    big, small = (a, b) if len(a) >= len(b) else (b, a)
    s4 = (1,) * (4 - len(small)) + tuple(small)
    g4 = (1,) * (4 - len(big)) + tuple(big)
    if len(g4) == 4 and ((s4[1] == s4[2] == 1 and s4[3] == g4[3]) or
                         (s4[3] == 1 and s4[1:3] == g4[1:3])):
        return None
    return f"cannot broadcast {list(a)} with {list(b)} in Core ML layout"


def _concatenation(view, op, f, opts) -> Reason:
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        return "fused activation"
    if len(op.inputs) < 2:
        return "fewer than 2 inputs"
    rank, axis = len(_shape(view, op.inputs[0])), op.options.get("axis", 0)
    if (rank == 3 and axis in (2, -1)) or (rank == 4 and axis in (3, -1)):
        return None
    return f"axis {axis} of a rank-{rank} input (channels only)"


def _conv(view, op, f, opts) -> Reason:
    if op.options.get("fused_activation_function") == "SIGN_BIT":
        return "fused activation SIGN_BIT not supported"
    w = _shape(view, op.inputs[1])
    if len(w) >= 3 and (w[1] > 16384 or w[2] > 16384):
        return "kernel larger than 16384"
    return None


def _fully_connected(view, op, f, opts) -> Reason:
    if op.options.get("weights_format", "DEFAULT") != "DEFAULT":
        return "weights format not DEFAULT"
    x = _shape(view, op.inputs[0])
    if x and x[-1] != math.prod(x):
        return f"input {list(x)} is not a single row"
    return None


def _pad(view, op, f, opts) -> Reason:
    if op.op == "MIRROR_PAD" and op.options.get("mode", "REFLECT") != "REFLECT":
        return "mirror pad mode not REFLECT"
    p = view.tensors[op.inputs[1]]
    if list(p.shape) != [4, 2]:
        return "paddings are not 4x2 (4-D input only)"
    data = view.model.tensor_data(view.subgraph.index, op.inputs[1])
    if data is not None and (data.reshape(-1)[[0, 1, 6, 7]] != 0).any():
        return "padding along batch or channels"
    return None


def _mean(view, op, f, opts) -> Reason:
    if len(_shape(view, op.inputs[0])) != 4:
        return "input is not 4-D"
    data = view.model.tensor_data(view.subgraph.index, op.inputs[1])
    if data is not None and sorted(int(v) for v in data.reshape(-1)) != [1, 2]:
        return "reduces other than height and width"
    return None


def _reshape(view, op, f, opts) -> Reason:
    if int(opts["coreml_version"]) >= 3:
        return "RESHAPE only when targeting Core ML 2 (coreml_version=2)"
    if len(op.inputs) >= 2:
        s = view.tensors[op.inputs[1]]
        if not s.constant:
            return "new shape is not constant"
        if len(s.shape) != 1 or s.dtype != "int32" or s.shape[0] not in (3, 4):
            return "new shape must be 3 or 4 int32 values"
        return None
    n = len(op.options.get("new_shape") or [])
    return None if n in (3, 4) else "new shape must have 3 or 4 dimensions"


def _resize_bilinear(view, op, f, opts) -> Reason:
    return None if view.tensors[op.inputs[1]].constant else "output size is not constant"


def _softmax(view, op, f, opts) -> Reason:
    return None if op.options.get("beta", 1.0) == 1.0 else "beta != 1"


CHECKS = {"binary": _binary, "concatenation": _concatenation, "conv": _conv,
          "fully_connected": _fully_connected, "pad": _pad, "mean": _mean, "reshape": _reshape,
          "resize_bilinear": _resize_bilinear, "softmax": _softmax}


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    fp16 = view.folded

    def reason(op: Operator) -> Reason:
        if op.op == "DEQUANTIZE" and set(op.outputs) <= fp16:
            return None          # claimed; settled by its consumers in claim_dequantize
        first = 2 if op.op == "TRANSPOSE_CONV" else 0
        x = view.tensors[op.inputs[first]] if len(op.inputs) > first and \
            op.inputs[first] >= 0 else None
        if op.op in facts["ops"] and x is not None and x.dtype != "float32":
            return f"input {first} is {x.dtype} (float32 models only)"
        return op_reason(view, op, facts, opts, CHECKS, "{op} is not a Core ML op", fp16)
    return claim_dequantize(view, view.per_key(reason), fp16)
