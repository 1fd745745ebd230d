"""Delegates panel: the support matrix of the shown subgraph, the chosen delegate's overlay on the
graph with its summary line, and the XNNPACK runtime check with its verdict. The analysis and the
runtime check run off the UI thread (gui.tasks; the check itself in a worker process)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

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
from core.analysis.support.overlay import support_overlay
from core.analysis.support.runtime import (
    compare,
    disagreement_line,
    runtime_placement,
    verdict_line,
)
from core.model.types import Model
from gui.rich_text import plain_label
from gui.support.matrix import SupportMatrix, SupportRows
from gui.tasks import TaskRunner


class DelegatesPanel(QWidget):
    op_activated = Signal(int, int)        # subgraph, op index
    overlay_changed = Signal(object)       # an Overlay, or None to clear

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.result: dict | None = None
        self.verdict: dict | None = None
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
        self.summary = plain_label(QLabel("computing…", self))
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.checked = plain_label(QLabel("", self))   # runtime reasons name ops
        self.checked.setWordWrap(True)
        top = QHBoxLayout()
        for w in (self.subgraph, self.delegate, self.unsupported):
            top.addWidget(w)
        top.addWidget(self.options, 1)
        top.addWidget(self.check)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(4, 4, 4, 4)
        self._lay.addLayout(top)
        self._lay.addWidget(self.summary)
        self._lay.addWidget(self.checked)
        self.analysis_runner = TaskRunner(self, "support")
        self.analysis_runner.done.connect(self._analysis_done)
        self.analysis_runner.failed.connect(lambda e: self.summary.setText(f"failed: {e}"))
        self.check_runner = TaskRunner(self, "xnnpack check")
        self.check_runner.done.connect(self._check_done)
        self.check_runner.failed.connect(self._check_failed)
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
        try:
            options = parse_options(self.options.text().split(), DELEGATES)
        except ValueError as e:
            self.summary.setText(f"options: {e}")
            return
        self.verdict = None
        self.check_runner.shutdown()   # a check still running compares the old prediction
        self.check.setEnabled(True)
        self.checked.setText("")
        self._analyze(options)

    # -- analysis --
    def _analysis_done(self, payload) -> None:
        self.result, self.macs = payload
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
        self.summary.setText("\n".join(summary_line(d, r, s) for d, r in self.result.items()))

    def overlay(self) -> Overlay | None:
        d = self.delegate.currentData()
        return support_overlay(d, self.result[d]) if d and self.result else None

    def _overlay_chosen(self) -> None:
        if self.result is not None:
            self.overlay_changed.emit(self.overlay())

    def choose_delegate(self, name: str | None) -> None:
        self.delegate.setCurrentIndex(max(0, self.delegate.findData(name)))

    # -- runtime check --
    def run_check(self) -> None:
        if self.result is None or self.check_runner.busy:
            return
        self.check.setEnabled(False)
        self.checked.setText("checking against the runtime (worker process)…")
        path, predicted = self.model.path, self.result["xnnpack"]
        flags = flags_the_runtime_check_ignores("xnnpack", predicted["options"])
        if flags:
            self.check.setEnabled(True)
            self.checked.setText(f"the runtime check uses the wheel's default XNNPACK flags; "
                                 f"clear {', '.join(flags)} to compare")
            return
        inter = interpreter_options("xnnpack", predicted["options"])
        self.check_runner.start(lambda state: compare(predicted, runtime_placement(path, inter)))

    def _check_done(self, verdict: dict) -> None:
        self.verdict = verdict
        self.check.setEnabled(True)
        lines = [f"XNNPACK {verdict_line(verdict)}"]
        lines += ["  " + disagreement_line(d) for d in verdict["disagree"]]
        if verdict["runtime_error"]:
            lines.append(f"  (after delegation the runtime stopped: {verdict['runtime_error']})")
        self.checked.setText("\n".join(lines))

    def _check_failed(self, error: Exception) -> None:
        self.check.setEnabled(True)
        self.checked.setText(f"runtime check failed: {error}")

    def shutdown(self) -> None:
        self.analysis_runner.shutdown()
        self.check_runner.shutdown()
