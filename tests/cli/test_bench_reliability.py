"""`litelens bench` when things go wrong: one JSON object and one stderr line on every failure,
dynamic inputs explained, frozen or killed workers, Ctrl-C, and honest per-op profiles. Real
models, the real runtime and real signals throughout."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.inference.config import RunConfig
from core.inference.session import bench_session, run_benchmark
from core.model.builder import ModelBuilder
from core.model.samples import synthetic_chain
from tests.conftest import ROOT
from tests.graph.test_layout import _while_model
from tests.inference.test_session import _finish, _run_until
from tests.model import hostile


def litelens(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=180, **kw)


def _one_json(proc: subprocess.CompletedProcess) -> dict:
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0], parse_constant=lambda c: pytest.fail(f"non-strict {c}"))


def _one_stderr_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("litelens: ") and lines[0].isprintable() and len(lines[0]) < 1000
    return lines[0]


def _reshape_model(path, stored_shape=(1, 1)):
    """tokens [-1, -1] -> RESHAPE to [-1, 4]: runs only when the element count divides by 4."""
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("tokens", list(stored_shape), shape_signature=[-1, -1])
    shp = sg.tensor("new_shape", [2], "int32", data=np.array([-1, 4], np.int32))
    y = sg.tensor("y", [1, 4], shape_signature=[-1, 4])
    sg.op("RESHAPE", [x, shp], [y])
    sg.inputs, sg.outputs = [x], [y]
    return mb.save(path)


# -- failures always give JSON and one stderr line ----------------------------------------------
@pytest.mark.parametrize("args, kind, words", [
    (["--runs", "0"], "config", "runs must be an integer >= 1"),
    (["--shape", "tokens=a,b"], "input", "bad input shape"),
    (["--delegate", "nope"], "config", "unknown delegate"),
])
def test_bad_options_give_json_and_one_line(tmp_path, args, kind, words):
    model = _reshape_model(tmp_path / "m.tflite")
    proc = litelens("bench", str(model), "--json", *args)
    assert proc.returncode == 2
    out = _one_json(proc)
    assert out["status"] == "error" and out["error_kind"] == kind and words in out["error"]
    assert words in _one_stderr_line(proc)


def test_a_python_that_cannot_be_executed_gives_json_and_one_line(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("not a program\n")  # executable, but neither ELF nor script: ENOEXEC
    fake.chmod(0o755)
    proc = litelens("bench", str(_reshape_model(tmp_path / "m.tflite")), "--json",
                    "--python", str(fake))
    assert proc.returncode == 2
    out = _one_json(proc)
    assert out["status"] == "error" and out["error_kind"] == "config"
    assert out["error"] == f"{fake}: cannot start the worker (Exec format error)"
    assert str(fake) in _one_stderr_line(proc)


def test_unreadable_model_gives_json_and_one_line(tmp_path):
    bad = tmp_path / "shared.tflite"
    bad.write_bytes(hostile.shared_shape())
    proc = litelens("bench", str(bad), "--json")
    assert proc.returncode == 2
    out = _one_json(proc)
    assert out["error_kind"] == "model" and "many offsets share one object" in out["error"]
    assert str(bad) in _one_stderr_line(proc)


def test_runtime_failure_on_a_guessed_dynamic_shape_explains_it(tmp_path):
    model = _reshape_model(tmp_path / "dyn.tflite")
    for json_mode in (True, False):
        proc = litelens("bench", str(model), "--runs", "2", *(["--json"] if json_mode else []))
        assert proc.returncode == 1
        line = _one_stderr_line(proc)
        # the runtime's glued lines get their space back
        assert "failed to reshape runtime Node number 1" in line
        assert ("input 'tokens' is dynamic (shape signature [-1, -1]) and ran as [1, 1] (1 for "
                "each unknown dimension); set the real shape with --shape tokens=D,D") in line
        if json_mode:
            out = _one_json(proc)
            assert out["status"] == "error" and out["error_kind"] == "load"
            assert out["error"] == line.removeprefix("litelens: error: ")
            assert out["dynamic_inputs"][0]["shape"] == [1, 1]
            assert out["dynamic_inputs"][0]["shape_source"] == "default"


def test_dynamic_input_uses_the_shape_stored_in_the_model(tmp_path):
    model = _reshape_model(tmp_path / "stored.tflite", stored_shape=(2, 4))
    out = _one_json(litelens("bench", str(model), "--runs", "2", "--json"))
    assert out["status"] == "ok", out["error"]
    assert out["dynamic_inputs"][0]["shape"] == [2, 4]
    assert out["dynamic_inputs"][0]["shape_source"] == "model"
    assert "ran as [2, 4] (the shape stored in the model)" in out["input_note"]
    assert out["outputs"][0]["shape"] == [2, 4]


def test_a_given_shape_runs_and_needs_no_note(tmp_path):
    model = _reshape_model(tmp_path / "given.tflite")
    out = _one_json(litelens("bench", str(model), "--runs", "2", "--json", "--shape",
                             "tokens=2,8"))
    assert out["status"] == "ok" and out["input_note"] is None
    assert out["outputs"][0]["shape"] == [4, 4]


# -- workers that freeze, die or are interrupted ----------------------------------------------
def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_until_timed_runs(cli_pid: int, model: str, limit_s: float = 120.0) -> None:
    """Block until the CLI's worker is in its timed runs: it has mapped the model (loaded it)
    and then spent 0.3 s of its own CPU time, thousands of the demo model's runs. Read from
    /proc, so a busy machine only makes it wait longer."""
    end = time.monotonic() + limit_s
    worker, loaded_cpu = None, None
    while time.monotonic() < end:
        if worker is None:
            kids = Path(f"/proc/{cli_pid}/task/{cli_pid}/children").read_text().split()
            worker = int(kids[0]) if kids else None
        elif loaded_cpu is None:
            if model in Path(f"/proc/{worker}/maps").read_text():
                loaded_cpu = _cpu_s(worker)
        elif _cpu_s(worker) - loaded_cpu >= 0.3:
            return
        time.sleep(0.02)
    pytest.fail("the worker never reached its timed runs")


def test_a_frozen_worker_is_detected_by_its_missing_heartbeat(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0,
                                heartbeat_s=2.0)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5)
    os.kill(s.pid, signal.SIGSTOP)  # frozen: alive, but not a single message any more
    r = _finish(s)
    assert r.status == "error" and r.error_kind == "frozen"
    assert r.error.startswith("the worker stopped responding while invoking the model (run ")
    assert "no heartbeat for 2 s, so it was killed" in r.error
    assert r.latency_ms.runs >= 5


def test_heartbeat_zero_waits_for_a_frozen_worker(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0,
                                heartbeat_s=None)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5)
    os.kill(s.pid, signal.SIGSTOP)
    assert not _run_until(s, lambda s: False, limit_s=4.0)  # still waiting, nothing decided
    assert not s.finished
    os.kill(s.pid, signal.SIGCONT)
    s.stop()
    assert _finish(s).status == "stopped"


def test_sigkill_from_outside_mentions_the_oom_killer(demo_model_path):
    s = bench_session(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0)).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5)
    os.kill(s.pid, signal.SIGKILL)
    r = _finish(s)
    assert r.error_kind == "killed"
    assert "killed from outside LiteLens while invoking the model" in r.error
    assert "out-of-memory killer" in r.error


def test_ctrl_c_keeps_and_prints_the_runs_done(demo_model_path):
    # a terminal's Ctrl-C signals the whole process group: the CLI and its worker
    p = subprocess.Popen([sys.executable, "-m", "core.cli", "bench", str(demo_model_path),
                          "--runs", str(10**9), "--warmup", "0", "--json"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    _wait_until_timed_runs(p.pid, str(demo_model_path))
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    r = json.loads(out)
    assert r["status"] == "stopped" and r["latency_ms"]["runs"] > 0
    assert err.strip() == f"litelens: interrupted: kept {r['latency_ms']['runs']} timed runs"


def test_internal_worker_error_names_model_and_stage(tmp_path):
    cfg = {"job": "bench", "model": "/models/some.tflite", "backend": "litert",
           "delegate": "xnnpack", "threads": 1, "inputs": str(tmp_path / "missing.npz")}
    p = subprocess.run([sys.executable, "-m", "core.inference.worker"], cwd=ROOT,
                       input=json.dumps(cfg) + "\n", capture_output=True, text=True, timeout=120)
    errors = [m for m in map(json.loads, p.stdout.splitlines()) if m["t"] == "error"]
    assert p.returncode == 3 and len(errors) == 1 and errors[0]["kind"] == "internal"
    assert errors[0]["message"].startswith("/models/some.tflite: internal error during import "
                                           "(bench job): FileNotFoundError")


# -- per-op profiles say what they cover --------------------------------------------------------
def test_a_stopped_profile_is_shown_as_partial(tmp_path):
    path = synthetic_chain(300).save(tmp_path / "chain.tflite")
    s = bench_session(RunConfig(model=str(path), runs=1, warmup=0, profile=True,
                                profile_method="single-op")).start()
    assert _run_until(s, lambda s: s.job.current_op is not None and s.job.current_op[0] >= 5)
    s.stop()
    r = _finish(s)
    prof = r.profile
    assert prof.ops == 300 and 5 <= prof.timed_ops < 300
    assert not prof.complete and prof.stopped
    assert prof.untimed["not reached (profile stopped)"] == 300 - len(r.ops)
    from core.inference.export import profile_lines
    assert profile_lines(prof)[0].startswith(f"{prof.timed_ops}/300 ops timed, PARTIAL "
                                             "(stopped); sum of ops ")


def test_control_flow_is_listed_as_not_timed_by_single_op_cuts(tmp_path):
    path = _while_model().save(tmp_path / "while.tflite")
    r = run_benchmark(RunConfig(model=str(path), runs=3, warmup=0, profile=True,
                                profile_method="single-op"))
    prof = r.profile
    assert r.status == "ok", r.error
    assert prof.complete and prof.ops == 2 and prof.timed_ops == 1
    assert prof.untimed == {"WHILE: WHILE runs other subgraphs; not cut": 1}
    proc = litelens("bench", str(path), "--runs", "3", "--profile", "--profile-method",
                    "single-op")
    assert "per-op    not timed: WHILE: WHILE runs other subgraphs; not cut ×1" in proc.stdout
    assert "per-op    method: single-op models cut from the graph" in proc.stdout


def test_runtime_profiler_times_while_loops_on_a_real_model(shared_model):
    path = shared_model("lstm_gru_text_float32")
    r = run_benchmark(RunConfig(model=str(path), delegate="builtin", runs=3, warmup=1,
                                profile=True, profile_runs=5))
    assert r.status == "ok", r.error
    prof = r.profile
    assert prof.method.startswith("LiteRT's op profiler over 5 full runs of a CompiledModel "
                                     "(builtin kernels")
    assert prof.complete and prof.timed_ops == prof.ops
    whiles = [o for o in r.ops if o.op == "WHILE"]
    assert whiles and all(o.avg_ms > 0 for o in whiles)
    # the loops hold most of the model's work, so they rank first
    top = max(r.ops, key=lambda o: o.avg_ms)
    assert top.op == "WHILE"
