"""Parent side of quantization: check the request, run the job in a child process, and write the
verified result without ever touching the input.

``quantize(request)`` returns the ``QuantizeReport`` (its ``to_json()`` is the contract of
``litelens quantize --json``; the GUI panel and the tests read it typed);
``QuantizeRequest.refusal()`` tells bad input (exit 2) before anything runs. The result is
judged (``core.quantize.verdict``) and written only when the verdict is not ``fail`` (or the
user keeps failed results): atomically, mode 0644, never over the input or any file that exists
when it is written.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.errors import ModelError
from core.fileio import OutputExists, atomic_path
from core.inference.config import ConfigError, RunConfig
from core.inference.inputs import InputError
from core.inference.session import WorkerSession
from core.inference.worker.jobs.quantize import (
    Folder,
    QuantizeParams,
    SignatureSamples,
    Verification,
)
from core.model.types import Model
from core.quantize import calibration, checks, prepass, recipes, verdict
from core.quantize.calibration import EVAL_SAMPLES
from core.quantize.report import QuantizeReport, SizeBytes
from core.quantize.source import (
    ConversionError,
    convert_to_tflite,
    is_saved_model,
    source_kind,
    tensorflow_missing,
)
from core.quantize.verdict import DEFAULT_DELEGATE, DataSource


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
    eval_samples: int = EVAL_SAMPLES
    threads: int = 1
    latency_runs: int = 10
    timeout_s: float | None = None    # kill the worker (a hung quantizer/runtime) after this
    # --shape: concrete shapes of dynamic inputs (by name); calibration, evaluation and the
    # verification runs use them (the inputs are resized, then allocated)
    shapes: dict[str, list[int]] | None = None
    keep_failed: bool = False         # write the result even when the verdict is fail
    delegate: str = DEFAULT_DELEGATE  # whose coverage before/after the verdict compares

    def run_config(self, model: str) -> RunConfig:
        """How the worker runs (threads bounded as for every run, the timeout)."""
        return RunConfig(model=model, threads=self.threads, timeout_s=self.timeout_s,
                         shapes=self.shapes)

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
        if kind == "savedmodel" and not is_saved_model(src):
            return (f"{src}: is a folder without saved_model.pb, not a SavedModel; quantize "
                    "takes a .tflite file, a SavedModel folder or a .keras/.h5 file")
        if kind != "tflite" and tensorflow_missing():
            return tensorflow_missing(src)
        if kind == "tflite":
            from core.inference.inputs import input_specs
            from core.model.reader import open_model
            try:
                with open_model(src) as m:
                    if self.shapes:
                        input_specs(m, self.shapes)
            except ModelError as e:
                return str(e)
            except InputError as e:
                return f"--shape: {e}"
        try:
            self.entries()
        except Refused as e:
            return str(e)
        if self.samples < 1:
            return f"--samples must be at least 1, not {self.samples}"
        if self.eval_samples < 1:
            return f"--eval-samples must be at least 1, not {self.eval_samples}"
        if self.timeout_s is not None and not self.timeout_s > 0:
            return f"--timeout must be a number of seconds above 0, not {self.timeout_s}"
        try:
            self.run_config(self.model).validate()
        except ConfigError as e:
            return f"--{e}"
        problem = calibration.source_problem(self.calibration)
        if problem:
            return problem
        from core.analysis.support.analyze import DELEGATES
        if self.delegate not in DELEGATES:
            return f"--delegate: unknown delegate {self.delegate!r} (one of " \
                   f"{', '.join(DELEGATES)})"
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


class QuantizeJob:
    """One request: the pre-pass and the samples here, the quantizer and the verification runs
    in a worker job (``core.inference.worker.jobs.quantize``). ``poll()`` drains progress,
    ``cancel()`` kills the worker (the quantizer has no cancel of its own), ``wait()`` runs to
    the end; ``stage`` / ``progress`` say where it is. Its temporary folder is removed by
    ``finish()`` or ``close()``, and at once if preparing raises."""

    def __init__(self, req: QuantizeRequest, model: Model | None = None):
        problem = req.refusal()
        if problem:
            raise Refused(problem)
        self.req = req
        self.report = QuantizeReport.empty(str(req.model), req.recipe_file or req.recipe,
                                           req.threads)
        self.stage: str | None = "prepare"
        self.progress = (0, 1)
        self.cancelled = False
        self._tmp = tempfile.mkdtemp(prefix="litelens-quantize-")
        self._candidate = os.path.join(self._tmp, "candidate.tflite")
        self.session: WorkerSession[Folder] | None = None
        self._failure: str | None = None
        self._dynamic_note = ""   # dynamic inputs --shape left unset, named with the option
        try:
            self._prepare(model)
        except (InputError, ModelError, ConversionError) as e:
            self._failure = str(e)
        except BaseException:
            self.close()
            raise

    def _prepare(self, model: Model | None) -> None:
        from core.inference.inputs import input_specs
        from core.inference.resize import dynamic_note, stored_at_shape
        from core.inference.worker.jobs.quantize import save_samples
        from core.model.reader import open_bytes
        req, tmp = self.req, Path(self._tmp)
        if source_kind(req.model) == "tflite":
            self._input = Path(req.model)
            original = self._input.read_bytes()
        else:   # SavedModel / Keras: TensorFlow's converter makes the float model first
            self._input = tmp / "converted.tflite"
            original = convert_to_tflite(req.model, self._input)
        self._before = open_bytes(original, str(req.model))
        plan = prepass.plan(self._before)
        float_bytes = prepass.apply(original, plan)
        (tmp / "float.tflite").write_bytes(float_bytes)
        if req.shapes:
            # the quantizer allocates the model at its stored shape before calibrating: store
            # the --shape one (signatures keep their -1)
            float_bytes = stored_at_shape(str(tmp / "float.tflite"), req.shapes)
            (tmp / "float.tflite").write_bytes(float_bytes)
            self.report.prepass.append(
                "stored input shapes set to " + ", ".join(
                    f"{k}={list(v)}" for k, v in req.shapes.items())
                + " (--shape; the shape signatures keep their -1)")
        self._float = open_bytes(float_bytes, "pre-passed")
        entries = req.entries()
        static = recipes.is_static(entries)
        self.report.prepass = plan.steps()
        if static:
            self.report.warnings += plan.warnings
        specs = input_specs(self._before, req.shapes)
        self._dynamic_note = dynamic_note(self._before, req.shapes,
                                          "calibration and verification")
        if self._dynamic_note:
            self.report.warnings.append(self._dynamic_note)
        evals = calibration.samples(specs, req.calibration, req.eval_samples,
                                    seed_offset=calibration.EVAL_SEED_OFFSET)
        save_samples(evals, tmp / "eval.npz")
        self.report.evaluation = DataSource(req.calibration, len(evals))
        signatures: list[SignatureSamples] = []
        if static:   # every signature is calibrated: the quantizer checks each has its ranges
            for k, sig in enumerate(self._float.signatures):
                sg = self._float.subgraphs[sig.subgraph]
                by_index = {ti: name for name, ti in sig.inputs.items()}
                path = tmp / f"calibration{k}.npz"
                names = {sg.tensors[ti].name for ti in sg.inputs}
                at = {k: v for k, v in (req.shapes or {}).items() if k in names}
                made = calibration.samples(
                    input_specs(self._float, at, subgraph=sig.subgraph), req.calibration,
                    req.samples)
                save_samples(made, path)
                self.report.calibration = DataSource(req.calibration, len(made))
                signatures.append({"key": sig.key, "calibration": str(path),
                                   "input_names": [by_index.get(ti, sg.tensors[ti].name)
                                                   for ti in sg.inputs]})
        sg = self._float.subgraphs[0]
        params: QuantizeParams = {
            "float_model": str(tmp / "float.tflite"), "entries": entries, "static": static,
            "signatures": signatures, "evaluation": str(tmp / "eval.npz"),
            "layers": [{"tensor": sg.tensors[op.outputs[0]].name, "op": op.op,
                        "op_index": op.index} for op in sg.operators
                       if op.outputs and op.outputs[0] >= 0],
            "latency_runs": req.latency_runs, "candidate": self._candidate}
        self.session = WorkerSession(req.run_config(str(self._input)), Folder, model,
                                     dict(params)).start()

    def _note(self, msgs: list[dict]) -> list[dict]:
        for m in msgs:
            if m.get("t") == "stage" and "steps" in m:
                self.stage = m["stage"]
                self.progress = (int(m["step"]), int(m["steps"]))
        return msgs

    def poll(self) -> list[dict]:
        """Messages since the last call (never blocks)."""
        return self._note(self.session.poll()) if self.session is not None else []

    @property
    def finished(self) -> bool:
        return self.session is None or self.session.finished

    def cancel(self) -> None:
        self.cancelled = True
        if self.session is not None:
            self.session.kill()

    def wait(self, on_message: Callable[[dict], None] | None = None) -> QuantizeReport:
        try:
            while self.session is not None and not self.session.finished:
                for m in self._note(self.session.wait(0.1)):
                    if on_message:
                        on_message(m)
        except BaseException:   # Ctrl-C, or a caller's callback failing: nothing left behind
            self.close()
            raise
        return self.finish()

    def close(self) -> None:
        """Stop the worker if it still runs and remove the temporary folders (idempotent)."""
        s = self.session
        if s is not None and not s.finished:
            s.kill()
            while not s.finished:   # its exit arrives at once; folding it removes its folder
                s.wait(0.1)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def finish(self) -> QuantizeReport:
        """Fold the outcome into the report and, when verified, write the output."""
        r = self.report
        try:
            if self.cancelled:
                r.failure = "cancelled"
            elif self._failure:
                r.failure = self._failure
            elif self.session is not None:
                res = self.session.job.result()
                r.quantizer = res.quantizer
                if res.error and res.error_kind != "cancelled":
                    r.failure = res.error + ("" if not r.warnings else
                                             f" ({'; '.join(r.warnings)})")
                elif res.result is None:
                    r.failure = res.error or "the quantize job ended without a result"
                else:
                    self._fold(res.result)
            if r.failure and self._dynamic_note and self._dynamic_note not in r.failure:
                # a failure at a guessed shape says which input and which option
                r.failure += f" ({self._dynamic_note})"
            if r.failure and (r.verdict != "fail" or not r.verdict_reasons):
                r.fail(r.failure)   # the run failed besides (or before) any judgement
        finally:
            self.close()
        return r

    def _fold(self, m: Verification) -> None:
        from core.model.reader import open_model
        r = self.report
        with open_model(self._candidate) as after:
            noop = checks.nothing_quantized(self._before, after, r.recipe)
            if noop:
                r.failure = f"nothing to quantize: {noop}"
                return
            entries = self.req.entries()
            r.kept_float = checks.kept_float(self._float, after, entries,
                                             recipes.is_static(entries))
        r.loads, r.error, r.per_layer = m.loads, m.error, m.per_layer
        r.input_loads = m.input_loads
        r.per_layer_note, r.warnings = m.per_layer_note, r.warnings + m.warnings
        r.size_bytes = SizeBytes(self._before.size_bytes, m.size_after)
        r.latency_ms = m.latency_ms
        if not m.loads[DEFAULT_DELEGATE].ok:
            r.failure = (f"the quantized model does not load under {DEFAULT_DELEGATE}: "
                         f"{m.loads[DEFAULT_DELEGATE].error}")
            before = m.input_loads[DEFAULT_DELEGATE]
            if not before.ok:
                r.failure += f" (the input model does not load here either: {before.error})"
            return
        with open_model(self._candidate) as after:
            r.coverage = verdict.coverage(self._before, after, self.req.delegate)
        r.verdict, r.verdict_reasons = verdict.judge(r)
        if r.verdict == "fail" and not self.req.keep_failed:
            r.withheld = True
            r.failure = (f"verdict fail: {r.verdict_reasons[0].text}; nothing written "
                         "(--keep-failed writes it anyway)")
            return
        r.output, r.failure = self._write()

    def _write(self) -> tuple[str | None, str | None]:
        """(written path, None) or (None, why not). A file that takes the output path while the
        job ran is never replaced: with ``-o`` the run fails naming it; with the default name the
        next free name is taken."""
        while True:
            out = self.req.output_path()
            try:
                with atomic_path(out) as tmp:
                    shutil.copyfile(self._candidate, tmp)
            except OutputExists:
                if self.req.output:   # it was free when the run started (``refusal``)
                    return None, (f"{out}: a file appeared at the output path during the run; "
                                  "it was left as it is and nothing was written")
                continue   # another run took the default name first: output_path() moves on
            except OSError as e:
                return None, f"{out}: cannot write the result ({e.strerror or e})"
            return str(out), None


def quantize(req: QuantizeRequest, on_message: Callable[[dict], None] | None = None,
             model: Model | None = None) -> QuantizeReport:
    """Run a request to the end. Raises Refused for bad input; every other outcome is in the
    report (``failure`` is None on success)."""
    return QuantizeJob(req, model).wait(on_message)
