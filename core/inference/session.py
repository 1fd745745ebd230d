"""Parent side of a worker job: prepare inputs, spawn the worker, fold its messages, attribute a
crash or timeout, and hand the job's result.

``WorkerSession`` never blocks its caller unless asked (``poll()`` drains what has arrived;
``wait()`` waits up to a timeout), so the GUI can drive it from a timer and the CLI from a loop.
The worker's exit status tells a clean finish from a crash (killed by a signal) or a timeout, and
the last progress message says what was running: ``"the runtime crashed while running op 12
(CONV_2D) (SIGSEGV, signal 11)"``.

The session is generic: it sends ``{"job": NAME, ...config}`` and passes the job's own messages to
the job module's ``Folder`` (``core.inference.worker.jobs``), whose ``result()`` is the job's JSON
contract (for ``bench``: ``litelens bench --json``).
"""
from __future__ import annotations

import collections
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from core import format as fmt
from core.errors import ModelError
from core.fileio import dumps_json
from core.inference.config import RunConfig
from core.inference.worker import jobs
from core.inference.worker.protocol import STOP_COMMAND

ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_FLAG = "--litelens-worker"


# Sentences the TFLite error reporter starts a new line with. Its Python exception text glues the
# reported lines together with no separator ("...failed to reshape runtimeNode number 1 ..."); a
# space goes back wherever one of these follows a non-space.
_NATIVE_LINE_STARTS = re.compile(
    r"(?<=[^\s])(?=(?:Node number \d|Restored original execution plan|Delegate kernel|"
    r"Encountered unresolved custom op|Didn't find op|Make sure|Select TensorFlow op|"
    r"Regular TensorFlow ops|Some of the operators|Failed to|tensorflow/lite/))")


def _respace(message: str) -> str:
    return _NATIVE_LINE_STARTS.sub(" ", message)


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


class WorkerSession:
    """One job (``bench`` unless named) with one configuration in one worker process.

    ``model``: the already-open ``core.model.types.Model`` of ``cfg.model`` if the caller has
    one (the GUI tab does); otherwise the session opens the file itself, once. ``params``: the
    job's own settings (e.g. the quantize recipe), sent as ``cfg["params"]``. The job's folded
    state reads as the session's attributes (``session.latencies_ms`` for bench)."""

    def __init__(self, cfg: RunConfig, job: str = "bench", model=None,
                 params: dict | None = None):
        cfg.validate()
        self.cfg = cfg
        self.job_name = job
        self.model = model
        self.params = dict(params or {})   # the job's own settings (JSON), beside the RunConfig
        self.messages: queue.Queue = queue.Queue()
        self.proc: subprocess.Popen | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=60)
        self.finished = False
        self.started_at: float | None = None
        self._tmpdir = tempfile.mkdtemp(prefix="litelens-run-")
        self._timed_out = False
        self._frozen = False
        self._killed = False          # we killed it (timeout, heartbeat, Ctrl-C, close)
        self._last_seen: float | None = None  # monotonic time of the worker's last message
        self._stop_requested = False
        self._stderr_thread: threading.Thread | None = None
        # folded state common to every job; the job's own lives in self.job
        self.stage = "starting"
        self.info: dict[str, Any] = {}
        self.done = False
        self.error: dict | None = None
        self.exit_code: int | None = None
        self.specs: list = []
        self.inputs_path: Path | None = None
        self.job = jobs.load(job).Folder(self)
        self._prepare_inputs()

    def __getattr__(self, name: str):
        # Only called for names the session lacks: the job's state (latencies_ms, rss, ...).
        job = self.__dict__.get("job")
        if job is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(job, name)

    # -- setup --
    def _prepare_inputs(self) -> None:
        from core.inference.inputs import input_specs, make_inputs, save_inputs
        if self.model is not None:
            self.specs = self._input_specs(self.model, input_specs)
        else:
            from core.model.reader import open_model
            with open_model(self.cfg.model) as model:  # ModelError names the file
                self.specs = self._input_specs(model, input_specs)
        arrays = make_inputs(self.specs, self.cfg.input_source)
        self.inputs_path = save_inputs(arrays, Path(self._tmpdir) / "inputs.npz")

    def _input_specs(self, model, input_specs) -> list:
        if not model.subgraphs:
            raise ModelError(self.cfg.model, "the model has no subgraph to run")
        key = self.cfg.signature
        if key is None:
            self.input_tensors = list(model.subgraphs[0].inputs)
            return input_specs(model, self.cfg.shapes)
        sig = next((s for s in model.signatures if s.key == key), None)
        if sig is None:
            keys = ", ".join(repr(s.key) for s in model.signatures) or "none"
            raise ModelError(self.cfg.model, f"no signature {key!r} (signatures: {keys})")
        # the signature's inputs, in its order; the worker sets them by tensor index
        specs = {model.subgraphs[sig.subgraph].inputs[k]: spec for k, spec in enumerate(
            input_specs(model, self.cfg.shapes, subgraph=sig.subgraph))}
        self.input_tensors = list(sig.inputs.values())
        self.signature_subgraph = sig.subgraph
        return [specs[t] for t in self.input_tensors]

    def output_labels(self) -> list[list[str] | None]:
        """The label list of each output from the model's metadata ([] when unreadable)."""
        from core.model.metadata import model_metadata
        try:
            if self.model is not None:
                return [o.labels for o in model_metadata(self.model).outputs]
            from core.model.reader import open_model
            with open_model(self.cfg.model) as m:
                return [o.labels for o in model_metadata(m).outputs]
        except (ModelError, ValueError):
            # the file changed or went away since the run started, or the caller closed its
            # Model (a closed mmap raises ValueError): the outputs just go unlabelled
            return []

    def start(self) -> "WorkerSession":
        self.proc = self._spawn()
        self.started_at = self._last_seen = time.monotonic()
        self.proc.stdin.write(dumps_json(self._worker_config()) + "\n")
        self.proc.stdin.flush()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True,
                                               name="worker-err")
        self._stderr_thread.start()
        threading.Thread(target=self._read_stdout, daemon=True, name="worker-out").start()
        return self

    def _worker_config(self) -> dict:
        """The config line the worker reads first (paths as the worker sees them)."""
        return {"job": self.job_name, **self.cfg.to_json(), "inputs": str(self.inputs_path),
                "native_log": str(Path(self._tmpdir) / "native.log"),
                "model": os.path.abspath(self.cfg.model),  # as named, symlinks kept
                "params": self.params, "input_tensors": self.input_tensors,
                "subgraph": getattr(self, "signature_subgraph", 0)}

    def _spawn(self):
        """The worker process, with text pipes (``core.inference.remote`` runs it on a board)."""
        exe = self.cfg.python_exe or sys.executable
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                         if env.get("PYTHONPATH") else "")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        if self.cfg.python_exe is None and getattr(sys, "frozen", False):
            # PyInstaller bundle: the app binary runs the worker (gui/app.py dispatches)
            cmd = [sys.executable, WORKER_FLAG]
        else:
            cmd = [exe, "-u", "-m", "core.inference.worker"]
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(ROOT), env=env,
                                text=True, encoding="utf-8", errors="replace", bufsize=1)

    def _read_stdout(self) -> None:
        proc = self.proc
        for line in proc.stdout:
            self._last_seen = time.monotonic()
            try:
                msg = json.loads(line)
            except ValueError:
                self.stderr_tail.append(line.rstrip())
                continue
            if isinstance(msg, dict) and "t" in msg:
                self.messages.put(msg)
        code = proc.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(2.0)  # its last words, before we report the exit
        self.messages.put({"t": "exit", "code": code})

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())

    # -- control --
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        """Ask the worker to finish after the current step (results so far are kept)."""
        self._stop_requested = True
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write(dumps_json({"cmd": STOP_COMMAND}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the worker is already gone: its exit is reported as usual

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self._killed = True
            self.proc.kill()

    def _check_timeout(self) -> None:
        if self.finished or self.started_at is None or self._timed_out or self._frozen:
            return
        now = time.monotonic()
        t, hb = self.cfg.timeout_s, self.cfg.heartbeat_s
        if t and now - self.started_at > t:
            self._timed_out = True
            self.kill()
        elif hb and self._last_seen is not None and now - self._last_seen > hb:
            self._frozen = True
            self.kill()

    def poll(self) -> list[dict]:
        """Messages that arrived since the last call (never blocks), folded into the state."""
        self._check_timeout()
        out = []
        while True:
            try:
                msg = self.messages.get_nowait()
            except queue.Empty:
                break
            out.extend(self._fold(msg))
        return out

    def wait(self, timeout: float = 0.1) -> list[dict]:
        """Block up to ``timeout`` s for at least one message (for the CLI and tests)."""
        self._check_timeout()
        try:
            first = self.messages.get(timeout=timeout)
        except queue.Empty:
            return []
        return self._fold(first) + self.poll()

    def run_to_end(self, on_message: Callable[[dict], None] | None = None) -> dict:
        while not self.finished:
            for m in self.wait(0.1):
                if on_message:
                    on_message(m)
        return self.result()

    # -- folding --
    def _fold(self, m: dict) -> list[dict]:
        t = m["t"]
        if t == "stage":
            self.stage = m["stage"]
        elif t == "hello":
            self.info.update({k: v for k, v in m.items() if k != "t"})
        elif t == "hb":
            return []  # liveness only (``_last_seen``); nothing for the caller
        elif t == "error":
            self.error = {"kind": m.get("kind", "error"),
                          "message": self._explain(str(m.get("message", "")))}
            m = {**m, "message": self.error["message"]}
        elif t == "exit":
            return [m] + self._finish(m["code"])
        else:
            if t == "done":
                self.done = True
                self.info["stopped"] = bool(m.get("stopped"))
            self.job.fold(m)
        return [m]

    def _explain(self, message: str) -> str:
        """An error message as one bounded printable line, plus what LiteLens chose for dynamic
        inputs (a runtime error on a guessed shape, such as "XNNPack delegate failed to reshape",
        means nothing without it)."""
        from core.inference.inputs import dynamic_note
        message = _respace(message)
        note = fmt.printable(dynamic_note(self.specs), 400)
        if not note or note in message:
            return fmt.one_line(message)
        return f"{fmt.one_line(message, fmt.MESSAGE_LIMIT - len(note) - 3)} — {note}"

    def _where(self) -> str:
        where = self.job.where()
        if where:
            return where
        if self.stage == "load":
            return "while loading and allocating the model"
        return f"during {self.stage}"

    def _finish(self, code: int) -> list[dict]:
        self.exit_code = code
        self.finished = True
        extra = []
        if self.error is None and not self.done and self._killed and self._stop_requested \
                and not (self._timed_out or self._frozen):
            # asked to stop, then killed because it did not (a second Ctrl-C, or the CLI's grace
            # ran out): a stopped run with what it measured, not a crash
            self.info["stopped"] = True
        elif self.error is None and not self.done:
            native = [ln for ln in self.stderr_tail if ln.strip()]
            last = f" — last output: {native[-1].strip()[:200]}" if native else ""
            if self._timed_out:
                self.error = {"kind": "timeout",
                              "message": f"timed out after {self.cfg.timeout_s:g} s "
                                         f"{self._where()}; the worker was killed"}
            elif self._frozen:
                self.error = {"kind": "frozen",
                              "message": f"the worker stopped responding {self._where()}: no "
                                         f"heartbeat for {self.cfg.heartbeat_s:g} s, so it was "
                                         "killed (--heartbeat SECONDS waits longer, --heartbeat "
                                         "0 never gives up)"}
            elif code == -signal.SIGKILL and not self._killed:
                self.error = {"kind": "killed",
                              "message": f"the worker was killed from outside LiteLens "
                                         f"{self._where()} (SIGKILL); on Linux that is often the "
                                         "out-of-memory killer (see `dmesg` or `journalctl -k`)"}
            elif code < 0:
                said = self._last_native_words()
                self.error = {"kind": "crashed",
                              "message": f"the runtime crashed {self._where()} "
                                         f"({_signal_name(-code)}, signal {-code})"
                                         + (f" — it said: {said}" if said else "")}
            else:
                self.error = {"kind": "worker_exit",
                              "message": f"the worker ({self.cfg.python_exe or sys.executable})"
                                         f" exited with code {code} {self._where()}{last}"}
            self.error["message"] = self._explain(self.error["message"])
            extra.append({"t": "error", **self.error})
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return extra

    def _native_lines(self) -> list[str]:
        """What the runtime logged: the load capture, then the worker's stderr."""
        lines = []
        try:
            text = (Path(self._tmpdir) / "native.log").read_text("utf-8", "replace")
            lines += text.splitlines()
        except OSError:
            pass  # it died before loading: stderr is all there is
        return lines + list(self.stderr_tail)

    def _last_native_words(self) -> str:
        """The last line the runtime logged before dying (from the load capture or stderr)."""
        for ln in reversed(self._native_lines()):
            s = ln.strip()
            if s and not s.startswith(("INFO:", "WARNING:", "Fatal Python", "Current thread",
                                       "File ", "Thread 0x", "Extension modules")):
                return s[:200]
        return ""

    # -- the contract --
    def status(self) -> str:
        """error | stopped | ok | running."""
        return ("error" if self.error else
                "stopped" if self.info.get("stopped") or self._stop_requested else
                "ok" if self.finished else "running")

    def outcome(self) -> dict:
        """{status, error, error_kind}: the keys every job's result shares."""
        return {"status": self.status(),
                "error": self.error["message"] if self.error else None,
                "error_kind": self.error["kind"] if self.error else None}

    def result(self) -> dict:
        """The job's JSON contract (``Folder.result()`` of the job module)."""
        return self.job.result()

    def __del__(self):
        # Runs at garbage collection, possibly at interpreter exit: attributes may be missing if
        # __init__ failed early, and the process may already be reaped.
        proc = self.__dict__.get("proc")
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass  # it exited between poll() and kill()
        tmpdir = self.__dict__.get("_tmpdir")
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def run_job(cfg: RunConfig, job: str = "bench", model=None,
            on_message: Callable[[dict], None] | None = None, params: dict | None = None) -> dict:
    """Run one job to the end in a worker; return its result."""
    return WorkerSession(cfg, job, model, params).start().run_to_end(on_message)


def run_benchmark(cfg: RunConfig, on_message: Callable[[dict], None] | None = None,
                  model=None) -> dict:
    """Run one configuration to the end in a worker; return the bench job's result."""
    return run_job(cfg, "bench", model, on_message)
