"""The quantize job, run in a child process (the quantizer and the runtime can crash or hang):
pre-pass, calibration, quantization, then verification of the result before anyone calls it done.

``run(cfg, ch, stop)`` sends ``stage`` messages (``stage``, ``step``, ``steps``) and ends with one
``result`` message; it writes the quantized bytes to ``cfg["candidate"]`` (a private temporary
path: the parent moves it to the user's output only when verification passed). Failures the user
must read raise ``JobError``. Config keys: model, recipe (name), entries (the quantizer's recipe
list), keep_float, calibration, samples, eval_samples, threads, latency_runs, candidate.
"""
from __future__ import annotations

import re
import statistics
import threading
import time

import numpy as np

STAGES = ("prepare", "calibrate", "quantize", "check", "load", "evaluate", "latency",
          "per_layer")
DEFAULT_DELEGATE = "xnnpack"     # what the runtime uses when nobody chooses
DELEGATES = ("xnnpack", "builtin")
WARN_COSINE, WARN_SNR_DB = 0.95, 10.0   # below either, the report warns before anyone ships it


class JobError(Exception):
    """A failure reported to the user as is (no traceback): ``kind`` is a short key."""
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Cancelled(Exception):
    pass


def run(cfg: dict, ch, stop: threading.Event) -> None:
    from core.errors import ModelError
    from core.inference.inputs import InputError, input_specs
    from core.model.reader import open_bytes
    from core.quantize import calibration, prepass

    steps = [s for s in STAGES if s != "calibrate" or cfg.get("static")]

    def stage(name: str) -> None:
        if stop.is_set():
            raise Cancelled()
        ch.send("stage", stage=name, step=steps.index(name), steps=len(steps))

    stage("prepare")
    path = cfg["model"]
    from core.quantize.source import convert_to_tflite, source_kind
    if source_kind(path) != "tflite":
        try:
            original = convert_to_tflite(path)
        except Exception as e:  # noqa: BLE001 - TensorFlow raises anything; shown to the user
            raise JobError("convert", f"{path}: TFLiteConverter failed: {_words(e)}") from None
    else:
        with open(path, "rb") as fh:
            original = fh.read()
    try:
        model = open_bytes(original, path)
    except ModelError as e:
        raise JobError("input", str(e)) from None
    plan = prepass.plan(model)
    float_bytes = prepass.apply(original, plan)
    warnings = list(plan.warnings) if cfg.get("static") else []
    try:
        specs = input_specs(model)
        eval_samples = calibration.samples(
            specs, cfg.get("calibration") or "random", int(cfg.get("eval_samples", 4)),
            seed_offset=calibration.EVAL_SEED_OFFSET)
    except InputError as e:
        raise JobError("input", str(e)) from None

    from ai_edge_quantizer import quantizer
    q = quantizer.Quantizer(memoryview(float_bytes), cfg["entries"])
    calib = None
    if cfg.get("static"):
        stage("calibrate")
        try:
            cal = calibration.samples(specs, cfg.get("calibration") or "random",
                                      int(cfg.get("samples", 8)))
        except InputError as e:
            raise JobError("input", str(e)) from None
        key = prepass.SIGNATURE_KEY if plan.add_signature else model.signatures[0].key
        sig = model.signatures[0] if model.signatures else None
        names = _signature_input_names(model, sig)
        data = [{n: a for n, a in zip(names, s)} for s in cal]
        try:
            calib = q.calibrate({key: data})
        except Exception as e:  # noqa: BLE001 - the quantizer raises anything; shown to the user
            raise JobError("calibrate", f"calibration failed: {_words(e)}"
                           + (f" ({'; '.join(warnings)})" if warnings else "")) from None

    stage("quantize")
    try:
        result = q.quantize(calib, enable_progress_report=False)
    except Exception as e:  # noqa: BLE001 - as above
        raise JobError("quantize", f"the quantizer failed: {_words(e)}") from None
    quant = bytes(result.quantized_model)

    stage("check")
    qmodel = open_bytes(quant, "quantized")
    noop = nothing_quantized(model, qmodel, cfg["recipe"])
    if noop:
        raise JobError("nothing_to_quantize", f"nothing to quantize: {noop}")
    kept = kept_float(open_bytes(float_bytes, "float"), qmodel, cfg["entries"],
                      cfg.get("keep_float") or [], bool(cfg.get("static")))

    stage("load")
    threads = int(cfg.get("threads", 1))
    loads, runs = {}, {}
    for d in DELEGATES:
        try:
            runs[d] = _Runner(quant, d, threads, eval_samples[0])
            loads[d] = {"ok": True, "error": None}
        except JobError as e:
            loads[d] = {"ok": False, "error": str(e)}
    ref_runs = {}
    for d in DELEGATES:
        try:
            ref_runs[d] = _Runner(original, d, threads, eval_samples[0])
        except JobError:
            continue

    stage("evaluate")
    error = None
    common = [d for d in DELEGATES if d in runs and d in ref_runs]
    if common:
        d = common[0]
        ref = [ref_runs[d].outputs(s) for s in eval_samples]
        got = [runs[d].outputs(s) for s in eval_samples]
        from core.quantize.metrics import output_error
        error = output_error(ref, got)
        if error["cosine"] < WARN_COSINE or error["snr_db"] < WARN_SNR_DB:
            warnings.append(f"outputs differ strongly from the float model (worst output "
                            f"cosine {error['cosine']:.3f}, SNR {error['snr_db']:.1f} dB under "
                            f"{d})")
    elif not ref_runs:
        warnings.append("the input model does not load under the runtime here, so the result "
                        "could not be compared with it")

    stage("latency")
    latency = {"before": None, "after": None, "delegate": None, "threads": threads}
    if common:
        d = common[0]
        latency.update(before=ref_runs[d].latency_ms(int(cfg.get("latency_runs", 10)), stop),
                       after=runs[d].latency_ms(int(cfg.get("latency_runs", 10)), stop),
                       delegate=d)

    stage("per_layer")
    per_layer, per_layer_note = [], None
    try:
        per_layer = layer_errors(float_bytes, quant, eval_samples[0], threads,
                                 "builtin" if loads["builtin"]["ok"] else "xnnpack")
    except JobError as e:
        per_layer_note = str(e)

    with open(cfg["candidate"], "wb") as fh:
        fh.write(quant)
    ch.send("result", prepass=plan.steps(), warnings=warnings, loads=loads, error=error,
            latency_ms=latency, per_layer=per_layer, per_layer_note=per_layer_note,
            kept_float=kept, size_before=len(original), size_after=len(quant),
            quantizer=_quantizer_version())


def _words(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) < 600 else text[:600] + "…"


def _quantizer_version() -> str:
    from importlib.metadata import version
    return f"ai-edge-quantizer {version('ai-edge-quantizer')}"


def _signature_input_names(model, sig) -> list[str]:
    if sig is None:   # the pre-pass signature names inputs by tensor name
        sg = model.subgraphs[0]
        return [sg.tensors[i].name for i in sg.inputs]
    by_index = {ti: name for name, ti in sig.inputs.items()}
    return [by_index[ti] for ti in model.subgraphs[sig.subgraph].inputs]


# -- no-op and ops left float ------------------------------------------------------------------
_QUANT_DTYPES = ("int8", "uint8", "int16", "int4", "int2", "uint4")
_FLOAT_DTYPES = ("float32", "float16", "float64", "bfloat16")
MIN_CHANGE = 0.01


def _constant_bytes(model) -> dict[str, int]:
    out: dict[str, int] = {}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.constant:
                out[t.dtype] = out.get(t.dtype, 0) + t.bytes
    return out


def _quantized_activations(model) -> int:
    return sum(1 for sg in model.subgraphs for t in sg.tensors
               if not t.constant and t.dtype in _QUANT_DTYPES and t.quantization is not None)


def nothing_quantized(before, after, recipe: str) -> str | None:
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


def kept_float(before, after, entries: list[dict], keep_float: list[str], static: bool) \
        -> list[dict]:
    """Ops of ``before`` (subgraph 0) the recipe could have quantized but that are float in
    ``after``, each with the reason: asked by the user, or the quantizer's own check."""
    from ai_edge_quantizer import algorithm_manager, qtyping
    from core.quantize.recipes import op_scope
    base = [e for e in entries if e.get("algorithm_key") != "no_quantize"]
    after_dtypes = {t.name: t.dtype for t in after.subgraphs[0].tensors}
    sg = before.subgraphs[0]
    known = {o.value for o in qtyping.TFLOperationName}
    out = []
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
        if any(re.search(rx, scope) for rx in keep_float):
            reason = "kept float as asked (--keep-float)"
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
        out.append({"op": op.op, "op_index": op.index, "tensor": name, "reason": reason})
    return out


# -- running models ----------------------------------------------------------------------------
class _Runner:
    """One model loaded under one delegate (classic Interpreter API), with its input/output
    quantization so float samples can feed an int8-I/O model and be compared in real units."""

    def __init__(self, content: bytes, delegate: str, threads: int, sample):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        resolver = {"xnnpack": OpResolverType.AUTO,
                    "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}[delegate]
        try:
            self.it = Interpreter(model_content=content, num_threads=threads,
                                  experimental_op_resolver_type=resolver)
            self.inp = self.it.get_input_details()
            for d, a in zip(self.inp, sample):
                if tuple(d["shape"]) != tuple(a.shape):
                    self.it.resize_tensor_input(d["index"], list(a.shape), strict=False)
            self.it.allocate_tensors()
            self.inp = self.it.get_input_details()
            self.out = self.it.get_output_details()
            self._feed(sample)
            self.it.invoke()
        except Exception as e:  # noqa: BLE001 - the runtime's message is the report
            raise JobError("load", _words(e)) from None

    def _feed(self, sample) -> None:
        for d, a in zip(self.inp, sample):
            scale, zp = d.get("quantization") or (0.0, 0)
            dt = np.dtype(d["dtype"])
            if scale and dt.kind in "iu" and a.dtype.kind == "f":
                info = np.iinfo(dt)
                a = np.clip(np.round(a / scale + zp), info.min, info.max)
            self.it.set_tensor(d["index"], np.ascontiguousarray(a, dtype=dt))

    def outputs(self, sample) -> list[np.ndarray]:
        from core.quantize.metrics import dequantize
        self._feed(sample)
        self.it.invoke()
        res = []
        for d in self.out:
            scale, zp = d.get("quantization") or (0.0, 0)
            res.append(dequantize(self.it.get_tensor(d["index"]), scale, zp))
        return res

    def latency_ms(self, runs: int, stop: threading.Event) -> float:
        times = []
        for _ in range(max(1, runs)):
            if stop.is_set():
                raise Cancelled()
            t0 = time.perf_counter()
            self.it.invoke()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def layer_errors(float_bytes: bytes, quant: bytes, sample, threads: int, delegate: str) \
        -> list[dict]:
    """Error of every op output present in both models (same name and shape), on one sample,
    worst first (lowest cosine, then largest RMSE). Runs both with all tensors preserved; under
    XNNPACK, with delegate node fusion off so each op's output is materialized."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from core.model.reader import open_bytes
    from core.quantize.metrics import dequantize, layer_error
    resolver = {"xnnpack": OpResolverType.AUTO,
                "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}[delegate]
    its = []
    for content in (float_bytes, quant):
        try:
            it = Interpreter(model_content=content, num_threads=threads,
                             experimental_op_resolver_type=resolver,
                             experimental_preserve_all_tensors=True,
                             experimental_disable_delegate_node_fusion=delegate == "xnnpack")
            it.allocate_tensors()
        except Exception as e:  # noqa: BLE001
            raise JobError("per_layer", f"no per-layer error: the model does not load with all "
                                        f"tensors kept under {delegate} ({_words(e)})") from None
        its.append(it)
    for it in its:
        r = _Runner.__new__(_Runner)
        r.it, r.inp = it, it.get_input_details()
        r._feed(sample)
        it.invoke()
    fmodel = open_bytes(float_bytes, "float")
    sg = fmodel.subgraphs[0]
    produced = {t: op for op in sg.operators for t in op.outputs if t >= 0}
    fdetails = {d["name"]: d for d in its[0].get_tensor_details()}
    qdetails = {d["name"]: d for d in its[1].get_tensor_details()}
    rows = []
    for ti, op in produced.items():
        t = sg.tensors[ti]
        fd, qd = fdetails.get(t.name), qdetails.get(t.name)
        if fd is None or qd is None or tuple(fd["shape"]) != tuple(qd["shape"]):
            continue
        try:
            ref = its[0].get_tensor(fd["index"])
            got = its[1].get_tensor(qd["index"])
        except ValueError:   # a tensor the runtime did not keep (e.g. inside a delegate)
            continue
        if ref.dtype.kind not in "f":
            continue
        qp = qd.get("quantization_parameters") or {}
        scales, zps = qp.get("scales", np.zeros(0)), qp.get("zero_points", np.zeros(0))
        scale = float(scales[0]) if len(scales) == 1 else None
        zp = int(zps[0]) if len(zps) == 1 else None
        got = dequantize(got, scale or 0.0, zp or 0)
        row = {"op": op.op, "op_index": op.index, "tensor": t.name, "dtype":
               np.dtype(qd["dtype"]).name, "scale": scale, "zero_point": zp}
        row.update(layer_error(ref, got))
        rows.append(row)
    rows.sort(key=lambda r: (r["cosine"], -r["rmse"]))
    return rows


def main() -> int:
    """``python -m core.quantize.job``: one JSON config line on stdin, JSON lines on stdout."""
    import json
    import sys
    from core.inference.worker import Channel, _stdin_listener
    ch = Channel()
    try:
        cfg = json.loads(sys.stdin.readline())
    except ValueError:
        ch.send("error", kind="config", message="quantize job: no valid JSON config on stdin")
        return 2
    stop = threading.Event()
    threading.Thread(target=_stdin_listener, args=(stop,), daemon=True).start()
    try:
        run(cfg, ch, stop)
    except Cancelled:
        ch.send("error", kind="cancelled", message="cancelled")
        return 3
    except JobError as e:
        ch.send("error", kind=e.kind, message=str(e))
        return 3
    ch.send("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
