"""The bench job: load a model, time the first inference, warm-up and timed runs, sample memory,
summarise the outputs, and optionally profile each op (``jobs.profile``).

Worker side: ``run``. Parent side: ``Folder``, which folds the job's messages into the state the
Run panel draws live and into ``result()``, the JSON contract shared by ``litelens bench --json``,
the GUI and the tests.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

from core.inference.results import (
    BenchResult,
    OpTime,
    OutputSummary,
    ProfileNote,
    ProfileSummary,
    RssBytes,
    TensorInfo,
)
from core.inference.tensor_values import TensorValues
from core.inference.worker.backends import load_model, start_backend
from core.inference.worker.probes import RssSampler, hwm_bytes
from core.inference.worker.protocol import Channel, WorkerError

if TYPE_CHECKING:
    from core.inference.job_api import JobSession

FLUSH_PERIOD_NS = 50_000_000
TOPK = 5


# -- worker side ------------------------------------------------------------------------------
def summarize_outputs(outs) -> list[dict]:
    """Shape, dtype, real-valued min/max/mean/std and, for vector outputs, the top-k."""
    import numpy as np
    res = []
    for name, arr, (scale, zp) in outs:
        a = np.asarray(arr)
        info = {"name": name, "shape": list(a.shape), "dtype": a.dtype.name}
        if a.dtype.kind in "biuf" and a.size:
            real = a.astype(np.float64)
            if scale:
                real = (real - zp) * scale
            flat = real.reshape(-1)
            finite = np.isfinite(flat)
            vals = flat
            if not finite.all():  # NaN/Inf outputs: say how many; statistics of the finite rest
                info["nonfinite"] = int(flat.size - finite.sum())
                vals = flat[finite]
            if vals.size:
                info.update(min=float(vals.min()), max=float(vals.max()),
                            mean=float(vals.mean()), std=float(vals.std()))
            squeezed = [d for d in a.shape if d != 1]
            if len(squeezed) == 1 and 1 < squeezed[0] <= 100_000:
                k = min(TOPK, flat.size)
                top = np.argsort(-flat, kind="stable")[:k]
                info["topk"] = [[int(i), float(flat[i])] for i in top]
        res.append(info)
    return res


def _send_tensors(cfg: dict, backend: str, arrays, ch: Channel, stop: threading.Event,
                  outputs) -> None:
    """The first inference's outputs in full, one ``tensor`` message each; with
    ``keep_tensors``, every other non-constant tensor of subgraph 0 from one more inference that
    keeps them all (up to ``KEEP_LIMIT_BYTES``), and a ``tensors_note`` saying where they come
    from."""
    from core.inference.tensor_values import KEEP_LIMIT_BYTES, encode
    for k, (name, arr, (scale, zp)) in enumerate(outputs):
        ch.send("tensor", kind="output", name=name, index=None, position=k,
                scale=float(scale) if scale else None, zero_point=int(zp) if scale else None,
                npy=encode(arr))
    if not cfg.get("keep_tensors") or stop.is_set():
        return
    if cfg.get("subgraph", 0) != 0:
        ch.send("tensors_note", note=f"intermediate tensors are kept for subgraph 0; signature "
                                     f"{cfg.get('signature')!r} runs subgraph {cfg['subgraph']}")
        return
    ch.send("stage", stage="tensors")
    try:
        from core.inference.worker.jobs.profile import capture_values
        from core.model.reader import open_model
    except ImportError as e:   # the model reader needs ai_edge_litert's schema + flatbuffers
        ch.send("tensors_note", note=f"intermediate tensors not kept: LiteLens' model reader "
                                     f"cannot be imported in {sys.executable} ({e})")
        return
    with open_model(cfg["model"]) as model:
        values, source = capture_values(cfg, backend, arrays, model)
        sg = model.subgraphs[0]
        sent = left = 0
        for ti in sorted(values):
            if ti in sg.outputs or stop.is_set():
                continue
            arr = values[ti]
            if sent + arr.nbytes > KEEP_LIMIT_BYTES:
                left += 1
                continue
            t = sg.tensors[ti]
            q = t.quantization
            scale = zp = None
            if q is not None and len(q.scale) == 1:   # per-tensor: the real values follow
                scale, zp = float(q.scale[0]), int(q.zero_point[0]) if q.zero_point else 0
            ch.send("tensor", kind="input" if ti in sg.inputs else "intermediate", name=t.name,
                    index=ti, position=None, scale=scale, zero_point=zp, npy=encode(arr))
            sent += arr.nbytes
    over = (f"; {left} more not sent (over {KEEP_LIMIT_BYTES // 2**20} MiB in all)"
            if left else "")
    ch.send("tensors_note", note=(
        f"every tensor of subgraph 0 from one more inference with the builtin kernels, all "
        f"tensors kept ({source}; a delegate's own kernels may differ in the last bits){over}"
        if values else f"intermediate tensors not kept: {source}"))


def _invoke_error(cfg: dict, ch: Channel, e: Exception) -> WorkerError:
    stage = {"first": "the first inference", "warmup": "warm-up", "run": "the timed runs"}
    return WorkerError("invoke", f"{cfg['model']}: the runtime failed during "
                                 f"{stage.get(ch.stage, ch.stage)}: "
                                 f"{str(e).strip() or type(e).__name__}")


def _reset_fn(cfg: dict, runner):
    """``runner``'s state reset (``reset_variables``), with the model's CALL_ONCE init
    subgraphs read from the file."""
    if not hasattr(runner, "reset_fn"):
        raise WorkerError("config", "resetting the variables between runs needs the Interpreter "
                                    "API (backend litert, tflite_runtime or tensorflow)")
    try:
        from core.model.reader import open_model
    except ImportError as e:   # the reader needs ai_edge_litert's schema + flatbuffers
        raise WorkerError("config", f"resetting the variables needs LiteLens' model reader, "
                                    f"which {sys.executable} cannot import ({e})") from None
    with open_model(cfg["model"]) as model:
        inits = sorted({int(op.options["init_subgraph_index"]) for sg in model.subgraphs
                        for op in sg.operators if op.op == "CALL_ONCE"})
    return runner.reset_fn(inits)


def run(cfg: dict, ch: Channel, stop: threading.Event) -> None:
    backend = start_backend(cfg, ch)
    sampler = RssSampler(ch)
    rss_before = sampler.sample()
    sampler.start()

    from core.inference.inputs import load_inputs  # numpy only
    arrays = load_inputs(cfg["inputs"])

    ch.send("stage", stage="load")
    t0 = time.perf_counter_ns()
    runner = load_model(cfg, backend, arrays)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    runner.set_inputs(arrays)
    rss_init = sampler.sample()
    ch.send("init", init_ms=init_ms, rss_before_load=rss_before, rss_after_init=rss_init,
            inputs=runner.input_details())

    invoke = runner.invoke_fn()
    perf = time.perf_counter_ns
    ch.send("stage", stage="first")
    t0 = perf()
    try:
        invoke()
    except (RuntimeError, ValueError) as e:  # the runtime's error reporter text
        raise _invoke_error(cfg, ch, e) from None
    first_ms = (perf() - t0) / 1e6
    ch.send("first", ms=first_ms)
    first_outputs = runner.outputs()
    ch.send("outputs", outputs=summarize_outputs(first_outputs))
    import numpy as np
    # the first inference's values, sent in full once the timed runs are over
    kept = [(name, np.array(arr), q) for name, arr, q in first_outputs]

    reset = _reset_fn(cfg, runner) if cfg.get("reset_variables") else None

    def loop(phase: str, n: int, min_ns: int = 0, max_ns: int | None = None,
             delay_s: float = 0.0) -> int:
        """``n`` timed invocations, more until ``min_ns`` have passed, none past ``max_ns``."""
        ch.send("stage", stage=phase)
        buf: list[float] = []
        start = done = 0
        began = last = perf()

        def flush() -> None:
            nonlocal buf, start, last
            ch.send("lat", phase=phase, start=start, ms=buf)
            start, buf, last = done, [], perf()

        while done < n or perf() - began < min_ns:
            if stop.is_set() or (max_ns is not None and perf() - began >= max_ns):
                break
            if delay_s and done:
                if buf:  # the pause is not timed: show the runs so far before it
                    flush()
                if stop.wait(delay_s):  # Stop is heard during the pause
                    break
            if reset is not None:   # every run from the loaded state (not timed)
                reset()
            t0 = perf()
            invoke()
            t1 = perf()
            buf.append((t1 - t0) / 1e6)
            done += 1
            if t1 - last >= FLUSH_PERIOD_NS:
                flush()
        if buf:
            flush()
        return done

    try:
        loop("warmup", int(cfg.get("warmup", 1)))
        max_secs = cfg.get("max_secs")
        runs_done = loop("run", int(cfg.get("runs", 50)),
                         int(float(cfg.get("min_secs") or 0) * 1e9),
                         int(float(max_secs) * 1e9) if max_secs else None,
                         float(cfg.get("run_delay_s") or 0))
    except (RuntimeError, ValueError) as e:
        raise _invoke_error(cfg, ch, e) from None

    # the outputs of the last run: with the state kept, they differ from the first run's
    ch.send("last_outputs", outputs=summarize_outputs(runner.outputs()))
    if not stop.is_set():
        _send_tensors(cfg, backend, arrays, ch, stop, kept)

    if cfg.get("profile") and cfg.get("subgraph", 0) != 0 and not stop.is_set():
        ch.send("ops", ops=[], method="", note=f"no per-op profile: it times the ops of "
                                               f"subgraph 0; signature {cfg.get('signature')!r} "
                                               f"runs subgraph {cfg['subgraph']}")
    elif cfg.get("profile") and not stop.is_set():
        # the runs' memory, before the profiler builds its single-op models: the run's peak RSS
        # must not include them
        ch.send("runs_done", rss_peak=max(sampler.peak, sampler.sample()), rss_hwm=hwm_bytes(),
                s=round(time.monotonic() - sampler.t0, 3))
        ch.send("stage", stage="profile")
        try:
            import core.model.builder  # noqa: F401
            import core.model.reader  # noqa: F401
            from core.inference.worker.jobs.profile import profile_ops
        except ImportError as e:  # the model reader needs ai_edge_litert's schema + flatbuffers
            ch.send("ops", ops=[], method="", note=f"no per-op profile: LiteLens' model reader "
                                                   f"cannot be imported in {sys.executable} ({e})")
        else:
            profile_ops(cfg, backend, arrays, ch, stop)

    sampler.halt()
    ch.send("done", runs=runs_done, stopped=stop.is_set(), rss_peak=max(sampler.peak,
                                                                        sampler.sample()),
            rss_hwm=hwm_bytes())


# -- parent side ------------------------------------------------------------------------------
def profile_summary(ops: list[OpTime], method: str | None, detail: dict[str, Any],
                    run_median_ms: float | None, run_api: str | None = None) -> ProfileSummary:
    """What a per-op profile covers, always stated: the method, how many of the ops were timed
    (and why the others were not), whether it ran to the end, and the per-op sum next to the
    whole run it should add up to (the profiled runs' own median for the runtime profiler, the
    timed runs' median for single-op timing), and the API it ran on next to the timed runs' one
    (``run_api``): LiteRT's profiler runs a CompiledModel whichever API the runs used."""
    from core.inference.stats import op_type_summary
    total = detail.get("total") or len(ops)
    timed = [o.avg_ms for o in ops if o.avg_ms is not None]
    untimed: dict[str, int] = {}
    for o in ops:
        if o.avg_ms is None:
            key = f"{o.op}: {o.note or 'not timed'}"
            untimed[key] = untimed.get(key, 0) + 1
    if len(ops) < total:
        untimed["not reached (profile stopped)"] = total - len(ops)
    whole = detail.get("whole_run_ms") or run_median_ms
    sum_ms = sum(timed)
    return ProfileSummary(
        method=method, complete=len(ops) == total and not detail.get("stopped"),
        stopped=bool(detail.get("stopped")) or len(ops) < total,
        timed_ops=len(timed), ops=total, untimed=untimed, sum_ms=sum_ms,
        whole_run_ms=whole, sum_vs_whole_run=(sum_ms / whole) if whole else None,
        run_median_ms=run_median_ms,
        sum_vs_median=(sum_ms / run_median_ms) if run_median_ms else None,
        by_type=op_type_summary(ops),
        delegate_ops=detail.get("delegate_ops") or None,
        mapping=detail.get("mapping") if detail.get("delegate_ops") else None,
        api=detail.get("api"), run_api=run_api)


def _runtime_note(label: str | None) -> str | None:
    """"tables follow LiteRT 2.3.0; this runtime is tflite-runtime 2.14.0" when the worker's
    runtime (its hello's "name version[ API]") is not the release LiteLens' tables follow; None
    when it is, or when the worker never said."""
    from core.versions import runtime_version_note
    if not label:
        return None
    name, _, rest = label.partition(" ")
    # another package (tflite-runtime, tensorflow) is another runtime whatever its version
    return runtime_version_note(rest.split(" ")[0] if name == "ai-edge-litert" else label)


class Folder:
    """The bench state of a ``WorkerSession`` (``session.job``): what the Run panel draws live
    (``latencies_ms``, ``rss``, ``current_op``...) and, at the end, ``result()``."""
    JOB: ClassVar[str] = "bench"

    def __init__(self, session: JobSession):
        self.session = session
        self.current_op: tuple[int, str] | None = None
        self.warmup_ms: list[float] = []
        self.latencies_ms: list[float] = []
        self.rss: list[tuple[float, int]] = []     # (seconds since start, bytes)
        self.ops: list[OpTime] | None = None
        self.init_ms: float | None = None
        self.first_ms: float | None = None
        self.rss_before_load: int | None = None
        self.rss_after_init: int | None = None
        self.inputs: list[TensorInfo] | None = None      # as the runtime allocated them
        self.outputs: list[OutputSummary] = []
        # after the last timed run: the state a streaming model carried through the runs
        self.last_outputs: list[OutputSummary] | None = None
        self.profile_method: str | None = None
        self.profile_detail: dict[str, Any] = {}
        self.profile_note: str | None = None
        self.rss_peak: int | None = None
        self.rss_hwm: int | None = None
        self.rss_runs_peak: int | None = None   # the runs' memory, before a profile started
        self.rss_runs_hwm: int | None = None
        self.profiled = False
        self.tensors: list[TensorValues] = []   # values sent in full (outputs, kept tensors)
        self.tensors_note: str | None = None
        self._label_lists: list[list[str] | None] | None = None
        self._rss_runs_n: int | None = None   # RSS samples taken before the profile started
        # the worker's clock (as the RSS samples') when the per-op profile began
        self.profile_started_s: float | None = None

    def fold(self, m: dict[str, Any]) -> None:
        t = m["t"]
        if t == "init":
            self.init_ms = m["init_ms"]
            self.rss_before_load, self.rss_after_init = m["rss_before_load"], m["rss_after_init"]
            self.inputs = m["inputs"]
        elif t == "outputs":
            self.outputs = m["outputs"]
        elif t == "last_outputs":
            self.last_outputs = m["outputs"]
        elif t == "first":
            self.first_ms = m["ms"]
        elif t == "lat":
            (self.warmup_ms if m["phase"] == "warmup" else self.latencies_ms).extend(m["ms"])
        elif t == "rss":
            self.rss.append((m["s"], m["b"]))
        elif t == "op":
            self.current_op = (m["index"], m["op"])
        elif t == "ops":
            self.ops = [OpTime.from_json(o) for o in m["ops"]]
            self.profile_method = m.get("method")
            self.profile_detail = {k: m.get(k) for k in ("total", "whole_run_ms", "delegate_ops",
                                                         "mapping", "stopped", "api")}
            if m.get("note"):
                self.profile_note = m["note"]
        elif t == "runs_done":
            self.rss_runs_peak, self.rss_runs_hwm = m["rss_peak"], m["rss_hwm"]
            self.profiled = True
            self._rss_runs_n = len(self.rss)
            self.profile_started_s = m.get("s")
        elif t == "tensor":
            self.tensors.append(TensorValues.from_message(m))
        elif t == "tensors_note":
            self.tensors_note = m["note"]
        elif t == "done":
            self.rss_peak, self.rss_hwm = m["rss_peak"], m["rss_hwm"]

    def where(self) -> str | None:
        """What was running, for a crash or timeout message (None: the session's generic words)."""
        stage = self.session.stage
        if stage == "profile" and self.current_op:
            return f"while running op {self.current_op[0]} ({self.current_op[1]})"
        if stage in ("run", "warmup"):
            n = len(self.latencies_ms if stage == "run" else self.warmup_ms)
            return f"while invoking the model ({stage} {n + 1})"
        if stage == "first":
            return "while invoking the model (first inference)"
        if stage == "tensors":
            return "while keeping every tensor of one more inference (builtin kernels)"
        return None

    def _rss_bytes(self) -> RssBytes:
        samples = [b for _, b in self.rss]
        whole_peak = max([self.rss_peak or 0, *samples, self.rss_after_init or 0]) or None
        if self.profiled:  # the run's memory is what it had before the profile
            peak = max([self.rss_runs_peak or 0, *samples[:self._rss_runs_n],
                        self.rss_after_init or 0]) or None
            hwm = self.rss_runs_hwm
        else:
            peak, hwm = whole_peak, self.rss_hwm
        return RssBytes(before_load=self.rss_before_load, after_init=self.rss_after_init,
                        peak=peak, hwm=hwm,
                        with_profile_peak=whole_peak if self.profiled else None)

    def result(self) -> BenchResult:
        """Backend, delegate, threads, init/first ms, latency stats, RSS, outputs, ops."""
        from core.inference.inputs import dynamic_note
        from core.inference.stats import summarize
        s = self.session
        cfg, out = s.cfg, s.outcome()
        latency = summarize(self.latencies_ms)
        profile: ProfileSummary | ProfileNote | None = None
        if self.ops:
            profile = profile_summary(self.ops, self.profile_method, self.profile_detail,
                                      latency.median, self._run_api())
        elif self.profile_note:
            profile = ProfileNote(self.profile_method, self.profile_note)
        return BenchResult(
            model=str(cfg.model), backend=s.runtime_label() or cfg.backend,
            delegate=cfg.delegate, threads=cfg.threads, python=s.worker_python(),
            input_source=cfg.input_source, init_ms=self.init_ms, first_ms=self.first_ms,
            warmup_ms=summarize(self.warmup_ms), latency_ms=latency,
            rss_bytes=self._rss_bytes(), ops=list(self.ops or []),
            inputs=self.inputs if self.inputs is not None else [
                spec.to_json() for spec in s.specs],
            dynamic_inputs=[spec.to_json() for spec in s.specs if spec.dynamic],
            input_note=dynamic_note(s.specs) or None, outputs=self._outputs_with_labels(),
            last_outputs=self.last_outputs, reset_variables=cfg.reset_variables,
            status=out.status, error=out.error, error_kind=out.error_kind, profile=profile,
            runtime_note=_runtime_note(s.runtime_label()), target=s.target_json(),
            tensors=self._tensors_with_labels(), tensors_note=self.tensors_note)

    def _labels(self) -> list[list[str] | None]:
        """The metadata's label list per output (once; none for another subgraph's outputs)."""
        if self._label_lists is None:
            self._label_lists = self.session.output_labels() \
                if self.session.signature_subgraph == 0 else []
        return self._label_lists

    def _tensors_with_labels(self) -> list[TensorValues]:
        labels = self._labels() if self.tensors else []
        for tv in self.tensors:
            if tv.kind == "output" and tv.position is not None and tv.position < len(labels):
                tv.labels = labels[tv.position]
        return list(self.tensors)

    def _run_api(self) -> str | None:
        """The API the timed runs used (the worker's backend: the gpu delegate of the litert
        backend runs a CompiledModel)."""
        from core.inference.config import BACKEND_APIS
        key = self.session.info.get("backend_key") or self.session.cfg.backend
        return BACKEND_APIS.get(str(key))

    def _outputs_with_labels(self) -> list[OutputSummary]:
        outs = [OutputSummary(**o) for o in self.outputs]
        if any("topk" in o for o in outs):
            labels = self._labels()
            for k, o in enumerate(outs):
                lab = labels[k] if k < len(labels) else None
                if "topk" in o and lab:
                    o["topk"] = [[idx, val, lab[idx] if idx < len(lab) else None]
                                 for idx, val, *_ in o["topk"]]
        return outs
