"""Delegates panel: the support matrix of the shown subgraph, the chosen delegate's overlay on the
graph with its summary line, and the XNNPACK runtime check with its verdict. Targets answered by
their own tools (Arm Ethos-U through vela, LiteRT NPU plugins) are added as columns from the
Targets menu, with vela's estimates in a small summary and as a latency overlay, and an NPU
compile action. The analysis, the runtime check and the tools run off the UI thread (gui.tasks;
the check and the tools in a worker process)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.analysis.memory.tflm_runtime import tflm_check_lines
from core.analysis.overlay import Overlay
from core.analysis.support.analyze import (
    DELEGATES,
    analyze,
    flags_the_runtime_check_ignores,
    interpreter_options,
    parse_options,
    short_name,
    subgraph_macs,
    summary_line,
)
from core.analysis.support.ethos_u import estimate_line, estimate_overlay
from core.analysis.support.overlay import support_overlay
from core.analysis.support.result import SupportReport, ToolTargetSupport, XnnpackVerification
from core.analysis.support.runtime import (
    compare,
    disagreement_line,
    runtime_placement,
    verdict_line,
)
from core.analysis.support.target_run import analyze_target, compile_line
from core.analysis.support.targets import ETHOS_U, npu_ids, provenance_tag, split_id
from core.model.types import Model
from gui.rich_text import plain_label
from gui.support.matrix import SupportMatrix, SupportRows
from gui.tasks import TaskRunner

ESTIMATE = "#estimate"    # overlay data suffix: a target's estimated-latency overlay


def target_menu_ids() -> list[str]:
    """The Targets menu: each Ethos-U accelerator, the Intel plugin for each of its SoCs, then
    the other NPU vendors (their column explains what is missing when their SDK is absent)."""
    from core.analysis.support.targets import npu_table
    intel = [f"npu-intel:{soc}" for soc in npu_table()["vendors"]["intel"]["socs"]]
    return [*ETHOS_U, *intel, *(n for n in npu_ids() if n != "npu-intel")]


class DelegatesPanel(QWidget):
    op_activated = Signal(int, int)        # subgraph, op index
    overlay_changed = Signal(object)       # an Overlay, or None to clear

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.result: SupportReport | None = None
        self.macs: list[list[int]] = []
        self.verdict: XnnpackVerification | None = None
        self._emitted: str | None = None     # the name of the overlay last sent to the graph
        self.matrix: SupportMatrix | None = None
        self.subgraph = QComboBox(self)
        for sg in model.subgraphs:
            self.subgraph.addItem(f"subgraph {sg.index} {sg.name or ''} ({len(sg.operators)} ops)")
        self.subgraph.setVisible(len(model.subgraphs) > 1)
        self.subgraph.currentIndexChanged.connect(self._rebuild_matrix)
        self.delegate = QComboBox(self)
        self.delegate.addItem("no overlay", None)
        for d in DELEGATES:
            self.delegate.addItem(f"overlay: {short_name(d)}", d)
        self.delegate.currentIndexChanged.connect(self._overlay_chosen)
        self.unsupported = QCheckBox("unsupported anywhere", self)
        self.unsupported.toggled.connect(self._filter_toggled)
        self.options = QLineEdit(self)
        self.options.setPlaceholderText("options K=V … (e.g. android_sdk_version=29 qs8=false "
                                        "max_delegated_partitions=2), Enter to apply")
        self.options.setClearButtonEnabled(True)
        self.options.returnPressed.connect(self.apply_options)
        self.check = QPushButton("Check XNNPACK against LiteRT", self)
        self.check.clicked.connect(self.run_check)
        self.check_tflm = QPushButton("Check on TFLite Micro", self)
        self.check_tflm.setToolTip("run the model on TensorFlow Lite Micro (tflite-micro, in a "
                                   "worker process): does it load and run, its real arena head, "
                                   "tail and total against the plan, its outputs against LiteRT")
        self.check_tflm.clicked.connect(self.run_tflm_check)
        self.targets_button = QToolButton(self)
        self.targets_button.setText("Add target column")
        self.targets_button.setToolTip("add a column answered by the target's own tool run here "
                                       "(vela for Arm Ethos-U, LiteRT's NPU compiler plugins)")
        self.targets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.targets_button)
        for name in target_menu_ids():
            act = QAction(self._target_label(name), menu)
            act.triggered.connect(lambda _=False, n=name: self.add_target(n))
            menu.addAction(act)
        self.targets_button.setMenu(menu)
        self.compile = QPushButton("Compile NPU partitions", self)
        self.compile.setToolTip("run the NPU plugins' compile step on every partition (a whole "
                                "partition the vendor compiler rejects shows here)")
        self.compile.setVisible(False)
        self.compile.clicked.connect(self.compile_npu)
        self.target_progress = QProgressBar(self)
        self.target_progress.setRange(0, 100)
        self.target_progress.setMaximumWidth(160)
        self.target_progress.setVisible(False)
        self.target_status = plain_label(QLabel("", self))
        self.target_status.setVisible(False)
        self.estimates = plain_label(QLabel("", self))   # vela's estimates, one line a target
        self.estimates.setWordWrap(True)
        self.estimates.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimates.setVisible(False)
        self.target_blocks: dict[str, ToolTargetSupport] = {}   # tool-run columns
        self._target_queue: list[tuple[str, bool]] = []   # (target, compile too)
        self._target_options: dict[str, dict] = {}
        self.summary = plain_label(QLabel("computing…", self))
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checked = plain_label(QLabel("", self))   # runtime reasons name ops
        self.checked.setWordWrap(True)
        self.tflm_checked = plain_label(QLabel("", self))   # tflite-micro's own answer
        self.tflm_checked.setWordWrap(True)
        self.tflm_checked.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tflm_checked.setVisible(False)
        top = QHBoxLayout()
        for w in (self.subgraph, self.delegate, self.unsupported):
            top.addWidget(w)
        top.addWidget(self.options, 1)
        top.addWidget(self.check)
        top.addWidget(self.check_tflm)
        status = QHBoxLayout()       # the targets row: add a column, compile, the tool's progress
        status.addWidget(self.targets_button)
        status.addWidget(self.compile)
        status.addWidget(self.target_progress)
        status.addWidget(self.target_status)
        status.addStretch(1)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(4, 4, 4, 4)
        self._lay.addLayout(top)
        self._lay.addLayout(status)
        self._lay.addWidget(self.summary)
        self._lay.addWidget(self.estimates)
        self._lay.addWidget(self.checked)
        self._lay.addWidget(self.tflm_checked)
        self.analysis_runner = TaskRunner(self, "support")
        self.analysis_runner.done.connect(self._analysis_done)
        self.analysis_runner.failed.connect(lambda e: self.summary.setText(f"failed: {e}"))
        self.check_runner = TaskRunner(self, "xnnpack check")
        self.check_runner.done.connect(self._check_done)
        self.check_runner.failed.connect(self._check_failed)
        self.tflm_runner = TaskRunner(self, "tflm check")
        self.tflm_runner.done.connect(self._tflm_done)
        self.tflm_runner.failed.connect(self._tflm_failed)
        self.target_runner = TaskRunner(self, "targets")
        self.target_runner.progress.connect(self._target_progress)
        self.target_runner.done.connect(self._target_done)
        self.target_runner.failed.connect(self._target_failed)
        self._analyze({})

    def _analyze(self, options: dict) -> None:
        m = self.model
        self.summary.setText("computing…")

        def task(state):
            macs = subgraph_macs(m)   # shown in the matrix and weighing the shares
            return analyze(m, DELEGATES, options, macs), macs
        self.analysis_runner.start(task)

    def apply_options(self) -> None:
        """Re-run the analysis with the K=V options typed (an unknown key is shown, not run)."""
        shown = tuple(self.target_blocks)
        try:
            options = parse_options(self.options.text().split(), DELEGATES + shown)
        except ValueError as e:
            self.summary.setText(f"options: {e}")
            return
        self._target_options = {d: options.pop(d) for d in shown}
        for d in shown:                 # the targets answer again with their options
            self._queue_target(d, False)
        self.verdict = None
        self.check_runner.shutdown()   # a check still running compares the old prediction
        self.check.setEnabled(True)
        self.checked.setText("")
        self._analyze(options)

    # -- analysis --
    def _analysis_done(self, payload: tuple[SupportReport, list[list[int]]]) -> None:
        result, self.macs = payload
        self.result = SupportReport({**result.delegates, **self.target_blocks})
        self._rebuild_matrix()
        self._overlay_chosen()

    def _rebuild_matrix(self) -> None:
        if self.result is None:
            return
        s = max(0, self.subgraph.currentIndex())
        labels = [op.label for op in self.model.subgraphs[s].operators]
        rows = SupportRows(labels, self.macs[s], self.result, s, self)
        old, self.matrix = self.matrix, SupportMatrix(rows, self)
        self.matrix.activated_item.connect(lambda i: self.op_activated.emit(s, int(i)))
        if old is not None:
            self._lay.replaceWidget(old, self.matrix)
            old.deleteLater()
        else:
            self._lay.addWidget(self.matrix, 1)
        self.matrix.set_unsupported_only(self.unsupported.isChecked())
        self._update_summary()

    def _filter_toggled(self, on: bool) -> None:
        if self.matrix is not None:
            self.matrix.set_unsupported_only(on)

    def _update_summary(self) -> None:
        if self.result is None:
            return
        s = max(0, self.subgraph.currentIndex())
        lines = []
        for r in self.result.delegates.values():
            line = summary_line(r, s)
            said = compile_line(r.block) if isinstance(r, ToolTargetSupport) else None
            line = f"{line} — {said}" if said else line
            lines.append(f"{line} [{provenance_tag(r.provenance)}]" if r.provenance else line)
        self.summary.setText("\n".join(lines))
        est = [f"{t.title} {estimate_line(t.block)}" for t in self.target_blocks.values()
               if t.estimate]
        self.estimates.setText("\n".join(est))
        self.estimates.setVisible(bool(est))

    def overlay(self) -> Overlay | None:
        d = self.delegate.currentData()
        if not d or not self.result:
            return None
        if d.endswith(ESTIMATE):
            return estimate_overlay(self.target_blocks[d.removesuffix(ESTIMATE)].block)
        return support_overlay(self.result.delegates[d])

    def _overlay_chosen(self) -> None:
        if self.result is not None:
            ov = self.overlay()
            self._emitted = ov.name if ov is not None else None
            self.overlay_changed.emit(ov)

    def overlay_removed_unless(self, shown: set[str]) -> None:
        """The graph shows the overlays named ``shown``: when the chosen one is not among them
        (removed with the legend's ×), the choice goes back to "no overlay" without emitting."""
        if self.delegate.currentData() and self._emitted not in shown:
            was = self.delegate.blockSignals(True)
            self.delegate.setCurrentIndex(0)
            self.delegate.blockSignals(was)

    def choose_delegate(self, name: str | None) -> None:
        self.delegate.setCurrentIndex(max(0, self.delegate.findData(name)))

    # -- runtime check --
    def run_check(self) -> None:
        if self.result is None or self.check_runner.busy:
            return
        self.check.setEnabled(False)
        self.checked.setText("checking against the runtime (worker process)…")
        path, predicted = self.model.path, self.result.delegates["xnnpack"]
        flags = flags_the_runtime_check_ignores("xnnpack", predicted.options)
        if flags:
            self.check.setEnabled(True)
            self.checked.setText(f"the runtime check uses the wheel's default XNNPACK flags; "
                                 f"clear {', '.join(flags)} to compare")
            return
        inter = interpreter_options("xnnpack", predicted.options)
        self.check_runner.start(lambda state: compare(predicted, runtime_placement(path, inter)))

    def _check_done(self, verdict: XnnpackVerification) -> None:
        self.verdict = verdict
        self.check.setEnabled(True)
        lines = [f"XNNPACK {verdict_line(verdict)}"]
        lines += ["  " + disagreement_line(d) for d in verdict.disagree]
        if verdict.runtime_error:
            lines.append(f"  (after delegation the runtime stopped: {verdict.runtime_error})")
        self.checked.setText("\n".join(lines))

    def run_tflm_check(self) -> None:
        """tflite-micro's own answer for the model (``memory --runtime``'s TFLM check), off the
        UI thread; TFLM itself runs in a worker process."""
        m = self.model
        self.check_tflm.setEnabled(False)
        self.tflm_checked.setVisible(True)
        self.tflm_checked.setText("running the model on TensorFlow Lite Micro (worker process)…")
        self.tflm_runner.start(lambda state: tflm_check_lines(m))

    def _tflm_done(self, lines: list[str]) -> None:
        self.check_tflm.setEnabled(True)
        self.tflm_checked.setText("\n".join(lines))

    def _tflm_failed(self, error: Exception) -> None:
        self.check_tflm.setEnabled(True)
        self.tflm_checked.setText(f"TFLite Micro check failed: {error}")

    def _check_failed(self, error: Exception) -> None:
        self.check.setEnabled(True)
        self.checked.setText(f"runtime check failed: {error}")

    # -- tool-run targets --
    @staticmethod
    def _target_label(name: str) -> str:
        from core.analysis.support.targets import target_facts
        return target_facts(name)["title"]

    def add_target(self, name: str) -> None:
        """Add target ``name`` as a column: its tool runs in a worker, one target at a time."""
        self._queue_target(name, False)

    def compile_npu(self) -> None:
        """Run the compile step of every NPU plugin column shown."""
        for d in self.target_blocks:
            if split_id(d)[0] in npu_ids():
                self._queue_target(d, True)

    def _queue_target(self, name: str, compile_too: bool) -> None:
        if (name, compile_too) not in self._target_queue:
            self._target_queue.append((name, compile_too))
        if not self.target_runner.busy:
            self._next_target()

    def _next_target(self) -> None:
        if not self._target_queue:
            self.target_progress.setVisible(False)
            self.target_status.setVisible(False)
            return
        name, compile_too = self._target_queue.pop(0)
        m, opts = self.model, self._target_options.get(name)
        self.target_progress.setValue(0)
        self.target_progress.setVisible(True)
        self.target_status.setText(f"{self._target_label(name)}: starting the tool (worker)…")
        self.target_status.setVisible(True)

        def task(state):
            block = analyze_target(m, name, opts, compile_check=compile_too,
                                   progress=state.set_progress)
            return name, block
        self.target_runner.start(task)

    def _target_progress(self, fraction: float, text: str) -> None:
        self.target_progress.setValue(int(fraction * 100))
        self.target_status.setText(text)

    def _target_done(self, payload: tuple[str, dict]) -> None:
        name, block = payload
        fresh = name not in self.target_blocks
        verdict = self.target_blocks[name] = ToolTargetSupport.from_block(name, block)
        if self.result is not None:
            self.result.delegates[name] = verdict
        if fresh:
            self.delegate.addItem(f"overlay: {short_name(name)}", name)
            if verdict.estimate:
                self.delegate.addItem(f"overlay: {short_name(name)} estimated latency",
                                      name + ESTIMATE)
        if split_id(name)[0] in npu_ids() and not verdict.error:
            self.compile.setVisible(True)
        self._rebuild_matrix()
        self._overlay_chosen()
        self._next_target()

    def _target_failed(self, error: Exception) -> None:
        self.target_status.setText(f"target failed: {error}")
        self.target_progress.setVisible(False)
        self._target_queue.clear()

    def shutdown(self) -> None:
        self.analysis_runner.shutdown()
        self.check_runner.shutdown()
        self.tflm_runner.shutdown()
        self.target_runner.shutdown()
