"""The Memory panel of a model tab: the arena chart, the live-bytes curve with its peak, the
planners/lower bound/weights/runtime table, a threads selector, and the check against the real
runtime. Plans are computed off the UI thread (core.analysis.memory); the runtime check runs in
the worker process (its memory_arena job), so a crashing kernel cannot take the app down."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.analysis.memory import (
    live_memory_overlay,
    memory_report,
    plan_litert,
    planner_live_bytes,
    runtime_check,
    tflm_block,
)
from core.analysis.memory.result import (
    MemoryReport,
    PlannedTensor,
    PlannerKey,
    RuntimeCheck,
    SubgraphMemory,
    TflmBlock,
)
from core.analysis.memory.tflm import plan_tflm
from core.inference.resize import resized_model
from core.model.types import Model
from gui import theme
from gui.memory.arena_chart import KINDS, ArenaChart
from gui.memory.live_curve import LiveCurve
from gui.memory.summary_table import SummaryTable
from gui.shape_setting import ShapeSetting
from gui.tasks import TaskRunner

PLANNER_ITEMS: list[tuple[str, PlannerKey]] = [("LiteRT arena", "tflite_arena"),
                                               ("TFLM head", "tflm_greedy")]
# whose lifetimes the live curve counts, per planner (TFLM: this subgraph's buffers; its
# arena and bound lines are the whole region's)
PLANNER_LIFETIMES: dict[PlannerKey, str] = {"tflite_arena": "LiteRT lifetimes",
                                            "tflm_greedy": "TFLM lifetimes"}


class MemoryPanel(QWidget):
    tensor_selected = Signal(int, int, int)   # subgraph, tensor, op that makes or owns it
    overlay_ready = Signal(object)            # core Overlay: live memory per op

    def __init__(self, model: Model, parent=None, shape_setting: ShapeSetting | None = None):
        super().__init__(parent)
        self.model = model
        # dynamic inputs: planned at the model's shape setting (shared with Run and Quantize)
        self.shape_setting = shape_setting or ShapeSetting(self)
        self.report: MemoryReport | None = None
        self.runtime: RuntimeCheck | None = None
        self._build()
        self._plan_task = TaskRunner(self, name="memory-plan")
        self._plan_task.done.connect(self._planned)
        self._plan_task.failed.connect(lambda e: self._status(f"planning failed: {e}"))
        self._runtime_task = TaskRunner(self, name="memory-runtime")
        self._runtime_task.done.connect(self._measured)
        self._runtime_task.failed.connect(self._runtime_failed)
        self.tflm_runtime: dict | None = None   # tflite-micro's own figures (its tool's record)
        self._tflm_task = TaskRunner(self, name="memory-tflm")
        self._tflm_task.done.connect(self._tflm_measured)
        self._tflm_task.failed.connect(self._tflm_failed)
        self.replan()

    def _build(self) -> None:
        self.subgraph = QComboBox()
        for sg in self.model.subgraphs:
            self.subgraph.addItem(f"{sg.index}: {sg.name or 'subgraph'}", sg.index)
        self.threads = QSpinBox()
        self.threads.setRange(1, 16)
        self.threads.setToolTip("interpreter threads: at more than one, float CONV_2D keeps "
                                "transposed weights (persistent) instead of im2col")
        self.planner = QComboBox()
        for text, key in PLANNER_ITEMS:
            self.planner.addItem(text, key)
        self.arena = QComboBox()
        self.arena.addItem("main arena", "main")
        self.arena.addItem("persistent arena", "persistent")
        self.check = QPushButton("Check on runtime")
        self.check.setToolTip("allocate the model with ai-edge-litert (worker process, delegates "
                              "off, same threads) and compare every tensor's real offset")
        self.check_tflm = QPushButton("Check on TFLM")
        self.check_tflm.setToolTip("run the model on TensorFlow Lite Micro (tflite-micro, in a "
                                   "worker process): its real head/tail, and its outputs vs "
                                   "LiteRT's")
        self.status = QLabel("")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        legend = QLabel()
        theme.on_theme_change(legend, lambda: legend.setText("  ".join(
            f"<span style='color:{theme.hex_color(f'kind_{k}')}'>■</span> {k}" for k in KINDS)))
        top = QHBoxLayout()
        for w in (QLabel("subgraph"), self.subgraph, QLabel("threads"), self.threads,
                  QLabel("chart"), self.planner, self.arena, self.check, self.check_tflm,
                  legend):
            top.addWidget(w)
        top.addStretch(1)
        self.chart = ArenaChart()
        self.curve = LiveCurve()
        self.table = SummaryTable()
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.curve)
        bottom.addWidget(self.table)
        bottom.setSizes([500, 600])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(bottom)
        split.setSizes([420, 300])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        lay.addWidget(self.status)
        self.subgraph.currentIndexChanged.connect(self._show)
        self.planner.currentIndexChanged.connect(self._show)
        self.arena.currentIndexChanged.connect(self._show)
        self.threads.valueChanged.connect(self.replan)
        self.shape_setting.changed.connect(self.replan)
        self.check.clicked.connect(self.check_runtime)
        self.check_tflm.clicked.connect(self.check_on_tflm)
        self.chart.tensor_clicked.connect(self._tensor_clicked)

    # -- work off the UI thread ------------------------------------------------------------
    def replan(self) -> None:
        threads = self.threads.value()
        self.runtime = None
        self._status(f"planning for {threads} thread(s)…")
        shapes = self.shape_setting.shapes
        self._plan_task.start(lambda state: memory_report(self.model, threads, shapes=shapes))

    def check_runtime(self) -> None:
        threads = self.threads.value()
        self.check.setEnabled(False)
        self._status("allocating on the runtime (worker process)…")
        # only the LiteRT plan is compared: the TFLM plan and the live curve are not rebuilt
        shapes = self.shape_setting.shapes
        self._runtime_task.start(lambda state: (threads, runtime_check(
            self.model.path, plan_litert(resized_model(self.model, shapes), threads), threads,
            shapes=shapes)))

    def check_on_tflm(self) -> None:
        if self.report is None or self.report.tflm is None:
            return
        self.check_tflm.setEnabled(False)
        self._status("running on TFLite Micro (worker process)…")
        model = self.model
        self._tflm_task.start(lambda state: tflm_block(model, plan_tflm(model), runtime=True))

    def _tflm_measured(self, block: TflmBlock) -> None:
        self.check_tflm.setEnabled(True)
        self.tflm_runtime = block.runtime
        self._show()

    def _tflm_failed(self, exc: BaseException) -> None:
        self.check_tflm.setEnabled(True)
        self._status(f"TFLM check failed: {exc}")

    def _planned(self, report: MemoryReport) -> None:
        if report.config.threads != self.threads.value() or \
                report.config.shapes != (self.shape_setting.shapes or {}):
            return  # a newer plan is on its way
        self.report = report
        self._show()

    def _measured(self, result: tuple[int, RuntimeCheck]) -> None:
        threads, runtime = result
        self.check.setEnabled(True)
        if threads != self.threads.value():
            # threads changed while the runtime ran: it measured a plan no longer shown
            self._status(f"the runtime check was for {threads} thread(s); check again")
            return
        self.runtime = runtime
        self._show()

    def _runtime_failed(self, exc: BaseException) -> None:
        self.check.setEnabled(True)
        self._status(f"runtime check failed: {exc}")

    # -- showing ---------------------------------------------------------------------------
    def current_subgraph(self) -> SubgraphMemory | None:
        if self.report is None:
            return None
        return self.report.subgraphs[self.subgraph.currentData() or 0]

    def _show(self) -> None:
        sg = self.current_subgraph()
        if sg is None or self.report is None:
            return
        plan = sg.plan(self.planner.currentData())
        tensors = plan.tensors if plan is not None else []
        arena = self.arena.currentData()
        self.chart.setTitle(f"{self.planner.currentText()}: offset by op step "
                            f"(subgraph {sg.index}, {self.arena.currentText()})")
        self.chart.set_tensors([t for t in tensors if t.arena == arena])
        key = self.planner.currentData()
        live = planner_live_bytes(sg, key)
        peak = max(range(len(live)), key=live.__getitem__) if live else None
        self.curve.set_curve(live, peak, plan.arena_bytes if plan is not None else 0,
                             plan.lower_bound_bytes if plan is not None else None,
                             PLANNER_LIFETIMES[key])
        tflm = self.report.tflm
        if tflm is not None and self.tflm_runtime is not None:
            tflm = replace(tflm, runtime=self.tflm_runtime)
        tie_order = self.report.config.tie_order
        self.table.set_report(sg, self.runtime, self.report.config.threads, tflm,
                              None if tie_order.exact else tie_order.reason)
        self.overlay_ready.emit(live_memory_overlay(sg))
        note = " (runtime checked)" if self.runtime else ""
        if self.report.runtime_may_reject:
            note += " — the stock runtime would reject this model: " + \
                "; ".join(self.report.runtime_may_reject[:2])
        config = self.report.config
        at = "; ".join(f"{k}={','.join(map(str, v))}" for k, v in config.shapes.items())
        self._status(f"{len(tensors)} tensors planned"
                     + (f" at {at}" if at else "") + note
                     + ("" if sg.allocated_by_allocate_tensors else
                        " — this subgraph is allocated on the first run")
                     # an unset dynamic input: which one, and where to set it
                     + (f" — {config.dynamic_note} (here: the Run panel's Input shapes, "
                        "shared by this tab's panels)" if config.dynamic_note else ""))

    def _tensor_clicked(self, t: PlannedTensor) -> None:
        sg = self.current_subgraph()
        if sg is None:
            return
        self._status(self.chart.describe(t).replace("\n", " · "))
        self.tensor_selected.emit(sg.index, t.index, t.first_op)

    def _status(self, text: str) -> None:
        self.status.setText(text)

    def shutdown(self) -> None:
        self._plan_task.shutdown()
        self._runtime_task.shutdown()
        self._tflm_task.shutdown()
