"""Benchmarks for issue 4 (live inference): measurement overhead vs a bare invoke() loop, threads
and delegates on MobileNetV2, the per-op profile's sum vs the whole run, worker memory, and the
UI thread's worst gap while the Run panel runs a benchmark. Every number is measured in this run;
ratios are against an anchor measured in the same run."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LITELENS_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def _model(name: str) -> Path | None:
    p = SHARED / f"{name}.tflite"
    return p if p.is_file() else None


def _bare_invoke_median(path: Path, threads: int, runs: int, warmup: int) -> float:
    """The anchor: a bare ``interpreter.invoke()`` loop in this process (XNNPACK, same input)."""
    from ai_edge_litert.interpreter import Interpreter

    from core.inference.inputs import input_specs, make_inputs
    from core.model.reader import open_model
    with open_model(path) as m:
        arrays = make_inputs(input_specs(m), "random")
    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    for d, a in zip(it.get_input_details(), arrays, strict=False):
        it.set_tensor(d["index"], a)
    for _ in range(warmup + 1):
        it.invoke()
    perf, out = time.perf_counter_ns, []
    for _ in range(runs):
        t0 = perf()
        it.invoke()
        out.append(perf() - t0)
    return float(np.median(out)) / 1e6


def _litelens(path: Path, **kw) -> dict:
    """One run, as ``litelens bench --json`` reports it."""
    from core.inference.config import RunConfig
    from core.inference.session import run_benchmark
    return run_benchmark(RunConfig(model=str(path), **kw)).to_json()


def profile_section(target: Path) -> str:
    """Both per-op methods on one model: coverage and the per-op sum vs the whole run each is
    compared with (the runtime profiler: its own invoke time; single-op cuts: the run's median)."""
    lines = [f"### Per-op profile vs whole run: {target.stem}", "",
             "| method | threads | ops timed | sum of ops ms | whole run ms | sum ÷ whole | "
             "slowest ops |", "|---|---:|---:|---:|---:|---:|---|"]
    for method in ("auto", "single-op"):
        for threads in (1, 2):
            r = _litelens(target, threads=threads, runs=40, warmup=3, profile=True,
                          profile_method=method)
            prof = r.get("profile") or {}
            top = sorted((o for o in r["ops"] if o.get("avg_ms")), key=lambda o: -o["avg_ms"])[:3]
            name = "LiteRT op profiler" if prof.get("method", "").startswith("LiteRT") else \
                "single-op cuts"
            lines.append(f"| {name} | {threads} | {prof.get('timed_ops')}/{prof.get('ops')} | "
                         f"{prof.get('sum_ms', 0):.3f} | {prof.get('whole_run_ms') or 0:.3f} | "
                         f"**{(prof.get('sum_vs_whole_run') or 0):.2f}×** | "
                         + ", ".join(f"op {o['index']} {o['op']} {o['avg_ms']:.3f}" for o in top)
                         + " |")
    lines += ["", "The LiteRT op profiler is the runtime's own (C API through ctypes, "
              "`core/inference/worker/litert_profiler.py`), over full runs; single-op cuts time "
              "each op alone in a model of its own and are the fallback where the profiler is "
              "unavailable."]
    return "\n".join(lines)


def _overhead(path: Path, threads: int, runs: int, rounds: int = 3) -> list[str]:
    """Alternate bare loop and LiteLens worker ``rounds`` times (the anchor brackets LiteLens in
    time, so drift from other load on the machine hits both); ratio of the medians of medians."""
    bare, ll = [], []
    for _ in range(rounds):
        bare.append(_bare_invoke_median(path, threads, runs, 5))
        r = _litelens(path, threads=threads, runs=runs, warmup=5)
        ll.append(r["latency_ms"]["median"])
    bare.append(_bare_invoke_median(path, threads, runs, 5))
    anchor, ours = float(np.median(bare)), float(np.median(ll))
    spread = ", ".join(f"{x:.4f}" for x in ll)
    return [f"| {path.stem} | {threads} | {runs}×{rounds} | {anchor:.4f} | {ours:.4f} ({spread}) "
            f"| **{ours / anchor:.3f}** |"]


def _ui_probe(path: Path, runs: int) -> str:
    try:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from gui.run.panel import RunPanel
    except ImportError as e:
        return f"UI probe skipped ({e})"
    app = QApplication.instance() or QApplication([])
    p = RunPanel(str(path))
    p.resize(1200, 800)
    p.show()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        app.processEvents()
    p.runs.setValue(runs)
    gaps, last, done = [], [time.perf_counter()], []
    probe = QTimer()
    probe.setInterval(10)

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
    probe.timeout.connect(tick)
    p.run_finished.connect(done.append)
    probe.start()
    last[0] = time.perf_counter()
    p.start()
    limit = time.monotonic() + 300
    while not done and time.monotonic() < limit:
        app.processEvents()
        time.sleep(0.001)
    probe.stop()
    p.shutdown()
    p.deleteLater()
    g = np.asarray(gaps) * 1000
    return (f"UI thread while the Run panel ran {runs} runs of {path.stem} (10 ms timer probe, "
            f"{len(g)} ticks): worst gap **{g.max():.1f} ms**, p99 {np.percentile(g, 99):.1f} ms, "
            f"median {np.median(g):.1f} ms (target: never > 100 ms).")


def run() -> str:
    from importlib.metadata import version

    import ai_edge_litert  # noqa: F401
    lines = ["## Live inference and benchmarking (issue 4)", "",
             f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python "
             f"{platform.python_version()}, ai-edge-litert {version('ai-edge-litert')}. "
             "Inputs: random (seed 0). Latency = one `invoke()` / `run_by_index()` timed with "
             "`perf_counter_ns` inside the worker process.", ""]
    mnv2 = _model("mobilenet_v2_224_float32")
    mnv2_i8 = _model("mobilenet_v2_224_int8")
    demo = ROOT / "resources" / "demo_model.tflite"

    lines += ["### Measurement overhead (anchor: bare `interpreter.invoke()` loop in the bench "
              "process, same model and input, alternated with LiteLens: bare, LiteLens, "
              "bare, …)", "",
              "| model | threads | runs | bare median ms | LiteLens median ms | ratio |",
              "|---|---|---|---|---|---|"]
    if mnv2:
        lines += _overhead(mnv2, 1, 100)
        lines += _overhead(mnv2, 2, 100)
    lines += _overhead(demo, 1, 2000)
    lines += ["", "Target: ratio ≤ 1.02.", ""]

    for path in (p for p in (mnv2, mnv2_i8) if p):
        lines += [f"### Threads and delegates: {path.stem}", "",
                  "| backend | delegate | threads | init ms | first ms | median ms | p90 ms | "
                  "p99 ms | vs XNNPACK 1 thread | peak RSS MB |", "|---|---|---|---|---|---|---|"
                  "---|---|---|"]
        cases = [("litert", "xnnpack", 1, 60), ("litert", "xnnpack", 2, 60),
                 ("litert", "builtin", 1, 20), ("litert", "builtin", 2, 20),
                 ("litert", "reference", 1, 3), ("compiled", "xnnpack", 1, 60),
                 ("compiled", "xnnpack", 2, 60), ("compiled", "gpu", 1, 5)]
        other = os.environ.get("LITELENS_TFLITE_RUNTIME_PYTHON")  # a venv with tflite-runtime
        if other:
            cases += [("tflite_runtime", "xnnpack", 1, 30), ("tflite_runtime", "xnnpack", 2, 30),
                      ("tflite_runtime", "builtin", 1, 10)]
        anchor = None
        for backend, delegate, threads, runs in cases:
            r = _litelens(path, backend=backend, delegate=delegate, threads=threads, runs=runs,
                          warmup=2 if runs > 5 else 1,
                          python_exe=other if backend == "tflite_runtime" else None)
            lat = r["latency_ms"]
            if r["error"]:
                lines.append(f"| {r['backend']} | {delegate} | {threads} | fails: "
                             f"{r['error'][:160]} | | | | | | |")
                continue
            if anchor is None:
                anchor = lat["median"]
            lines.append(f"| {r['backend']} | {delegate} | {threads} | {r['init_ms']:.1f} | "
                         f"{r['first_ms']:.2f} | {lat['median']:.3f} | {lat['p90']:.3f} | "
                         f"{lat['p99']:.3f} | {lat['median'] / anchor:.2f}× | "
                         f"{r['rss_bytes']['peak'] / 2**20:.0f} |")
        lines.append("")

    target = mnv2 or demo
    lines += [profile_section(target), ""]

    r = _litelens(target, threads=1, runs=30, warmup=2)
    rss = r["rss_bytes"]
    lines += [f"### Worker memory: {target.stem}", "",
              f"before load {rss['before_load'] / 2**20:.1f} MB → after init "
              f"{rss['after_init'] / 2**20:.1f} MB → peak (50 ms samples) "
              f"{rss['peak'] / 2**20:.1f} MB; kernel high-water mark (VmHWM) "
              f"{rss['hwm'] / 2**20:.1f} MB; init {r['init_ms']:.1f} ms.", ""]

    lines += ["### UI responsiveness", "", _ui_probe(target, 200 if mnv2 else 20000), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
