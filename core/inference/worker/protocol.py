"""The worker's side of the pipe: JSON lines in, JSON lines out.

The parent writes one config line on stdin (``{"job": NAME, ...}``), then possibly
``{"cmd": "stop"}``. The worker answers with small messages, one a line, each with key ``t``:
``hello`` (pid, python, backend) and ``stage`` from every job, ``error`` (kind, message) when a
job fails, ``done`` when it finished, and ``hb`` every HEARTBEAT_PERIOD_S from a thread of its own
(the parent's proof that the process is alive); the rest are the job's own (the bench job sends init,
first, lat, outputs, rss, op, ops). Native code that prints to stdout is redirected to stderr so it
cannot corrupt the protocol.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

from core.fileio import dumps_json, finite_or_null

STOP_COMMAND = "stop"
HEARTBEAT_PERIOD_S = 1.0


class WorkerError(Exception):
    """A failure the worker reports as ``{"t": "error", "kind": kind, "message": ...}``."""
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Channel:
    """The worker's original stdout, kept for messages; fd 1 itself now goes to stderr."""
    def __init__(self):
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)           # native stdout chatter goes to stderr
        sys.stdout = sys.stderr
        self._lock = threading.Lock()
        self.stage = "starting"  # the last stage sent, for messages about an internal error

    def send(self, t: str, **kw) -> None:
        if t == "stage":
            self.stage = kw.get("stage", self.stage)
        # strict JSON: a NaN in an output's statistics travels as null (the statistics also
        # count the non-finite values, so nothing is lost)
        line = dumps_json(finite_or_null({"t": t, **kw}), separators=(",", ":"))
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def heartbeat(ch: Channel, period: float = HEARTBEAT_PERIOD_S) -> None:
    """Send ``hb`` every ``period`` seconds, forever (run it in a daemon thread). It needs the GIL,
    so a process that is stopped, deadlocked or stuck in native code holding the GIL goes quiet."""
    while True:
        time.sleep(period)
        try:
            ch.send("hb")
        except (OSError, ValueError):  # the parent closed the pipe: nobody is listening
            return


def listen_for_stop(stop: threading.Event) -> None:
    """Set ``stop`` on a stop command or EOF on stdin (the parent is gone or wants us to finish)."""
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("cmd") == STOP_COMMAND:
            break
    stop.set()
