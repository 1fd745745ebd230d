"""The quantize job: ai-edge-quantizer and the verification runs, in the worker because both the
quantizer and the runtime can crash or hang.

Stages: calibrate (static recipes), quantize, load (under XNNPACK and under builtin kernels, each
with the runtime's own message), evaluate (outputs vs the float model), latency (both models, same
delegate and threads), per_layer (every op output both models keep). The parent
(``core.quantize.run``) did the pre-pass, made the samples and checks the result; it gets one
``quantized`` message and the quantized bytes at ``params["candidate"]``.

``params`` (``QuantizeParams``): float_model (pre-passed input), entries (the quantizer's
recipe), static, signatures (for static recipes), evaluation (samples for subgraph 0; sample files
are .npz with arrays ``s{k}_in{i}``), layers (of the float model's subgraph 0), latency_runs,
candidate. The ``quantized`` message is a ``Verification``; ``Folder.result()`` a
``QuantizeOutcome``: typed on both sides, JSON only on the pipe.
"""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import numpy as np

from core.inference.error_metrics import OutputCompare, OutputError
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession

DELEGATES = ("xnnpack", "builtin")


class SignatureSamples(TypedDict):
    key: str
    input_names: list[str]       # the quantizer's names of the signature's inputs, in order
    calibration: str             # .npz of samples


class Layer(TypedDict):
    tensor: str                  # the op's first output (the name both models keep)
    op: str
    op_index: int


class QuantizeParams(TypedDict):
    float_model: str
    entries: list[dict[str, Any]]
    static: bool
    signatures: list[SignatureSamples]
    evaluation: str
    layers: list[Layer]
    latency_runs: int
    candidate: str


# ops that pass an output's values through unchanged in what they mean
_PASS_THROUGH = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "DEQUANTIZE", "QUANTIZE"})


def output_activations(content: bytes, names: list[str]) -> list[str | None]:
    """The op behind each output named ``names`` in the model's main subgraph, looking through
    reshapes and (de)quantization: a SOFTMAX there makes an output class scores."""
    from core.model.reader import open_bytes
    with open_bytes(content) as m:
        sg = m.subgraphs[0]
        producer = {t: op for op in sg.operators for t in op.outputs}
        by_name = {sg.tensors[t].name: t for t in sg.outputs}
        out: list[str | None] = []
        for name in names:
            op = producer.get(by_name.get(name, -1))
            while op is not None and op.op in _PASS_THROUGH and op.inputs:
                op = producer.get(op.inputs[0])
            out.append(op.op if op is not None else None)
    return out


@dataclass(frozen=True)
class Load:
    """Whether a model loads (allocates and runs once) under one delegate, with the runtime's
    words when it does not (``error`` None and ``ok`` False: not tried)."""
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class Latency:
    before: float | None         # median ms of the input model
    after: float | None          # median ms of the quantized model
    delegate: str | None         # what both ran under
    threads: int


@dataclass(frozen=True)
class LayerRow:
    """One op output both models keep, compared on one sample."""
    tensor: str
    op: str
    op_index: int
    dtype: str                   # the quantized model's tensor type
    scale: float | None          # per-tensor quantization (None when per-channel or none)
    zero_point: int | None
    rmse: float
    max_abs: float
    cosine: float
    nonfinite: int


@dataclass(frozen=True)
class Verification:
    """What the worker measured on the quantized model (the ``quantized`` message)."""
    loads: dict[str, Load]
    input_loads: dict[str, Load]
    error: OutputError | None
    warnings: list[str]
    latency_ms: Latency
    per_layer: list[LayerRow]    # worst first
    per_layer_note: str | None   # why there is no per-layer error
    size_after: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, m: dict[str, Any]) -> Verification:
        return cls(loads={d: Load(**v) for d, v in m["loads"].items()},
                   input_loads={d: Load(**v) for d, v in m["input_loads"].items()},
                   error=_output_error(m["error"]),
                   warnings=list(m["warnings"]), latency_ms=Latency(**m["latency_ms"]),
                   per_layer=[LayerRow(**r) for r in m["per_layer"]],
                   per_layer_note=m["per_layer_note"], size_after=int(m["size_after"]))


@dataclass(frozen=True)
class QuantizeOutcome:
    """The job's result: the quantizer's name and version, the verification (None when the job
    failed or was stopped before it) and the outcome every job shares."""
    quantizer: str | None
    result: Verification | None
    status: str
    error: str | None
    error_kind: str | None


def _words(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) < 600 else text[:600] + "…"


def load_samples(path: str) -> list[list[np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        n = 1 + max(int(k[1:].split("_")[0]) for k in z.files)
        per = 1 + max(int(k.split("_in")[1]) for k in z.files)
        return [[z[f"s{s}_in{i}"] for i in range(per)] for s in range(n)]


def save_samples(samples: list[list[np.ndarray]], path: Any) -> None:
    arrays: dict[str, Any] = {f"s{s}_in{i}": a for s, sample in enumerate(samples)
                              for i, a in enumerate(sample)}
    np.savez(path, **arrays)


def _output_error(m: dict[str, Any] | None) -> OutputError | None:
    if m is None:
        return None
    return OutputError(**{**m, "outputs": [OutputCompare(**o) for o in m["outputs"]]})


# -- worker side ------------------------------------------------------------------------------
def run(cfg: dict[str, Any], ch: Channel, stop: threading.Event) -> None:
    p: QuantizeParams = cfg["params"]
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
    stage(steps[0])
    try:   # it reads the whole model here: a model it cannot read fails here
        q = quantizer.Quantizer(memoryview(float_bytes), p["entries"])
    except Exception as e:  # noqa: BLE001 - the quantizer raises anything; the user reads it
        raise WorkerError(steps[0], f"the quantizer cannot read the model: {_words(e)}") \
            from None
    calib = None
    if p["static"]:
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
    with open(p["candidate"], "wb") as out:
        out.write(quant)

    stage("load")
    threads = int(cfg.get("threads", 1))
    evals = load_samples(p["evaluation"])
    loads: dict[str, Load] = {}
    input_loads: dict[str, Load] = {}
    runs: dict[str, _Runner] = {}
    refs: dict[str, _Runner] = {}
    for d in DELEGATES:
        for content, ok, status in ((quant, runs, loads), (original, refs, input_loads)):
            try:
                ok[d] = _Runner(content, d, threads, evals[0])
                status[d] = Load(True)
            except WorkerError as e:
                status[d] = Load(False, str(e))

    stage("evaluate")
    from core.inference.error_metrics import output_error
    common = [d for d in DELEGATES if d in runs and d in refs]
    error: OutputError | None = None
    warnings: list[str] = []
    if common:
        d = common[0]
        # the verdict (core.quantize.verdict) judges these figures, output by output
        names = [o["name"] for o in runs[d].out]
        error = output_error([refs[d].outputs(s) for s in evals],
                             [runs[d].outputs(s) for s in evals],
                             names, runs[d].steps(), output_activations(original, names))
    elif not refs:
        warnings.append("the input model does not load under the runtime here, so the result "
                        "could not be compared with it")

    stage("latency")
    latency = Latency(None, None, None, threads)
    if common:
        d, n = common[0], int(p["latency_runs"])
        latency = Latency(*paired_latency_ms(refs[d], runs[d], n, stop), d, threads)

    stage("per_layer")
    per_layer: list[LayerRow] = []
    note = None
    try:
        per_layer = layer_errors(float_bytes, quant, evals[0], threads,
                                 "builtin" if loads["builtin"].ok else "xnnpack", p["layers"])
    except WorkerError as e:
        note = str(e)
    result = Verification(loads, input_loads, error, warnings, latency, per_layer, note,
                          len(quant))
    ch.send("quantized", **result.to_json())
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

    def steps(self) -> list[float | None]:
        """Each output's quantization step (None where the output is float)."""
        out: list[float | None] = []
        for d in self.out:
            scale = (d.get("quantization") or (0.0, 0))[0]
            out.append(float(scale) if scale and np.dtype(d["dtype"]).kind in "iu" else None)
        return out

    def invoke_ms(self) -> float:
        t0 = time.perf_counter()
        self.it.invoke()
        return (time.perf_counter() - t0) * 1e3


def paired_latency_ms(a: _Runner, b: _Runner, runs: int,
                      stop: threading.Event) -> tuple[float, float]:
    """Median ms of ``a`` and of ``b``, their invokes alternated: a load that comes and goes
    during the timing slows both alike, so the verdict's "slower" compares like with like."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(max(1, runs)):
        if stop.is_set():
            raise WorkerError("cancelled", "cancelled")
        ta.append(a.invoke_ms())
        tb.append(b.invoke_ms())
    return statistics.median(ta), statistics.median(tb)


def layer_errors(float_bytes: bytes, quant: bytes, sample: list[np.ndarray], threads: int,
                 delegate: str, layers: list[Layer]) -> list[LayerRow]:
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
    rows: list[LayerRow] = []
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
        err = layer_error(x, dequantize(y, scale or 0.0, zp or 0))
        rows.append(LayerRow(layer["tensor"], layer["op"], layer["op_index"],
                             np.dtype(b["dtype"]).name, scale, zp, err.rmse, err.max_abs,
                             err.cosine, err.nonfinite))
    rows.sort(key=lambda r: (r.cosine, -r.rmse))
    return rows


# -- parent side ------------------------------------------------------------------------------
class Folder:
    JOB: ClassVar[str] = "quantize"

    def __init__(self, session: JobSession):
        self.session = session
        self.quantized: Verification | None = None

    def fold(self, m: dict[str, Any]) -> None:
        if m["t"] == "quantized":
            self.quantized = Verification.from_json(m)

    def where(self) -> str | None:
        s = self.session.stage
        return {"calibrate": "while the quantizer calibrated the model",
                "quantize": "while the quantizer rewrote the model",
                "load": "while loading the quantized model",
                "evaluate": "while running both models on the evaluation inputs",
                "latency": "while timing both models",
                "per_layer": "while comparing every layer"}.get(s)

    def result(self) -> QuantizeOutcome:
        s = self.session
        out = s.outcome()
        return QuantizeOutcome(s.info.get("quantizer"), self.quantized, out.status, out.error,
                               out.error_kind)
