"""Real LiteRT inference through the isolated worker: delegates, backends, errors, crashes."""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

from core.inference.config import ConfigError, RunConfig
from core.inference.inputs import input_specs, make_inputs
from core.inference.session import WorkerSession, bench_session, run_benchmark
from core.model.builder import ModelBuilder
from core.model.reader import open_model


def _missing_custom_op_model(build_model):
    mb = ModelBuilder(description="a custom op no runtime knows")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 4])
    y = sg.tensor("y", [1, 4])
    sg.op("CUSTOM", [x], [y], custom_code="MyMissingOp")
    sg.inputs, sg.outputs = [x], [y]
    return build_model(mb, "missing_op.tflite")


def _in_process_output(path, delegate_resolver: str = "AUTO"):
    """The same model and input run with the LiteRT interpreter in this process."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    with open_model(path) as m:
        (x,) = make_inputs(input_specs(m), "random")
    it = Interpreter(model_path=str(path), num_threads=1,
                     experimental_op_resolver_type=getattr(OpResolverType, delegate_resolver))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)


@pytest.mark.parametrize("backend,delegate", [("litert", "xnnpack"), ("litert", "builtin"),
                                              ("litert", "reference"), ("compiled", "xnnpack"),
                                              ("compiled", "builtin")])
def test_demo_model_runs_with_each_cpu_delegate(demo_model_path, backend, delegate):
    r = run_benchmark(RunConfig(model=str(demo_model_path), backend=backend, delegate=delegate,
                                runs=12, warmup=2))
    assert r.status == "ok", r.error
    assert r.backend.startswith("ai-edge-litert 2.")
    assert r.latency_ms.runs == 12 and r.warmup_ms.runs == 2
    lat = r.latency_ms
    assert 0 < lat.min <= lat.median <= lat.p90 <= lat.p99
    assert r.init_ms > 0 and r.first_ms > 0
    # The worker's top-5 is the top-5 of the same model run in this process on the same input.
    expected = _in_process_output(demo_model_path)
    (out,) = r.outputs
    assert out["shape"] == [1, 10]
    assert [i for i, *_ in out["topk"]] == list(np.argsort(-expected, kind="stable")[:5])
    assert out["topk"][0][1] == pytest.approx(float(expected.max()), rel=1e-4)


def test_mobilenet_memory_and_profile_through_worker(shared_model):
    path = shared_model("mobilenet_v2_224_float32")
    r = run_benchmark(RunConfig(model=str(path), threads=1, runs=8, warmup=1, profile=True,
                                profile_runs=5))
    assert r.status == "ok", r.error
    rss = r.rss_bytes
    # loading 14 MB of weights and packing them for XNNPACK grows the worker
    assert rss.after_init - rss.before_load > 5 * 2**20
    assert rss.peak >= rss.after_init and rss.hwm >= rss.after_init
    with open_model(path) as m:
        n_ops = len(m.subgraphs[0].operators)
        names = [op.label for op in m.subgraphs[0].operators]
    assert [o.index for o in r.ops] == list(range(n_ops))
    assert [o.op for o in r.ops] == names
    assert all(o.avg_ms is not None and o.avg_ms >= 0 for o in r.ops)
    assert sum(o.avg_ms > 0 for o in r.ops) > n_ops / 2  # a reshape can read 0 µs
    # the runtime's own profiler, complete, and the comparison with the whole run is stated (how
    # close the two are is a benchmark figure, BENCHMARKS.md, not a test threshold)
    prof = r.profile
    assert prof.method.startswith("LiteRT's op profiler over 5 full runs of a CompiledModel "
                                     "(xnnpack kernels")
    assert prof.complete and prof.timed_ops == prof.ops == n_ops
    assert prof.sum_ms == pytest.approx(sum(o.avg_ms for o in r.ops))
    assert prof.whole_run_ms > 0 and prof.sum_vs_whole_run == pytest.approx(
        prof.sum_ms / prof.whole_run_ms)
    by_type = {t.op: t for t in prof.by_type}
    assert by_type["CONV_2D"].count == names.count("CONV_2D")
    assert sum(t.total_ms for t in by_type.values()) == pytest.approx(prof.sum_ms)
    # the run's peak is the run's: the profiler's models are reported apart, and an unprofiled
    # run of the same configuration peaks at about the same size
    plain = run_benchmark(RunConfig(model=str(path), threads=1, runs=8, warmup=1))
    assert rss.with_profile_peak > rss.peak
    assert plain.rss_bytes.with_profile_peak is None
    assert rss.peak <= plain.rss_bytes.peak * 1.15
    assert rss.hwm <= plain.rss_bytes.hwm * 1.15


def test_selfie_segmentation_needs_xnnpack(shared_model):
    path = str(shared_model("selfie_segmentation"))
    ok = run_benchmark(RunConfig(model=path, runs=2, warmup=0))
    assert ok.status == "ok", ok.error
    assert ok.outputs[0]["shape"] == [1, 256, 256, 1]
    bad = run_benchmark(RunConfig(model=path, delegate="builtin", runs=2, warmup=0))
    assert bad.status == "error"
    assert "Convolution2DTransposeBias" in bad.error and path in bad.error


def test_missing_custom_op_is_a_clear_error(build_model):
    path = _missing_custom_op_model(build_model)
    r = run_benchmark(RunConfig(model=str(path), runs=3))
    assert r.status == "error" and r.error_kind == "unresolved_op"
    assert str(path) in r.error and "MyMissingOp" in r.error
    assert "Traceback" not in r.error


def test_not_allocatable_shared_model_reports_the_custom_op(shared_model):
    r = run_benchmark(RunConfig(model=str(shared_model("face_landmark_with_attention")), runs=1))
    assert r.status == "error" and "Landmarks2TransformMatrix" in r.error


def test_gpu_accelerator_reports_no_adapters(demo_model_path):
    r = run_benchmark(RunConfig(model=str(demo_model_path), delegate="gpu", runs=2))
    assert r.status == "error" and r.error_kind == "gpu_unavailable"
    assert "No adapters found" in r.error and "GPU" in r.error
    assert "CompiledModel" in r.backend


@pytest.mark.parametrize("backend", ["tflite_runtime", "tensorflow"])
def test_missing_backend_names_backend_and_python(demo_model_path, backend):
    pytest.importorskip("numpy")
    try:
        __import__("tflite_runtime" if backend == "tflite_runtime" else "tensorflow")
        pytest.skip(f"{backend} is installed here")
    except ImportError:
        pass
    r = run_benchmark(RunConfig(model=str(demo_model_path), backend=backend, runs=2))
    assert r.status == "error" and r.error_kind == "backend_missing"
    assert r.error.startswith(f"backend {backend} is not installed in {sys.executable}")


def test_worker_runs_under_the_python_it_is_given(demo_model_path, tmp_path):
    r = run_benchmark(RunConfig(model=str(demo_model_path), runs=3, python_exe=sys.executable))
    assert r.status == "ok", r.error
    assert r.python == sys.executable
    # The base interpreter under the venv has no LiteRT: the worker says so, naming that Python.
    base = os.path.join(sys.base_prefix, "bin", "python3")
    if sys.base_prefix == sys.prefix or not os.path.exists(base):
        pytest.skip("not running in a venv: no second interpreter to try")
    r = run_benchmark(RunConfig(model=str(demo_model_path), runs=3, python_exe=base))
    assert r.status == "error" and r.error_kind == "backend_missing"
    assert f"is not installed in {base}" in r.error or "numpy is not installed" in r.error
    with pytest.raises(ConfigError, match="no such Python interpreter"):
        RunConfig(model=str(demo_model_path), python_exe=str(tmp_path / "nope")).validate()


def test_dynamic_shape_is_resized_in_the_worker(shared_model):
    path = shared_model("sine_float")
    with open_model(path) as m:
        name = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]].name
    r = run_benchmark(RunConfig(model=str(path), runs=3, shapes={name: [5, 1]}))
    assert r.status == "ok", r.error
    assert r.inputs[0]["shape"] == [5, 1] and r.outputs[0]["shape"] == [5, 1]


def _finish(session: WorkerSession):
    session.run_to_end()
    return session.job.result()


def _run_until(session: WorkerSession, cond, limit_s: float = 60.0):
    end = time.monotonic() + limit_s
    while not session.finished and time.monotonic() < end:
        session.wait(0.05)
        if cond(session):
            return True
    return False


def test_worker_killed_mid_run_is_reported_and_next_run_works(shared_model):
    path = str(shared_model("mobilenet_v2_224_float32"))
    s = bench_session(RunConfig(model=path, runs=100_000, warmup=0)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5)
    os.kill(s.pid, signal.SIGSEGV)      # what a crashing kernel does to the process
    r = _finish(s)
    assert r.status == "error" and r.error_kind == "crashed"
    assert r.error.startswith("the runtime crashed while invoking the model (run ")
    assert r.error.endswith("(SIGSEGV, signal 11)")
    assert r.latency_ms.runs >= 5           # what was measured before the crash is kept
    again = run_benchmark(RunConfig(model=path, runs=2, warmup=0))
    assert again.status == "ok"


def test_crash_while_profiling_names_the_op(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=1, warmup=0, profile=True,
                                profile_runs=1_000_000, profile_method="single-op")).start()
    assert _run_until(s, lambda s: s.job.current_op is not None and s.job.current_op[0] >= 2)
    os.kill(s.pid, signal.SIGSEGV)
    r = _finish(s)
    with open_model(demo_model_path) as m:
        ops = m.subgraphs[0].operators
    idx = s.job.current_op[0]
    assert r.error == (f"the runtime crashed while running op {idx} ({ops[idx].op}) "
                          "(SIGSEGV, signal 11)")


def test_timeout_kills_a_long_run(demo_model_path):
    # the limit is passed only once the timed runs are under way (the worker reports them),
    # however long a loaded machine takes to start it
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0,
                                timeout_s=3600)).start()
    assert _run_until(s, lambda s: s.stage == "run" and len(s.job.latencies_ms) >= 5)
    s.cfg.timeout_s = 0.5 * (time.monotonic() - s.started_at)
    r = _finish(s)
    assert r.status == "error" and r.error_kind == "timeout"
    assert r.error.startswith(f"timed out after {s.cfg.timeout_s:g} s while invoking the model "
                              "(run ")
    assert r.latency_ms.runs >= 5


def test_stop_keeps_results_so_far(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 100)
    s.stop()
    r = _finish(s)
    assert r.status == "stopped" and r.error is None
    assert 100 <= r.latency_ms.runs < 10**9


# A real external delegate (the TFLite external-delegate plugin ABI) that takes no nodes and
# records the options it was given and each Prepare call: proves the .so is loaded into the
# worker with the user's options, as an Edge TPU delegate would be.
_NOOP_DELEGATE_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
typedef struct TfLiteDelegate {
  void* data_;
  int (*Prepare)(void* context, struct TfLiteDelegate* delegate);
  void* CopyFromBufferHandle; void* CopyToBufferHandle; void* FreeBufferHandle;
  int64_t flags;
  void* opaque_delegate_builder;
} TfLiteDelegate;
static char log_path[1024];
static void note(const char* s) {
  FILE* f = fopen(log_path, "a"); if (f) { fputs(s, f); fputc('\n', f); fclose(f); }
}
static int Prepare(void* context, TfLiteDelegate* d) { note("prepare"); return 0; }
TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t n,
                                              void (*report_error)(const char*)) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], "log") == 0) strncpy(log_path, values[i], sizeof(log_path) - 1);
  char line[512];
  for (size_t i = 0; i < n; i++) { snprintf(line, sizeof line, "%s=%s", keys[i], values[i]);
                                   note(line); }
  TfLiteDelegate* d = calloc(1, sizeof(TfLiteDelegate));
  d->Prepare = Prepare;
  return d;
}
void tflite_plugin_destroy_delegate(TfLiteDelegate* d) { free(d); }
"""


def test_external_delegate_so_is_loaded_with_options(demo_model_path, tmp_path):
    import shutil
    import subprocess
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the test delegate")
    src, lib, log = tmp_path / "noop.c", tmp_path / "libnoop_delegate.so", tmp_path / "log.txt"
    src.write_text(_NOOP_DELEGATE_C)
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True,
                   timeout=60)
    r = run_benchmark(RunConfig(model=str(demo_model_path), delegate=f"external:{lib}",
                                delegate_options={"log": str(log), "device": ":0"}, runs=4))
    assert r.status == "ok", r.error
    assert r.latency_ms.runs == 4 and r.delegate == f"external:{lib}"
    lines = log.read_text().split()
    assert f"log={log}" in lines and "device=:0" in lines and "prepare" in lines
    # a library that is not a delegate: one clear line naming it
    bad = run_benchmark(RunConfig(model=str(demo_model_path), delegate=f"external:{src}",
                                  runs=1))
    assert bad.error_kind == "delegate"
    assert bad.error.startswith(f"{src}: cannot load external delegate")


@pytest.mark.parametrize("backend,env,label,profiled", [
    # tflite-runtime ships no schema module: that worker cannot cut single-op models
    ("tflite_runtime", "LITELENS_TFLITE_RUNTIME_PYTHON", "tflite-runtime ", False),
    ("tensorflow", "LITELENS_TENSORFLOW_PYTHON", "tensorflow ", True)])
def test_backend_in_another_venv(demo_model_path, backend, env, label, profiled):
    """Set LITELENS_TFLITE_RUNTIME_PYTHON to a Python with tflite-runtime (numpy<2), and
    LITELENS_TENSORFLOW_PYTHON to one with tensorflow (no ai-edge-litert needed there: the reader
    falls back to TF's copy of the generated schema, so the profile works too)."""
    exe = os.environ.get(env)
    if not exe:
        pytest.skip(f"{env} is not set (a venv with {backend})")
    expected = _in_process_output(demo_model_path)
    r = run_benchmark(RunConfig(model=str(demo_model_path), backend=backend, runs=5,
                                python_exe=exe, profile=True))
    assert r.status == "ok", r.error
    assert r.backend.startswith(label) and r.python == exe
    # the tables follow LiteRT 2.3.0: a run on this other runtime says which one it was
    assert r.runtime_note == f"tables follow LiteRT 2.3.0; this runtime is {r.backend}"
    assert [i for i, *_ in r.outputs[0]["topk"]] == list(np.argsort(-expected)[:5])
    assert r.latency_ms.runs == 5
    if profiled:
        assert r.profile.timed_ops == r.profile.ops > 0
    else:
        assert "no per-op profile" in r.profile.note


def test_worker_high_water_mark_is_its_own_not_the_parents(tmp_path):
    """A big parent process must not inflate the worker's reported peak RSS."""
    import numpy as np

    from core.inference.config import RunConfig
    from core.inference.session import run_benchmark
    from core.model.samples import demo_model_path
    ballast = np.ones(400 * 2**20 // 8)  # 400 MiB resident in this (parent) process
    r = run_benchmark(RunConfig(model=str(demo_model_path()), runs=3, warmup=0))
    assert ballast.sum() > 0
    assert r.status == "ok", r
    rss = r.rss_bytes
    assert rss.hwm >= rss.after_init * 0.9
    assert rss.hwm < 300 * 2**20, rss  # the demo model's worker is far below the ballast


@pytest.mark.parametrize("backend", ["litert", "compiled"])
def test_choose_the_signature_to_run(shared_model, backend):
    """A two-signature model ran only subgraph 0; now each signature runs its own subgraph."""
    from ai_edge_litert.interpreter import Interpreter
    path = str(shared_model("multi_signature_float32"))
    r = run_benchmark(RunConfig(model=path, backend=backend, signature="encode", runs=3,
                                warmup=0, input_source="zeros", profile=True))
    assert r.status == "ok", r.error
    (out,) = r.outputs
    assert out["shape"] == [1, 8]                  # encode: x[1,16] -> code[1,8]
    assert [i["shape"] for i in r.inputs] == [[1, 16]]
    assert "subgraph 1" in r.profile.note
    it = Interpreter(model_path=path)
    expected = it.get_signature_runner("encode")(x=np.zeros((1, 16), np.float32))
    (want,) = expected.values()
    assert out["mean"] == pytest.approx(float(want.mean()), rel=1e-5, abs=1e-6)
    assert out["max"] == pytest.approx(float(want.max()), rel=1e-5, abs=1e-6)
    with pytest.raises(Exception, match="no signature 'nope'.*'decode', 'encode'"):
        bench_session(RunConfig(model=path, signature="nope"))


def test_time_limits_and_run_delay(demo_model_path):
    """benchmark_model's --min_secs / --max_secs / --run_delay."""
    longer = run_benchmark(RunConfig(model=str(demo_model_path), runs=3, warmup=0,
                                     min_secs=0.3))
    lat = longer.latency_ms
    assert lat.runs > 3          # kept going until 0.3 s had passed
    capped = run_benchmark(RunConfig(model=str(demo_model_path), runs=1_000_000, warmup=0,
                                     max_secs=0.3, timeout_s=60))
    assert capped.status == "ok" and 0 < capped.latency_ms.runs < 1_000_000
    t0 = time.monotonic()
    delayed = run_benchmark(RunConfig(model=str(demo_model_path), runs=3, warmup=0,
                                      run_delay_s=1.0))
    assert delayed.latency_ms.runs == 3 and time.monotonic() - t0 >= 2.0  # two pauses
    # the pauses are not in the timings: a timed pause would make a run last the whole second
    assert delayed.latency_ms.max < 1000
    with pytest.raises(ConfigError, match="max_secs"):
        RunConfig(model=str(demo_model_path), max_secs=0).validate()


def test_stop_is_heard_during_a_run_delay(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=3, warmup=0,
                                run_delay_s=60)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 1)
    t0 = time.monotonic()
    s.stop()
    r = _finish(s)
    assert time.monotonic() - t0 < 20    # not the 60 s pause
    assert r.status == "stopped" and r.error is None and r.latency_ms.runs == 1


def test_a_worker_killed_after_stop_is_a_stopped_run_not_a_crash(demo_model_path):
    """A second Ctrl-C (or a worker that does not stop in time) kills it: what it measured is
    kept and nothing calls that a crash."""
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5)
    os.kill(s.pid, signal.SIGSTOP)  # it cannot obey the stop
    s.stop()
    s.kill()
    r = _finish(s)
    assert r.status == "stopped" and r.error is None and r.error_kind is None
    assert r.latency_ms.runs >= 5


def test_xnnpack_options_through_compiled_model(shared_model, tmp_path):
    """Force fp16 changes the arithmetic (outputs move by fp16 rounding, not more); the weight
    cache file is written; the Interpreter backend refuses the options with the reason."""
    path = str(shared_model("mobilenet_v2_224_float32"))
    base = dict(model=path, backend="compiled", runs=2, warmup=0)
    fp32 = run_benchmark(RunConfig(**base))
    cache = tmp_path / "xnn.cache"
    fp16 = run_benchmark(RunConfig(**base, xnnpack_fp16=True))
    cached = run_benchmark(RunConfig(**base, xnnpack_weight_cache=str(cache)))
    assert fp32.status == fp16.status == cached.status == "ok", \
        (fp32.error, fp16.error, cached.error)
    a, b = fp32.outputs[0], fp16.outputs[0]
    assert a["max"] != b["max"] and b["max"] == pytest.approx(a["max"], rel=2e-2)
    assert cached.outputs[0]["max"] == a["max"]
    assert cache.is_file() and cache.stat().st_size > 1 << 20
    with pytest.raises(ConfigError, match="cannot combine"):
        RunConfig(**base, xnnpack_fp16=True, xnnpack_weight_cache=str(cache)).validate()
    with pytest.raises(ConfigError, match="CompiledModel API only"):
        RunConfig(model=path, backend="litert", xnnpack_fp16=True).validate()
