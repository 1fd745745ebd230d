"""Parent side of a worker job: prepare inputs, spawn the worker, fold its messages, attribute a
crash or timeout, and hand the job's result.

``WorkerSession`` never blocks its caller unless asked (``poll()`` drains what has arrived;
``wait()`` waits up to a timeout), so the GUI can drive it from a timer and the CLI from a loop.
The worker's exit status tells a clean finish from a crash (killed by a signal) or a timeout, and
the last progress message says what was running: ``"the runtime crashed while running op 12
(CONV_2D) (SIGSEGV, signal 11)"``.

The session is generic over the job: it is made with the job module's ``Folder`` class
(``WorkerSession(cfg, bench.Folder)``), sends ``{"job": Folder.JOB, ...config}``, passes the job's
own messages to that ``Folder`` (``session.job``, typed per job) and returns its typed
``result()`` (for ``bench``: ``core.inference.results.BenchResult``).
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Generic, Protocol, TypeVar

from core import format as fmt
from core.errors import ModelError
from core.fileio import dumps_json
from core.inference.config import RunConfig
from core.inference.job_api import JobFolder
from core.inference.results import Outcome
from core.inference.worker.protocol import STOP_COMMAND

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; LiteLens runs on 3.10

    from core.inference.inputs import InputSpec
    from core.inference.results import (
        ArenaResult,
        BenchResult,
        PlacementResult,
        TensorDetailsResult,
    )
    from core.inference.worker.jobs.bench import Folder as BenchFolder

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


F = TypeVar("F", bound=JobFolder[Any])
R = TypeVar("R")


class WorkerProcess(Protocol):
    """The worker as the session drives it: a local ``subprocess.Popen`` with text pipes, or
    another transport's stand-in (``core.inference.remote.RemoteProcess``)."""
    @property
    def stdin(self) -> IO[str] | None: ...

    @property
    def stdout(self) -> Iterable[str] | None: ...

    @property
    def stderr(self) -> Iterable[str] | None: ...

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...

    def kill(self) -> None: ...


@dataclass(frozen=True)
class JobError:
    """Why a job failed: ``kind`` (invoke, timeout, crashed, ...) and one printable line."""
    kind: str
    message: str


class WorkerSession(Generic[F]):
    """One job with one configuration in one worker process: ``WorkerSession(cfg, bench.Folder)``.

    ``model``: the already-open ``core.model.types.Model`` of ``cfg.model`` if the caller has
    one (the GUI tab does); otherwise the session opens the file itself, once. ``params``: the
    job's own settings (e.g. the quantize recipe), sent as ``cfg["params"]``. The job's folded
    state is ``session.job`` (the job's ``Folder``: ``session.job.latencies_ms`` for bench)."""

    def __init__(self, cfg: RunConfig, folder: type[F], model: Any = None,
                 params: dict[str, Any] | None = None):
        cfg.validate()
        self.cfg = cfg
        self.job_name = folder.JOB
        self.model = model
        self.params = dict(params or {})   # the job's own settings (JSON), beside the RunConfig
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.proc: WorkerProcess | None = None
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
        self.info: dict[str, Any] = {}   # the worker's hello: pid, python, backend, numpy, ...
        self.done = False
        self.stopped = False             # the worker said it stopped early (Stop, Ctrl-C)
        self.error: JobError | None = None
        self.specs: list[InputSpec] = []
        self.input_tensors: list[int] = []  # tensor indices the worker sets, in the specs' order
        self.signature_subgraph = 0         # the subgraph the run invokes
        self.inputs_path: Path | None = None
        self.job: F = folder(self)
        self._prepare_inputs()

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

    def start(self) -> Self:
        proc = self._spawn()
        self.proc = proc
        self.started_at = self._last_seen = time.monotonic()
        self._send(self._worker_config())
        self._stderr_thread = threading.Thread(target=self._read_stderr, args=(proc,),
                                               daemon=True, name="worker-err")
        self._stderr_thread.start()
        threading.Thread(target=self._read_stdout, args=(proc,), daemon=True,
                         name="worker-out").start()
        return self

    def _worker_config(self) -> dict[str, Any]:
        """The config line the worker reads first (paths as the worker sees them)."""
        return {"job": self.job_name, **self.cfg.to_json(), "inputs": str(self.inputs_path),
                "native_log": str(Path(self._tmpdir) / "native.log"),
                "model": os.path.abspath(self.cfg.model),  # as named, symlinks kept
                "params": self.params, "input_tensors": self.input_tensors,
                "subgraph": self.signature_subgraph}

    def _spawn(self) -> WorkerProcess:
        """The worker process, with text pipes: the one place a transport other than a local
        child process hooks in (``core.inference.remote`` runs it on a board)."""
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
                                stderr=subprocess.PIPE, cwd=str(ROOT), env=env, text=True,
                                encoding="utf-8", errors="replace", bufsize=1)

    def _send(self, msg: dict[str, Any]) -> None:
        """One JSON line to the worker's stdin."""
        stdin = self.proc.stdin if self.proc else None
        if stdin is None:
            raise BrokenPipeError("the worker has no stdin")
        stdin.write(dumps_json(msg) + "\n")
        stdin.flush()

    def _read_stdout(self, proc: WorkerProcess) -> None:
        for line in proc.stdout or ():
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

    def _read_stderr(self, proc: WorkerProcess) -> None:
        for line in proc.stderr or ():
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
                self._send({"cmd": STOP_COMMAND})
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

    def poll(self) -> list[dict[str, Any]]:
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

    def wait(self, timeout: float = 0.1) -> list[dict[str, Any]]:
        """Block up to ``timeout`` s for at least one message (for the CLI and tests)."""
        self._check_timeout()
        try:
            first = self.messages.get(timeout=timeout)
        except queue.Empty:
            return []
        return self._fold(first) + self.poll()

    def run_to_end(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Wait for the end of the job (its typed result is then ``self.job.result()``)."""
        while not self.finished:
            for m in self.wait(0.1):
                if on_message:
                    on_message(m)

    # -- folding --
    def _fold(self, m: dict[str, Any]) -> list[dict[str, Any]]:
        t = m["t"]
        if t == "stage":
            self.stage = m["stage"]
        elif t == "hello":
            self.info.update({k: v for k, v in m.items() if k != "t"})
        elif t == "hb":
            return []  # liveness only (``_last_seen``); nothing for the caller
        elif t == "error":
            self.error = JobError(str(m.get("kind", "error")),
                                  self._explain(str(m.get("message", ""))))
            m = {**m, "message": self.error.message}
        elif t == "exit":
            return [m] + self._finish(m["code"])
        else:
            if t == "done":
                self.done = True
                self.stopped = bool(m.get("stopped"))
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

    def _finish(self, code: int) -> list[dict[str, Any]]:
        self.finished = True
        extra = []
        if self.error is None and not self.done and self._killed and self._stop_requested \
                and not (self._timed_out or self._frozen):
            # asked to stop, then killed because it did not (a second Ctrl-C, or the CLI's grace
            # ran out): a stopped run with what it measured, not a crash
            self.stopped = True
        elif self.error is None and not self.done:
            kind, message = self._death(code)
            self.error = JobError(kind, self._explain(message))
            extra.append({"t": "error", "kind": kind, "message": self.error.message})
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return extra

    def _death(self, code: int) -> tuple[str, str]:
        """(kind, message) for a worker that ended without saying done or error."""
        if self._timed_out:
            return "timeout", (f"timed out after {self.cfg.timeout_s:g} s {self._where()}; the "
                               "worker was killed")
        if self._frozen:
            return "frozen", (f"the worker stopped responding {self._where()}: no heartbeat for "
                              f"{self.cfg.heartbeat_s:g} s, so it was killed (--heartbeat "
                              "SECONDS waits longer, --heartbeat 0 never gives up)")
        if code == -signal.SIGKILL and not self._killed:
            return "killed", (f"the worker was killed from outside LiteLens {self._where()} "
                              "(SIGKILL); on Linux that is often the out-of-memory killer (see "
                              "`dmesg` or `journalctl -k`)")
        if code < 0:
            said = self._last_native_words()
            return "crashed", (f"the runtime crashed {self._where()} ({_signal_name(-code)}, "
                               f"signal {-code})" + (f" — it said: {said}" if said else ""))
        native = [ln for ln in self.stderr_tail if ln.strip()]
        last = f" — last output: {native[-1].strip()[:200]}" if native else ""
        return "worker_exit", (f"the worker ({self.cfg.python_exe or sys.executable}) exited "
                               f"with code {code} {self._where()}{last}")

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
                "stopped" if self.stopped or self._stop_requested else
                "ok" if self.finished else "running")

    def outcome(self) -> Outcome:
        """Status, error and error kind: what every job's result shares."""
        return Outcome(self.status(), self.error.message if self.error else None,
                       self.error.kind if self.error else None)

    def target_json(self) -> dict[str, Any] | None:
        """Where the worker ran when not here (a board: its address and facts), else None."""
        return None

    def runtime_label(self) -> str | None:
        """The worker's runtime as it said hello ("ai-edge-litert 2.3.0"), None before that."""
        label = self.info.get("backend")
        return str(label) if label is not None else None

    def worker_python(self) -> str:
        """The interpreter the worker runs (as it said hello, else the one it was started with)."""
        return str(self.info.get("python") or self.cfg.python_exe or sys.executable)

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


def run_job(cfg: RunConfig, folder: type[JobFolder[R]], model: Any = None,
            on_message: Callable[[dict[str, Any]], None] | None = None,
            params: dict[str, Any] | None = None) -> R:
    """Run one job to the end in a worker; return its typed result."""
    session = WorkerSession(cfg, folder, model, params).start()
    session.run_to_end(on_message)
    return session.job.result()


# Typed entry points for the analyses and the GUI, which reach the worker's jobs only through
# the session (import-linter contract); each imports its job module when first used.
def bench_session(cfg: RunConfig, model: Any = None) -> WorkerSession[BenchFolder]:
    """A bench session, not started (``.start()``); its live state is ``session.job``."""
    from core.inference.worker.jobs import bench
    return WorkerSession(cfg, bench.Folder, model)


def run_benchmark(cfg: RunConfig, on_message: Callable[[dict[str, Any]], None] | None = None,
                  model: Any = None) -> BenchResult:
    """Run one configuration to the end in a worker; return the bench job's result."""
    from core.inference.worker.jobs import bench
    return run_job(cfg, bench.Folder, model, on_message)


def run_tensor_details(cfg: RunConfig) -> TensorDetailsResult:
    """The runtime's view of every tensor once the model is allocated."""
    from core.inference.worker.jobs import tensor_details
    return run_job(cfg, tensor_details.Folder)


def run_memory_arena(cfg: RunConfig) -> ArenaResult:
    """Every tensor's address after ``allocate_tensors()`` (the real arena)."""
    from core.inference.worker.jobs import memory_arena
    return run_job(cfg, memory_arena.Folder)


def run_xnnpack_placement(cfg: RunConfig) -> PlacementResult:
    """Which ops the real XNNPACK delegate replaced."""
    from core.inference.worker.jobs import xnnpack_placement
    return run_job(cfg, xnnpack_placement.Folder)


def run_tflm(cfg: RunConfig, params: dict[str, Any],
             on_message: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The model on TensorFlow Lite Micro (``tflm_run``): refusal, or its arena and outputs."""
    from core.inference.worker.jobs import tflm_run
    return run_job(cfg, tflm_run.Folder, on_message=on_message, params=params)


def run_ethos_u(cfg: RunConfig, params: dict[str, Any], model: Any = None,
                on_message: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Arm vela's compilation of the model for one Ethos-U accelerator (``ethos_u``)."""
    from core.inference.worker.jobs import ethos_u
    return run_job(cfg, ethos_u.Folder, model, on_message, params)


def run_npu_plugin(cfg: RunConfig, params: dict[str, Any], model: Any = None,
                   on_message: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """A LiteRT NPU compiler plugin's partition / compile of the model (``npu_plugin``)."""
    from core.inference.worker.jobs import npu_plugin
    return run_job(cfg, npu_plugin.Folder, model, on_message, params)
