"""The Run panel's controller without Qt: form -> configurations, the sweeps, the queue and its
results table, driven with real runs in real workers."""
from __future__ import annotations

import subprocess
import sys

import pytest

from core.inference import run_queue
from core.inference.config import MAX_THREADS, ConfigError, RunConfig
from core.inference.run_queue import REFERENCE_MAX_RUNS, RESULT_COLUMNS, RunForm, RunQueue
from core.inference.session import run_benchmark
from tests.conftest import ROOT


def test_form_becomes_the_config_the_cli_would_build(demo_model_path, tmp_path):
    lib = tmp_path / "libx.so"
    lib.write_bytes(b"")
    form = RunForm(model=str(demo_model_path), delegate="external", delegate_path=str(lib),
                   delegate_options="device=:0; log = /tmp/x.txt ;", threads=3, runs=7,
                   warmup=0, input_source="  ", timeout_s=0.0, max_secs=0.0)
    cfg = run_queue.build_config(form)
    assert cfg.delegate == f"external:{lib}"
    assert cfg.delegate_options == {"device": ":0", "log": "/tmp/x.txt"}
    assert (cfg.threads, cfg.runs, cfg.warmup) == (3, 7, 0)
    assert cfg.input_source == "random" and cfg.timeout_s is None and cfg.max_secs is None


def test_a_delegate_option_without_equals_is_refused_as_the_cli_refuses_it(demo_model_path,
                                                                           tmp_path):
    """The panel used to drop 'foo' silently; now the panel and the CLI say the same line."""
    lib = tmp_path / "libx.so"
    lib.write_bytes(b"")
    form = RunForm(model=str(demo_model_path), delegate="external", delegate_path=str(lib),
                   delegate_options="device=:0;foo")
    with pytest.raises(ConfigError) as panel:
        run_queue.build_config(form)
    cli = subprocess.run([sys.executable, "-m", "core.cli", "bench", str(demo_model_path),
                          "--delegate", f"external:{lib}", "--delegate-option", "device=:0",
                          "--delegate-option", "foo"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"litelens: error: {panel.value}"
    assert str(panel.value) == "delegate option 'foo' is not KEY=VALUE"


def test_threads_are_bounded(demo_model_path):
    """--threads 100000 used to reach the worker; now 1..MAX_THREADS, one line otherwise."""
    assert RunConfig(model=str(demo_model_path), threads=MAX_THREADS).validate() is None
    for bad in (0, MAX_THREADS + 1, 100_000, True, 2.0):
        with pytest.raises(ConfigError, match=f"threads must be an integer from 1 to "
                                              f"{MAX_THREADS}"):
            RunConfig(model=str(demo_model_path), threads=bad).validate()
    cli = subprocess.run([sys.executable, "-m", "core.cli", "bench", str(demo_model_path),
                          "--threads", "100000"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert cli.returncode == 2
    assert cli.stderr.strip() == (f"litelens: error: threads must be an integer from 1 to "
                                  f"{MAX_THREADS}, not 100000")


def test_sweep_and_comparison_plans(demo_model_path):
    form = RunForm(model=str(demo_model_path), runs=40, warmup=3, profile=True)
    sweep = run_queue.thread_sweep(form, 3)
    assert [c.threads for c in sweep.configs] == [1, 2, 3]
    assert not any(c.profile for c in sweep.configs) and sweep.title.startswith("thread sweep")
    comp = run_queue.delegate_comparison(form)
    from core.inference.toolchains import intel_dispatch_ready
    npu = [("compiled", "npu-intel")] if intel_dispatch_ready() else []
    assert [(c.backend, c.delegate) for c in comp.configs] == [
        ("litert", "xnnpack"), ("litert", "builtin"), ("litert", "reference"),
        ("compiled", "gpu"), *npu]
    ref = comp.configs[2]
    assert (ref.runs, ref.warmup) == (REFERENCE_MAX_RUNS, 1)
    assert comp.configs[0].runs == 40
    assert comp.title == "delegate comparison: median"
    assert comp.note == f"reference: {REFERENCE_MAX_RUNS} runs"
    # tflite-runtime has no GPU accelerator: the comparison leaves it out
    other = run_queue.delegate_comparison(RunForm(model=str(demo_model_path),
                                                  backend="tflite_runtime"))
    assert [c.delegate for c in other.configs] == ["xnnpack", "builtin", "reference"]


def test_an_untouched_shape_guess_stays_a_guess(shared_model):
    path = str(shared_model("sine_float"))
    guess = RunForm(model=path, shapes="x=1,1", shape_guess="x=1,1")
    assert run_queue.build_config(guess).shapes is None
    given = RunForm(model=path, shapes="x=6,1", shape_guess="x=1,1")
    assert run_queue.build_config(given).shapes == {"x": [6, 1]}


def test_queue_runs_a_plan_and_keeps_its_results(demo_model_path):
    """The queue as the panel drives it, with real runs: every configuration once, in order,
    its row and its bar; a stop drops what has not started."""
    q = RunQueue()
    form = RunForm(model=str(demo_model_path), runs=3, warmup=0)
    q.begin(run_queue.thread_sweep(form, 2))
    rows = []
    while (cfg := q.next_config()) is not None:
        assert q.queue_text() == f"configuration {q.done + 1}/2: "
        rows.append(q.finished(run_benchmark(cfg)))
    assert [lb for lb, _ in q.results] == ["litert/xnnpack/1t", "litert/xnnpack/2t"]
    assert [t for t, _ in q.compare] == ["1 thr", "2 thr"]
    for (_lb, res), (_t, bar), row in zip(q.results, q.compare, rows, strict=True):
        assert res.status == "ok" and bar == res.latency_ms.median
        cells = dict(zip(RESULT_COLUMNS, row.cells, strict=True))
        assert cells["status"] == "ok" and cells["runs"] == "3"
        assert cells["input"] == "random 1×32×32×3"
        assert row.exact_ms["median"] == res.latency_ms.median
    # a second plan: stop after the first configuration leaves the others unstarted
    q.begin(run_queue.delegate_comparison(form))
    first = q.next_config()
    assert first is not None
    q.stop()
    q.finished(run_benchmark(first))
    assert q.next_config() is None and len(q.results) == 3 and len(q.compare) == 1


def test_a_configuration_that_never_started_is_one_row(demo_model_path):
    q = RunQueue()
    q.begin(run_queue.single_run(RunForm(model=str(demo_model_path))))
    q.next_config()
    row = q.failed("x.npz: input file not found")
    assert row.cells[0] == "litert/xnnpack/1t" and row.cells[2] == "error"
    assert row.cells[RESULT_COLUMNS.index("error")] == row.error == "x.npz: input file not found"
    assert q.results == [] and q.next_config() is None


def test_eta_text():
    assert run_queue.eta_text(0, 10, 0.0) == "0/10"
    assert run_queue.eta_text(5, 10, 5.0) == "5/10, about 5.00 s left"
    assert run_queue.eta_text(10, 10, 9.0) == "10/10"


def test_figures_say_what_they_count_and_plots_read_in_the_datas_unit(shared_model):
    """A profiled run: the results' peak RSS is the runs' (the status line gives the peak with the
    profile apart), the plots come in units chosen for the data, and the per-op profile says it
    ran another API than the Interpreter benchmark beside it."""
    from core.inference.session import bench_session
    q = RunQueue()
    form = RunForm(model=str(shared_model("mobilenet_v2_224_float32")), runs=5, warmup=0,
                   profile=True)
    q.begin(run_queue.single_run(form))
    cfg = q.next_config()
    assert cfg is not None
    s = bench_session(cfg).start()
    s.run_to_end()
    res = s.job.result()
    assert res.status == "ok", res.error
    rss = res.rss_bytes
    assert rss.peak and rss.with_profile_peak and rss.with_profile_peak >= rss.peak
    from core import format as fmt
    assert (f"peak RSS {fmt.size(rss.peak)} during the runs ({fmt.size(rss.with_profile_peak)} "
            "with the per-op profile)") in q.summary(res)
    cells = dict(zip(RESULT_COLUMNS, q.finished(res).cells, strict=True))
    assert cells["peak RSS (runs)"] == fmt.size(rss.peak)
    assert set(run_queue.RESULT_HELP) == set(RESULT_COLUMNS)
    assert "not counted" in run_queue.RESULT_HELP["peak RSS (runs)"]
    live = run_queue.live_text(s.job, cfg, "done", 1.0)
    assert "(the per-op profile's models included)" in live
    # the profile's API, next to the runs'
    prof = res.summary
    assert prof is not None and prof.api == "LiteRT CompiledModel"
    assert prof.run_api == "LiteRT Interpreter" and prof.other_api
    from core.inference.export import profile_lines
    assert any("not the LiteRT Interpreter the timed runs used" in ln
               for ln in profile_lines(prof))
    assert res.to_json()["profile"]["api"] == "LiteRT CompiledModel"
    # plots: MobileNetV2 runs take milliseconds, the worker lives seconds
    lp = run_queue.live_plots("x", s.job)
    assert lp.lat_unit == "ms" and list(lp.latencies) == s.job.latencies_ms
    assert sorted(lp.percentiles) == ["p50", "p90", "p99"]
    assert lp.percentiles["p50"] == pytest.approx(res.latency_ms.median)
    assert lp.rss_mib.max() * 2**20 == pytest.approx(max(b for _, b in s.job.rss))
    assert lp.profile_at is not None and 0 < lp.profile_at <= lp.rss_t.max()


def test_microsecond_runs_plot_in_microseconds(demo_model_path):
    from core.inference.session import bench_session
    s = bench_session(RunConfig(model=str(demo_model_path), runs=20, warmup=2)).start()
    s.run_to_end()
    lat = s.job.latencies_ms
    # the 32×32 demo model runs in microseconds; on a loaded machine its slowest run can cross
    # a millisecond, and then the plot is in ms: the values follow whichever unit is named
    per_ms = {"µs": 1000.0, "ms": 1.0}
    lp = run_queue.live_plots("demo", s.job)
    assert lp.lat_unit == ("µs" if max(lat) < 1.0 else "ms")
    assert lp.latencies.max() == pytest.approx(max(lat) * per_ms[lp.lat_unit])
    assert lp.hist_edges[0] <= lp.latencies.min() and lp.hist_edges[-1] >= lp.latencies.max()
    assert lp.profile_at is None


def test_init_only_dequantize_rows_are_not_heat(shared_model):
    """fp16 weights dequantized once at init take 0 ms per run: no heat shading; the slowest
    op is full heat."""
    from core.model.reader import open_model
    path = shared_model("face_detection_short_range")
    res = run_benchmark(RunConfig(model=str(path), runs=2, warmup=0, profile=True))
    assert res.status == "ok", res.error
    with open_model(path) as m:
        sg = m.subgraphs[0]
        weights = {op.index for op in sg.operators if op.op == "DEQUANTIZE"
                   and sg.tensors[op.inputs[0]].constant}
    rows = run_queue.op_rows(res.ops)
    assert len(rows) == len(res.ops) and weights
    for o, row in zip(res.ops, rows, strict=True):
        if o.index in weights:
            assert row.heat is None and row.cells[2] == "0 ms", (o, row)
        elif o.avg_ms is None or o.avg_ms == 0:
            assert row.heat is None
    slowest = max(res.ops, key=lambda o: o.avg_ms or 0.0)
    assert rows[res.ops.index(slowest)].heat == 1.0


def _swept(form: RunForm) -> RunQueue:
    """A queue that ran the real thread sweep 1..2 of ``form``."""
    q = RunQueue()
    q.begin(run_queue.thread_sweep(form, 2))
    while (cfg := q.next_config()) is not None:
        q.finished(run_benchmark(cfg))
    return q


def test_comparison_bars_share_one_unit(demo_model_path):
    q = _swept(RunForm(model=str(demo_model_path), runs=3, warmup=0))
    unit, bars = q.bars()
    medians = [r.latency_ms.median for _, r in q.results]
    # the demo model's medians are microseconds, unless a loaded machine pushed one past 1 ms
    assert unit == ("µs" if max(medians) < 1.0 else "ms")
    per_ms = {"µs": 1000.0, "ms": 1.0}[unit]
    assert [v for _, v in bars] == pytest.approx([m * per_ms for m in medians])


def test_a_baseline_row_gives_every_row_its_change_in_percent(demo_model_path):
    form = RunForm(model=str(demo_model_path), runs=5, warmup=0)
    q = _swept(form)
    q.begin(run_queue.single_run(form))
    q.next_config()
    q.failed("x.npz: input file not found")
    assert len(q.rows) == 3
    # no baseline: the Δ cells are empty
    assert {d.text for d in q.deltas(1).values()} == {""}
    q.set_baseline(1)
    assert {d.text for d in q.deltas(1).values()} == {"baseline"}
    (_, base), (_, other) = q.results[1], q.results[0]
    d = q.deltas(0)
    want = (other.latency_ms.median - base.latency_ms.median) / base.latency_ms.median * 100
    assert d["Δ median"].percent == pytest.approx(want)
    assert d["Δ median"].text == f"{want:+.1f}%"
    want_p90 = (other.latency_ms.p90 - base.latency_ms.p90) / base.latency_ms.p90 * 100
    assert d["Δ p90"].percent == pytest.approx(want_p90)
    if other.rss_bytes.peak and base.rss_bytes.peak:
        assert d["Δ RSS"].percent == pytest.approx(
            (other.rss_bytes.peak - base.rss_bytes.peak) / base.rss_bytes.peak * 100)
    # the row that never ran has nothing to compare, and cannot be the baseline
    assert {x.text for x in q.deltas(2).values()} == {""}
    with pytest.raises(ValueError, match="no timed runs"):
        q.set_baseline(2)
    assert q.baseline == 1
    q.set_baseline(None)
    assert {x.text for x in q.deltas(0).values()} == {""}
