"""The Quantize panel: one button per recipe, options, progress with Cancel, and the verified
before/after report with its verdict (pass / warn / fail, in the theme's outcome colours), the
per-layer error table, a "keep the worst N ops float" re-run and, after a fail verdict (nothing
written), a re-run that writes the result anyway.

Thin over ``core.quantize.run``: a ``QuantizeJob`` (pre-pass and samples here, the quantizer and
the verification runs in a worker process) runs on the one task runner; the report is the same
``QuantizeReport`` the CLI prints. The panel paints nothing itself on the graph: it emits the core error
``Overlay`` and the paths for the tab/main window to open.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.model.types import Model
from core.quantize import recipes
from core.quantize.calibration import EVAL_SAMPLES
from core.quantize.recipes import RECIPES
from core.quantize.report import QuantizeReport, error_overlay, summary_lines
from core.quantize.run import QuantizeJob, QuantizeRequest, Refused
from gui import file_dialogs
from gui.quantize.layer_table import LayerErrorTable
from gui.shape_setting import ShapeSetting
from gui.tasks import TaskRunner, TaskState
from gui.theme import color, on_theme_change, set_role

POLL_S = 0.05
# the theme's text role for each verdict
VERDICT_ROLES = {"pass": "success", "warn": "warning", "fail": "error"}


def _run_job(req: QuantizeRequest, model: Model | None, state: TaskState) -> QuantizeReport:
    """The task: prepare, run the worker job, report progress by stage, cancel on request."""
    state.set_progress(0.0, "prepare: pre-pass and samples")
    job = QuantizeJob(req, model)
    try:
        while not job.finished:
            if state.is_interrupt_requested():
                job.cancel()
            job.poll()
            step, steps = job.progress
            state.set_progress((step + 0.5) / max(1, steps),
                               f"{job.stage} ({step + 1}/{steps})")
            time.sleep(POLL_S)
    except BaseException:   # the worker and the temporary folder go with the task
        job.close()
        raise
    return job.finish()


class QuantizePanel(QWidget):
    quantized = Signal(object)         # the QuantizeReport, after a run that wrote a file
    finished = Signal(object)          # every QuantizeReport (failures, refusals too)
    open_requested = Signal(str)       # open the quantized model in a new tab
    compare_requested = Signal(str, str, object)   # input, output, MedianLatency
    overlay_ready = Signal(object)     # core Overlay of the per-layer error

    def __init__(self, model: Model, parent=None, shape_setting: ShapeSetting | None = None):
        super().__init__(parent)
        self.model = model
        # dynamic inputs: calibrated and verified at the model's shape setting (shared)
        self.shape_setting = shape_setting or ShapeSetting(self)
        self.report: QuantizeReport | None = None
        self._last: QuantizeRequest | None = None
        self.runner = TaskRunner(self, name="quantize")
        self.runner.progress.connect(self._progress)
        self.runner.done.connect(self._done)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(self._cancelled)

        self.recipe_buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for i, (name, r) in enumerate(RECIPES.items()):
            b = QPushButton(r.title, self)
            b.setObjectName(f"recipe:{name}")
            b.setToolTip(r.expect + (" (calibrated)" if r.static else ""))
            b.clicked.connect(lambda _=False, n=name: self.start(n))
            grid.addWidget(b, i // 3, i % 3)
            self.recipe_buttons[name] = b

        self.calibration = QComboBox(self)
        self.calibration.setEditable(True)
        self.calibration.addItem("random")
        self.calibration.setToolTip("random in each input's range, a folder of images, or a "
                                    ".npy/.npz file")
        browse_dir = QPushButton("Folder…", self)
        browse_dir.clicked.connect(self._browse_folder)
        browse_file = QPushButton("File…", self)
        browse_file.clicked.connect(self._browse_file)
        cal_row = QHBoxLayout()
        cal_row.addWidget(self.calibration, 1)
        cal_row.addWidget(browse_dir)
        cal_row.addWidget(browse_file)
        self.samples = QSpinBox(self, minimum=1, maximum=10_000, value=8)
        self.eval_samples = QSpinBox(self, minimum=1, maximum=1000, value=EVAL_SAMPLES)
        self.keep_float = QLineEdit(self)
        self.keep_float.setPlaceholderText("regex of op output names to keep float "
                                           "(e.g. ^head/)")
        self.float_io = QCheckBox("keep model inputs/outputs float (static recipes)", self)
        from core.analysis.support.analyze import DELEGATES, delegate_facts
        self.delegate = QComboBox(self)
        for name in DELEGATES:
            self.delegate.addItem(delegate_facts(name)["title"], name)
        self.delegate.setToolTip("the delegate whose coverage before/after the verdict compares "
                                 "(ops that fall back to the CPU are named)")
        self.output = QLineEdit(self)
        self.output.setPlaceholderText("default: NAME.<recipe>.tflite beside the model")
        self.recipe_file = QLineEdit(self)
        self.recipe_file.setPlaceholderText("an edited recipe (JSON, ai-edge-quantizer's format)")
        save_recipe = QPushButton("Save last recipe as JSON…", self)
        save_recipe.clicked.connect(self._save_recipe)
        self.run_file_button = QPushButton("Run recipe file", self)
        self.run_file_button.clicked.connect(self.start_recipe_file)
        rf_row = QHBoxLayout()
        rf_row.addWidget(self.recipe_file, 1)
        rf_row.addWidget(self.run_file_button)
        rf_row.addWidget(save_recipe)
        form = QFormLayout()
        form.addRow("Calibration", cal_row)
        form.addRow("Samples", self.samples)
        form.addRow("Evaluation inputs", self.eval_samples)
        form.addRow("Keep float", self.keep_float)
        form.addRow("", self.float_io)
        form.addRow("Coverage on", self.delegate)
        form.addRow("Output", self.output)
        form.addRow("Recipe file", rf_row)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        prog_row = QHBoxLayout()
        prog_row.addWidget(self.progress, 1)
        prog_row.addWidget(self.cancel_button)
        self._state: str | None = None    # the outcome shown: "pass" / "warn" / "fail"
        self.verdict = QLabel(self)
        self.verdict.setObjectName("quantize-verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        bold = self.verdict.font()
        bold.setBold(True)
        self.verdict.setFont(bold)
        self.verdict.hide()
        on_theme_change(self.progress, self._paint_progress)

        self.summary = QPlainTextEdit(self)
        self.summary.setReadOnly(True)
        self.summary.setPlaceholderText("Choose a recipe: the result is verified (loads, error "
                                        "vs float, latency, per-layer error) before it is "
                                        "written.")
        self.table = LayerErrorTable(self)
        self.keep_n = QSpinBox(self, minimum=1, maximum=10_000, value=3)
        self.keep_n.valueChanged.connect(self.table.highlight)
        self.rerun_button = QPushButton("Keep these ops float and re-run", self)
        self.rerun_button.setEnabled(False)
        self.rerun_button.clicked.connect(self.rerun_keeping_worst)
        self.open_button = QPushButton("Open result in a new tab", self)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(
            lambda: self.report and self.report.output
            and self.open_requested.emit(self.report.output))
        self.compare_button = QPushButton("Compare with the original", self)
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self._compare)
        self.keep_failed_button = QPushButton("Write it anyway", self)
        self.keep_failed_button.setToolTip("Run the same recipe again and write the result "
                                           "although its verdict is fail (--keep-failed)")
        self.keep_failed_button.setEnabled(False)
        self.keep_failed_button.clicked.connect(self.rerun_keeping_failed)
        act = QHBoxLayout()
        act.addWidget(QLabel("Worst", self))
        act.addWidget(self.keep_n)
        act.addWidget(self.rerun_button)
        act.addStretch(1)
        act.addWidget(self.keep_failed_button)
        act.addWidget(self.open_button)
        act.addWidget(self.compare_button)

        top = QWidget(self)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(grid)
        tl.addLayout(form)
        tl.addLayout(prog_row)
        tl.addWidget(self.verdict)
        bottom = QSplitter(Qt.Orientation.Vertical, self)
        bottom.addWidget(self.summary)
        table_box = QWidget(self)
        bl = QVBoxLayout(table_box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addLayout(act)
        bl.addWidget(self.table)
        bottom.addWidget(table_box)
        bottom.setSizes([220, 400])
        lay = QVBoxLayout(self)
        lay.addWidget(top)
        lay.addWidget(bottom, 1)

    # -- options --
    def _browse_folder(self) -> None:
        d = file_dialogs.open_folder(self, "Calibration images", "calibration")
        if d:
            self.calibration.setCurrentText(d)

    def _browse_file(self) -> None:
        f = file_dialogs.open_file(self, "Calibration data",
                                   "NumPy (*.npy *.npz);;All files (*)", "calibration")
        if f:
            self.calibration.setCurrentText(f)

    def _save_recipe(self) -> None:
        """The last run's recipe (or dynamic int8) with its options, to edit and run again."""
        req = self._last or self.request("dynamic_int8")
        f = file_dialogs.save_file(self, "Save recipe", f"{req.recipe}.json", "JSON (*.json)",
                                   "recipes")
        if f:
            recipes.save_recipe(f, req.entries(), overwrite=True)   # the dialog asked
            self.recipe_file.setText(f)

    def _keep(self) -> list[str]:
        rx = self.keep_float.text().strip()
        return [rx] if rx else []

    def request(self, recipe: str, keep_float: list[str] | None = None,
                recipe_file: str | None = None, keep_failed: bool = False) -> QuantizeRequest:
        return QuantizeRequest(
            self.model.path, recipe, self.calibration.currentText().strip() or "random",
            self.samples.value(), self._keep() if keep_float is None else keep_float,
            self.float_io.isChecked(), self.output.text().strip() or None,
            recipe_file, self.eval_samples.value(), shapes=self.shape_setting.shapes,
            keep_failed=keep_failed, delegate=self.delegate.currentData())

    # -- running --
    def start_recipe_file(self) -> None:
        path = self.recipe_file.text().strip()
        if not path:
            self._show_failure("choose an edited recipe file (JSON) first")
            return
        self.start("dynamic_int8", recipe_file=path)

    def start(self, recipe: str, keep_float: list[str] | None = None,
              recipe_file: str | None = None, keep_failed: bool = False) -> None:
        req = self.request(recipe, keep_float, recipe_file, keep_failed)
        problem = req.refusal()
        if problem:
            self._show_failure(problem, req)
            return
        self._last = req
        self._set_busy(True)
        self._show_state(None)
        self.summary.setPlainText(f"Quantizing with {recipe}…")
        self.runner.start(lambda state: _run_job(req, self.model, state))

    def rerun_keeping_worst(self) -> None:
        """Re-run the last recipe with the worst N layers of the report kept float."""
        if not self.report or not self._last:
            return
        names = [r.tensor for r in self.report.per_layer[:self.keep_n.value()]]
        keep = list(self._last.keep_float) + [recipes.keep_float_regex(names)]
        self.start(self._last.recipe, keep, self._last.recipe_file)

    def rerun_keeping_failed(self) -> None:
        """The last request again, written although its verdict is fail (the same seeds give
        the same result)."""
        last = self._last
        if last is not None:
            self.start(last.recipe, list(last.keep_float), last.recipe_file, keep_failed=True)

    def cancel(self) -> None:
        self.runner.cancel()

    def _set_busy(self, busy: bool) -> None:
        for b in [*self.recipe_buttons.values(), self.run_file_button]:
            b.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            for b in (self.rerun_button, self.open_button, self.compare_button,
                      self.keep_failed_button):
                b.setEnabled(False)
            self.progress.setValue(0)

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(text)

    def _done(self, report: QuantizeReport) -> None:
        self._set_busy(False)
        self.report = report
        self.progress.setValue(1000)
        self.progress.setFormat(f"done: {report.verdict}" if not report.failure else
                                f"failed: verdict {report.verdict}")
        self._show_state(report.verdict, report)
        self.summary.setPlainText("\n".join(summary_lines(report)))
        self.table.set_rows(report.per_layer, self.keep_n.value())
        ok = report.output is not None
        self.rerun_button.setEnabled(bool(report.per_layer))
        self.open_button.setEnabled(ok)
        self.compare_button.setEnabled(ok)
        # judged fail and not written: the user may keep it anyway
        self.keep_failed_button.setEnabled(report.withheld)
        if report.per_layer:
            self.overlay_ready.emit(error_overlay(report))
        if ok:
            self.quantized.emit(report)
        self.finished.emit(report)

    def _compare(self) -> None:
        r = self.report
        if r and r.output:
            from core.analysis.compare import MedianLatency  # loaded when first compared
            lat = r.latency_ms
            self.compare_requested.emit(r.input, r.output, MedianLatency(lat.before, lat.after))

    def _failed(self, exc: Exception) -> None:
        self._set_busy(False)
        self._show_failure(str(exc) if isinstance(exc, Refused) else
                           f"{type(exc).__name__}: {exc}")

    def _cancelled(self) -> None:
        self._set_busy(False)
        self.progress.setFormat("cancelled")
        self._show_state(None)
        self.summary.setPlainText("Cancelled: nothing was written.")
        self.finished.emit(self._unrun("cancelled"))

    def _show_failure(self, message: str, req: QuantizeRequest | None = None) -> None:
        self.progress.setFormat("failed")
        report = self._unrun(message, req)
        self._show_state("fail", report)
        self.summary.setPlainText(f"FAILED: {message}")
        self.finished.emit(report)

    def _show_state(self, state: str | None, report: QuantizeReport | None = None) -> None:
        """The outcome in the theme's colours: the progress bar's fill and the verdict line
        (hidden while nothing is judged)."""
        self._state = state
        self._paint_progress()
        if report is None:
            if state is None:
                self.verdict.hide()
            return
        fails = sum(x.level == "fail" for x in report.verdict_reasons)
        warns = sum(x.level == "warn" for x in report.verdict_reasons)
        counts = ", ".join(f"{n} {what}{'s' if n != 1 else ''}" for n, what in
                           ((fails, "failure"), (warns, "warning")) if n)
        written = f"written to {report.output}" if report.output else "nothing written"
        self.verdict.setText(f"Verdict: {report.verdict.upper()}"
                             + (f" ({counts})" if counts else "") + f"; {written}")
        set_role(self.verdict, VERDICT_ROLES[report.verdict])
        self.verdict.show()

    def _paint_progress(self) -> None:
        bar = QPalette()   # resolves nothing: the bar follows the theme
        if self._state is not None:
            bar.setColor(QPalette.ColorRole.Highlight, color(f"outcome_{self._state}_bg"))
            bar.setColor(QPalette.ColorRole.HighlightedText, color("outcome_text"))
        self.progress.setPalette(bar)

    def _unrun(self, failure: str, req: QuantizeRequest | None = None) -> QuantizeReport:
        """The report of a run that measured nothing (refused, cancelled, or the task failed)."""
        req = req or self._last or self.request("dynamic_int8")
        report = QuantizeReport.empty(str(req.model), req.recipe_file or req.recipe,
                                      req.threads)
        report.fail(failure)
        return report

    def shutdown(self) -> None:
        self.runner.shutdown()
