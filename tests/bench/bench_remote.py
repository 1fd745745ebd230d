"""Runs on a board over SSH (issue 20), measured against the same run done locally: a real sshd
on 127.0.0.1 (``tests/inference/sshd``) stands in for the board, so the board's median should
equal the local one and the difference is LiteLens's own cost (ssh handshake, upload, launcher).
Local and board runs alternate, so a busy machine slows both alike."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from core.inference.config import RunConfig
from core.inference.remote import bench_session, worker_files
from core.inference.session import ROOT as CORE_ROOT
from core.inference.ssh_target import parse_target
from tests.inference import sshd as sshd_mod

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LITELENS_SHARED_MODELS", ROOT.parent / "shared" / "models"))
ROUNDS = 3
RUNS = 30


def _one(session) -> tuple[float, float]:
    """(median ms, seconds from start() to the first result message)."""
    t0 = time.perf_counter()
    session.start()
    first = None
    while not session.finished:
        if session.wait(0.05) and first is None:
            first = time.perf_counter() - t0
    return session.job.result().latency_ms.median, first or 0.0


def run() -> str:
    title = "## Runs on a board over SSH (issue 20)"
    reason = sshd_mod.missing_reason()
    model = SHARED / "mobilenet_v2_224_float32.tflite"
    if reason or not model.is_file():
        return f"{title}\n\nnot measured: {reason or f'{model} is absent'}"
    with tempfile.TemporaryDirectory() as d:
        server = sshd_mod.Sshd(Path(d) / "sshd").start()
        try:
            board = parse_target(server.address, python=sys.executable, options=server.options)
            local, remote, local_start, remote_start = [], [], [], []
            for _ in range(ROUNDS):
                m, s = _one(bench_session(RunConfig(model=str(model), runs=RUNS)))
                local.append(m)
                local_start.append(s)
                m, s = _one(bench_session(RunConfig(model=str(model), runs=RUNS), board))
                remote.append(m)
                remote_start.append(s)
        finally:
            server.stop()
    upload = sum((CORE_ROOT / f).stat().st_size for f in worker_files())
    lm, rm = median(local), median(remote)
    return "\n".join([
        title, "",
        f"MobileNetV2 float, {RUNS} timed runs, {ROUNDS} rounds alternating local and board "
        "(the board: a real sshd on 127.0.0.1 with the same Python, so equal medians are "
        "expected). Start = from `start()` to the worker's first message.", "",
        "| | median of medians ms | start s (median) |",
        "|---|---|---|",
        f"| local worker | {lm:.2f} | {median(local_start):.2f} |",
        f"| board over ssh | {rm:.2f} | {median(remote_start):.2f} |",
        f"| board ÷ local | {rm / lm:.2f}× | {median(remote_start) / median(local_start):.1f}× |",
        "",
        f"Upload per run: the worker package, {len(worker_files())} files, {upload / 1024:.0f} "
        f"KiB, plus the model ({model.stat().st_size / 2**20:.1f} MiB) and its inputs."])
