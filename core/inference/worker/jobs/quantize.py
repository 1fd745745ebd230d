"""The quantize job: ai-edge-quantizer and the verification runs, in the worker because both the
quantizer and the runtime can crash or hang.

Stages: calibrate (static recipes), quantize, load (under XNNPACK and under builtin kernels, each
with the runtime's own message), evaluate (outputs vs the float model), latency (both models, same
delegate and threads), per_layer (every op output both models keep). The parent
(``core.quantize.run``) did the pre-pass, made the samples and checks the result; it gets one
``quantized`` message and the quantized bytes at ``params["candidate"]``.

``params``: float_model (pre-passed input), entries (the quantizer's recipe), static,
signatures ([{key, input_names, calibration}] for static recipes), evaluation (samples for
subgraph 0; sample files are .npz with arrays ``s{k}_in{i}``), layers ([{tensor, op, op_index}]
of the float model's subgraph 0), latency_runs, candidate.
"""
from __future__ import annotations

import statistics
import threading
import time

import numpy as np

from core.inference.worker.protocol import Channel, WorkerError

DELEGATES = ("xnnpack", "builtin")
WARN_COSINE, WARN_SNR_DB = 0.95, 10.0   # below either, the report warns before anyone ships it


def _words(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) < 600 else text[:600] + "…"


def load_samples(path: str) -> list[list[np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        n = 1 + max(int(k[1:].split("_")[0]) for k in z.files)
        per = 1 + max(int(k.split("_in")[1]) for k in z.files)
        return [[z[f"s{s}_in{i}"] for i in range(per)] for s in range(n)]


def save_samples(samples: list[list[np.ndarray]], path) -> None:
    np.savez(path, **{f"s{s}_in{i}": a for s, sample in enumerate(samples)
                      for i, a in enumerate(sample)})


# -- worker side ------------------------------------------------------------------------------
def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    p = cfg["params"]
    steps = ["calibrate"] * bool(p["static"]) + ["quantize", "load", "evaluate", "latency",
                                                  "per_layer"]

    def stage(name: str) -> None:
        if stop.is_set():
            raise WorkerError("cancelled", "cancelled")
        ch.send("stage", stage=name, step=steps.index(name), steps=len(steps))

    from importlib.metadata import version

    from ai_edge_quantizer import quantizer
    ch.send("hello", quantizer=f"ai-edge-quantizer {version('ai-edge-quantizer')}")
    with open(p["float_model"], "rb") as fh:
        float_bytes = fh.read()
    with open(cfg["model"], "rb") as fh:
        original = fh.read()
    q = quantizer.Quantizer(memoryview(float_bytes), p["entries"])
    calib = None
    if p["static"]:
        stage("calibrate")
        data = {sig["key"]: [dict(zip(sig["input_names"], s, strict=False))
                             for s in load_samples(sig["calibration"])]
                for sig in p["signatures"]}
        try:
            calib = q.calibrate(data)
        except Exception as e:  # noqa: BLE001 - the quantizer raises anything; the user reads it
            raise WorkerError("calibrate", f"calibration failed: {_words(e)}") from None
    stage("quantize")
    try:
        quant = bytes(q.quantize(calib, enable_progress_report=False).quantized_model)
    except Exception as e:  # noqa: BLE001 - as above
        raise WorkerError("quantize", f"the quantizer failed: {_words(e)}") from None
    with open(p["candidate"], "wb") as fh:
        fh.write(quant)

    stage("load")
    threads = int(cfg.get("threads", 1))
    evals = load_samples(p["evaluation"])
    loads, input_loads, runs, refs = {}, {}, {}, {}
    for d in DELEGATES:
        for content, ok, status in ((quant, runs, loads), (original, refs, input_loads)):
            try:
                ok[d] = _Runner(content, d, threads, evals[0])
                status[d] = {"ok": True, "error": None}
            except WorkerError as e:
                status[d] = {"ok": False, "error": str(e)}

    stage("evaluate")
    from core.inference.error_metrics import output_error
    common = [d for d in DELEGATES if d in runs and d in refs]
    error, warnings = None, []
    if common:
        d = common[0]
        ref_out = [refs[d].outputs(s) for s in evals]
        error = output_error(ref_out, [runs[d].outputs(s) for s in evals])
        if len(ref_out) > 1 and all(np.array_equal(a, b, equal_nan=True) for later in ref_out[1:]
                                    for a, b in zip(ref_out[0], later, strict=False)):
            # e.g. a saturated softmax: agreement on a constant says nothing of the weights
            warnings.append(f"the float model gives the same outputs for all {len(ref_out)} "
                            "evaluation inputs, so the output error says little; see the "
                            "per-layer error")
        if error["cosine"] < WARN_COSINE or error["snr_db"] < WARN_SNR_DB:
            warnings.append(f"outputs differ strongly from the float model (worst output "
                            f"cosine {error['cosine']:.3f}, SNR {error['snr_db']:.1f} dB under "
                            f"{d})")
        if error["nonfinite"]:
            warnings.append(f"{error['nonfinite']} output value(s) are inf/NaN in one model "
                            f"and not the other (under {d})")
    elif not refs:
        warnings.append("the input model does not load under the runtime here, so the result "
                        "could not be compared with it")

    stage("latency")
    latency = {"before": None, "after": None, "delegate": None, "threads": threads}
    if common:
        d, n = common[0], int(p.get("latency_runs", 10))
        latency.update(before=refs[d].latency_ms(n, stop), after=runs[d].latency_ms(n, stop),
                       delegate=d)

    stage("per_layer")
    per_layer, note = [], None
    try:
        per_layer = layer_errors(float_bytes, quant, evals[0], threads,
                                 "builtin" if loads["builtin"]["ok"] else "xnnpack", p["layers"])
    except WorkerError as e:
        note = str(e)
    ch.send("quantized", loads=loads, input_loads=input_loads, error=error, warnings=warnings, latency_ms=latency,
            per_layer=per_layer, per_layer_note=note, size_after=len(quant))
    ch.send("done", stopped=stop.is_set())


class _Runner:
    """One model loaded under one delegate (classic Interpreter API), fed float samples (quantized
    on the way in for int8-I/O models) and read in real units (dequantized outputs)."""

    def __init__(self, content: bytes, delegate: str, threads: int, sample, **kw):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        resolver = {"xnnpack": OpResolverType.AUTO,
                    "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}[delegate]
        try:
            self.it = Interpreter(model_content=content, num_threads=threads,
                                  experimental_op_resolver_type=resolver, **kw)
            inp = self.it.get_input_details()
            for d, a in zip(inp, sample, strict=False):
                if tuple(d["shape"]) != tuple(a.shape):
                    self.it.resize_tensor_input(d["index"], list(a.shape), strict=False)
            self.it.allocate_tensors()
            self.inp = self.it.get_input_details()
            self.out = self.it.get_output_details()
            self.feed(sample)
            self.it.invoke()
        except Exception as e:  # noqa: BLE001 - the runtime raises anything; its words are the report
            raise WorkerError("load", _words(e)) from None

    def feed(self, sample) -> None:
        for d, a in zip(self.inp, sample, strict=False):
            scale, zp = d.get("quantization") or (0.0, 0)
            dt = np.dtype(d["dtype"])
            if scale and dt.kind in "iu" and a.dtype.kind == "f":
                info = np.iinfo(dt)
                a = np.clip(np.round(a / scale + zp), info.min, info.max)
            self.it.set_tensor(d["index"], np.ascontiguousarray(a, dtype=dt))

    def outputs(self, sample) -> list[np.ndarray]:
        from core.inference.error_metrics import dequantize
        self.feed(sample)
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
                raise WorkerError("cancelled", "cancelled")
            t0 = time.perf_counter()
            self.it.invoke()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def layer_errors(float_bytes: bytes, quant: bytes, sample, threads: int, delegate: str,
                 layers: list[dict]) -> list[dict]:
    """Error of every op output present in both models (same name and shape), on one sample,
    worst first (lowest cosine, then largest RMSE). Both run with all tensors kept; under XNNPACK
    with delegate node fusion off, so each op's output is materialized."""
    from core.inference.error_metrics import dequantize, layer_error
    kw = {"experimental_preserve_all_tensors": True,
          "experimental_disable_delegate_node_fusion": delegate == "xnnpack"}
    try:
        ref, got = (_Runner(c, delegate, threads, sample, **kw) for c in (float_bytes, quant))
    except WorkerError as e:
        raise WorkerError("per_layer", f"no per-layer error: a model does not load with all "
                                       f"tensors kept under {delegate} ({e})") from None
    fd = {d["name"]: d for d in ref.it.get_tensor_details()}
    qd = {d["name"]: d for d in got.it.get_tensor_details()}
    rows = []
    for layer in layers:
        a, b = fd.get(layer["tensor"]), qd.get(layer["tensor"])
        if a is None or b is None or tuple(a["shape"]) != tuple(b["shape"]):
            continue
        try:
            x, y = ref.it.get_tensor(a["index"]), got.it.get_tensor(b["index"])
        except ValueError:   # a tensor the runtime did not keep
            continue
        if x.dtype.kind != "f":
            continue
        qp = b.get("quantization_parameters") or {}
        scales, zps = qp.get("scales", ()), qp.get("zero_points", ())
        scale = float(scales[0]) if len(scales) == 1 else None
        zp = int(zps[0]) if len(zps) == 1 else None
        row = dict(layer, dtype=np.dtype(b["dtype"]).name, scale=scale, zero_point=zp)
        row.update(layer_error(x, dequantize(y, scale or 0.0, zp or 0)))
        rows.append(row)
    rows.sort(key=lambda r: (r["cosine"], -r["rmse"]))
    return rows


# -- parent side ------------------------------------------------------------------------------
class Folder:
    def __init__(self, session):
        self.session = session
        self.quantized: dict | None = None

    def fold(self, m: dict) -> None:
        if m["t"] == "quantized":
            self.quantized = {k: v for k, v in m.items() if k != "t"}

    def where(self) -> str | None:
        s = self.session.stage
        return {"calibrate": "while the quantizer calibrated the model",
                "quantize": "while the quantizer rewrote the model",
                "load": "while loading the quantized model",
                "evaluate": "while running both models on the evaluation inputs",
                "latency": "while timing both models",
                "per_layer": "while comparing every layer"}.get(s)

    def result(self) -> dict:
        s = self.session
        return {"quantizer": s.info.get("quantizer"), "result": self.quantized, **s.outcome()}
