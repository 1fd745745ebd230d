"""LiteRT's own op profiler, read through its C API with ctypes (what ``benchmark_model
--enable_op_profiling`` shows), for a real run of the whole model.

The Python ``CompiledModel`` wrapper of ai-edge-litert 2.x passes no runtime options, so profiling
cannot be switched on from Python; but ``libLiteRt.so`` in the same wheel exports the C API. Here we
build a compiled model ourselves with two opaque options the runtime parses from TOML text:
``runtime_options_string`` (``enable_profiling = true``) and ``xnnpack`` (the CPU kernel mode and
thread count), feed it host-memory buffers, run it, and read ``ProfiledEventData`` events from
``LiteRtCompiledModelGetProfiler``:

- builtin/reference kernels: one ``OPERATOR_INVOKE_EVENT`` per TFLite op and run, with the op's
  node index and subgraph index: exact per-op times;
- XNNPACK: ``DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT`` per XNNPACK operator, indexed inside the
  delegate (names such as "Convolution (NHWC, F32) IGEMM"); TFLite ops the delegate did not take
  still come as operator events. XNNPACK operators are matched to the TFLite ops left to the
  delegate in graph order, by kind (``_XNNPACK_KINDS``: a 1x1 CONV_2D runs as "Fully Connected",
  RELU as "Clamp"); an op with no operator of its own was fused into a neighbour, and an extra
  operator (a "Copy" after a reshape) is added to the op before it. The result says how many
  matched.

Any failure raises ``ProfilerUnavailable`` with the reason; the caller falls back to single-op
timing and shows why.
"""
from __future__ import annotations

import ctypes as C
import os
import time
from collections.abc import Set as AbstractSet

import numpy as np

from core.inference.worker.litert_status import describe

OPERATOR_INVOKE_EVENT = 1 << 1
DELEGATE_OPERATOR_INVOKE_EVENT = 1 << 2
DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT = 1 << 3
HW_CPU = 1
KERNEL_MODES = {"xnnpack": "delegate", "builtin": "builtin", "reference": "reference"}
_ALIGN = 64
_P = C.c_void_p
_MATCH_WINDOW = 16  # TFLite ops looked ahead for a delegate operator's match
PROFILE_BUDGET_S = 10.0  # profiled runs stop after this long, however many were asked for
# below this share of the whole run, the per-op times do not describe the run (tiny ops under the
# profiler's 1 µs resolution): the caller falls back to single-op timing
MIN_COVERAGE = 0.5

# XNNPACK operator names (the start of the profiler's tag) each TFLite op can run as.
_XNNPACK_KINDS = {
    "CONV_2D": ("Convolution", "Fully Connected"),
    "DEPTHWISE_CONV_2D": ("Convolution",), "TRANSPOSE_CONV": ("Deconvolution",),
    "FULLY_CONNECTED": ("Fully Connected",),
    "BATCH_MATMUL": ("Batch Matrix Multiply", "Fully Connected"),
    "ADD": ("Add",), "SUB": ("Subtract",), "MUL": ("Multiply",), "DIV": ("Divide",),
    "RELU": ("Clamp", "ReLU"), "RELU6": ("Clamp",), "RELU_N1_TO_1": ("Clamp",),
    "RELU_0_TO_1": ("Clamp",), "LEAKY_RELU": ("Leaky ReLU",), "PRELU": ("PReLU",),
    "LOGISTIC": ("Sigmoid",), "TANH": ("TanH",), "HARD_SWISH": ("HardSwish",),
    "GELU": ("GELU",), "ELU": ("ELU",), "PAD": ("Constant Pad",), "PADV2": ("Constant Pad",),
    "AVERAGE_POOL_2D": ("Average Pooling",), "MAX_POOL_2D": ("Max Pooling",),
    "MEAN": ("Mean",), "SUM": ("Sum",), "REDUCE_MAX": ("Max",),
    "RESHAPE": ("Static Reshape", "Copy"), "SQUEEZE": ("Static Reshape", "Copy"),
    "EXPAND_DIMS": ("Static Reshape", "Copy"), "CONCATENATION": ("Concatenate", "Copy"),
    "SPLIT": ("Split", "Copy"), "SOFTMAX": ("Softmax",), "TRANSPOSE": ("Transpose",),
    "RESIZE_BILINEAR": ("Resize Bilinear",), "STRIDED_SLICE": ("Slice",), "SLICE": ("Slice",),
    "NEG": ("Negate",), "SQUARED_DIFFERENCE": ("Squared Difference",),
    "RSQRT": ("Reciprocal Square Root",), "SQRT": ("Square Root",), "SQUARE": ("Square",),
    "ABS": ("Abs",), "MAXIMUM": ("Maximum",), "MINIMUM": ("Minimum",), "FLOOR": ("Floor",),
    "CEIL": ("Ceiling",), "ROUND": ("Bankers Rounding",), "QUANTIZE": ("Convert",),
    "DEQUANTIZE": ("Convert",), "DEPTH_TO_SPACE": ("Depth To Space",),
    "SPACE_TO_DEPTH": ("Space To Depth",), "CUSTOM": ("Deconvolution",),
}


class ProfilerUnavailable(RuntimeError):
    """The runtime profiler cannot be used here; the message says why."""


class _Mem(C.Structure):
    _fields_ = [("total_allocated_bytes", C.c_size_t), ("in_use_allocated_bytes", C.c_size_t),
                ("private_footprint_bytes", C.c_size_t)]


class _Event(C.Structure):  # ProfiledEventData, litert/c/litert_profiler_event.h
    _fields_ = [("tag", C.c_char_p), ("event_type", C.c_int), ("start_timestamp_us", C.c_uint64),
                ("elapsed_time_us", C.c_uint64), ("begin_mem_usage", _Mem),
                ("end_mem_usage", _Mem), ("event_metadata1", C.c_uint64),
                ("event_metadata2", C.c_uint64), ("event_source", C.c_int)]


# every C function this module calls (checked when the library is loaded)
_SYMBOLS = tuple(
    ["LiteRtCreateEnvironment", "LiteRtCreateModelFromFile", "LiteRtCreateOptions",
     "LiteRtSetOptionsHardwareAccelerators", "LiteRtCreateOpaqueOptions",
     "LiteRtAddOpaqueOptions", "LiteRtCreateCompiledModel", "LiteRtGetModelSignature",
     "LiteRtGetNumSignatureInputs", "LiteRtGetSignatureInputName",
     "LiteRtCompiledModelResizeInputTensorNonStrict", "LiteRtGetRankedTensorType",
     "LiteRtGetTensorBufferRequirementsBufferSize", "LiteRtCreateTensorBufferFromHostMemory",
     "LiteRtRunCompiledModel", "LiteRtCompiledModelGetProfiler", "LiteRtResetProfiler",
     "LiteRtStartProfiler", "LiteRtStopProfiler", "LiteRtGetNumProfilerEvents",
     "LiteRtGetProfilerEvents"]
    + [f"LiteRtGetNumSignature{kind}s" for kind in ("Input", "Output")]
    + [f"LiteRtGetSignature{kind}TensorByIndex" for kind in ("Input", "Output")]
    + [f"LiteRtGetCompiledModel{kind}BufferRequirements" for kind in ("Input", "Output")])

_DESTRUCTOR = C.CFUNCTYPE(None, _P)
_KEEP_PAYLOAD = _DESTRUCTOR(lambda _p: None)  # payloads are Python buffers kept alive by _Run


def _library() -> C.CDLL:
    try:
        import ai_edge_litert
    except ImportError as e:
        raise ProfilerUnavailable(f"ai-edge-litert is not installed ({e})") from None
    path = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")
    try:
        lib = C.CDLL(path)
    except OSError as e:
        raise ProfilerUnavailable(f"cannot load {path} ({e})") from None
    # ctypes raises AttributeError at the first call of a missing symbol: check them all up
    # front, so another LiteRT version is a fallback with its reason, not a failed job
    missing = [name for name in _SYMBOLS if not hasattr(lib, name)]
    if missing:
        raise ProfilerUnavailable(f"{path} does not export {', '.join(missing)}")
    return lib


class _Run:
    """One compiled model with profiling on, its buffers, and the Python objects they point into
    (everything is released when the worker exits; the worker runs one job)."""

    def __init__(self, model_path: str, delegate: str, threads: int, arrays, input_order):
        if delegate not in KERNEL_MODES:
            raise ProfilerUnavailable(f"no runtime profiler for delegate {delegate}")
        self.lib = lib = _library()
        self.keep: list = []
        env, model, opts, cm = _P(), _P(), _P(), _P()
        self._ok(lib.LiteRtCreateEnvironment(0, None, C.byref(env)), "create the environment")
        self._ok(lib.LiteRtCreateModelFromFile(env, os.fsencode(model_path), C.byref(model)),
                 "load the model")
        self._ok(lib.LiteRtCreateOptions(C.byref(opts)), "create options")
        self._ok(lib.LiteRtSetOptionsHardwareAccelerators(opts, HW_CPU), "choose the CPU")
        self._opaque(opts, b"runtime_options_string", "enable_profiling = true\n")
        self._opaque(opts, b"xnnpack", f'kernel_mode = "{KERNEL_MODES[delegate]}"\n'
                                       f"num_threads = {int(threads)}\n")
        self._ok(lib.LiteRtCreateCompiledModel(env, model, opts, C.byref(cm)),
                 "compile the model")
        self.cm = cm
        sig = _P()
        self._ok(lib.LiteRtGetModelSignature(model, C.c_size_t(0), C.byref(sig)),
                 "read signature 0")
        names = self._names(sig)
        ordered = input_order(names)  # -> arrays in the signature's input order
        for i, a in enumerate(ordered):
            dims = (C.c_int * a.ndim)(*a.shape)
            self._ok(lib.LiteRtCompiledModelResizeInputTensorNonStrict(
                cm, C.c_size_t(0), C.c_size_t(i), dims, C.c_size_t(a.ndim)), "resize an input")
        self.inputs = self._buffers(sig, "Input", ordered)
        self.outputs = self._buffers(sig, "Output", None)
        self.in_arr = (_P * len(self.inputs))(*self.inputs)
        self.out_arr = (_P * len(self.outputs))(*self.outputs)
        prof = _P()
        self._ok(lib.LiteRtCompiledModelGetProfiler(cm, C.byref(prof)), "get the profiler")
        if not prof.value:
            raise ProfilerUnavailable("the runtime returned no profiler (profiling not enabled)")
        self.prof = prof

    def _ok(self, status: int, what: str) -> None:
        if status != 0:
            raise ProfilerUnavailable(f"LiteRT C API could not {what}: {describe(status)}")

    def _opaque(self, opts, identifier: bytes, toml: str) -> None:
        payload = C.create_string_buffer(toml.encode())
        self.keep.append(payload)
        oo = _P()
        self._ok(self.lib.LiteRtCreateOpaqueOptions(identifier, C.cast(payload, _P), _KEEP_PAYLOAD,
                                                    C.byref(oo)), f"create {identifier.decode()}")
        self._ok(self.lib.LiteRtAddOpaqueOptions(opts, oo), f"add {identifier.decode()}")

    def _names(self, sig) -> list[str]:
        n = C.c_size_t()
        self._ok(self.lib.LiteRtGetNumSignatureInputs(sig, C.byref(n)), "count inputs")
        out = []
        for i in range(n.value):
            name = C.c_char_p()
            self._ok(self.lib.LiteRtGetSignatureInputName(sig, C.c_size_t(i), C.byref(name)),
                     "read an input name")
            out.append((name.value or b"").decode("utf-8", "replace"))
        return out

    def _buffers(self, sig, kind: str, arrays) -> list:
        lib = self.lib
        n = C.c_size_t()
        self._ok(getattr(lib, f"LiteRtGetNumSignature{kind}s")(sig, C.byref(n)), "count tensors")
        out = []
        for i in range(n.value):
            tensor, req, size = _P(), _P(), C.c_size_t()
            self._ok(getattr(lib, f"LiteRtGetSignature{kind}TensorByIndex")(
                sig, C.c_size_t(i), C.byref(tensor)), "read a tensor")
            ttype = C.create_string_buffer(512)  # LiteRtRankedTensorType, passed through as is
            self._ok(lib.LiteRtGetRankedTensorType(tensor, ttype), "read a tensor type")
            self._ok(getattr(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements")(
                self.cm, C.c_size_t(0), C.c_size_t(i), C.byref(req)), "get buffer requirements")
            self._ok(lib.LiteRtGetTensorBufferRequirementsBufferSize(req, C.byref(size)),
                     "get a buffer size")
            raw = np.zeros(size.value + _ALIGN, np.uint8)
            off = (-raw.ctypes.data) % _ALIGN
            host = raw[off:off + size.value]
            if arrays is not None:
                data = np.ascontiguousarray(arrays[i]).reshape(-1).view(np.uint8)
                host[:min(data.size, host.size)] = data[:host.size]
            buf = _P()
            self._ok(lib.LiteRtCreateTensorBufferFromHostMemory(
                ttype, C.c_void_p(host.ctypes.data), size, None, C.byref(buf)),
                "wrap a host buffer")
            self.keep += [raw, ttype]
            out.append(buf)
        return out

    def run(self) -> None:
        self._ok(self.lib.LiteRtRunCompiledModel(
            self.cm, C.c_size_t(0), C.c_size_t(len(self.inputs)), self.in_arr,
            C.c_size_t(len(self.outputs)), self.out_arr), "run the model")

    def events(self) -> list[tuple[int, str, int, int, int]]:
        """(type, tag, elapsed µs, metadata1, metadata2) of every recorded event."""
        n = C.c_int()
        self._ok(self.lib.LiteRtGetNumProfilerEvents(self.prof, C.byref(n)), "count events")
        evs = (_Event * n.value)()
        self._ok(self.lib.LiteRtGetProfilerEvents(self.prof, n, evs), "read events")
        return [(e.event_type, (e.tag or b"").decode("utf-8", "replace"), int(e.elapsed_time_us),
                 int(e.event_metadata1), int(e.event_metadata2)) for e in evs]


def profile_with_runtime(model, cfg: dict, arrays, runs: int, stop,
                         init_only: AbstractSet[int] = frozenset()) -> dict:
    """Per-op times of subgraph 0 from LiteRT's profiler over ``runs`` full runs.

    ``model``: the ``core.model.types.Model`` of ``cfg["model"]``; ``arrays``: the run's inputs in
    subgraph-0 input order; ``init_only``: ops that do their work when the model is prepared
    (DEQUANTIZE of constant weights), timed 0 and not matched to delegate operators.
    -> {"ops": rows, "runs": n, "whole_run_ms": the runtime's own median invoke time over the
    profiled runs (their wall time if it logged none), "delegate_ops": XNNPACK rows,
    "mapping": how XNNPACK operators were matched to ops}."""
    sg = model.subgraphs[0]
    by_tensor = {sg.tensors[ti].name: k for k, ti in enumerate(sg.inputs)}
    sig_inputs = model.signatures[0].inputs if model.signatures else {}

    def order(names: list[str]):
        out = []
        for name in names:
            if name in sig_inputs and sig_inputs[name] in sg.inputs:
                out.append(arrays[sg.inputs.index(sig_inputs[name])])
            elif name in by_tensor:
                out.append(arrays[by_tensor[name]])
            else:
                raise ProfilerUnavailable(f"signature input {name!r} is not an input of subgraph 0")
        return out

    try:
        r = _Run(cfg["model"], cfg["delegate"], int(cfg.get("threads", 1)), arrays, order)
        r.run()  # warm-up: first-run costs (weight packing) are not an op's time
        r._ok(r.lib.LiteRtResetProfiler(r.prof), "reset the profiler")
        r._ok(r.lib.LiteRtStartProfiler(r.prof), "start the profiler")
        walls, done = [], 0
        end = time.monotonic() + PROFILE_BUDGET_S
        for _ in range(max(1, runs)):
            if stop.is_set() or (done and time.monotonic() > end):
                break
            t0 = time.perf_counter_ns()
            r.run()
            walls.append((time.perf_counter_ns() - t0) / 1e6)
            done += 1
        r._ok(r.lib.LiteRtStopProfiler(r.prof), "stop the profiler")
        events = r.events()
    except C.ArgumentError as e:  # a C signature this LiteRT version does not share
        raise ProfilerUnavailable(f"LiteRT C API call refused its arguments ({e})") from None
    if not done:
        raise ProfilerUnavailable("stopped before the first profiled run")
    # Medians, per op and of the whole runs: one run slowed by the machine's other work must not
    # make the per-op sum disagree with the whole run.
    op_us: dict[int, list[int]] = {}
    deleg: dict[int, tuple[str, list[int]]] = {}
    invokes: list[int] = []
    for etype, tag, us, md1, md2 in events:
        if tag == "Invoke" and us < 1 << 32:  # the interpreter's invoke (also logged unfinished)
            invokes.append(us)
        elif etype == OPERATOR_INVOKE_EVENT and md2 == 0:
            op_us.setdefault(md1, []).append(us)
        elif etype in (DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT, DELEGATE_OPERATOR_INVOKE_EVENT):
            deleg.setdefault(md1, (tag, []))[1].append(us)
    n_ops = len(sg.operators)
    rows = [{"index": op.index, "op": op.label, "avg_ms": None} for op in sg.operators]
    for idx, samples in op_us.items():
        if idx < n_ops:
            rows[idx]["avg_ms"] = float(np.median(samples)) / 1000
    for idx in init_only:
        if rows[idx]["avg_ms"] is None:
            rows[idx].update(avg_ms=0.0, note="constant weights: dequantized once at init")
    delegate_ops = [{"index": k, "name": tag, "avg_ms": float(np.median(us)) / 1000}
                    for k, (tag, us) in sorted(deleg.items())]
    mapping = _match_delegate_ops([row for row in rows if row["avg_ms"] is None],
                                  delegate_ops) if delegate_ops else None
    whole = float(np.median(invokes)) / 1000 if invokes else float(np.median(walls))
    # Coverage compares means, not medians: on a busy machine each run has some op preempted, so
    # the per-op medians add up to far less than the median run (MobileNetV2 here: 3.2 of 9.8 ms)
    # while the means agree (11.1 vs 10.7 ms); an op under the 1 µs resolution reads 0 either way.
    covered = sum(float(np.mean(us)) for us in op_us.values()) + sum(
        float(np.mean(us)) for _, us in deleg.values())
    whole_mean = float(np.mean(invokes)) if invokes else float(np.mean(walls)) * 1000
    if covered < MIN_COVERAGE * whole_mean:
        raise ProfilerUnavailable(f"its per-op times add up to {covered / 1000:.3f} ms of a "
                                  f"{whole_mean / 1000:.3f} ms run (mean over the profiled runs; "
                                  "ops faster than its 1 µs resolution)")
    return {"ops": rows, "runs": done, "whole_run_ms": whole,
            "delegate_ops": delegate_ops, "mapping": mapping}


def _match_delegate_ops(left: list[dict], delegate_ops: list[dict]) -> str:
    """Give the TFLite ops in ``left`` (graph order) the times of the delegate operators that ran
    them; returns a sentence saying how well that went."""
    matched = extra = 0
    i, last = 0, None
    for d in delegate_ops:
        j = next((k for k in range(i, min(i + _MATCH_WINDOW, len(left)))
                  if d["name"].startswith(_XNNPACK_KINDS.get(left[k]["op"], ()))), None)
        if j is None:
            if last is None:
                continue
            last["avg_ms"] += d["avg_ms"]  # an operator the delegate added after this op
            last["kernel"] += f" + {d['name']}"
            extra += 1
            continue
        for row in left[i:j]:
            row["note"] = "no delegate operator of its own (fused into a neighbour)"
        left[j].update(avg_ms=d["avg_ms"], kernel=d["name"])
        last, i = left[j], j + 1
        matched += 1
    for row in left[i:]:
        row.setdefault("note", "no delegate operator matched")
    unplaced = len(delegate_ops) - matched - extra
    return (f"{matched} of {len(delegate_ops)} delegate operators matched to ops by kind in graph "
            f"order, {extra} added to the op before them"
            + (f", {unplaced} before any match (listed in delegate_ops only)" if unplaced else ""))
