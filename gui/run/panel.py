"""The Run panel: run and benchmark the model in an isolated worker process, with live plots.

Thin over ``core.inference``: the form becomes a ``RunForm``, ``core.inference.run_queue`` turns
it into configurations, queues them and keeps their results; a ``WorkerSession`` does each run
in a child process, prepared off the UI thread; a QTimer on the UI thread drains its messages
without blocking (``poll()``), and redraws are throttled so the UI thread stays responsive however
fast the model runs. A crashed, hung or stopped worker ends only its own run: the panel shows the
reason and is ready for the next one.
"""
from __future__ import annotations

import html
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

# core.model.reader and core.model.metadata are imported here, once, so that the first run does not
# import them on its preparing thread (imports hold the GIL for tens of ms while the UI waits).
import core.model.metadata  # noqa: F401
import core.model.reader  # noqa: F401
from core import format as fmt
from core.errors import ModelError
from core.inference import run_queue
from core.inference.config import MAX_THREADS, ConfigError, RunConfig
from core.inference.export import export_results, output_lines, profile_lines
from core.inference.inputs import InputError, input_specs
from core.inference.remote import RemoteSession, bench_session
from core.inference.results import BenchResult, OutputSummary, ProfileNote
from core.inference.run_queue import (  # noqa: F401 - names the panel's tests and callers use
    REFERENCE_MAX_RUNS,
    RESULT_COLUMNS,
    Plan,
    RunForm,
    RunQueue,
    eta_text,
    input_text,
)
from core.inference.session import WorkerSession
from core.inference.ssh_target import SavedTarget, TargetError, facts_line
from core.model.reader import open_model
from gui import file_dialogs, theme
from gui.run.outputs_view import OutputsView
from gui.run.targets import TargetChooser
from gui.run.targets import load as saved_targets
from gui.shape_setting import ShapeSetting
from gui.tasks import TaskRunner, TaskState

if TYPE_CHECKING:
    from core.inference.session import BenchFolder


def _start_session(cfg: RunConfig, state: TaskState, model=None,
                   board: SavedTarget | None = None) -> WorkerSession[BenchFolder] | None:
    """The run-prepare task: read and check the model, make inputs, spawn the worker (on
    ``board`` over SSH when given: connecting and uploading happen here too, off the UI thread).
    Reading and checking the model is pure Python: it hands the GIL back to the UI thread often
    while it runs (the default 5 ms switch interval lets each of the UI thread's many
    Python<->Qt transitions wait up to 5 ms)."""
    target = board.target() if board is not None else None
    session = _with_switch_interval(
        0.0005, lambda: bench_session(cfg, target, model).start())
    if state.is_interrupt_requested():  # the panel closed meanwhile: leave no worker behind
        session.kill()
        return None
    return session


def _with_switch_interval(seconds: float, fn):
    old = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        return fn()
    finally:
        sys.setswitchinterval(old)


POLL_MS = 40
REDRAW_S = 0.15
BACKEND_ITEMS = [("LiteRT Interpreter", "litert"), ("LiteRT CompiledModel", "compiled"),
                 ("tflite-runtime", "tflite_runtime"), ("TensorFlow Lite", "tensorflow")]
DELEGATE_ITEMS = [("XNNPACK (default)", "xnnpack"), ("builtin kernels", "builtin"),
                  ("reference kernels", "reference"), ("GPU (CompiledModel)", "gpu"),
                  ("NPU: Intel OpenVINO plugin (CompiledModel dispatch)", "npu-intel"),
                  ("external delegate .so", "external")]
ERROR_COLUMN = RESULT_COLUMNS.index("error")
# the results table's columns as shown: the figures first, so the median and p90 are in view
# without scrolling sideways at 1280x800 (exports keep RESULT_COLUMNS' order)
RESULTS_SHOWN_ORDER = ("configuration", "status", "median", "Δ median", "p90", "Δ p90", "p99",
                       "mean", "std", "max", "init", "first", "runs", "peak RSS (runs)", "Δ RSS",
                       "backend", "input", "error")
DELTA_COLUMNS = [RESULT_COLUMNS.index(c) for c in run_queue.DELTA_OF]
HEAT_ROLE = Qt.ItemDataRole.UserRole + 1   # a profile cell's share of the hottest op (0..1)
DELTA_ROLE = Qt.ItemDataRole.UserRole + 2  # a Δ cell's theme role (success: better, warning)
FORM_WIDTH = 360   # the settings column's widest


def _fmt(v, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _table(headers: list[str] | tuple[str, ...]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(list(headers))
    for c, name in enumerate(headers):
        help_text = run_queue.RESULT_HELP.get(name) if headers is RESULT_COLUMNS else None
        if help_text:
            t.horizontalHeaderItem(c).setToolTip(help_text)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.setEditTriggers(QTableWidget.NoEditTriggers)
    return t


BARS_HINT = "a bar per configuration:\nDelegate comparison,\nThread sweep or Compare targets"


class RunPanel(QWidget):
    """``RunPanel(model_path)``: Start/Stop, sweeps, live plots, results, per-op profile."""

    op_profile_ready = Signal(object)   # {op_index: avg_ms} for subgraph 0
    run_finished = Signal(object)       # the BenchResult of one configuration
    queue_finished = Signal()           # a run, sweep or comparison is over

    def __init__(self, model_path: str, parent: QWidget | None = None, model=None,
                 shape_setting: ShapeSetting | None = None):
        super().__init__(parent)
        self.model_path = str(model_path)
        self._model = model  # the already-open core Model, if the caller has one
        # the model's dynamic input shapes, shared with its Memory and Quantize panels
        self.shape_setting = shape_setting or ShapeSetting(self)
        self.session: WorkerSession[BenchFolder] | None = None
        self.queue = RunQueue()
        self._dirty = False
        self._last_draw = 0.0
        self._stage_t0 = time.monotonic()
        self._ops_seen = 0
        self._preparing = False
        self._last_plots: run_queue.LivePlots | None = None   # of the last run with data
        self._prepare = TaskRunner(self, name="run-prepare")
        self._prepare.done.connect(self._prepared)
        self._prepare.failed.connect(self._prepare_failed)
        self._prepare.cancelled.connect(self._prepare_cancelled)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._pump)

    @property
    def results(self) -> list[tuple[str, BenchResult]]:
        return self.queue.results

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        controls = QVBoxLayout(left)
        controls.addLayout(self._build_form())
        controls.addLayout(self._build_buttons())
        self.status = QLabel("Ready.", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.live = QLabel("", wordWrap=True)
        controls.addWidget(self.status)
        controls.addWidget(self.live)
        controls.addStretch(1)
        left.setMaximumWidth(FORM_WIDTH)
        # the form scrolls when the window is short (a dynamic model's shape hint made the panel
        # taller than a 1280x800 screen's window could be)
        form_area = QScrollArea()
        form_area.setWidget(left)
        form_area.setWidgetResizable(True)
        form_area.setFrameShape(QFrame.Shape.NoFrame)
        form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = form_area.verticalScrollBar().sizeHint().width()
        form_area.setMinimumWidth(min(left.minimumSizeHint().width(), FORM_WIDTH) + bar)
        form_area.setMaximumWidth(FORM_WIDTH + bar)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self._build_plots())
        right.addWidget(self._build_tabs())
        right.setSizes([420, 220])
        root = QHBoxLayout(self)
        root.addWidget(form_area)
        root.addWidget(right, 1)

    def _build_form(self) -> QFormLayout:
        self._build_run_fields()
        self._build_input_fields()
        self._build_runtime_fields()
        form = QFormLayout()
        for label, field in (
                ("Target", self.target), ("Backend", self.backend), ("Delegate", self.delegate),
                ("Delegate .so", self.delegate_path), ("Delegate options", self.delegate_opts),
                ("Threads", self.threads), ("Runs", self.runs), ("Warmup", self.warmup),
                ("Min time", self.min_secs), ("Max time", self.max_secs),
                ("Run delay", self.run_delay), ("Input", self._input_row),
                ("Input shapes", self.shapes), (None, self.shapes_hint),
                ("Signature", self.signature), ("Python", self.python),
                ("Timeout", self.timeout), ("", self.profile), ("", self.keep_tensors),
                ("", self.xnnpack_fp16),
                ("Weight cache", self.weight_cache)):
            if label is None:  # the dynamic-shape hint: the form's whole width
                form.addRow(field)
            else:
                form.addRow(label, field)
        return form

    def _build_run_fields(self) -> None:
        """Where (this computer or a saved board), backend, delegate, threads and how many runs
        for how long."""
        self.target = TargetChooser()
        self.target.changed.connect(self._target_changed)
        self.backend = QComboBox()
        for text, key in BACKEND_ITEMS:
            self.backend.addItem(text, key)
        self.delegate = QComboBox()
        for text, key in DELEGATE_ITEMS:
            self.delegate.addItem(text, key)
        self.delegate_path = QLineEdit(placeholderText="/path/to/libdelegate.so")
        self.delegate_opts = QLineEdit(placeholderText="key=value;key=value")
        self.delegate.currentIndexChanged.connect(self._delegate_changed)
        self._delegate_changed()
        self.threads = QSpinBox(minimum=1, maximum=MAX_THREADS, value=1)
        self.runs = QSpinBox(minimum=1, maximum=1_000_000, value=100)
        self.warmup = QSpinBox(minimum=0, maximum=100_000, value=5)
        # benchmark_model's --min_secs / --max_secs / --run_delay
        self.min_secs = QDoubleSpinBox(minimum=0, maximum=86_400, decimals=1, suffix=" s",
                                       toolTip="keep running past Runs until this much time "
                                               "has passed")
        self.max_secs = QDoubleSpinBox(minimum=0, maximum=86_400, decimals=1, suffix=" s",
                                       specialValueText="no limit",
                                       toolTip="stop the timed runs after this long")
        self.run_delay = QDoubleSpinBox(minimum=0, maximum=60, decimals=2, suffix=" s",
                                        toolTip="pause between timed runs (not timed)")

    def _build_input_fields(self) -> None:
        """Input source, dynamic shapes (pre-filled with the guess) and signature."""
        self.input_source = QComboBox(editable=True)
        self.input_source.addItems(["random", "zeros"])
        browse = QPushButton("…", maximumWidth=28, toolTip="image, .npy or .npz input file")
        browse.clicked.connect(self._browse_input)
        self._input_row = QHBoxLayout()
        self._input_row.addWidget(self.input_source, 1)
        self._input_row.addWidget(browse)
        self.shapes = QLineEdit()
        # lines broken by hand, no word wrap: a wrapped rich-text label in this form was given
        # the height of fewer lines than it wrapped to (its last lines were cut off)
        self.shapes_hint = QLabel(textFormat=Qt.TextFormat.RichText)
        self._shape_guess = ""
        self._init_shapes()
        self._show_shape_setting()
        self.shapes.editingFinished.connect(self._shapes_edited)
        self.shape_setting.changed.connect(self._show_shape_setting)
        self.signature = QComboBox()
        self._init_signatures()

    def _build_runtime_fields(self) -> None:
        """Interpreter, timeout, profile and XNNPACK settings."""
        self.python = QLineEdit(placeholderText="this Python (or path to another interpreter)")
        self.profile = QCheckBox("per-op profile after the runs")
        self.keep_tensors = QCheckBox("keep every tensor (Outputs tab)",
                                      toolTip="after the runs, one more inference with the "
                                              "builtin kernels keeps every tensor of subgraph 0 "
                                              "to read, plot and save")
        # exposed by LiteRT's CompiledModel only (RunConfig.validate says so otherwise)
        self.xnnpack_fp16 = QCheckBox("XNNPACK: force fp16",
                                      toolTip="fp32 ops in fp16 (LiteRT CompiledModel backend)")
        self.weight_cache = QLineEdit(placeholderText="XNNPACK packed weights file",
                                      toolTip="XNNPACK weight cache (LiteRT CompiledModel "
                                              "backend)")
        self.timeout = QSpinBox(minimum=0, maximum=86_400, value=0, suffix=" s",
                                specialValueText="no timeout")
        self._target_changed()

    def _build_buttons(self) -> QLayout:
        self.start_btn = QPushButton("Start")
        self.stop_btn = QPushButton("Stop", enabled=False)
        self.sweep_btn = QPushButton(f"Thread sweep 1…{os.cpu_count() or 1}")
        self.compare_btn = QPushButton("Delegate comparison")
        self.targets_btn = QPushButton("Compare targets",
                                       toolTip="this configuration on this computer and on "
                                               "every saved target, side by side")
        self.export_btn = QPushButton("Export…")
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        self.sweep_btn.clicked.connect(self.thread_sweep)
        self.compare_btn.clicked.connect(self.delegate_comparison)
        self.targets_btn.clicked.connect(self.target_comparison)
        self.export_btn.clicked.connect(self._export_dialog)
        buttons = QGridLayout()
        buttons.addWidget(self.start_btn, 0, 0)
        buttons.addWidget(self.stop_btn, 0, 1)
        buttons.addWidget(self.sweep_btn, 1, 0)
        buttons.addWidget(self.compare_btn, 1, 1)
        buttons.addWidget(self.targets_btn, 2, 0)
        buttons.addWidget(self.export_btn, 2, 1)
        return buttons

    def _build_plots(self) -> QWidget:
        """Latency per run, its histogram with p50/p90/p99, worker RSS, comparison bars."""
        pg.setConfigOptions(antialias=False)
        self.plots = pg.GraphicsLayoutWidget()
        self.lat_plot = self.plots.addPlot(row=0, col=0, title="latency per run")
        self.lat_plot.setLabel("bottom", "run")
        self.lat_plot.setLabel("left", "ms")
        self.lat_plot.setClipToView(True)
        self.lat_plot.setDownsampling(auto=True, mode="peak")
        self.lat_curve = self.lat_plot.plot()
        self.hist_plot = self.plots.addPlot(row=0, col=1, title="latency histogram")
        self.hist_plot.setLabel("bottom", "ms")
        self.hist_plot.setLabel("left", "runs")
        self.hist_curve = self.hist_plot.plot(stepMode="center", fillLevel=0)
        self.pct_lines = {}
        # labels at three heights: close percentiles no longer print over each other
        for name, at in zip(("p50", "p90", "p99"), (0.92, 0.78, 0.64), strict=True):
            line = pg.InfiniteLine(angle=90, label=name, labelOpts={"position": at})
            line.setVisible(False)
            self.hist_plot.addItem(line)
            self.pct_lines[name] = line
        self.rss_plot = self.plots.addPlot(row=1, col=0, title="worker RSS")
        self.rss_plot.setLabel("bottom", "s since the worker started")
        self.rss_plot.setLabel("left", "MiB")
        self.rss_curve = self.rss_plot.plot()
        # after this line the RSS includes the per-op profile's models (the results' peak does not)
        self.profile_line = pg.InfiniteLine(angle=90, label="per-op profile →",
                                            labelOpts={"position": 0.12})
        self.profile_line.setVisible(False)
        self.rss_plot.addItem(self.profile_line)
        self.bar_plot = self.plots.addPlot(row=1, col=1, title="comparison: median")
        self.bar_plot.setLabel("left", "ms")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6)
        self.bar_plot.addItem(self.bars)
        # until a plan draws bars the chart says what fills it, instead of empty 0..1 axes
        self.bars_hint = pg.TextItem(BARS_HINT, anchor=(0.5, 0.5))
        self.bars_hint.setPos(0.5, 0.5)
        self.bar_plot.addItem(self.bars_hint)
        for plot in (self.lat_plot, self.hist_plot, self.rss_plot, self.bar_plot):
            for side in ("left", "bottom"):
                # units are chosen for the data (µs, ms, s; MiB): no "(x0.001)" scale factor
                plot.getAxis(side).enableAutoSIPrefix(False)
        theme.style_plots(self.plots, self._style_series)
        # which configuration the plots show (after a failed one: the last one that ran)
        self.plots_label = QLabel("", wordWrap=True)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plots_label)
        lay.addWidget(self.plots, 1)
        return box

    def _style_series(self) -> None:
        """The plots' series in the theme's colours (again on a theme switch)."""
        main = theme.color("series_1")
        self.lat_curve.setPen(pg.mkPen(main, width=1))
        self.lat_curve.setSymbolBrush(main)
        self.hist_curve.setPen(pg.mkPen(main))
        self.hist_curve.setBrush(theme.color("series_fill"))
        for name, line in self.pct_lines.items():
            c = theme.color(name)
            line.setPen(pg.mkPen(c, width=2))
            line.label.setColor(c)
        self.rss_curve.setPen(pg.mkPen(theme.color("series_2"), width=2))
        muted = theme.color("muted")
        self.profile_line.setPen(pg.mkPen(muted, width=1, style=Qt.DashLine))
        self.profile_line.label.setColor(muted)
        self.bars.setOpts(brush=theme.color("series_3"), pen=theme.color("plot_bg"))
        self.bars_hint.setColor(theme.color("plot_fg"))

    def _build_tabs(self) -> QWidget:
        """Results, the per-op profile, the by-type summary, the outputs."""
        self.table = _table(RESULT_COLUMNS)
        header = self.table.horizontalHeader()
        for shown_at, name in enumerate(c for c in RESULTS_SHOWN_ORDER if c in RESULT_COLUMNS):
            header.moveSection(header.visualIndex(RESULT_COLUMNS.index(name)), shown_at)
        for c in DELTA_COLUMNS:   # shown once a baseline row is chosen
            self.table.setColumnHidden(c, True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._results_menu)
        self.ops_table = _table(["op", "type", "avg", "% of sum"])
        theme.on_theme_change(self.ops_table, self._recolor_tables)
        self.ops_note = QLabel("", wordWrap=True)
        ops_box = QWidget()
        ob = QVBoxLayout(ops_box)
        ob.setContentsMargins(0, 0, 0, 0)
        ob.addWidget(self.ops_note)
        ob.addWidget(self.ops_table)
        self.types_table = _table(["type", "count", "total", "avg", "% of sum"])
        self.outputs_view = OutputsView()
        self.outputs_text = self.outputs_view.summary   # the outputs in words
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Results")
        self.tabs.addTab(ops_box, "Per-op profile")
        self.tabs.addTab(self.types_table, "By op type")
        self.tabs.addTab(self.outputs_view, "Outputs")
        return self.tabs

    def _target_changed(self) -> None:
        board = self.target.current()
        # a board runs its own Python, named with the target
        self.python.setEnabled(board is None)
        self.python.setToolTip("" if board is None else
                               f"on {board.name}: {board.python} (set in Targets…)")

    def _delegate_changed(self) -> None:
        ext = self.delegate.currentData() == "external"
        self.delegate_path.setEnabled(ext)
        self.delegate_opts.setEnabled(ext)

    def _browse_input(self) -> None:
        path = file_dialogs.open_file(self, "Input for the model",
                                      "Inputs (*.png *.jpg *.jpeg *.bmp *.npy *.npz);;"
                                      "All files (*)", "inputs")
        if path:
            self.input_source.setCurrentText(path)

    # -- configuration ----------------------------------------------------------------------
    def _init_shapes(self) -> None:
        """Dynamic inputs (-1 in the shape signature): the field starts with the shapes a run
        would guess, highlighted (and the guessed sizes marked below it) until the user edits
        them; an untouched guess runs as a guess, so errors still say it was one."""
        try:
            if self._model is not None:
                dyn = [s for s in input_specs(self._model) if s.dynamic]
            else:
                with open_model(self.model_path) as m:
                    dyn = [s for s in input_specs(m) if s.dynamic]
        except (ModelError, OSError, InputError):
            dyn = []
        if not dyn:
            self.shapes.setPlaceholderText("fixed-shape inputs")
            self.shapes.setEnabled(False)
            self.shapes_hint.hide()
            return
        self._shape_guess = "; ".join(f"{s.name}={','.join(map(str, s.shape))}" for s in dyn)
        self.shapes.setText(self._shape_guess)
        theme.set_role(self.shapes, "guess")
        self.shapes.textEdited.connect(lambda _text: theme.set_role(self.shapes, None))
        self.shapes.setToolTip("Dynamic inputs: write NAME=D,D,... (several separated by ';')")
        theme.on_theme_change(self.shapes_hint, lambda: self._show_shapes_hint(dyn))

    def _show_shapes_hint(self, dyn) -> None:
        """The guessed sizes marked in the theme's warning colour."""
        mark = f"<b style='color:{theme.hex_color('warning')}'>{{}}</b>"
        rows = []
        for s in dyn:
            sig = ", ".join(mark.format(d) if d < 0 else str(d) for d in s.shape_signature)
            used = ", ".join(mark.format(d) if g < 0 else str(d)
                             for d, g in zip(s.shape, s.shape_signature, strict=False))
            how = ("the shape stored in the model" if s.shape_source == "model"
                   else "1 for each unknown size")
            rows.append(f"{html.escape(fmt.printable(s.name, 40))}<br>&nbsp;&nbsp;[{sig}] → "
                        f"[{used}] ({how})")
        self.shapes_hint.setText("Dynamic input, edit the highlighted sizes:<br>"
                                 + "<br>".join(rows))
        self.shapes_hint.setToolTip("\n".join(fmt.printable(s.name) for s in dyn))

    def _shapes_edited(self) -> None:
        """The field, once edited, is the model's shape setting (a malformed text stays in the
        field: the run says what is wrong with it)."""
        text = self.shapes.text()
        if text == self._shape_guess:
            return
        try:
            self.shape_setting.set_text(text)
        except InputError:
            pass

    def _show_shape_setting(self) -> None:
        if self.shape_setting.shapes and self.shapes.isEnabled():
            self.shapes.setText(self.shape_setting.text())
            theme.set_role(self.shapes, None)

    def _init_signatures(self) -> None:
        """Which SignatureDef to run: the main subgraph, or any signature of the model."""
        self.signature.addItem("main graph (subgraph 0)", None)
        try:
            if self._model is not None:
                sigs = [(s.key, s.subgraph) for s in self._model.signatures]
            else:
                with open_model(self.model_path) as m:
                    sigs = [(s.key, s.subgraph) for s in m.signatures]
        except (ModelError, OSError):
            sigs = []
        for key, sg in sigs:
            self.signature.addItem(f"{key} (subgraph {sg})", key)
        self.signature.setEnabled(bool(sigs))

    def form(self) -> RunForm:
        """The form's values (the Qt-free controller takes it from here)."""
        return RunForm(
            model=self.model_path, backend=self.backend.currentData(),
            delegate=self.delegate.currentData(), delegate_path=self.delegate_path.text(),
            delegate_options=self.delegate_opts.text(), threads=self.threads.value(),
            runs=self.runs.value(), warmup=self.warmup.value(),
            input_source=self.input_source.currentText(), shapes=self.shapes.text(),
            shape_guess=self._shape_guess, profile=self.profile.isChecked(),
            python=self.python.text(), timeout_s=float(self.timeout.value()),
            signature=self.signature.currentData(), min_secs=self.min_secs.value(),
            max_secs=self.max_secs.value(), run_delay_s=self.run_delay.value(),
            xnnpack_fp16=self.xnnpack_fp16.isChecked(), weight_cache=self.weight_cache.text(),
            keep_tensors=self.keep_tensors.isChecked())

    def config(self, **over) -> RunConfig:
        return run_queue.build_config(self.form(), **over)

    # -- actions ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session is not None or self._preparing

    def _plan(self, make) -> Plan | None:
        """A plan from the form; a bad field is shown in the panel instead of raising."""
        try:
            return make(self.form())
        except (ConfigError, InputError) as e:
            self._set_status(str(e), error=True)
            return None

    def start(self) -> None:
        self._run_plan(self._plan(run_queue.single_run))

    def thread_sweep(self) -> None:
        self._run_plan(self._plan(lambda f: run_queue.thread_sweep(f, os.cpu_count() or 1)))

    def delegate_comparison(self) -> None:
        self._run_plan(self._plan(run_queue.delegate_comparison))

    def target_comparison(self) -> None:
        """The current configuration here and on every saved target, with a bar per target."""
        self._run_plan(self._plan(lambda f: run_queue.target_comparison(f, saved_targets())))

    def run_configs(self, cfgs: list[RunConfig], title: str = "",
                    boards: list[SavedTarget | None] | None = None) -> None:
        """Run ``cfgs`` in turn, each on its board (default: the chosen target)."""
        self._run_plan(Plan(list(cfgs), title, list(boards or [])))

    def _run_plan(self, plan: Plan | None) -> None:
        if plan is None or self.running:
            return
        self.queue.begin(plan, self.target.current())
        if plan.title:
            self.bar_plot.setTitle(plan.title, color=theme.hex_color("plot_fg"))
            self._bars_note()
        self._next()

    def stop(self) -> None:
        """Finish the current configuration after its current inference; drop the queue."""
        self.queue.stop()
        if self.session is not None:
            self.session.stop()
        if self.running:
            self._set_status("Stopping…")

    def shutdown(self) -> None:
        self.queue.stop()
        self.outputs_view.shutdown()
        self._timer.stop()
        if self._preparing:
            # the preparing task kills the worker it spawns when it sees the cancel; waiting
            # (at most a model read and a spawn) keeps a closed panel from leaving one behind
            self._prepare.shutdown()
            self._prepare.wait(5)
            self._preparing = False
        if self.session is not None:
            self.session.kill()
            self.session = None

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def _next(self) -> None:
        """Start the next queued configuration. Preparing it (reading the model, making inputs,
        spawning the worker) runs on a helper thread; the timer picks the session up."""
        cfg = self.queue.next_config()
        if cfg is None:
            self._set_busy(False)
            self._timer.stop()
            self.queue_finished.emit()
            return
        self._preparing = True
        board = self.queue.board
        self._prepare.start(lambda state: _start_session(cfg, state, self._model, board))
        self._reset_live()
        self._set_busy(True)
        self._set_status(f"Preparing {self.queue.label}…")

    def _prepared(self, session: WorkerSession[BenchFolder]) -> None:
        self._preparing = False
        self.session = session
        if self.queue.stop_asked:
            session.stop()
        if isinstance(session, RemoteSession):
            self._set_status(f"Running {self.queue.label}: {session.facts_line()}…")
        else:
            self._set_status(f"Running {self.queue.label} (worker pid {session.pid})…")
        self._timer.start()

    def _prepare_failed(self, error: Exception) -> None:
        self._preparing = False
        if isinstance(error, (ModelError, ConfigError, InputError, OSError, TargetError)):
            msg = str(error)
        else:  # shown in the panel, never a traceback
            msg = f"{self.model_path}: cannot start the run ({type(error).__name__}: {error})"
        self._set_status(msg, error=True)
        self._add_row(self.queue.failed(msg))
        self._next()

    def _prepare_cancelled(self) -> None:
        self._preparing = False
        self._next()

    def _profile_total(self) -> int | None:
        """How many ops the per-op profile times (those of subgraph 0), when the model is open."""
        m = self._model
        return len(m.subgraphs[0].operators) if m is not None and m.subgraphs else None

    def _set_busy(self, busy: bool) -> None:
        self.start_btn.setEnabled(not busy)
        self.sweep_btn.setEnabled(not busy)
        self.compare_btn.setEnabled(not busy)
        self.targets_btn.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)

    def _set_status(self, text: str, error: bool = False) -> None:
        theme.set_role(self.status, "error" if error else None)
        self.status.setText(text)

    # -- live updates ------------------------------------------------------------------------
    def _reset_live(self) -> None:
        self.lat_curve.setData([], [])
        self.hist_curve.setData([0, 1], [0])
        self.rss_curve.setData([], [])
        for line in self.pct_lines.values():
            line.setVisible(False)
        self.profile_line.setVisible(False)
        self.plots_label.setText(f"plots: {self.queue.label}")
        for plot in (self.lat_plot, self.hist_plot, self.rss_plot):
            plot.enableAutoRange()  # a new run does not keep the last run's axes
        # the outputs shown are always this run's
        self.outputs_view.clear("(this run's outputs appear when its first inference is done)")
        self.live.setText("")
        self._last_draw = 0.0
        self._stage_t0 = time.monotonic()
        self._ops_seen = 0

    def _pump(self) -> None:
        s = self.session
        if s is None:
            return
        for m in s.poll():
            self._on_message(s, m)
        now = time.monotonic()
        if self._dirty and (now - self._last_draw >= REDRAW_S or s.finished):
            self._redraw(s)
            self._last_draw, self._dirty = now, False
        if s.finished:
            self._finish(s)

    def _on_message(self, s: WorkerSession[BenchFolder], m: dict) -> None:
        t = m["t"]
        running = f"{self.queue.queue_text()}Running {self.queue.label}"
        if t in ("lat", "rss", "first", "init"):
            self._dirty = True
        elif t == "stage":
            self._stage_t0 = time.monotonic()
            self._set_status(f"{running}: {m['stage']}…")
        elif t == "outputs":
            self._show_outputs(s.job.outputs)
        elif t == "op":
            self._ops_seen += 1
            total = self._profile_total()
            count = (eta_text(self._ops_seen - 1, total, time.monotonic() - self._stage_t0)
                     if total else "")
            self._set_status(f"{running}: profiling op {m['index']} "
                             f"({fmt.printable(m['op'], 60)})"
                             + (f" — {count}" if count else "") + "…")

    def _redraw(self, s: WorkerSession[BenchFolder]) -> None:
        job = s.job
        self._draw_plots(run_queue.live_plots(self.queue.label, job))
        self.live.setText(run_queue.live_text(job, s.cfg, s.stage,
                                              time.monotonic() - self._stage_t0))

    def _draw_plots(self, lp: run_queue.LivePlots) -> None:
        if lp.latencies.size:
            # markers while runs are few: a one-run result is one point, not nothing
            few = lp.latencies.size <= 200
            self.lat_curve.setData(lp.runs, lp.latencies, symbol="o" if few else None,
                                   symbolSize=5, symbolBrush=theme.color("series_1"),
                                   symbolPen=None)
            self.hist_curve.setData(lp.hist_edges, lp.hist_counts)
            for name, q in lp.percentiles.items():
                self.pct_lines[name].setValue(q)
                self.pct_lines[name].setVisible(True)
            self.lat_plot.setLabel("left", lp.lat_unit)
            self.hist_plot.setLabel("bottom", lp.lat_unit)
        if lp.rss_t.size:
            # markers while samples are few: a fast model's run may leave one sample
            self.rss_curve.setData(lp.rss_t, lp.rss_mib,
                                   symbol="o" if lp.rss_t.size <= 30 else None, symbolSize=5,
                                   symbolBrush=theme.color("series_2"), symbolPen=None)
            self.rss_plot.setYRange(0, float(lp.rss_mib.max()) * 1.15, padding=0)
            self.rss_plot.setLabel("bottom", f"{lp.time_unit} since the worker started")
        if lp.profile_at is not None:
            self.profile_line.setValue(lp.profile_at)
        self.profile_line.setVisible(lp.profile_at is not None)

    def _finish(self, s: WorkerSession[BenchFolder]) -> None:
        self._timer.stop()
        res = s.job.result()
        self.session = None
        if s.job.latencies_ms:
            self._last_plots = run_queue.live_plots(self.queue.label, s.job)
        elif self._last_plots is not None:
            # a configuration that failed before its runs leaves the last one that ran in view
            # (not empty plots with made-up axes), and says so
            self._reset_live()
            self._draw_plots(self._last_plots)
            self.plots_label.setText(f"plots: {self._last_plots.label}, the last configuration "
                                     f"that ran ({self.queue.label} has no runs to plot)")
        summary = self.queue.summary(res)
        self._add_row(self.queue.finished(res))
        if res.target:   # a board's row: its facts on the configuration cell
            self.table.item(self.table.rowCount() - 1, 0).setToolTip(
                f"{res.target['address']}\n{facts_line(res.target['facts'] or {})}")
        if self.queue.title:
            self._draw_bars()
        self._set_status(summary, error=bool(res.error))
        self._show_outputs(res.outputs)
        self.outputs_view.set_tensors(res.tensors, res.tensors_note)
        if res.ops:
            self._show_ops(res)
        elif isinstance(res.profile, ProfileNote):
            self.ops_table.setRowCount(0)
            self.types_table.setRowCount(0)  # no profile: the last run's types go too
            self.ops_note.setText(res.profile.note)
            theme.set_role(self.ops_note, None)
        self.run_finished.emit(res)
        self._next()

    def _draw_bars(self) -> None:
        self.bars_hint.setVisible(False)
        self.bar_plot.removeItem(self.bars)
        unit, bars = self.queue.bars()
        self.bars = pg.BarGraphItem(x=list(range(len(bars))), height=[v for _, v in bars],
                                    width=0.6, brush=theme.color("series_3"),
                                    pen=theme.color("plot_bg"))
        self.bar_plot.addItem(self.bars)
        self.bar_plot.setLabel("left", unit)
        self.bar_plot.getAxis("bottom").setTicks([[(i, lb) for i, (lb, _) in enumerate(bars)]])
        self._bars_note()

    def _bars_note(self) -> None:
        note = self.queue.bars_note()
        if note:
            self.bar_plot.setLabel("bottom", note)
        else:
            self.bar_plot.showLabel("bottom", False)

    def _add_row(self, row: run_queue.Row) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, text in enumerate(row.cells):
            item = QTableWidgetItem(text)
            column = RESULT_COLUMNS[c]
            if c == ERROR_COLUMN and text:
                item.setForeground(theme.color("error"))
                item.setToolTip(text)
            elif column in row.exact_ms:
                item.setToolTip(f"{row.exact_ms[column]:.6f} ms")
            self.table.setItem(r, c, item)
        self._show_deltas(r)
        self.table.scrollToBottom()

    # -- baseline ------------------------------------------------------------------------------
    def set_baseline(self, row: int | None) -> None:
        """Compare every results row with row ``row`` in the Δ columns (None: no baseline); a
        row without timed runs is refused in the status line."""
        try:
            self.queue.set_baseline(row)
        except ValueError as e:
            self._set_status(str(e), error=True)
            return
        for c in DELTA_COLUMNS:
            self.table.setColumnHidden(c, row is None)
        for r in range(self.table.rowCount()):
            self._show_deltas(r)
            item = self.table.item(r, 0)
            font = item.font()
            font.setBold(r == row)
            item.setFont(font)

    def _show_deltas(self, r: int) -> None:
        for name, d in self.queue.deltas(r).items():
            item = QTableWidgetItem(d.text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            # lower is better for every Δ figure (time, memory); under 1 % is noise
            role = None if d.percent is None or abs(d.percent) < 1 else \
                "success" if d.percent < 0 else "warning"
            item.setData(DELTA_ROLE, role)
            if role:
                item.setForeground(theme.color(role))
            self.table.setItem(r, RESULT_COLUMNS.index(name), item)

    def _results_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        menu = QMenu(self)
        if index.isValid():
            use = menu.addAction("Use as baseline (Δ columns compare with this row)")
            use.setEnabled(self.queue.rows[index.row()].figure("median") is not None)
            use.triggered.connect(lambda: self.set_baseline(index.row()))
        clear = menu.addAction("No baseline")
        clear.setEnabled(self.queue.baseline is not None)
        clear.triggered.connect(lambda: self.set_baseline(None))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    @staticmethod
    def _heat(item: QTableWidgetItem) -> None:
        item.setBackground(theme.heat_color(item.data(HEAT_ROLE)))
        item.setForeground(theme.color("heat_text"))

    def _recolor_tables(self) -> None:
        """Cells coloured by the theme (errors, profile heat) take the new theme's colours."""
        for r in range(self.table.rowCount()):
            item = self.table.item(r, ERROR_COLUMN)
            if item is not None and item.text():
                item.setForeground(theme.color("error"))
            for c in DELTA_COLUMNS:
                item = self.table.item(r, c)
                if item is not None and item.data(DELTA_ROLE):
                    item.setForeground(theme.color(item.data(DELTA_ROLE)))
        for r in range(self.ops_table.rowCount()):
            item = self.ops_table.item(r, 2)
            if item is not None and item.data(HEAT_ROLE) is not None:
                self._heat(item)

    def _show_outputs(self, outputs: list[OutputSummary]) -> None:
        self.outputs_view.set_summary(output_lines(outputs))

    def _show_ops(self, res: BenchResult) -> None:
        ops = res.ops
        rows = run_queue.op_rows(ops)
        self.ops_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, v in enumerate(row.cells):
                item = QTableWidgetItem(v)
                if row.heat is not None and c == 2:
                    item.setData(HEAT_ROLE, row.heat)
                    self._heat(item)
                self.ops_table.setItem(r, c, item)
        prof = res.summary
        types = prof.by_type if prof is not None else []
        self.types_table.setRowCount(len(types))
        for r, t in enumerate(types):
            for c, v in enumerate([fmt.printable(t.op, 120), str(t.count),
                                   fmt.duration_ms(t.total_ms), fmt.duration_ms(t.avg_ms),
                                   _fmt(t.percent, 1)]):
                self.types_table.setItem(r, c, QTableWidgetItem(v))
        self.ops_note.setText("\n".join(profile_lines(prof)) if prof is not None else "")
        other = prof is not None and prof.other_api
        # per-op times from another API than the benchmark beside them: said in the warning colour
        theme.set_role(self.ops_note, "warning" if other else None)
        self.op_profile_ready.emit(run_queue.per_run_times(ops))

    # -- export ------------------------------------------------------------------------------
    def export_results(self, path: str) -> Path:
        return export_results(self.results, path, overwrite=True)   # the dialog asked

    def _export_dialog(self) -> None:
        if not self.results:
            self._set_status("Nothing to export yet: run a configuration first.", error=True)
            return
        path = file_dialogs.save_file(self, "Export results", "litelens-bench.csv",
                                      "CSV (*.csv);;JSON (*.json)")
        if path:
            try:
                self._set_status(f"Exported {len(self.results)} result(s) to "
                                 f"{self.export_results(path)}.")
            except OSError as e:
                self._set_status(f"{path}: cannot write ({e.strerror or e})", error=True)
