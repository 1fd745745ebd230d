"""Hexagon DSP rules: the per-op table (resources/ops/delegates/hexagon.json) follows
``IsNodeSupportedByHexagon`` and ``CheckOpVersion``; the predicates carry its option checks. The
delegate takes 8-bit quantized ops only, every tensor of rank <= 4."""
from __future__ import annotations

from typing import Any

from core.analysis.support.common import Reason
from core.analysis.support.graph import SubgraphView
from core.analysis.support.table import op_reason
from core.model.types import Operator

_8BIT = ("uint8", "int8")


def _mirror_pad(view, op: Operator, f, opts) -> Reason:
    mode = op.options.get("mode", "REFLECT")
    return None if mode in ("REFLECT", "SYMMETRIC") else f"mirror pad mode {mode}"


def _two_inputs(view, op, f, opts) -> Reason:
    return None if len(op.inputs) == 2 else f"{len(op.inputs)} inputs (expects 2)"


def _at_most_two_inputs(view, op, f, opts) -> Reason:
    return None if len(op.inputs) <= 2 else f"{len(op.inputs)} inputs (at most 2)"


def _fully_connected(view: SubgraphView, op: Operator, f, opts) -> Reason:
    w = view.tensors[op.inputs[1]]
    if w.quantization and w.quantization.details:
        return f"filter uses {w.quantization.details}"
    if w.quantization and len(w.quantization.scale) > 1:
        return "filter is quantized per channel"
    o = op.options
    if o.get("keep_num_dims"):
        return "keep_num_dims is set"
    if o.get("weights_format", "DEFAULT") != "DEFAULT":
        return f"weights format {o['weights_format']}"
    return None


def _all_inputs_8bit(view, op, f, opts) -> Reason:
    if not op.inputs or not op.outputs:
        return "no inputs or outputs"
    for i, t in enumerate(op.inputs):
        if t < 0 or view.tensors[t].dtype not in _8BIT:
            return f"input {i} is {view.tensors[t].dtype if t >= 0 else 'missing'}"
    return None


def _max_pool(view, op, f, opts) -> Reason:
    o = op.options
    if o.get("padding") == "SAME" and (o.get("filter_height", 1) >= 13 or
                                       o.get("filter_width", 1) >= 13):
        return "SAME padding with a window of 13 or more"
    return None


def _transpose_conv(view, op, f, opts) -> Reason:
    if len(op.inputs) not in (3, 4):
        return f"{len(op.inputs)} inputs (expects 3 or 4)"
    if len(op.inputs) == 4 and (op.inputs[3] < 0 or view.tensors[op.inputs[3]].dtype != "int32"):
        return "bias is not int32"
    o = op.options
    if o.get("stride_h", 1) > 3 or o.get("stride_w", 1) > 3:
        return "stride > 3"
    return None if o.get("padding", "SAME") in ("SAME", "VALID") else "padding not SAME/VALID"


def _conv(view, op, f, opts) -> Reason:
    o = op.options
    if o.get("stride_h", 1) > 3 or o.get("stride_w", 1) > 3:
        return "stride > 3"
    if o.get("dilation_h_factor", 1) != 1 or o.get("dilation_w_factor", 1) != 1:
        return "dilated convolution"
    return None


def _depthwise(view, op, f, opts) -> Reason:
    o = op.options
    dilation = o.get("dilation_h_factor", 1) != 1 or o.get("dilation_w_factor", 1) != 1
    if dilation and (o.get("stride_h", 1) != 1 or o.get("stride_w", 1) != 1):
        return "dilation together with stride"
    x = view.tensors[op.inputs[0]].shape
    if not (o.get("depth_multiplier", 1) == 1 or (not dilation and len(x) == 4 and x[3] == 1)):
        return f"depth multiplier {o.get('depth_multiplier')}"
    w = view.tensors[op.inputs[1]].shape
    if len(w) >= 2 and w[1] < 2:
        return "filter height < 2"
    if o.get("stride_h", 1) > 3 or o.get("stride_w", 1) > 3:
        return "stride > 3"
    return None


def _version_2_only(view, op, f, opts) -> Reason:
    return None if op.version == 2 else f"op version {op.version} (only 2)"


def _resize_size(view, op, f, opts) -> Reason:
    n = 1
    for d in view.tensors[op.inputs[1]].shape:
        n *= d
    return None if n == 2 else "size is not 2 values"


def _strided_slice(view, op, f, opts) -> Reason:
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0):
        return "ellipsis or new-axis mask"
    return None


CHECKS = {"mirror_pad": _mirror_pad, "two_inputs": _two_inputs,
          "at_most_two_inputs": _at_most_two_inputs, "fully_connected": _fully_connected,
          "all_inputs_8bit": _all_inputs_8bit, "max_pool": _max_pool,
          "transpose_conv": _transpose_conv, "conv": _conv, "depthwise": _depthwise,
          "version_2_only": _version_2_only, "resize_size": _resize_size,
          "strided_slice": _strided_slice}


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    limit = facts["max_rank"]
    return view.per_key(lambda op: _rank_reason(view, op, limit) or op_reason(
        view, op, facts, opts, CHECKS, "{op} is not a Hexagon op"))


def _rank_reason(view, op, limit) -> Reason:
    for role, idx in (("input", op.inputs), ("output", op.outputs)):
        for k, t in enumerate(idx):
            if t >= 0 and len(view.tensors[t].shape) > limit:
                return f"{role} {k} has rank {len(view.tensors[t].shape)} > {limit}"
    return None
