"""Checks of a quantized model against its input, from the files alone: did anything get
quantized at all, and which ops stayed float and why (the quantizer's own reasons)."""
from __future__ import annotations

import re

from core.model.types import Model
from core.quantize.recipes import op_scope
from core.quantize.report import KeptFloat


def _words(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


_QUANT_DTYPES = ("int8", "uint8", "int16", "int4", "int2", "uint4")
_FLOAT_DTYPES = ("float32", "float16", "float64", "bfloat16")
MIN_CHANGE = 0.01


def _constant_bytes(model: Model) -> dict[str, int]:
    out: dict[str, int] = {}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.constant:
                out[t.dtype] = out.get(t.dtype, 0) + t.bytes
    return out


def _quantized_activations(model: Model) -> int:
    return sum(1 for sg in model.subgraphs for t in sg.tensors
               if not t.constant and t.dtype in _QUANT_DTYPES and t.quantization is not None)


def nothing_quantized(before: Model, after: Model, recipe: str) -> str | None:
    """Why the result is no quantization of ``before`` (None when it is one): its float
    constants (float32/float16 weights) did not shrink by more than MIN_CHANGE of the input's
    constant bytes, and it has no more quantized activations than the input. File size alone
    cannot tell: on a tiny model the added scales and DEQUANTIZE ops outweigh the saving, and a
    few leftover tensors of an already quantized model do not count. The reason names what the
    input already has."""
    b, a = _constant_bytes(before), _constant_bytes(after)
    total = sum(b.values()) or 1
    shrunk = sum(b.get(k, 0) for k in _FLOAT_DTYPES) - sum(a.get(k, 0) for k in _FLOAT_DTYPES)
    if shrunk > MIN_CHANGE * total or \
            _quantized_activations(after) > _quantized_activations(before):
        return None
    have = {k: v for k, v in b.items() if k in _QUANT_DTYPES + ("float16",)}
    if sum(have.values()) > 0.5 * total:
        return (f"the model's weights are already {', '.join(sorted(have))} "
                f"({sum(have.values()) * 100 // total}% of constant bytes); {recipe} leaves them "
                "as they are")
    ops = sorted({op.op for sg in before.subgraphs for op in sg.operators})
    return f"{recipe} applies to none of this model's ops ({', '.join(ops)})"


def kept_float(before: Model, after: Model, entries: list[dict], static: bool) \
        -> list[KeptFloat]:
    """Ops of ``before`` (subgraph 0) the recipe could have quantized but that are float in
    ``after``, each with the reason: asked (a no_quantize entry of the recipe, e.g. from
    --keep-float), or the quantizer's own check."""
    from ai_edge_quantizer import algorithm_manager, qtyping
    base = [e for e in entries if e.get("algorithm_key") != "no_quantize"]
    asked = [e for e in entries if e.get("algorithm_key") == "no_quantize"]
    after_dtypes = {t.name: t.dtype for t in after.subgraphs[0].tensors}
    sg = before.subgraphs[0]
    known = {o.value for o in qtyping.TFLOperationName}
    out: list[KeptFloat] = []
    for op in sg.operators:
        if not op.outputs or op.outputs[0] < 0:
            continue
        name = sg.tensors[op.outputs[0]].name
        scope = op_scope([sg.tensors[t].name for t in op.outputs if t >= 0])
        weights = [sg.tensors[i] for i in op.inputs if i >= 0 and sg.tensors[i].constant
                   and sg.tensors[i].dtype == "float32" and len(sg.tensors[i].shape) >= 2]
        if static:
            if after_dtypes.get(name) != "float32" or sg.tensors[op.outputs[0]].dtype != \
                    "float32":
                continue
        elif not weights or all(after_dtypes.get(w.name, "float32") != "float32"
                                for w in weights):
            continue
        keep = next((e["regex"] for e in asked if e.get("operation") in ("*", op.op)
                     and re.search(e["regex"], scope)), None)
        if keep is not None:
            reason = f"kept float as asked (no_quantize for {keep!r})"
        elif op.op not in known:
            reason = f"the quantizer does not know {op.op}"
        else:
            reason = "the quantizer left it float"
            for e in base:
                try:
                    algorithm_manager.check_op_quantization_config(
                        e["algorithm_key"], qtyping.TFLOperationName(op.op),
                        qtyping.OpQuantizationConfig.from_dict(e["op_config"]))
                except ValueError as err:
                    reason = _words(err)
        out.append(KeptFloat(op.op, op.index, name, reason))
    return out
