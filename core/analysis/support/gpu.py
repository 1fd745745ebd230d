"""GPU delegate rules: the per-op table (resources/ops/delegates/gpu.json) follows
``gpu_compatibility.cc``; the predicates below carry its shape/option conditions. On top, what the
delegate itself requires of the tensors it computes: float32/float16 (8-bit when quantized models
are allowed), rank <= 4. A dynamic dimension in the signature (batch -1) is not a blocker: the
delegate sees the shapes the interpreter allocated.

Deliberate difference from the static checker (TF's Analyzer): DEQUANTIZE of constant fp16 weights
is folded by the delegate, so a conv fed by it has 1 runtime input, not 3."""
from __future__ import annotations

from typing import Any

from core.analysis.support.common import Reason
from core.analysis.support.graph import FLOAT, SubgraphView, claim_dequantize
from core.analysis.support.table import op_reason, runtime_tensors
from core.model.types import Operator

MAX_RANK = 4


def _runtime(view: SubgraphView, op: Operator, const_like) -> list[int]:
    ts = view.tensors
    return [t for t in op.inputs if t >= 0 and not ts[t].constant and t not in const_like]


def _dims(view: SubgraphView, t: int) -> tuple[int, ...]:
    return view.tensors[t].shape


def _broadcast(view, op, opts) -> Reason:
    if len(op.inputs) != 2:
        return f"{op.op} needs two inputs"
    a, b = _dims(view, op.inputs[0]), _dims(view, op.inputs[1])
    if len(a) > 1 and len(b) > 1 and len(a) != len(b):
        lo, sh = (a, b) if len(a) >= len(b) else (b, a)
        if opts["enhanced_broadcast"]:
            ok = all(x == y or x == 1 or y == 1 for x, y in zip(reversed(lo), reversed(sh), strict=False))
        else:
            ok = ((len(lo) == 4 and len(sh) == 3 and lo[0] == 1) or
                  (len(lo) == 4 and len(sh) == 2 and lo[0] == 1 and sh[0] == 1 and sh[1] == 1) or
                  (len(lo) == 4 and len(sh) == 2 and lo[0] == sh[0] and lo[3] == sh[1]))
        if not ok:
            return f"cannot broadcast {list(a)} with {list(b)}"
    return None


def _conv_io(view, op, c) -> Reason:
    n = len(_runtime(view, op, c))
    if not 1 <= n <= 2:
        return f"{n} runtime inputs (expects 1 or 2)"
    if len(op.outputs) != 1:
        return f"{len(op.outputs)} outputs"
    return None


def _strides(op) -> Reason:
    o = op.options
    if min(o.get("stride_h", 1), o.get("stride_w", 1)) <= 0:
        return "non-positive stride"
    if min(o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)) <= 0:
        return "non-positive dilation"
    return None


class _Checks:
    """Predicates named by the table's "check" fields; ``const_like`` is per subgraph."""

    def __init__(self, const_like: set[int]):
        self.c = const_like

    def table(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "add", "mul", "add_n", "pool", "two_in_one_out", "cast", "conv", "depthwise",
            "cumsum", "block_size", "dequantize", "fully_connected", "gather", "reduce",
            "select", "slice", "softmax", "strided_slice", "resize_bilinear", "pad", "unary",
            "binary", "one_hot", "dynamic_update_slice", "lstm", "resampler")}

    def add(self, view, op, f, opts):
        return _broadcast(view, op, opts)

    def mul(self, view, op, f, opts):
        if len(op.inputs) != 2:
            return "MUL needs two inputs"
        a, b = _dims(view, op.inputs[0]), _dims(view, op.inputs[1])
        if len(a) != len(b):
            return _broadcast(view, op, opts)
        # TF 2.17's check (dropped from the LiteRT 2.3 table, kept here: the GPU kernel
        # broadcasts one operand into the other, not both ways)
        if not (all(x >= y for x, y in zip(a, b, strict=False)) or all(y >= x for x, y in zip(a, b, strict=False))):
            return f"MUL broadcasts both ways {list(a)} x {list(b)}"
        return None

    def add_n(self, view, op, f, opts):
        return None if len(op.inputs) == 2 else "ADD_N with other than 2 inputs"

    def pool(self, view, op, f, opts):
        o = op.options
        if min(o.get("filter_height", 1), o.get("filter_width", 1)) <= 0:
            return "non-positive window"
        return _strides(op)

    def two_in_one_out(self, view, op, f, opts):
        return None if len(op.inputs) == 2 and len(op.outputs) == 1 else "expects 2 inputs, 1 output"

    def cast(self, view, op, f, opts):
        a, b = view.tensors[op.inputs[0]].dtype, view.tensors[op.outputs[0]].dtype
        if (a == "bool" and b in FLOAT) or (a in FLOAT and b == "bool") or \
                (a in ("float32", "int32") and b in ("float32", "int32")):
            return None
        return f"CAST {a} -> {b}"

    def conv(self, view, op, f, opts):
        return _conv_io(view, op, self.c) or _strides(op)

    def depthwise(self, view, op, f, opts):
        r = _conv_io(view, op, self.c) or _strides(op)
        if r:
            return r
        x, w, y = (_dims(view, op.inputs[0]), _dims(view, op.inputs[1]),
                   _dims(view, op.outputs[0]))
        if len(x) != 4 or len(w) != 4 or len(y) != 4:
            return "input, filter and output must be 4-D"
        if x[0] != y[0]:
            return "batch differs between input and output"
        if w[3] != y[3]:
            return "filter channels differ from output channels"
        if y[3] != x[3] * op.options.get("depth_multiplier", 1):
            return "output channels != input channels x depth multiplier"
        return None

    def cumsum(self, view, op, f, opts):
        ts = view.tensors
        if len(op.inputs) != 2 or len(op.outputs) != 1:
            return "expects 2 inputs, 1 output"
        x, ax = ts[op.inputs[0]], ts[op.inputs[1]]
        if x.dtype not in FLOAT or ax.dtype != "int32" or not ax.constant:
            return "needs float input and constant int32 axis"
        return None

    def block_size(self, view, op, f, opts):
        bs = op.options.get("block_size", 0)
        return None if bs > 1 else f"block size {bs} (a no-op or invalid)"

    def dequantize(self, view, op, f, opts):
        if len(op.inputs) != 1 or len(op.outputs) != 1:
            return "expects 1 input, 1 output"
        t = view.tensors[op.inputs[0]]
        return "input 0 is int16" if t.dtype == "int16" else None

    def fully_connected(self, view, op, f, opts):
        o = op.options
        if o.get("weights_format", "DEFAULT") != "DEFAULT":
            return f"weights format {o['weights_format']}"
        if len(_runtime(view, op, self.c)) > 2:
            return f"{len(_runtime(view, op, self.c))} runtime inputs (at most 2)"
        if view.tensors[op.inputs[0]].constant:
            return "input 0 is constant"
        if o.get("keep_num_dims") and len(_dims(view, op.inputs[0])) != \
                len(_dims(view, op.outputs[0])):
            return "keep_num_dims with input and output ranks differing"
        return None

    def gather(self, view, op, f, opts):
        n = len(_runtime(view, op, self.c))
        if len(op.outputs) != 1 or n not in (1, 2):
            return "expects 1 or 2 runtime inputs and 1 output"
        idx = view.tensors[op.inputs[1]]
        if len(idx.shape) != 1:
            return "indices are not 1-D"
        return None if idx.dtype == "int32" else f"indices are {idx.dtype}"

    def reduce(self, view, op, f, opts):
        ts = view.tensors
        if len(op.inputs) != 2 or len(op.outputs) != 1 or ts[op.inputs[0]].constant:
            return "expects 1 runtime input, constant axes, 1 output"
        ax = ts[op.inputs[1]]
        if not ax.constant:
            return "axes are not constant"
        return None if ax.dtype == "int32" else f"axes are {ax.dtype}"

    def select(self, view, op, f, opts):
        if len(op.inputs) != 3 or len(op.outputs) != 1:
            return "expects 3 inputs, 1 output"
        cond = view.tensors[op.inputs[0]]
        if cond.dtype not in ("bool", "float16", "float32"):
            return f"condition is {cond.dtype}"
        out = _dims(view, op.outputs[0])
        for i in (1, 2):
            d = _dims(view, op.inputs[i])
            if d and d != out and (len(d) > 1 or d[0] > 1):
                return f"input {i} neither output-shaped nor scalar"
        return None

    def slice(self, view, op, f, opts):
        if len(op.inputs) < 3:
            return "expects 3 inputs"
        r = len(_dims(view, op.inputs[0]))
        return None if r in (3, 4) else f"input has rank {r} (3 or 4 only)"

    def softmax(self, view, op, f, opts):
        beta = op.options.get("beta", 1.0)
        return None if beta == 1.0 else f"beta {beta} != 1"

    def strided_slice(self, view, op, f, opts):
        o = op.options
        for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
            if o.get(k, 0):
                return f"{k} is set"
        if len(op.inputs) < 4:
            return "expects 4 inputs"
        r = len(_dims(view, op.inputs[0]))
        return None if r in (3, 4) else f"input has rank {r} (3 or 4 only)"

    def resize_bilinear(self, view, op, f, opts):
        o = op.options
        if o.get("align_corners") and o.get("half_pixel_centers"):
            return "align_corners together with half_pixel_centers"
        return None

    def pad(self, view, op, f, opts):
        if op.op == "MIRROR_PAD" and op.options.get("mode", "REFLECT") != "REFLECT":
            return f"mirror pad mode {op.options.get('mode')}"
        n = len(_runtime(view, op, self.c))
        if n != 1 or len(op.outputs) != 1:
            return f"{n} runtime inputs (expects 1)"
        p = _dims(view, op.inputs[1])
        if len(p) != 2 or p[0] not in (3, 4) or p[1] != 2:
            return f"paddings shape {list(p)} (expects 3x2 or 4x2)"
        return None

    def unary(self, view, op, f, opts):
        ts = view.tensors
        consts = sum(1 for t in op.inputs if t >= 0 and ts[t].constant)
        if len(_runtime(view, op, self.c)) != 1 or consts or len(op.outputs) != 1:
            return "expects 1 runtime input, 1 output"
        return None

    def binary(self, view, op, f, opts):
        ts = view.tensors
        rt = len(_runtime(view, op, self.c))
        consts = sum(1 for t in op.inputs if t >= 0 and (ts[t].constant or t in self.c))
        if len(op.outputs) != 1 or (rt, consts) not in ((2, 0), (1, 1)):
            return "needs 1 or 2 operands"
        return None

    def one_hot(self, view, op, f, opts):
        ts = view.tensors
        if len(op.inputs) != 4 or len(op.outputs) != 1:
            return "expects 4 inputs, 1 output"
        if ts[op.inputs[0]].dtype != "int32":
            return "indices are not int32"
        for i in (2, 3):
            t = ts[op.inputs[i]]
            if t.dtype != "float32" or not t.constant or len(t.shape) > 1:
                return "on/off values must be constant float32 scalars"
        return None

    def dynamic_update_slice(self, view, op, f, opts):
        ts = view.tensors
        if len(op.inputs) != 3:
            return "expects 3 inputs"
        a, u, s = (ts[i] for i in op.inputs)
        if a.dtype != u.dtype:
            return "operand and update differ in type"
        if len(s.shape) != 1 or s.dtype != "int32":
            return "start indices must be 1-D int32"
        return None if len(a.shape) == len(u.shape) else "operand and update differ in rank"

    def lstm(self, view, op, f, opts):
        o = op.options
        if o.get("kernel_type", "FULL") == "FULL":
            if len(op.inputs) not in (20, 24) or len(op.outputs) != 1:
                return "full LSTM kernel needs 20 or 24 inputs, 1 output"
            act = o.get("fused_activation_function", "TANH")
            return None if act in ("TANH", "SIGMOID") else f"activation {act}"
        return "basic LSTM kernel (not modelled)"

    def resampler(self, view, op, f, opts):
        s, w = _dims(view, op.inputs[0]), _dims(view, op.inputs[1])
        if len(s) != 4 or len(w) != 4 or s[0] != w[0] or w[3] < 2:
            return "src/warp must be 4-D with matching batch and warp.c >= 2"
        return None


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    const_like = view.folded
    checks = _Checks(const_like).table()
    int_ok = frozenset(facts.get("int_ok", ()))
    quant = frozenset({"int8", "uint8"}) if opts["allow_quant"] else frozenset()

    def reason(op: Operator) -> Reason:
        return (op_reason(view, op, facts, opts, checks, "{op} is not a GPU op", const_like)
                or _tensor_reason(view, op, const_like, int_ok, quant))
    return claim_dequantize(view, view.per_key(reason), const_like)


def _tensor_reason(view, op, const_like, int_ok, quant) -> Reason:
    ok = FLOAT | quant
    if op.op in int_ok:
        ok = ok | {"int32", "bool"}
    for role, t in runtime_tensors(view, op, const_like):
        if t.dtype not in ok:
            if t.dtype in ("int8", "uint8") and not quant:
                return f"{role} is {t.dtype} and quantized models are off (allow_quant=false)"
            return f"{role} is {t.dtype}"
        if len(t.shape) > MAX_RANK:
            return f"{role} has rank {len(t.shape)} > {MAX_RANK}"
    return None
