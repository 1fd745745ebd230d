"""Runs on a board over SSH, against a real OpenSSH server on 127.0.0.1 (``tests/inference/sshd``)
with the real runtime on the far side: bench, profile, memory and support compared with the same
runs done locally, and every fault produced for real (closed port, wrong key, unknown and changed
host keys, missing Python, missing runtime, a full disk, a dropped connection, a killed or stopped
remote worker), each answered in one line."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.inference.config import RunConfig
from core.inference.remote import RemoteSession, run_benchmark, worker_files
from core.inference.session import WorkerSession, bench_session
from core.inference.ssh_target import SshTarget, TargetError, parse_target
from core.inference.sweep import Sweep
from tests.conftest import ROOT
from tests.inference.sshd import free_port, keygen
from tests.inference.test_session import _run_until

PY = sys.executable


def _done(session: WorkerSession, on_message=None) -> dict:
    """Drive a started bench session to its end; its result as ``bench --json`` gives it."""
    session.run_to_end(on_message)
    return session.job.result().to_json()


@pytest.fixture
def board(sshd, tmp_path):
    """A target on the test sshd whose uploads go to a folder of this test (checked empty after:
    nothing is left behind)."""
    base = tmp_path / "board-tmp"
    base.mkdir(mode=0o700)
    yield parse_target(sshd.address, python=PY, options=sshd.options, remote_tmp=str(base))
    assert _eventually(lambda: not any(base.iterdir())), list(base.iterdir())


def _eventually(cond, limit_s: float = 60.0) -> bool:
    """Wait for a condition the board reaches on its own (its clean-up after a dropped
    connection), up to a generous limit."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _with(board: SshTarget, **kw) -> SshTarget:
    return SshTarget(**{**board.__dict__, **kw})


def _error(board: SshTarget, model: Path, **cfg) -> TargetError:
    with pytest.raises(TargetError) as e:
        RemoteSession(RunConfig(model=str(model), runs=1, **cfg), board).start()
    message = str(e.value)
    assert message.isprintable() and "\n" not in message and "Traceback" not in message
    assert message.startswith(board.address + ": ")
    return e.value


# -- addresses and the upload -------------------------------------------------------------------
def test_target_address_forms(monkeypatch):
    monkeypatch.delenv("LITELENS_SSH_OPTIONS", raising=False)
    t = parse_target("ssh://pi@raspberrypi.local:2222", python="/opt/py/bin/python3")
    assert (t.user, t.host, t.port, t.python) == ("pi", "raspberrypi.local", 2222,
                                                  "/opt/py/bin/python3")
    assert t.address == "ssh://pi@raspberrypi.local:2222"
    assert parse_target("board").address == "ssh://board" and parse_target("board").python == \
        "python3"
    monkeypatch.setenv("LITELENS_SSH_OPTIONS", "ConnectTimeout=3 'IdentityFile=/k y'")
    assert parse_target("ssh://b", options=["Port=22"]).options == [
        "ConnectTimeout=3", "IdentityFile=/k y", "Port=22"]
    for bad, words in (("http://b", "ssh://"), ("ssh://u:secret@b", "never taken"),
                       ("ssh://b:notaport", "not a target"), ("ssh://b/path", "ssh://")):
        with pytest.raises(TargetError, match=words):
            parse_target(bad)
    with pytest.raises(TargetError, match="not KEY=VALUE"):
        parse_target("b", options=["-oProxyCommand"])


def test_the_upload_is_the_workers_imports_only():
    files = worker_files()
    assert "core/inference/worker/__main__.py" in files and "resources/ops/catalogue.json" in files
    for job in ("bench", "memory_arena", "xnnpack_placement", "quantize", "profile"):
        assert f"core/inference/worker/jobs/{job}.py" in files
    # the worker imports no analyses, graph, commands or GUI, so none travel to the board
    assert not [f for f in files if f.startswith(("core/analysis", "core/graph", "core/cli",
                                                  "core/quantize", "gui"))]
    assert "core/inference/session.py" not in files and "core/inference/remote.py" not in files


# -- the same runs as locally -------------------------------------------------------------------
def test_bench_on_the_board_matches_the_local_run(board, shared_model, tmp_path):
    path = str(shared_model("mobilenet_v2_224_int8"))
    cfg = dict(model=path, runs=10, warmup=1)
    local = _done(bench_session(RunConfig(**cfg)).start())
    modes = []

    def look(_msg):   # while the worker runs: its private folder on the board
        modes.extend(stat.S_IMODE(p.stat().st_mode) for p in Path(board.remote_tmp).iterdir())

    remote = _done(RemoteSession(RunConfig(**cfg), board).start(), look)
    assert remote["status"] == "ok", remote["error"]
    assert modes and set(modes) == {0o700}
    assert remote["target"]["address"] == board.address
    facts = remote["target"]["facts"]
    from importlib.metadata import version
    assert facts["runtimes"]["ai-edge-litert"] == version("ai-edge-litert")
    assert facts["cores"] == os.cpu_count() and facts["python_path"] == PY
    assert facts["memory_total_bytes"] > 0 and facts["cpu_model"]
    # the same inputs through the same runtime: the same outputs
    assert remote["outputs"] == local["outputs"]
    assert remote["latency_ms"]["runs"] == local["latency_ms"]["runs"] == 10
    assert remote["backend"] == local["backend"] and remote["python"] == PY
    assert set(local) | {"target"} == set(remote)


def test_tensors_come_back_from_the_board(board, demo_model_path):
    """The outputs in full and every kept tensor travel the same JSON lines over SSH: the same
    values as a local run on the same inputs."""
    import numpy as np

    from core.inference.session import run_benchmark as run_here
    cfg = dict(model=str(demo_model_path), runs=1, warmup=0, keep_tensors=True)
    here, there = run_here(RunConfig(**cfg)), run_benchmark(RunConfig(**cfg), board)
    assert there.status == "ok", there.error
    assert [(t.kind, t.name) for t in there.tensors] == [(t.kind, t.name) for t in here.tensors]
    assert len(there.tensors) > 3 and there.tensors_note == here.tensors_note
    for a, b in zip(here.tensors, there.tensors, strict=True):
        np.testing.assert_array_equal(a.array(), b.array(), err_msg=a.name)


def test_profile_on_the_board(board, shared_model):
    path = str(shared_model("mobilenet_v2_224_int8"))
    cfg = dict(model=path, runs=3, warmup=1, profile=True, profile_runs=3)
    local = _done(bench_session(RunConfig(**cfg)).start())
    remote = _done(RemoteSession(RunConfig(**cfg), board).start())
    assert remote["status"] == "ok", remote["error"]
    assert remote["profile"]["method"] == local["profile"]["method"]
    assert [(o["index"], o["op"]) for o in remote["ops"]] == \
        [(o["index"], o["op"]) for o in local["ops"]]
    assert remote["profile"]["timed_ops"] == local["profile"]["timed_ops"] > 0


def test_memory_and_support_checks_on_the_board(board, shared_model):
    from core.analysis.memory import memory_report
    from core.analysis.support.runtime import runtime_placement
    from core.model.reader import open_model
    path = str(shared_model("mobilenet_v2_224_int8"))
    with open_model(path) as model:
        here = memory_report(model, runtime=True).runtime
        there = memory_report(model, runtime=True, target=board).runtime
    assert here is not None and there is not None and there.target is not None
    assert there.error is None and there.target["address"] == board.address
    # the real arenas, measured in both places, against the plan: the same verdicts
    assert there.subgraphs == here.subgraphs
    assert here.xnnpack is not None and there.xnnpack is not None
    assert there.xnnpack.subgraphs == here.xnnpack.subgraphs
    # the heap XNNPACK adds is measured on the board too (its bytes vary run to run)
    assert here.xnnpack.footprint is not None and there.xnnpack.footprint is not None
    assert there.subgraphs[0].main_arena.offsets_agree > 0
    local_p, remote_p = runtime_placement(path), runtime_placement(path, target=board)
    assert remote_p.partitions == local_p.partitions
    assert remote_p.target is not None and remote_p.target["facts"]


def test_stop_on_the_board_keeps_the_runs(board, demo_model_path):
    s = RemoteSession(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0), board).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 50)
    s.stop()
    r = _done(s)
    assert r["status"] == "stopped" and r["error"] is None and r["latency_ms"]["runs"] >= 50


def test_sweep_runs_targets_side_by_side(board, sshd, demo_model_path, tmp_path):
    other = tmp_path / "second-board"
    other.mkdir(mode=0o700)
    cfg = dict(model=str(demo_model_path), runs=20, warmup=0)
    unreachable = parse_target(f"ssh://127.0.0.1:{free_port()}", python=PY,
                               options=sshd.options)
    sweep = Sweep([(board.address, RemoteSession(RunConfig(**cfg), board)),
                   ("local", bench_session(RunConfig(**cfg))),
                   (unreachable.address, RemoteSession(RunConfig(**cfg), unreachable)),
                   (board.address, RemoteSession(RunConfig(**cfg),
                                                 _with(board, remote_tmp=str(other))))])
    sweep.start()
    running = [k for k, _s in sweep.running()]
    assert running == [0, 1, 3]          # all started before any was driven: concurrent
    sweep.run()
    rows = sweep.results()
    assert [r["target"]["address"] for r in rows] == [board.address, "local",
                                                      unreachable.address, board.address]
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "ok"]
    assert rows[2]["error_kind"] == "unreachable" and "connection refused" in rows[2]["error"]
    assert rows[0]["outputs"] == rows[1]["outputs"] == rows[3]["outputs"]
    assert rows[1]["target"]["facts"]["cores"] == os.cpu_count()
    assert not any(other.iterdir())


# -- faults, each one line ----------------------------------------------------------------------
def test_closed_port_is_unreachable(board, demo_model_path):
    e = _error(_with(board, port=free_port()), demo_model_path)
    assert e.kind == "unreachable" and "connection refused" in str(e)


def test_wrong_key_is_refused(board, demo_model_path, tmp_path):
    stranger = tmp_path / "stranger"
    keygen(stranger)
    opts = [o for o in board.options if not o.startswith("IdentityFile=")]
    e = _error(_with(board, options=[f"IdentityFile={stranger}", *opts]), demo_model_path)
    assert e.kind == "auth" and "Permission denied (publickey" in str(e)
    assert "never passwords" in str(e)


def test_unknown_host_key_is_never_accepted_unless_asked(board, demo_model_path, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    opts = [o for o in board.options if not o.startswith("UserKnownHostsFile=")]
    unknown = _with(board, options=[f"UserKnownHostsFile={empty}", *opts])
    e = _error(unknown, demo_model_path)
    assert e.kind == "host_key_unknown" and "StrictHostKeyChecking=accept-new" in str(e)
    assert empty.read_text() == ""       # nothing was recorded
    asked = _with(board, options=["StrictHostKeyChecking=accept-new", *unknown.options])
    r = _done(RemoteSession(RunConfig(model=str(demo_model_path), runs=1), asked).start())
    assert r["status"] == "ok" and empty.read_text().strip()


def test_changed_host_key_is_refused(board, demo_model_path, tmp_path):
    impostor = keygen(tmp_path / "impostor_host")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{board.port} {impostor}\n")
    opts = [o for o in board.options if not o.startswith("UserKnownHostsFile=")]
    e = _error(_with(board, options=[f"UserKnownHostsFile={known}", *opts]), demo_model_path)
    assert e.kind == "host_key_changed" and "ssh-keygen -R" in str(e)


def test_missing_remote_python_says_what_to_install(board, demo_model_path):
    e = _error(_with(board, python="/nonexistent/python3"), demo_model_path)
    assert e.kind == "remote_python" and "no Python at /nonexistent/python3" in str(e)
    assert "pip install ai-edge-litert" in str(e)


def test_missing_remote_runtime_gives_the_pip_line(board, demo_model_path, tmp_path):
    bare = tmp_path / "bare-venv"     # a Python without ai-edge-litert or numpy
    subprocess.run([PY, "-m", "venv", "--without-pip", str(bare)], check=True)
    py = str(bare / "bin" / "python")
    e = _error(_with(board, python=py), demo_model_path)
    assert e.kind == "runtime_missing"
    assert f"`{py} -m pip install ai-edge-litert numpy`" in str(e)
    e = _error(_with(board, python=py), demo_model_path, backend="tflite_runtime")
    assert f"`{py} -m pip install tflite-runtime numpy`" in str(e)


def test_no_space_for_the_upload(board, shared_model, tmp_path):
    full = tmp_path / "tiny"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=700", "tmpfs",
                              str(full)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        e = _error(_with(board, remote_tmp=str(full)), shared_model("mobilenet_v2_224_int8"))
        assert e.kind == "no_space" and "--remote-tmp" in str(e)
        assert not any(full.iterdir())
    finally:
        subprocess.run(["umount", str(full)], check=True)


def _session_process(pid: int) -> int:
    """The sshd process serving the connection that ``pid`` runs under."""
    while pid > 1:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
        if Path(f"/proc/{ppid}/comm").read_text().strip() == "sshd":
            return ppid
        pid = ppid
    raise AssertionError("no sshd above the worker")


def test_dropped_connection_keeps_the_runs(board, demo_model_path):
    s = RemoteSession(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0), board).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 20 and "pid" in s.info)
    os.kill(_session_process(s.info["pid"]), signal.SIGKILL)   # the connection goes down
    r = _done(s)
    assert r["status"] == "error" and r["error_kind"] == "connection_lost", r["error"]
    assert r["error"].startswith(f"{board.address}: the connection dropped while invoking the "
                                 "model")
    assert r["error"].endswith(f"kept the {r['latency_ms']['runs']} runs done so far")
    assert r["latency_ms"]["runs"] >= 20
    # the board notices too: its launcher kills the worker and removes the folder (fixture)
    assert _eventually(lambda: not Path(f"/proc/{s.info['pid']}").exists())


def test_remote_crash_reports_the_signal(board, demo_model_path):
    s = RemoteSession(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0), board).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5 and "pid" in s.info)
    os.kill(s.info["pid"], signal.SIGSEGV)
    r = _done(s)
    assert r["status"] == "error" and r["error_kind"] == "crashed"
    assert r["error"].startswith("the runtime crashed while invoking the model (run ")
    assert "(SIGSEGV, signal 11)" in r["error"] and r["latency_ms"]["runs"] >= 5


def test_remote_hang_is_ended_by_the_heartbeat(board, demo_model_path):
    s = RemoteSession(RunConfig(model=str(demo_model_path), runs=10**9, warmup=0,
                                heartbeat_s=2.0), board).start()
    assert _run_until(s, lambda s: len(s.job.latencies_ms) >= 5 and "pid" in s.info)
    os.kill(s.info["pid"], signal.SIGSTOP)     # frozen: not even its heartbeat thread runs
    r = _done(s)
    assert r["status"] == "error" and r["error_kind"] == "frozen"
    assert "no heartbeat for 2 s" in r["error"] and r["latency_ms"]["runs"] >= 5
    assert _eventually(lambda: not Path(f"/proc/{s.info['pid']}").exists())


# -- the command line ---------------------------------------------------------------------------
def _cli(*args: str, env_options: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, LITELENS_SSH_OPTIONS=" ".join(env_options))
    return subprocess.run([PY, "-m", "core.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_cli_bench_on_a_target_and_an_unreachable_one(board, sshd, shared_model):
    path = str(shared_model("mobilenet_v2_224_int8"))
    p = _cli("bench", path, "--target", board.address, "--remote-python", PY, "--json",
             "--runs", "5", "--remote-tmp", board.remote_tmp, env_options=sshd.options)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["status"] == "ok" and r["target"]["address"] == board.address
    assert r["latency_ms"]["runs"] == 5 and r["target"]["facts"]["runtimes"]["ai-edge-litert"]
    gone = f"ssh://{sshd.user}@127.0.0.1:{free_port()}"
    p = _cli("bench", path, "--target", gone, "--remote-python", PY, "--json",
             env_options=sshd.options)
    assert p.returncode == 1
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"litelens: error: {gone}: cannot connect")
    r = json.loads(p.stdout)
    assert r["status"] == "error" and r["error_kind"] == "unreachable"
    assert r["target"] == {"address": gone, "facts": None}


def test_cli_sweep_memory_and_support_on_a_target(board, sshd, shared_model):
    path = str(shared_model("mobilenet_v2_224_int8"))
    common = ["--remote-python", PY, "--remote-tmp", board.remote_tmp]
    p = _cli("bench", path, "--target", board.address, "--target", "local", "--runs", "3",
             *common, env_options=sshd.options)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:2] == ["target", "status"]
    assert lines[1].startswith(board.address) and lines[2].startswith("local")
    p = _cli("memory", path, "--runtime", "--target", board.address, *common,
             env_options=sshd.options)
    assert p.returncode == 0, p.stderr
    assert f"measured on {board.address}" in p.stdout and "equal; offsets agree" in p.stdout
    p = _cli("support", path, "--delegate", "xnnpack", "--verify", "--target", board.address,
             *common, env_options=sshd.options)
    assert p.returncode == 0, p.stderr
    assert f"agree, 1 partition on {board.address}" in p.stdout


def test_remote_runs_through_run_job(board, demo_model_path):
    r = run_benchmark(RunConfig(model=str(demo_model_path), runs=2), board).to_json()
    assert r["status"] == "ok" and r["target"]["address"] == board.address


def test_cli_quantize_verified_on_a_target(board, sshd, demo_model_path, tmp_path):
    out = tmp_path / "demo.int8.tflite"
    p = _cli("quantize", str(demo_model_path), "-o", str(out), "--json", "--target",
             board.address, "--remote-python", PY, "--remote-tmp", board.remote_tmp,
             env_options=sshd.options)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["failure"] is None and out.is_file()
    check = r["board"]
    assert check["address"] == board.address and check["facts"]["cores"] == os.cpu_count()
    assert check["quantized"]["status"] == check["float_model"]["status"] == "ok"
    assert check["speedup"] == pytest.approx(check["float_model"]["median_ms"]
                                             / check["quantized"]["median_ms"])
    # unreachable board: the result is written, the report says it was not verified there
    gone = tmp_path / "gone.tflite"
    p = _cli("quantize", str(demo_model_path), "-o", str(gone), "--json", "--target",
             f"ssh://127.0.0.1:{free_port()}", "--remote-python", PY, env_options=sshd.options)
    assert p.returncode == 1 and gone.is_file()
    assert "not verified on the board" in json.loads(p.stdout)["failure"]


def test_cli_ctrl_c_stops_the_board_and_keeps_the_runs(board, sshd, demo_model_path):
    # a terminal's Ctrl-C signals the CLI's whole process group; ssh runs in a session of its
    # own, so the connection stays up while the CLI asks the board's worker to stop
    env = dict(os.environ, LITELENS_SSH_OPTIONS=" ".join(sshd.options))
    p = subprocess.Popen([PY, "-m", "core.cli", "bench", str(demo_model_path), "--runs",
                          str(10**9), "--warmup", "0", "--json", "--target", board.address,
                          "--remote-python", PY, "--remote-tmp", board.remote_tmp], cwd=ROOT,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    base = Path(board.remote_tmp)
    # the worker has loaded the model on the board once its native log exists there
    assert _eventually(lambda: any((d / "native.log").exists() for d in base.iterdir()))
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    r = json.loads(out)
    assert r["status"] == "stopped" and r["error"] is None
    assert r["target"]["address"] == board.address
    assert err.strip() == f"litelens: interrupted: kept {r['latency_ms']['runs']} timed runs"
