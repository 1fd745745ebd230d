"""Per-op latency profile of subgraph 0, by the best method the backend allows.

1. LiteRT's own op profiler (``core.inference.worker.litert_profiler``: the C API through ctypes,
   profiling switched on in runtime options the Python wrappers do not pass) over full runs of the
   whole model with the run's kernels and threads: the litert and compiled backends on the CPU.
2. Otherwise (tflite-runtime, TensorFlow, external delegates, or when 1 fails, with the reason),
   single-op timing: for each operator of subgraph 0, we build a model holding only that op (``core.model.builder``: same options, version, constant
weights and quantization), feed it the op's real input values captured from one full inference
(``experimental_preserve_all_tensors``), and time it with the run's delegate and threads. The sum of
the per-op times is reported next to the whole-model median so the user sees how close it is (it
misses inter-op cache effects and partition fusion, and adds one invoke overhead per op).

Runs inside the worker process (the bench job calls ``profile_ops`` when asked): a crash here is
attributed to the op being timed.
"""
from __future__ import annotations

import time

import numpy as np

from core.inference.config import BACKEND_APIS
from core.inference.worker.backends import InterpreterRun
from core.inference.worker.litert_profiler import (
    KERNEL_MODES,
    ProfilerUnavailable,
    profile_with_runtime,
)
from core.model import ops as op_facts

METHOD = ("single-op models cut from the graph, each timed with the run's backend, delegate and "
          "threads on the op's real input values from one full inference")
RUNTIME_METHOD = ("LiteRT's op profiler over {runs} full runs of a CompiledModel ({kernels} "
                  "kernels, {threads} thread(s), 1 µs resolution)")
_TARGET_NS_PER_OP = 150_000_000  # time budget per op


def single_op_model(model, op, values: dict[int, np.ndarray]):
    """A ``ModelBuilder`` with only ``op`` (subgraph 0), or raise ValueError saying why not."""
    from core.model.builder import ModelBuilder
    if op_facts.is_control_flow(op.op):
        raise ValueError(f"{op.op} runs other subgraphs; not cut")
    if op.op == "CUSTOM":
        raise ValueError(f"custom op {op.custom_code}: its options are opaque; not cut")
    sg0 = model.subgraphs[0]
    folded = _dequantized_constants(model)
    mb = ModelBuilder(description=f"LiteLens single-op cut: op {op.index} {op.op}")
    sg = mb.subgraph("op")
    new: dict[int, int] = {}

    def tensor(ti: int, as_input: bool) -> int:
        if ti in new:
            return new[ti]
        t = sg0.tensors[ti]
        quant = t.quantization.to_json() if t.quantization and t.quantization.scale else None
        if t.constant:
            idx = sg.tensor(t.name, t.shape, t.dtype, data=bytes(model.buffer_bytes(t.buffer)),
                            quant=quant)
        elif as_input and ti in folded and ti in values:
            # weights dequantized from a constant (fp16 models): constant in the cut, as the
            # delegate folds them in the whole model
            idx = sg.tensor(t.name, values[ti].shape, t.dtype,
                            data=np.ascontiguousarray(values[ti]), quant=quant)
        else:
            shape = values[ti].shape if ti in values else tuple(max(d, 1) for d in t.shape)
            idx = sg.tensor(t.name, shape, t.dtype, quant=quant)
            if as_input:
                sg.inputs.append(idx)
        new[ti] = idx
        return idx

    ins = [tensor(ti, True) if ti >= 0 else -1 for ti in op.inputs]
    outs = [tensor(ti, False) for ti in op.outputs]
    inter = [tensor(ti, False) for ti in op.intermediates]
    sg.outputs = outs
    sg.op(op.op, ins, outs, op.options or None, options_table=op.options_table,
          version=op.version, intermediates=inter)
    return mb


def _dequantized_constants(model) -> set[int]:
    """Tensors of subgraph 0 that a DEQUANTIZE op computes from a constant (fp16/int8 weights)."""
    sg = model.subgraphs[0]
    return {op.outputs[0] for op in sg.operators
            if op.op == "DEQUANTIZE" and op.inputs and op.inputs[0] >= 0
            and sg.tensors[op.inputs[0]].constant}


def cut_inputs(model, op, values: dict[int, np.ndarray]) -> list[int]:
    """The tensors fed at run time to ``single_op_model(model, op, values)``, in order."""
    sg = model.subgraphs[0]
    folded = _dequantized_constants(model)
    seen, out = set(), []
    for ti in op.inputs:
        if ti < 0 or ti in seen or sg.tensors[ti].constant or (ti in folded and ti in values):
            continue
        seen.add(ti)
        out.append(ti)
    return out


def _fallback_value(t) -> np.ndarray:
    from core.model.types import numpy_dtype
    shape = tuple(max(d, 1) for d in t.shape)
    dt = np.dtype(numpy_dtype(t.dtype))
    if dt.kind == "f":
        return np.random.default_rng(0).uniform(0, 1, shape).astype(dt)
    return np.zeros(shape, dt)


def capture_values(cfg: dict, backend: str, arrays, model) -> tuple[dict[int, np.ndarray], str]:
    """Every non-constant tensor of subgraph 0 after one full inference (builtin kernels, so that
    intermediate tensors exist outside delegate partitions). Empty dict if that cannot run."""
    try:
        r = InterpreterRun("litert" if backend == "compiled" else backend, cfg,
                           preserve_all_tensors=True, delegate="builtin")
        r.allocate(arrays)
        r.set_inputs(arrays)
        r.it.invoke()
        vals = {}
        for t in model.subgraphs[0].tensors:
            if not t.constant:
                try:
                    vals[t.index] = np.array(r.it.get_tensor(t.index))
                except ValueError:
                    pass
        return vals, "real intermediate values"
    except Exception as e:  # noqa: BLE001 - the runtime raises anything (e.g. a custom op only
        # XNNPACK resolves); the reason is reported as the values' source
        return {}, f"synthetic inputs (capture failed: {str(e).splitlines()[0][:120]})"


def profile_ops(cfg: dict, backend: str, arrays, ch, stop) -> None:
    """Send one ``ops`` message: per-op rows of subgraph 0 (``avg_ms`` None, with a ``note``, for
    an op that was not timed), the method, the op total (rows stop early when stopped) and, for
    the runtime profiler, the wall time of the profiled runs and the delegate's own operators."""
    from core.model.reader import open_model
    delegate = cfg["delegate"]
    if delegate == "gpu":
        ch.send("ops", ops=[], method="", note="no per-op profile for the GPU accelerator")
        return
    with open_model(cfg["model"]) as model:
        total = len(model.subgraphs[0].operators)
        reason = None
        if cfg.get("profile_method", "auto") == "single-op":
            reason = "single-op timing was asked for"
        elif backend in ("litert", "compiled") and delegate in KERNEL_MODES:
            try:
                res = profile_with_runtime(model, cfg, subgraph0_arrays(cfg, model, arrays),
                                           int(cfg.get("profile_runs", 20)),
                                           stop, _outputs_of(model, _dequantized_constants(model)))
            except ProfilerUnavailable as e:
                reason = str(e)
            else:
                method = RUNTIME_METHOD.format(runs=res["runs"], kernels=delegate,
                                               threads=cfg.get("threads", 1))
                ch.send("ops", ops=res["ops"], method=method, api=BACKEND_APIS["compiled"],
                        total=total,
                        whole_run_ms=res["whole_run_ms"], delegate_ops=res["delegate_ops"],
                        mapping=res["mapping"], stopped=stop.is_set())
                return
        _single_op_profile(cfg, backend, arrays, ch, stop, model, total, reason)


def subgraph0_arrays(cfg: dict, model, arrays) -> list:
    """The run's inputs in subgraph 0's input order (a chosen signature's inputs come in the
    signature's order, which need not be the subgraph's)."""
    tensors = cfg.get("input_tensors") or []
    if cfg.get("signature") is None or not tensors:
        return list(arrays)
    by_tensor = dict(zip(tensors, arrays, strict=False))
    return [by_tensor[t] for t in model.subgraphs[0].inputs]


def _outputs_of(model, tensors: set[int]) -> set[int]:
    """Indices of the ops of subgraph 0 that write one of ``tensors``."""
    return {op.index for op in model.subgraphs[0].operators
            if op.outputs and op.outputs[0] in tensors}


def _single_op_profile(cfg: dict, backend: str, arrays, ch, stop, model, total: int,
                       reason: str | None) -> None:
    run_backend = "litert" if backend == "compiled" else backend
    budget = int(cfg.get("profile_runs", 20))
    values, source = capture_values(cfg, backend, arrays, model)
    folded = _dequantized_constants(model)
    ops = []
    perf = time.perf_counter_ns
    for op in model.subgraphs[0].operators:
        if stop.is_set():
            break
        ch.send("op", index=op.index, op=op.label)
        row = {"index": op.index, "op": op.label, "avg_ms": None}
        if op.outputs and op.outputs[0] in folded:
            # The runtime dequantizes constant weights once, when the model is prepared
            # (XNNPACK folds them into the consumer; the builtin kernel caches its output).
            row.update(avg_ms=0.0, note="constant weights: dequantized once at init")
            ops.append(row)
            continue
        try:
            mb = single_op_model(model, op, values)
            r = InterpreterRun(run_backend, cfg, model_content=mb.to_bytes())
            feeds = [values[ti] if ti in values else
                     _fallback_value(model.subgraphs[0].tensors[ti])
                     for ti in cut_inputs(model, op, values)]
            r.allocate(feeds)
            r.set_inputs(feeds)
            invoke = r.it.invoke
            t0 = perf()
            invoke()  # warm-up (first-run costs, lazy packing)
            once = perf() - t0
            n = max(3, min(budget, _TARGET_NS_PER_OP // max(once, 1)))
            samples = []
            for _ in range(int(n)):
                t0 = perf()
                invoke()
                samples.append((perf() - t0) / 1e6)
            row["avg_ms"] = float(np.mean(samples))
            row["runs"] = len(samples)
        except Exception as e:  # noqa: BLE001 - reported in the row; the other ops are still timed
            row["note"] = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        ops.append(row)
    why = f"; LiteRT's op profiler was not used: {reason}" if reason else ""
    ch.send("ops", ops=ops, method=f"{METHOD} ({source}){why}", api=BACKEND_APIS[run_backend],
            total=total, stopped=stop.is_set())
