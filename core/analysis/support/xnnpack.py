"""XNNPACK's placement rules: the per-op facts live in resources/ops/delegates/xnnpack.json (read
through the op catalogue); the small predicates here check what that table names (types, ranks,
constant inputs, options). The graph-level rule of ``PrepareOpsToDelegate`` — DEQUANTIZE/DENSIFY of
constant fp16/int8/sparse weights is "unpacked" at delegation time and goes with its consumers — is
applied in ``evaluate``."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from core.analysis.support.common import (
    ACTIVATIONS_CLAMP,
    Reason,
    activation_reason,
    custom_reason,
    dims_reason,
    padding_reason,
)
from core.analysis.support.graph import (
    FLOAT,
    SubgraphView,
    checked,
    is_static,
    per_tensor_quant,
    scale,
    zero_point,
)
from core.model.types import Operator, Tensor

# xnn_validate_quantized_tensor: the zero point must fit the 8-bit type
_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


class Checker:
    """One op at a time, with the delegate options and the quasi-static tensors known so far."""

    def __init__(self, view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]):
        self.view, self.opts, self.facts = view, opts, facts
        self.max_rank = int(facts.get("max_rank", 6))
        self.quasi_static: set[int] = set()
        # resource tensor -> its variable as seen so far (ResourceInfo: VAR_HANDLE, then the first
        # read/write's value fixes dtype and shape)
        self.variables: dict[int, _Variable] = {}

    # -- type classes (CheckTensor*Type) --
    def q8(self, t: Tensor) -> bool:
        if t.dtype == "int8":
            return bool(self.opts["qs8"]) and per_tensor_quant(t)
        if t.dtype == "uint8":
            return bool(self.opts["qu8"]) and per_tensor_quant(t)
        return False

    def type_ok(self, t: Tensor, cls: str) -> bool:
        if cls == "float":
            return t.dtype in FLOAT
        if cls == "float32":
            return t.dtype == "float32"
        if cls == "q8":
            return self.q8(t)
        if cls == "float_q8":
            return t.dtype in FLOAT or self.q8(t)
        if cls == "float32_q8":
            return t.dtype == "float32" or self.q8(t)
        if cls == "float_qs8":
            return t.dtype in FLOAT or (t.dtype == "int8" and self.q8(t))
        raise ValueError(f"unknown type class {cls!r} in xnnpack.json")

    def type_reason(self, t: Tensor, cls: str, role: str) -> Reason:
        if self.type_ok(t, cls):
            return None
        if t.dtype in ("int8", "uint8"):
            flag = "qs8" if t.dtype == "int8" else "qu8"
            if not self.opts[flag]:
                return f"{role} is {t.dtype} and 8-bit quantized ops are off ({flag}=false)"
            if cls in ("float", "float32"):
                return f"{role} is {t.dtype} (float only)"
            return f"{role} is {t.dtype} without per-tensor quantization"
        return f"{role} is {t.dtype}"

    def filter_reason(self, t: Tensor, channel_axis: int, role: str = "filter",
                      low_bits: bool = False) -> Reason:
        """CheckTensorFloat32OrQCInt8Type / CheckTensorFilterType."""
        if t.dtype in FLOAT:
            return None
        if t.dtype == "int8" or (low_bits and t.dtype in ("int4", "int2")):
            if not self.opts["qs8"]:
                return f"{role} is {t.dtype} and 8-bit quantized ops are off (qs8=false)"
            q = t.quantization
            if not q or not q.scale:
                return f"{role} is {t.dtype} without quantization"
            if len(q.scale) > 1:
                if q.quantized_dimension != channel_axis:
                    return (f"{role} is quantized per channel along axis "
                            f"{q.quantized_dimension}, not {channel_axis}")
                if not low_bits and any(z != 0 for z in q.zero_point):
                    return f"{role} has per-channel zero points != 0"
            elif not low_bits:
                lo, hi = _ZP_RANGE["int8"]
                if not lo <= zero_point(t) <= hi:
                    return f"{role} zero point {zero_point(t)} out of range"
            return None
        if t.dtype == "uint8":
            return self.type_reason(t, "q8", role)
        return f"{role} is {t.dtype}"

    def bias_reason(self, t: Tensor) -> Reason:
        """CheckTensorFloat32OrFloat16OrQCInt32Type."""
        if t.dtype in FLOAT:
            return None
        if t.dtype == "int32" and self.opts["qs8"]:
            q = t.quantization
            if not q or not q.scale or q.quantized_dimension != 0:
                return "bias is int32 without quantization along axis 0"
            return None
        return f"bias is {t.dtype}"

    def static_reason(self, index: int, role: str) -> Reason:
        t = self.view.tensors[index]
        if is_static(t) or index in self.quasi_static:
            return None
        return f"{role} is not constant"

    def data(self, index: int):
        """The constant data of tensor ``index`` (None when it has none in the file)."""
        return self.view.model.tensor_data(self.view.subgraph.index, index)

    def shape_reason(self, t: Tensor, role: str, lo: int, hi: int | None = None) -> Reason:
        return dims_reason(t, role, lo, self.max_rank if hi is None else hi)

    def count_reason(self, op: Operator, n_in: tuple[int, int], n_out: tuple[int, int]) -> Reason:
        ni, no = len(op.inputs), len(op.outputs)
        if not n_in[0] <= ni <= n_in[1]:
            return f"{ni} inputs (expects {_span(n_in)})"
        if not n_out[0] <= no <= n_out[1]:
            return f"{no} outputs (expects {_span(n_out)})"
        return None


@dataclass
class _Variable:
    handle: int                                   # the VAR_HANDLE op
    value: tuple[str, tuple[int, ...]] | None = None  # dtype and shape of the first read/write

    def add_value(self, t: Tensor) -> Reason:
        """ResourceInfo::AddProxyValue: every read and write of one variable must agree."""
        if self.value is None:
            self.value = (t.dtype, tuple(t.shape))
            return None
        if self.value != (t.dtype, tuple(t.shape)):
            dtype, shape = self.value
            return (f"the variable is read or written elsewhere as {dtype} {list(shape)}, "
                    f"here as {t.dtype} {list(t.shape)}")
        return None


def _span(r: tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}..{r[1]}"


def _first(*reasons: Reason) -> Reason:
    for r in reasons:
        if r:
            return r
    return None


# ---- rules: (checker, op, fact) -> reason or None -------------------------------------------
def _t(c: Checker, i: int) -> Tensor:
    return c.view.tensors[i]


def _one_in_one_out(c: Checker, op: Operator, in_cls: str, out_cls: str) -> Reason:
    """One input, one output, of these type classes (most single-tensor ops start so)."""
    return c.count_reason(op, (1, 1), (1, 1)) or _first(
        c.type_reason(_t(c, op.inputs[0]), in_cls, "input 0"),
        c.type_reason(_t(c, op.outputs[0]), out_cls, "output"))


def _unary(c: Checker, op: Operator, f: dict) -> Reason:
    r = _one_in_one_out(c, op, f["types"], f.get("out_types", f["types"]))
    if r:
        return r
    x, y = _t(c, op.inputs[0]), _t(c, op.outputs[0])
    r = c.shape_reason(x, "input 0", 0)
    if r:
        return r
    check = f.get("check")
    if check == "leaky_relu":
        alpha = float(op.options.get("alpha", 0.0))
        if alpha == 0.0 or not math.isfinite(alpha) or abs(alpha) < 1.1754943508222875e-38:
            return f"alpha {alpha} is not a normal number"
        si, so = scale(x), scale(y)
        if si and so:
            pos = si / so
            neg = pos * alpha
            if not (1 / 256 <= pos <= 128) or not (-127.99609375 <= neg <= 128) \
                    or abs(neg) < 1 / 256:
                return "input/output scale ratio out of range"
    elif check == "quantize":
        if x.dtype in FLOAT:
            return None
        if x.dtype != y.dtype:
            return f"requantizing {x.dtype} -> {y.dtype}"
        si, so = scale(x), scale(y)
        if si and so and not (1 / 256 <= si / so <= 128):
            return "input/output scale ratio out of range"
    return None


def _binary(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (2, 2), (1, 1))
    if r:
        return r
    a, b, y = _t(c, op.inputs[0]), _t(c, op.inputs[1]), _t(c, op.outputs[0])
    cls = f["types"]
    r = _first(c.shape_reason(a, "input 0", 0), c.shape_reason(b, "input 1", 0),
               c.type_reason(a, cls, "input 0"), c.type_reason(b, cls, "input 1"),
               c.type_reason(y, cls, "output"))
    if r:
        return r
    if f.get("same_types") and not (a.dtype == b.dtype == y.dtype):
        return f"mixed types {a.dtype}, {b.dtype} -> {y.dtype}"
    so = scale(y)
    if "scale" in f and y.dtype in ("int8", "uint8") and so:
        lo, hi = f["scale"]
        for i, t in ((0, a), (1, b)):
            st = scale(t)
            if st and not lo <= st / so < hi:
                return f"input {i}/output scale ratio {st / so:.3g} out of range"
    if "product_scale" in f and y.dtype in ("int8", "uint8") and so:
        lo, hi = f["product_scale"]
        sa, sb = scale(a), scale(b)
        if sa and sb and not lo <= sa * sb / so < hi:
            return f"input product/output scale ratio {sa * sb / so:.3g} out of range"
    if f.get("activation"):
        r = activation_reason(op, ACTIVATIONS_CLAMP)
        if r:
            return r
    for i in f.get("static_inputs", ()):
        r = c.static_reason(op.inputs[i], f"input {i}")
        if r:
            return r
    return None


def _pool(c: Checker, op: Operator, f: dict) -> Reason:
    r = _one_in_one_out(c, op, f["types"], "float_q8" if f["types"] != "float" else "float")
    if r:
        return r
    o = op.options
    sw, sh = o.get("stride_w", 1), o.get("stride_h", 1)
    fw, fh = o.get("filter_width", 1), o.get("filter_height", 1)
    if min(sw, sh, fw, fh) <= 0:
        return "non-positive stride or filter size"
    if sw > fw or sh > fh:
        return f"stride {sh}x{sw} larger than the {fh}x{fw} window"
    if fw == 1 and fh == 1 and max(sw, sh) > 1:
        return "1x1 window with stride > 1"
    return _first(padding_reason(op), activation_reason(op, ACTIVATIONS_CLAMP))


def _conv(c: Checker, op: Operator, f: dict) -> Reason:
    o = op.options
    if op.op == "CONV_2D" and (min(o.get("stride_w", 1), o.get("stride_h", 1)) <= 0 or
                               min(o.get("dilation_w_factor", 1),
                                   o.get("dilation_h_factor", 1)) <= 0):
        return "non-positive stride or dilation"
    r = c.count_reason(op, (3, 3), (1, 1))
    if r:
        return r
    x = _t(c, op.inputs[0])
    w_i = op.inputs[1]
    w = _t(c, w_i)
    r = _first(c.type_reason(x, "float_q8", "input 0"), c.shape_reason(x, "input 0", 4, 4),
               c.filter_reason(w, f["filter_channel_axis"]), c.shape_reason(w, "filter", 4, 4),
               c.static_reason(w_i, "filter"))
    if r:
        return r
    b_i = op.inputs[2]
    if b_i < 0:
        return "no bias (XNNPACK needs one)"
    b = _t(c, b_i)
    y = _t(c, op.outputs[0])
    r = _first(c.bias_reason(b), c.shape_reason(b, "bias", 1, 1), c.static_reason(b_i, "bias"),
               _filter_bias_types(w, b), c.type_reason(y, "float_q8", "output"),
               c.shape_reason(y, "output", 4, 4))
    if r:
        return r
    dynamic_range = (f.get("dynamic_range") and not c.opts["disable_dynamically_quantized_ops"]
                     and x.dtype == "float32" and w.dtype == "int8")
    if x.dtype != y.dtype or (x.dtype != w.dtype and not dynamic_range):
        return f"types {x.dtype} x {w.dtype} -> {y.dtype} do not match"
    if op.op == "CONV_2D":
        if w.shape[3] == 0 or x.shape[3] // w.shape[3] == 0:
            return "input channels smaller than the filter's"
    else:
        dm = o.get("depth_multiplier", 1)
        if min(o.get("stride_w", 1), o.get("stride_h", 1), o.get("dilation_w_factor", 1),
               o.get("dilation_h_factor", 1)) <= 0 or dm <= 0:
            return "non-positive stride, dilation or depth multiplier"
        if w.shape[3] % dm:
            return f"output channels {w.shape[3]} not a multiple of depth multiplier {dm}"
    return _first(padding_reason(op), activation_reason(op, ACTIVATIONS_CLAMP))


def _filter_bias_types(w: Tensor, b: Tensor) -> Reason:
    if w.dtype in FLOAT and b.dtype != w.dtype and not (w.dtype == "float16"
                                                         and b.dtype == "float32"):
        return f"bias is {b.dtype} but filter is {w.dtype}"
    return None


def _transpose_conv(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (3, 4), (1, 1))
    if r:
        return r
    s_i, w_i, x_i = op.inputs[0], op.inputs[1], op.inputs[2]
    s, w, x, y = _t(c, s_i), _t(c, w_i), _t(c, x_i), _t(c, op.outputs[0])
    if s.dtype != "int32":
        return f"output shape is {s.dtype}"
    if len(s.shape) != 1:
        return "output shape is not 1-D"
    r = _first(c.static_reason(s_i, "output shape"))
    if r:
        return r
    if s.shape[0] != 4:
        return "output shape has not 4 elements"
    r = _first(c.shape_reason(w, "filter", 4, 4), c.static_reason(w_i, "filter"),
               c.type_reason(x, "float32_q8", "input"), c.shape_reason(x, "input", 4, 4),
               c.filter_reason(w, 0))
    if r:
        return r
    if len(op.inputs) >= 4 and op.inputs[3] >= 0:
        b = _t(c, op.inputs[3])
        r = _first(c.bias_reason(b), c.shape_reason(b, "bias", 1, 1),
                   c.static_reason(op.inputs[3], "bias"))
        if r:
            return r
    r = _first(c.type_reason(y, "float32_q8", "output"), c.shape_reason(y, "output", 4, 4))
    if r:
        return r
    shape = c.data(s_i)
    if shape is not None and len(shape) == 4 and int(shape[3]) != w.shape[0]:
        return "output channels do not match the filter"
    if w.shape[3] != x.shape[3]:
        return "input channels do not match the filter"
    return _first(padding_reason(op), activation_reason(op, ACTIVATIONS_CLAMP))


def _fully_connected(c: Checker, op: Operator, f: dict) -> Reason:
    if op.version in f.get("unsupported_versions", ()):
        return f"op version {op.version} not supported"
    if op.options.get("weights_format", "DEFAULT") != "DEFAULT":
        return f"weights format {op.options['weights_format']}"
    r = c.count_reason(op, (2, 3), (1, 1))
    if r:
        return r
    x, w_i = _t(c, op.inputs[0]), op.inputs[1]
    w = _t(c, w_i)
    r = _first(c.type_reason(x, "float_q8", "input 0"), c.shape_reason(w, "filter", 2, 2))
    if r:
        return r
    dyn = c.opts["dynamic_fully_connected"]
    if not (dyn and w.dtype == "float32"):
        r = _first(c.filter_reason(w, 0, low_bits=True), c.static_reason(w_i, "filter"))
        if r:
            return r
    out_ch, in_ch = w.shape[0], w.shape[1]
    if len(op.inputs) >= 3 and op.inputs[2] >= 0:
        b = _t(c, op.inputs[2])
        if not (dyn and b.dtype == "float32"):
            n = math.prod(b.shape)
            if n != out_ch:
                return f"bias has {n} elements, filter {out_ch} outputs"
            r = _first(c.bias_reason(b), c.static_reason(op.inputs[2], "bias"))
            if r:
                return r
        r = _filter_bias_types(w, b)
        if r:
            return r
    y = _t(c, op.outputs[0])
    r = c.type_reason(y, "float_q8", "output")
    if r:
        return r
    low = ("int2", "int4", "int8")
    dq = (not c.opts["disable_dynamically_quantized_ops"] and x.dtype in FLOAT
          and w.dtype in low)
    srq = x.dtype == "int8" and w.dtype in low
    if x.dtype != y.dtype or (x.dtype != w.dtype and not (dq or srq)):
        return f"types {x.dtype} x {w.dtype} -> {y.dtype} do not match"
    if not dq and w.dtype == "int8" and zero_point(w) != 0:
        return "filter zero point != 0"
    if w.dtype == "int4" and in_ch % 2:
        return "int4 filter with an odd number of input channels"
    if w.dtype == "int2" and in_ch % 4:
        return "int2 filter with input channels not a multiple of 4"
    return activation_reason(op, ACTIVATIONS_CLAMP)


def _batch_matmul(c: Checker, op: Operator, f: dict) -> Reason:
    a, b, y = _t(c, op.inputs[0]), _t(c, op.inputs[1]), _t(c, op.outputs[0])
    axis = len(b.shape) - 2 if op.options.get("adj_y") else len(b.shape) - 1
    r = _first(c.type_reason(a, "float_q8", "input 0"), c.filter_reason(b, axis, "input 1"))
    if r:
        return r
    dq = a.dtype == "float32" and b.dtype == "int8"
    if b.dtype == "int8" and not dq and zero_point(b) != 0:
        return "input 1 zero point != 0"
    r = c.type_reason(y, "float_q8", "output")
    if r:
        return r
    if _xnn_type(a) != _xnn_type(b) and not dq:
        return f"input types {a.dtype} and {b.dtype} differ"
    if len(a.shape) < 2 or len(b.shape) < 2:
        return "inputs need rank >= 2"
    return None


def _xnn_type(t: Tensor) -> str:
    if t.dtype == "int8" and t.quantization and len(t.quantization.scale) > 1:
        return "qcint8"
    return t.dtype


def _concatenation(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (f["min_inputs"], f["max_inputs"]), (1, 1))
    if r:
        return r
    y = _t(c, op.outputs[0])
    r = c.type_reason(y, "float_q8", "output")
    if r:
        return r
    axis = op.options.get("axis", 0)
    ins = [_t(c, i) for i in op.inputs]
    for i, t in enumerate(ins):
        if axis >= len(t.shape):
            return f"axis {axis} >= rank of input {i}"
    if y.dtype == "uint8":
        for t in ins:
            if zero_point(t) != zero_point(y) or scale(t) != scale(y):
                return "inputs and output have different quantization"
    for i, t in enumerate(ins):
        r = c.type_reason(t, "float_q8", f"input {i}")
        if r:
            return r
    return None


def _block(c: Checker, op: Operator, f: dict) -> Reason:
    r = _one_in_one_out(c, op, f["in_types"], f["types"])
    if r:
        return r
    x = _t(c, op.inputs[0])
    bs = op.options.get("block_size", 0)
    if bs <= 1:
        return f"block size {bs} <= 1"
    if f.get("divisible") and len(x.shape) >= 3 and (x.shape[1] % bs or x.shape[2] % bs):
        return f"height/width not divisible by block size {bs}"
    return None


def _positive_reason(c: Checker, i: int, reason: str) -> Reason:
    """``reason`` when the constant sizes in tensor ``i`` hold an entry <= 0."""
    data = c.data(i)
    return reason if data is not None and (data <= 0).any() else None


def _int_param(c: Checker, i: int, role: str, dtypes=("int32",), one_d: bool = True) -> Reason:
    t = _t(c, i)
    if one_d and len(t.shape) != 1:
        return f"{role} is not 1-D"
    r = c.static_reason(i, role)
    if r:
        return r
    if t.dtype not in dtypes:
        return f"{role} is {t.dtype}"
    return None


def _reduce(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (2, 2), (1, 1))
    if r:
        return r
    x, ax = _t(c, op.inputs[0]), _t(c, op.inputs[1])
    r = c.type_reason(x, "float_q8", "input 0")
    if r:
        return r
    if ax.dtype != "int32":
        return f"axes are {ax.dtype}"
    if len(ax.shape) > 1:
        return "axes tensor has rank > 1"
    r = c.static_reason(op.inputs[1], "axes")
    if r:
        return r
    n = math.prod(ax.shape)
    if n <= 0:
        return "no reduction axes"
    if n == 1 and len(x.shape) == 0:
        return "reducing a scalar"
    if n > c.max_rank:
        return f"{n} reduction axes > {c.max_rank}"
    return c.type_reason(_t(c, op.outputs[0]), "float_q8", "output")


def _pad(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (2, 2), (1, 1))
    if r:
        return r
    x, p_i = _t(c, op.inputs[0]), op.inputs[1]
    p = _t(c, p_i)
    r = _first(c.type_reason(x, "float_q8", "input 0"), c.shape_reason(x, "input 0", 1))
    if r:
        return r
    if p.dtype != "int32":
        return f"paddings are {p.dtype}"
    if len(p.shape) != 2 or p.shape[0] != len(x.shape) or p.shape[1] != 2:
        return "paddings shape does not match the input rank"
    r = c.static_reason(p_i, "paddings")
    if r:
        return r
    y = _t(c, op.outputs[0])
    r = _first(c.type_reason(y, "float_q8", "output"), c.shape_reason(y, "output", 1))
    if r:
        return r
    data = c.data(p_i)
    if data is not None and (data < 0).any():
        return "negative padding"
    return None


def _reshape(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (1, 2), (1, 1))
    if r:
        return r
    x, y = _t(c, op.inputs[0]), _t(c, op.outputs[0])
    r = _first(c.type_reason(x, "float_q8", "input 0"), c.shape_reason(x, "input 0", 0),
               c.type_reason(y, "float_q8", "output"), c.shape_reason(y, "output", 0))
    if r:
        return r
    if y.dtype in ("int8", "uint8") and (zero_point(x) != zero_point(y) or scale(x) != scale(y)):
        return "input and output quantization differ"
    if len(op.inputs) == 2 and op.inputs[1] >= 0:
        s_i = op.inputs[1]
        s = _t(c, s_i)
        if s.dtype != "int32":
            return f"new shape is {s.dtype}"
        if len(s.shape) != 1 and any(d != 1 for d in s.shape[:-1]):
            return "new shape is not 1-D"
        r = c.static_reason(s_i, "new shape")
        if r:
            return r
        data = c.data(s_i)
        new = [int(v) for v in data.reshape(-1)] if data is not None else []
    else:
        new = list(op.options.get("new_shape") or [])
    if len(new) == 1 and new[0] in (-1, 0):
        return "new shape [-1] (flatten to an unknown size)"
    return None


def _resize_bilinear(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (2, 2), (1, 1))
    if r:
        return r
    x, s_i = _t(c, op.inputs[0]), op.inputs[1]
    s = _t(c, s_i)
    r = _first(c.type_reason(x, "float32_q8", "input 0"), c.shape_reason(x, "input 0", 4, 4))
    if r:
        return r
    if s.dtype != "int32":
        return f"size is {s.dtype}"
    if len(s.shape) != 1:
        return "size is not 1-D"
    r = c.static_reason(s_i, "size")
    if r:
        return r
    y = _t(c, op.outputs[0])
    r = _first(c.type_reason(y, "float_q8", "output"), c.shape_reason(y, "output", 4, 4))
    if r:
        return r
    return _positive_reason(c, s_i, "non-positive output size")


def _slice(c: Checker, op: Operator, f: dict) -> Reason:
    b_i, s_i = op.inputs[1], op.inputs[2]
    r = _first(_int_param(c, b_i, "begin", ("int32", "int64")),
               _int_param(c, s_i, "size", ("int32", "int64")))
    if r:
        return r
    if _t(c, b_i).shape != _t(c, s_i).shape:
        return "begin and size differ in length"
    r = _first(c.type_reason(_t(c, op.inputs[0]), "float_q8", "input 0"),
               c.type_reason(_t(c, op.outputs[0]), "float_q8", "output"))
    if r:
        return r
    return _positive_reason(c, s_i, "size has entries <= 0 (-1 = to the end is not supported)")


def _strided_slice(c: Checker, op: Operator, f: dict) -> Reason:
    o = op.options
    for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        if o.get(k, 0):
            return f"{k} is set"
    st_i, b_i, e_i = op.inputs[3], op.inputs[1], op.inputs[2]
    r = _int_param(c, st_i, "strides")
    if r:
        return r
    strides = c.data(st_i)
    if strides is not None and (strides != 1).any():
        return "strides other than 1"
    r = _first(_int_param(c, b_i, "begin"), _int_param(c, e_i, "end"))
    if r:
        return r
    x = _t(c, op.inputs[0])
    for i, role in ((b_i, "begin"), (e_i, "end"), (st_i, "strides")):
        if _t(c, i).shape[0] != len(x.shape):
            return f"{role} length differs from the input rank"
    return _first(c.type_reason(x, "float_q8", "input 0"),
                  c.type_reason(_t(c, op.outputs[0]), "float_q8", "output"))


def _softmax(c: Checker, op: Operator, f: dict) -> Reason:
    beta = op.options.get("beta", 1.0)
    if beta != 1.0:
        return f"beta {beta} != 1"
    return _one_in_one_out(c, op, "float", "float")


def _split(c: Checker, op: Operator, f: dict) -> Reason:
    if op.options.get("num_splits", len(op.outputs)) != len(op.outputs):
        return "num_splits differs from the outputs"
    r = c.count_reason(op, (2, 2), (f["min_outputs"], f["max_outputs"]))
    if r:
        return r
    a_i = op.inputs[0]
    if _t(c, a_i).dtype != "int32":
        return f"split axis is {_t(c, a_i).dtype}"
    r = _first(c.static_reason(a_i, "split axis"),
               c.type_reason(_t(c, op.inputs[1]), "float_q8", "input 1"))
    if r:
        return r
    for i, o in enumerate(op.outputs):
        r = c.type_reason(_t(c, o), "float_q8", f"output {i}")
        if r:
            return r
    return None


def _transpose(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (2, 2), (1, 1))
    if r:
        return r
    x = _t(c, op.inputs[0])
    return _first(c.type_reason(x, "float_q8", "input 0"), c.shape_reason(x, "input 0", 1),
                  c.static_reason(op.inputs[1], "permutation"))


def _mediapipe_deconv(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (3, 3), (1, 1))
    if r:
        return r
    for i, role in ((0, "input 0"), (1, "filter"), (2, "bias")):
        t = _t(c, op.inputs[i])
        r = _first(c.type_reason(t, "float32", role),
                   c.shape_reason(t, role, 1 if i == 2 else 4, 1 if i == 2 else 4),
                   c.static_reason(op.inputs[i], role) if i else None)
        if r:
            return r
    y = _t(c, op.outputs[0])
    return _first(c.type_reason(y, "float32", "output"), c.shape_reason(y, "output", 4, 4))


def _mediapipe_float4d(c: Checker, op: Operator, f: dict) -> Reason:
    r = c.count_reason(op, (f.get("inputs", 1),) * 2, (f.get("outputs", 1),) * 2)
    if r:
        return r
    x, y = _t(c, op.inputs[0]), _t(c, op.outputs[0])
    return _first(c.type_reason(x, "float32", "input 0"), c.shape_reason(x, "input 0", 4, 4),
                  c.type_reason(y, "float32", "output"), c.shape_reason(y, "output", 4, 4))


def _float32_all(c: Checker, op: Operator, f: dict) -> Reason:
    for i, t in enumerate(op.inputs):
        if t >= 0:
            r = c.type_reason(_t(c, t), "float32", f"input {i}")
            if r:
                return r
    return c.type_reason(_t(c, op.outputs[0]), "float32", "output")


# Resource variables (VisitVarHandleNode / VisitReadVariableNode / VisitAssignVariableNode). The
# answer depends on the ops before in the subgraph, so these three are never cached by key.
VARIABLE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})
_NO_ACCESS = "no read or write of this variable is taken by XNNPACK"


def _var_handle(c: Checker, op: Operator, f: dict) -> Reason:
    # provisional: Delegate::PrepareOpsToDelegate adds the handle after the loop when a read or
    # write of its variable was taken (see ``evaluate``)
    c.variables[op.outputs[0]] = _Variable(op.index)
    return _NO_ACCESS


def _variable_access(c: Checker, resource: int, value: Tensor) -> Reason:
    var = c.variables.get(resource)
    if var is None:
        return "its variable has no VAR_HANDLE before it in this subgraph"
    return var.add_value(value)


def _read_variable(c: Checker, op: Operator, f: dict) -> Reason:
    y = _t(c, op.outputs[0])
    if not y.shape:
        return "output is a scalar or has an unknown shape"
    return c.type_reason(y, f["types"], "output") or _variable_access(c, op.inputs[0], y)


def _assign_variable(c: Checker, op: Operator, f: dict) -> Reason:
    x = _t(c, op.inputs[1])
    return c.type_reason(x, f["types"], "value") or _variable_access(c, op.inputs[0], x)


def _never(c: Checker, op: Operator, f: dict) -> Reason:
    return f["reason"]


RULES: dict[str, Callable[[Checker, Operator, dict], Reason]] = {
    "unary": _unary, "binary": _binary, "pool": _pool, "conv": _conv,
    "transpose_conv": _transpose_conv, "fully_connected": _fully_connected,
    "batch_matmul": _batch_matmul, "concatenation": _concatenation, "block": _block,
    "reduce": _reduce, "pad": _pad, "reshape": _reshape, "resize_bilinear": _resize_bilinear,
    "slice": _slice, "strided_slice": _strided_slice, "softmax": _softmax, "split": _split,
    "transpose": _transpose, "mediapipe_deconv": _mediapipe_deconv,
    "mediapipe_float4d": _mediapipe_float4d, "float32_all": _float32_all, "never": _never,
    "var_handle": _var_handle, "read_variable": _read_variable,
    "assign_variable": _assign_variable,
}


def _static_unpack(c: Checker, op: Operator) -> bool:
    """DEQUANTIZE / DENSIFY of constant (or already unpacked) weights: XNNPACK unpacks them
    itself when it prepares the delegate."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        return False
    x, y = _t(c, op.inputs[0]), _t(c, op.outputs[0])
    static = is_static(x) or op.inputs[0] in c.quasi_static
    if op.op == "DEQUANTIZE":
        int8_ok = x.dtype == "int8" and x.quantization is not None and bool(x.quantization.scale)
        return (not x.sparse and static and (x.dtype == "float16" or int8_ok)
                and y.dtype == "float32")
    if op.op == "DENSIFY":
        return (is_static(x) and x.sparse and x.dtype in ("float16", "int8", "float32")
                and y.dtype == x.dtype)
    return False


def _rule_reason(c: Checker, op: Operator, table: dict, custom: dict) -> Reason:
    if op.op == "CUSTOM":
        fact = custom.get(op.custom_code or "")
        return custom_reason(op) if fact is None else RULES[fact["rule"]](c, op, fact)
    fact = table.get(op.op)
    return f"{op.op} has no XNNPACK kernel" if fact is None else RULES[fact["rule"]](c, op, fact)


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    """Reason per op (None = XNNPACK takes it), following Delegate::PrepareOpsToDelegate."""
    c = Checker(view, opts, facts)
    table, custom = facts["ops"], facts.get("custom_ops", {})
    reasons: list[Reason] = []
    unpack_producer: dict[int, int] = {}   # quasi-static tensor -> DEQUANTIZE/DENSIFY op
    unpack_nodes: set[int] = set()
    cache: dict[tuple, Reason] = {}
    for op, key in zip(view.ops, view.op_keys, strict=False):
        if op.op in ("DEQUANTIZE", "DENSIFY") and _static_unpack(c, op):
            out = op.outputs[0]
            unpack_nodes.add(op.index)
            unpack_producer[out] = op.index
            c.quasi_static.add(out)
            reasons.append(None)
            continue
        # the answer depends on the op's key and on which inputs are unpacked weights (variable
        # ops also on the ops before them)
        ckey = (key, tuple(t in c.quasi_static for t in op.inputs))
        if ckey in cache and op.op not in VARIABLE_OPS:
            reason = cache[ckey]
        else:
            reason = cache[ckey] = checked(lambda o: _rule_reason(c, o, table, custom), op)
        if reason:
            for t in op.inputs:
                p = unpack_producer.get(t)
                if p is not None and p in unpack_nodes:
                    unpack_nodes.discard(p)
                    reasons[p] = f"feeds op {op.index} ({op.label}), which stays on the CPU"
        reasons.append(reason)
    for var in c.variables.values():
        if var.value is not None:
            reasons[var.handle] = None
    return reasons
