"""TensorFlow Lite Micro rules (resources/ops/delegates/tflm.json): whether the reference kernels
the tflite-micro wheel registers take each op with its types and options.

TFLM has no fallback: every op of every subgraph runs on its kernels, so one refused op means the
model does not run at all (the table's ``whole_model`` partitioning). The checks below are the
ones TFLM's kernels make in Prepare or Eval:
- an op with no registered kernel (SELECT, DENSIFY, Flex and most custom ops);
- the input type the kernel's switch takes (float16 weights behind DEQUANTIZE, int64 math, ...);
- "Hybrid models are not supported on TFLite Micro": float activations with int8 weights;
- quantized fused activations whose clamp values overflow int32 once quantized (tiny scales,
  the int16x8 converter's typical failure);
- int8/int16 SOFTMAX's output scale and zero point, and the input-scale multiplier that, when not
  above 1, makes TFLM ``abort()`` the whole process.
"""
from __future__ import annotations

import math
from typing import Any

from core.analysis.support.common import Reason, custom_reason
from core.analysis.support.graph import SubgraphView
from core.analysis.support.result import DelegateSupport, TflmVerification
from core.model.types import Operator, Tensor

QUANTIZED = frozenset({"int8", "int16", "uint8"})
_INT32 = 2 ** 31


def evaluate(view: SubgraphView, opts: dict[str, Any], facts: dict[str, Any]) -> list[Reason]:
    return view.per_key(lambda op: op_reason(view, op, facts))


def op_reason(view: SubgraphView, op: Operator, facts: dict[str, Any]) -> Reason:
    if op.op == "CUSTOM":
        if (op.custom_code or "") in facts["custom_ops"]:
            return None
        return f"{custom_reason(op)}; TFLM registers no kernel for it"
    fact = facts["ops"].get(op.op)
    if fact is None:
        return f"no TFLM kernel for {op.op}"
    ts = view.tensors
    for idx, types in _type_rules(fact):
        if idx < len(op.inputs) and op.inputs[idx] >= 0:
            dtype = ts[op.inputs[idx]].dtype
            if dtype not in types:
                why = fact.get("reason_if_type")
                return f"input {idx} is {dtype}" + (f": {why}" if why else
                                                    f"; the TFLM kernel takes "
                                                    f"{', '.join(types)}")
    if "rank" in fact and op.inputs and op.inputs[0] >= 0:
        lo, hi = fact["rank"]
        rank = len(ts[op.inputs[0]].shape)
        if not lo <= rank <= hi:
            return f"input 0 has rank {rank}; TFLM's {op.op} takes rank {lo}..{hi}"
    for k in fact.get("const_inputs", ()):
        if k < len(op.inputs) and op.inputs[k] >= 0 and not ts[op.inputs[k]].constant:
            return f"input {k} is computed at run time; TFLM's {op.op} needs it constant"
    check = fact.get("check")
    if check:
        return CHECKS[check](view, op, facts)
    return None


def _type_rules(fact: dict) -> list[tuple[int, list[str]]]:
    rules = [(int(k), v) for k, v in fact.get("input_types", {}).items()]
    if "types" in fact:
        rules.insert(0, (0, fact["types"]))
    return rules


def _tensor(view: SubgraphView, op: Operator, k: int, outputs: bool = False) -> Tensor | None:
    idx = op.outputs if outputs else op.inputs
    return view.tensors[idx[k]] if k < len(idx) and idx[k] >= 0 else None


def _hybrid(view: SubgraphView, op: Operator, facts: dict) -> Reason:
    # TRANSPOSE_CONV keeps its data input third (output shape, weights, input)
    data, weights = (2, 1) if op.op == "TRANSPOSE_CONV" else (0, 1)
    x, w = _tensor(view, op, data), _tensor(view, op, weights)
    if x is None or w is None:
        return None
    ok = (x.dtype == w.dtype or (x.dtype == "int16" and w.dtype == "int8")
          or (x.dtype == "int8" and w.dtype == "int4"))
    if not ok:
        return (f"input is {x.dtype}, weights {w.dtype}: hybrid models are not supported on "
                "TFLite Micro")
    return _activation_range(view, op, facts)


def _scale(t: Tensor) -> tuple[float, int] | None:
    q = t.quantization
    if q is None or not q.scale:
        return None
    return float(q.scale[0]), int(q.zero_point[0]) if q.zero_point else 0


def _activation_range(view: SubgraphView, op: Operator, facts: dict) -> Reason:
    act = op.options.get("fused_activation_function", "NONE") or "NONE"
    values = facts["activation_values"].get(act)
    out = _tensor(view, op, 0, outputs=True)
    if not values or out is None or out.dtype not in QUANTIZED:
        return None
    sq = _scale(out)
    if sq is None:
        return None
    scale = float(_f32(sq[0]))
    for v in values:
        q = round(v / scale) if scale else math.inf
        if not -_INT32 <= q <= _INT32 - 1:
            return (f"fused {act}: {v:g} / output scale {scale:.3g} overflows int32 when "
                    "quantized (no_integer_overflow_from_quantization check)")
    return None


def _f32(x: float) -> float:
    import numpy as np
    return float(np.float32(x))


def _softmax(view: SubgraphView, op: Operator, facts: dict) -> Reason:
    x, y = _tensor(view, op, 0), _tensor(view, op, 0, outputs=True)
    if x is None or y is None or x.dtype not in ("int8", "int16"):
        return None
    xs, ys = _scale(x), _scale(y)
    if xs is None or ys is None:
        return "int8/int16 SOFTMAX without quantization parameters"
    (in_scale, in_zp), (out_scale, out_zp) = xs, ys
    out_scale = _f32(out_scale)
    if x.dtype == "int16":
        if in_zp != 0 or out_zp != 0:
            return "int16 SOFTMAX needs zero points 0"
        if abs(out_scale - 1 / 32768) > 0.001 / 32768:
            return f"int16 SOFTMAX needs output scale 1/32768, not {out_scale:.6g}"
        return None
    if y.dtype == "int16":
        if out_zp != -32768 or abs(out_scale - 1 / 65536) > 0.001 / 65536:
            return "int8→int16 SOFTMAX needs output zero point -32768 and scale 1/65536"
    elif y.dtype == "int8":
        if out_zp != -128 or out_scale != _f32(1 / 256):
            return (f"int8 SOFTMAX needs output zero point -128 and scale 1/256 (has "
                    f"{out_zp}, {out_scale:.6g})")
    else:
        return f"int8 SOFTMAX with {y.dtype} output"
    beta = float(op.options.get("beta", 1.0) or 0.0)
    bits = facts["softmax_int8"]["scaled_diff_integer_bits"]
    multiplier = min(beta * _f32(in_scale) * (1 << (31 - bits)), (1 << 31) - 1.0)
    if not multiplier > 1.0:
        return (f"beta × input scale × 2^{31 - bits} = {multiplier:.3g} is not above 1: TFLM's "
                "QuantizeMultiplierGreaterThanOne check aborts the process (SIGABRT)")
    return None


CHECKS = {"hybrid": _hybrid, "activation_range": _activation_range, "softmax": _softmax}


def run_tflm(path: str, arena_size: int, compare: bool, timeout: float) -> dict[str, Any]:
    """The ``tflm_run`` worker job (tflite-micro in its own process) on the model."""
    from core.inference.config import RunConfig
    from core.inference.session import run_tflm
    cfg = RunConfig(model=str(path), delegate="builtin", timeout_s=timeout)
    return run_tflm(cfg, {"arena_size": int(arena_size), "compare": compare})


def verify(block: DelegateSupport, path: str) -> TflmVerification:
    """Run the model on tflite-micro (a worker process) and compare with the prediction: does
    TFLM refuse (or abort on) the model exactly when the rules say so? -> the verdict's
    ``verified``."""
    # an arena far above anything a device has: only a refusal or a crash can stop it
    r = run_tflm(path, 1 << 28, compare=False, timeout=300)
    if r["arena"] is not None:
        real = None
    elif r["refused"]:
        real = r["refused"]["reason"]
    else:
        real = r["error"] or "TFLM gave no answer"
    return TflmVerification(runtime=r["runtime"] or "tflite-micro",
                            predicted_refused=block.refused, runtime_refused=real,
                            runtime_error_kind=r["error_kind"],
                            agree=(block.refused is None) == (real is None))


def verified_provenance(v: TflmVerification) -> dict[str, Any]:
    """The verdict's provenance once ``verify`` ran tflite-micro on the model."""
    from core.analysis.support.targets import provenance
    tool, _, version = v.runtime.partition(" ")
    said = ("runs" if v.runtime_refused is None else f"refuses it ({v.runtime_refused})")
    verdict = "agrees" if v.agree else "DISAGREES"
    return provenance("tool", tool, version or None,
                      f"prediction checked: tflite-micro {said}; the prediction {verdict}")
