"""Parent side of quantization: check the request, run the job in a child process, and write the
verified result without ever touching the input.

``quantize(request)`` returns the report (the JSON contract of ``litelens quantize --json``, the
GUI panel and the tests); ``QuantizeRequest.refusal()`` tells bad input (exit 2) before anything
runs. The output is written only when the result loads under the default runtime (XNNPACK):
atomically, mode 0644, never over the input or an existing model.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.errors import ModelError
from core.fileio import atomic_path
from core.quantize import recipes
from core.quantize.job import DEFAULT_DELEGATE, STAGES
from core.quantize.source import source_kind, tensorflow_missing

ROOT = Path(__file__).resolve().parent.parent.parent


class Refused(ValueError):
    """A request that cannot run (exit 2): the message names the file and the problem."""


@dataclass
class QuantizeRequest:
    model: str
    recipe: str = "dynamic_int8"
    calibration: str = "random"
    samples: int = 8
    keep_float: list[str] = field(default_factory=list)
    float_io: bool = False
    output: str | None = None
    recipe_file: str | None = None    # an edited recipe (JSON) instead of the named one
    eval_samples: int = 4
    threads: int = 1
    latency_runs: int = 10

    def entries(self) -> list[dict]:
        if self.recipe_file:
            try:
                base = recipes.load_recipe(self.recipe_file)
            except ValueError as e:
                raise Refused(str(e)) from None
            return recipes.with_options(base, self.keep_float,
                                        self.float_io and recipes.is_static(base))
        try:
            return recipes.aeq_recipe(self.recipe, self.keep_float, self.float_io)
        except ValueError as e:
            raise Refused(str(e)) from None

    def output_path(self) -> Path:
        if self.output:
            return Path(self.output)
        src = Path(self.model)
        stem = src.name if src.is_dir() else src.stem
        name = Path(self.recipe_file).stem if self.recipe_file else self.recipe
        base = src.parent / f"{stem}.{name}"
        out, k = base.with_name(base.name + ".tflite"), 2
        while out.exists():   # never overwrite an earlier result: the next free name
            out, k = base.with_name(f"{base.name}.{k}.tflite"), k + 1
        return out

    def refusal(self) -> str | None:
        """Why this request cannot run (None when it can)."""
        src = Path(self.model)
        if not src.exists():
            return f"{src}: no such file or folder"
        kind = source_kind(src)
        if kind != "tflite" and tensorflow_missing():
            return tensorflow_missing(src)
        if kind == "tflite":
            from core.model.reader import open_model
            try:
                open_model(src).close()
            except ModelError as e:
                return str(e)
        try:
            self.entries()
        except Refused as e:
            return str(e)
        if self.samples < 1 or self.eval_samples < 1:
            return "--samples must be at least 1"
        if self.output:
            out = Path(self.output)
            if out.exists() and src.exists() and os.path.samefile(out, src) or \
                    out.resolve() == src.resolve():
                return f"{out}: the output is the input model; choose another path (LiteLens " \
                       "never overwrites the model it quantizes)"
            if out.exists():
                return f"{out}: already exists; choose a new output path (LiteLens never " \
                       "overwrites a model)"
            if not out.parent.is_dir():
                return f"{out.parent}: no such folder for the output"
        return None


def empty_report(req: QuantizeRequest) -> dict:
    return {"input": str(req.model), "output": None, "recipe": req.recipe_file or req.recipe,
            "quantizer": None, "prepass": [], "size_bytes": {"before": None, "after": None},
            "loads": {d: {"ok": False, "error": None} for d in ("xnnpack", "builtin")},
            "latency_ms": {"before": None, "after": None}, "error": None, "per_layer": [],
            "per_layer_note": None, "kept_float": [], "warnings": [], "failure": None}


class QuantizeJob:
    """The job in a child process: ``poll()`` drains progress, ``cancel()`` kills it (the
    quantizer has no cancel of its own), ``wait()`` blocks until it ended."""

    def __init__(self, req: QuantizeRequest):
        problem = req.refusal()
        if problem:
            raise Refused(problem)
        self.req = req
        self.report = empty_report(req)
        self.stage: str | None = None
        self.progress = (0, len(STAGES))
        self.cancelled = False
        self._tmp = tempfile.mkdtemp(prefix="litelens-quantize-")
        self._candidate = os.path.join(self._tmp, "candidate.tflite")
        self._result: dict | None = None
        self._error: dict | None = None
        self._stderr: list[str] = []
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        cfg = {"model": str(req.model), "recipe": req.recipe_file or req.recipe,
               "entries": req.entries(), "keep_float": req.keep_float,
               "static": recipes.is_static(req.entries()), "calibration": req.calibration,
               "samples": req.samples, "eval_samples": req.eval_samples,
               "threads": req.threads, "latency_runs": req.latency_runs,
               "candidate": self._candidate}
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                         if env.get("PYTHONPATH") else "")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        self.proc = subprocess.Popen([sys.executable, "-m", "core.quantize.job"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=str(ROOT), env=env, text=True)
        self.proc.stdin.write(json.dumps(cfg) + "\n")
        self.proc.stdin.flush()
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self._pending.append(msg)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr = (self._stderr + [line.rstrip()])[-40:]

    def poll(self) -> list[dict]:
        with self._lock:
            msgs, self._pending = self._pending, []
        for m in msgs:
            if m.get("t") == "stage":
                self.stage = m["stage"]
                self.progress = (int(m["step"]), int(m["steps"]))
            elif m.get("t") == "result":
                self._result = m
            elif m.get("t") == "error":
                self._error = m
        return msgs

    @property
    def finished(self) -> bool:
        return self.proc.poll() is not None

    def cancel(self) -> None:
        self.cancelled = True
        if self.proc.poll() is None:
            self.proc.kill()

    def wait(self, on_message: Callable[[dict], None] | None = None) -> dict:
        while True:
            done = self.proc.poll() is not None
            for m in self.poll():
                if on_message:
                    on_message(m)
            if done:
                break
            try:
                self.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        for t in self._threads:
            t.join(timeout=5)
        for m in self.poll():
            if on_message:
                on_message(m)
        return self.finish()

    def finish(self) -> dict:
        """Fold the outcome into the report and, when verified, write the output."""
        r = self.report
        try:
            code = self.proc.returncode
            if self.cancelled:
                r["failure"] = "cancelled"
            elif self._error is not None:
                r["failure"] = self._error["message"]
            elif code is not None and code < 0:
                r["failure"] = (f"the quantizer/runtime crashed ({_signal_name(-code)}) during "
                                f"stage {self.stage or 'start'}")
            elif self._result is None:
                tail = next((s for s in reversed(self._stderr) if s.strip()), "")
                r["failure"] = f"the quantize job ended without a result (exit {code}) {tail}"
            else:
                self._fold(self._result)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return r

    def _fold(self, m: dict) -> None:
        r = self.report
        r.update(quantizer=m["quantizer"], prepass=m["prepass"], loads=m["loads"],
                 error=m["error"], per_layer=m["per_layer"], per_layer_note=m["per_layer_note"],
                 kept_float=m["kept_float"], warnings=m["warnings"],
                 size_bytes={"before": m["size_before"], "after": m["size_after"]})
        lat = m["latency_ms"]
        r["latency_ms"] = {"before": lat["before"], "after": lat["after"],
                           "delegate": lat["delegate"], "threads": lat["threads"]}
        if not m["loads"][DEFAULT_DELEGATE]["ok"]:
            r["failure"] = (f"the quantized model does not load under {DEFAULT_DELEGATE}: "
                            f"{m['loads'][DEFAULT_DELEGATE]['error']}")
            return
        out = self.req.output_path()
        try:
            with atomic_path(out) as tmp:
                shutil.copyfile(self._candidate, tmp)
        except OSError as e:
            r["failure"] = f"{out}: cannot write the result ({e})"
            return
        r["output"] = str(out)


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def quantize(req: QuantizeRequest, on_message: Callable[[dict], None] | None = None) -> dict:
    """Run a request to the end. Raises Refused for bad input; every other outcome is in the
    report (``failure`` is None on success)."""
    return QuantizeJob(req).wait(on_message)
