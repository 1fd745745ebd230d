"""Parent side of a benchmark: prepare inputs, spawn the worker, fold its messages into a result.

``WorkerSession`` never blocks its caller unless asked (``poll()`` drains what has arrived;
``wait()`` waits up to a timeout), so the GUI can drive it from a timer and the CLI from a loop.
The worker's exit status tells a clean finish from a crash (killed by a signal) or a timeout, and
the last progress message says what was running: ``"the runtime crashed while running op 12
(CONV_2D) (SIGSEGV, signal 11)"``.

The result dict is the JSON contract shared by the CLI (``litelens bench --json``), the GUI and
the tests (see ``result()``).
"""
from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import ModelError
from core.inference import BACKENDS, DELEGATES
from core.inference.stats import summarize

ROOT = Path(__file__).resolve().parent.parent.parent


class ConfigError(ValueError):
    """A run configuration that cannot work (bad delegate, missing interpreter, ...)."""


@dataclass
class RunConfig:
    model: str
    backend: str = "litert"
    delegate: str = "xnnpack"            # xnnpack | builtin | reference | gpu | external:PATH
    delegate_options: dict = field(default_factory=dict)
    threads: int = 1
    runs: int = 50
    warmup: int = 1
    input_source: str = "random"         # random | zeros | path to image/.npy/.npz
    shapes: dict | None = None           # {input name: [dims]} for dynamic inputs
    profile: bool = False
    profile_runs: int = 20
    python_exe: str | None = None        # another interpreter (tflite-runtime / TF venv)
    timeout_s: float | None = None       # kill the worker after this many seconds

    def label(self) -> str:
        py = f" @{self.python_exe}" if self.python_exe else ""
        return f"{self.backend}/{self.delegate}/{self.threads}t{py}"

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r} (use {', '.join(BACKENDS)})")
        if self.delegate not in DELEGATES and not self.delegate.startswith("external:"):
            raise ConfigError(f"unknown delegate {self.delegate!r} (use "
                              f"{', '.join(DELEGATES)} or external:PATH)")
        if self.delegate.startswith("external:"):
            lib = self.delegate[len("external:"):]
            if not lib or not Path(lib).is_file():
                raise ConfigError(f"{lib or '(empty path)'}: external delegate library not found")
        if self.delegate == "gpu" and self.backend not in ("litert", "compiled"):
            raise ConfigError(f"the gpu accelerator is LiteRT's CompiledModel API; backend "
                              f"{self.backend} can use a GPU delegate through external:PATH")
        for name, v, lo in (("threads", self.threads, 1), ("runs", self.runs, 1),
                            ("warmup", self.warmup, 0)):
            if not isinstance(v, int) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, not {v!r}")
        if self.python_exe and not (Path(self.python_exe).is_file()
                                    and os.access(self.python_exe, os.X_OK)):
            raise ConfigError(f"{self.python_exe}: no such Python interpreter")

    def to_json(self) -> dict:
        return asdict(self)


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def _labels_for_outputs(model_path: str) -> list[list[str] | None]:
    try:
        from core.model.metadata import model_metadata
        from core.model.reader import open_model
        with open_model(model_path) as m:
            return [o.labels for o in model_metadata(m).outputs]
    except Exception:
        return []


WORKER_FLAG = "--litelens-worker"


class WorkerSession:
    """One benchmark configuration run in one worker process."""

    def __init__(self, cfg: RunConfig):
        cfg.validate()
        self.cfg = cfg
        self.messages: queue.Queue = queue.Queue()
        self.proc: subprocess.Popen | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=60)
        self.finished = False
        self.started_at: float | None = None
        self._tmpdir = tempfile.mkdtemp(prefix="litelens-run-")
        self._timed_out = False
        self._stop_requested = False
        self._stderr_thread: threading.Thread | None = None
        # folded state
        self.stage = "starting"
        self.current_op: tuple[int, str] | None = None
        self.info: dict[str, Any] = {}
        self.warmup_ms: list[float] = []
        self.latencies_ms: list[float] = []
        self.rss: list[tuple[float, int]] = []
        self.ops: list[dict] | None = None
        self.error: dict | None = None
        self.exit_code: int | None = None
        self._prepare_inputs()

    # -- setup --
    def _prepare_inputs(self) -> None:
        from core.inference.inputs import input_specs, make_inputs, save_inputs
        from core.model.reader import open_model
        with open_model(self.cfg.model) as model:  # ModelError names the file
            if not model.subgraphs:
                raise ModelError(self.cfg.model, "the model has no subgraph to run")
            self.specs = input_specs(model, self.cfg.shapes)
        arrays = make_inputs(self.specs, self.cfg.input_source)
        self.inputs_path = save_inputs(arrays, Path(self._tmpdir) / "inputs.npz")

    def start(self) -> "WorkerSession":
        exe = self.cfg.python_exe or sys.executable
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                         if env.get("PYTHONPATH") else "")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        wcfg = {**self.cfg.to_json(), "inputs": str(self.inputs_path),
                "native_log": str(Path(self._tmpdir) / "native.log"),
                "model": os.path.abspath(self.cfg.model)}  # as named, symlinks kept
        if self.cfg.python_exe is None and getattr(sys, "frozen", False):
            # PyInstaller bundle: the app binary runs the worker (gui/app.py dispatches)
            cmd = [sys.executable, WORKER_FLAG]
        else:
            cmd = [exe, "-u", "-m", "core.inference.worker"]
        self.proc = subprocess.Popen(cmd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=str(ROOT), env=env,
                                     text=True, encoding="utf-8", errors="replace", bufsize=1)
        self.started_at = time.monotonic()
        self.proc.stdin.write(json.dumps(wcfg) + "\n")
        self.proc.stdin.flush()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True,
                                               name="worker-err")
        self._stderr_thread.start()
        threading.Thread(target=self._read_stdout, daemon=True, name="worker-out").start()
        return self

    def _read_stdout(self) -> None:
        proc = self.proc
        for line in proc.stdout:
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
        """Ask the worker to finish after the current inference (results so far are kept)."""
        self._stop_requested = True
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def _check_timeout(self) -> None:
        t = self.cfg.timeout_s
        if (t is not None and not self.finished and self.started_at is not None
                and not self._timed_out and time.monotonic() - self.started_at > t):
            self._timed_out = True
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
        elif t in ("hello", "init", "outputs"):
            self.info.update({k: v for k, v in m.items() if k != "t"})
        elif t == "first":
            self.info["first_ms"] = m["ms"]
        elif t == "lat":
            (self.warmup_ms if m["phase"] == "warmup" else self.latencies_ms).extend(m["ms"])
        elif t == "rss":
            self.rss.append((m["s"], m["b"]))
        elif t == "op":
            self.current_op = (m["index"], m["op"])
        elif t == "ops":
            self.ops = m["ops"]
            self.info["profile_method"] = m.get("method")
            if m.get("note"):
                self.info["profile_note"] = m["note"]
        elif t == "done":
            self.info.update(rss_peak=m["rss_peak"], rss_hwm=m["rss_hwm"], stopped=m["stopped"])
        elif t == "error":
            self.error = {"kind": m.get("kind", "error"), "message": m.get("message", "")}
        elif t == "exit":
            return [m] + self._finish(m["code"])
        return [m]

    def _where(self) -> str:
        if self.stage == "profile" and self.current_op:
            return f"while running op {self.current_op[0]} ({self.current_op[1]})"
        if self.stage in ("run", "warmup"):
            n = len(self.latencies_ms if self.stage == "run" else self.warmup_ms)
            return f"while invoking the model ({self.stage} {n + 1})"
        if self.stage == "first":
            return "while invoking the model (first inference)"
        if self.stage == "load":
            return "while loading and allocating the model"
        return f"during {self.stage}"

    def _finish(self, code: int) -> list[dict]:
        self.exit_code = code
        self.finished = True
        extra = []
        if self.error is None and "rss_peak" not in self.info:
            native = [ln for ln in self.stderr_tail if ln.strip()]
            last = f" — last output: {native[-1].strip()[:200]}" if native else ""
            if self._timed_out:
                self.error = {"kind": "timeout",
                              "message": f"timed out after {self.cfg.timeout_s:g} s "
                                         f"{self._where()}; the worker was killed"}
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
            extra.append({"t": "error", **self.error})
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return extra

    def _last_native_words(self) -> str:
        """The last line the runtime logged before dying (from the load capture or stderr)."""
        lines = []
        try:
            text = (Path(self._tmpdir) / "native.log").read_text("utf-8", "replace")
            lines += text.splitlines()
        except OSError:
            pass
        lines += list(self.stderr_tail)
        for ln in reversed(lines):
            s = ln.strip()
            if s and not s.startswith(("INFO:", "Fatal Python", "Current thread", "File ",
                                       "Thread 0x", "Extension modules")):
                return s[:200]
        return ""

    # -- the contract --
    def result(self) -> dict:
        """The JSON contract: backend, delegate, threads, init/first ms, latency stats, RSS, ops."""
        i = self.info
        rss_samples = [b for _, b in self.rss]
        peak = max([i.get("rss_peak") or 0, *rss_samples, i.get("rss_after_init") or 0]) or None
        res: dict[str, Any] = {
            "model": str(self.cfg.model),
            "backend": i.get("backend", self.cfg.backend),
            "delegate": self.cfg.delegate,
            "threads": self.cfg.threads,
            "python": i.get("python", self.cfg.python_exe or sys.executable),
            "input_source": self.cfg.input_source,
            "init_ms": i.get("init_ms"),
            "first_ms": i.get("first_ms"),
            "warmup_ms": summarize(self.warmup_ms),
            "latency_ms": summarize(self.latencies_ms),
            "rss_bytes": {"before_load": i.get("rss_before_load"),
                          "after_init": i.get("rss_after_init"),
                          "peak": peak, "hwm": i.get("rss_hwm")},
            "ops": self.ops or [],
            "inputs": i.get("inputs", [s.to_json() for s in getattr(self, "specs", [])]),
            "outputs": self._outputs_with_labels(),
            "status": ("error" if self.error else
                       "stopped" if i.get("stopped") or self._stop_requested else
                       "ok" if self.finished else "running"),
            "error": self.error["message"] if self.error else None,
            "error_kind": self.error["kind"] if self.error else None,
        }
        if self.ops:
            timed = [o["avg_ms"] for o in self.ops if o.get("avg_ms") is not None]
            med = res["latency_ms"]["median"]
            res["profile"] = {"method": i.get("profile_method"), "timed_ops": len(timed),
                              "ops": len(self.ops), "sum_ms": sum(timed),
                              "sum_vs_median": (sum(timed) / med) if med else None}
        elif i.get("profile_note"):
            res["profile"] = {"method": i.get("profile_method"), "note": i["profile_note"]}
        return res

    def _outputs_with_labels(self) -> list[dict]:
        outs = [dict(o) for o in self.info.get("outputs", [])]
        if any("topk" in o for o in outs):
            labels = _labels_for_outputs(self.cfg.model)
            for k, o in enumerate(outs):
                lab = labels[k] if k < len(labels) else None
                if "topk" in o and lab:
                    o["topk"] = [[idx, val, lab[idx] if idx < len(lab) else None]
                                 for idx, val, *_ in o["topk"]]
        return outs

    def __del__(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        except Exception:
            pass


def run_benchmark(cfg: RunConfig, on_message: Callable[[dict], None] | None = None) -> dict:
    """Run one configuration to the end in a worker; return ``WorkerSession.result()``."""
    return WorkerSession(cfg).start().run_to_end(on_message)
