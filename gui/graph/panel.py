"""The Graph tab: toolbar (back, subgraph switcher, fit/zoom, edge labels, export, search),
layout progress with Cancel, the canvas with its minimap and legend, search results, inspector.

Layouts are computed per subgraph by the panel's ``TaskRunner`` off the UI thread (small ones,
under ``SYNC_MAX_OPS`` operators, in place: they take a few milliseconds) and cached.

Public API for the rest of the app::

    panel.show_subgraph(i)            # switch (pushes the current place on the Back history)
    panel.select_op(subgraph, op)     # e.g. from the Operators table: show, center, inspect
    panel.find(text) -> hits          # what Ctrl+F does
    panel.export(path)                # .png / .svg (whole subgraph)
    panel.view.set_overlay(overlay)   # a core.analysis.overlay.Overlay; see gui/graph/view.py
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import format as fmt
from core.graph import export_plan, hierarchy
from core.graph import layout as gl
from core.graph import search as gsearch
from core.graph.fold import constant_producers
from core.graph.layout import NODE_OP, GraphLayout
from core.graph.search import SearchHit
from core.model import ops as op_facts
from core.model.types import Model
from gui import file_dialogs, theme, ui_state
from gui.graph.breadcrumb import Breadcrumb
from gui.graph.dtype_legend import DtypeLegend
from gui.graph.export import ExportCancelled, write_export
from gui.graph.inspector import Inspector
from gui.graph.legend import Legend
from gui.graph.minimap import Minimap
from gui.graph.style import text_metrics
from gui.graph.view import GraphView
from gui.rich_text import plain_label
from gui.tasks import TaskRunner, TaskState

SYNC_MAX_OPS = 1500
MAX_RESULTS = 1000
# the inspector beside the graph, while something is inspected: at 1280x800 with the model info
# panel open the graph keeps 60 % of the window
INSPECTOR_WIDTH, INSPECTOR_MIN_WIDTH = 250, 240


class GraphPanel(QWidget):
    layoutReady = Signal(int)   # subgraph index, once its layout is shown

    def __init__(self, model: Model, parent=None, scopes: bool = True):
        super().__init__(parent)
        self.model = model
        self.layouts: dict[int, GraphLayout] = {}
        self.history: list[tuple[int, float, float, float]] = []
        self.current: int | None = None
        self.layout_task = TaskRunner(self, name="layout")
        self.layout_task.progress.connect(self._progressed)
        self.layout_task.done.connect(self._worker_done)
        self.layout_task.failed.connect(self._worker_failed)
        self.layout_task.cancelled.connect(self._worker_cancelled)
        # exports of big graphs take seconds (~25 s for a 100k-op SVG): off the UI thread
        self.export_task = TaskRunner(self, name="export")
        self.export_task.progress.connect(self._progressed)
        self.export_task.done.connect(self._export_done)
        self.export_task.failed.connect(self._export_failed)
        self.export_task.cancelled.connect(self._export_cancelled)
        self.hits: list[SearchHit] = []
        # name-scope groups per subgraph, and which are open (core.graph.hierarchy)
        self.hierarchies: dict[int, hierarchy.ScopeHierarchy] = {}
        self.expanded: dict[int, frozenset[int]] = {}
        self._anchor: tuple[int, float, float] | None = None   # group kept in place on screen
        self._pending: tuple | None = None   # (subgraph, index, select_*) awaiting its layout
        self._last_q: str | None = None                # the query Enter last searched
        self._metrics: dict = {**text_metrics(self.font()), "fold_producers": True}

        # toolbar
        self.back_btn = self._tool("◀ Back", "Back to the previous subgraph (Alt+Left)",
                                   self.back)
        self.back_btn.setEnabled(False)
        self.subgraph_box = QComboBox(self)
        for sg in model.subgraphs:
            self.subgraph_box.addItem(f"{sg.index}: {sg.name or 'subgraph'} "
                                      f"({len(sg.operators):,} ops)")
        self.subgraph_box.setVisible(len(model.subgraphs) > 1)
        # long subgraph names must not widen the toolbar past the window (it squeezed the info
        # panel to ~130 px at 1280x800); the popup still shows them in full
        self.subgraph_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.subgraph_box.setMinimumContentsLength(16)
        self.subgraph_box.activated.connect(lambda i: self.show_subgraph(i))
        fit = self._tool("Fit", "Fit the graph to the window (Ctrl+0)", self._fit)
        zout = self._tool("−", "Zoom out (Ctrl+wheel, -)", lambda: self.view.zoom_by(0.8))
        zin = self._tool("+", "Zoom in (Ctrl+wheel, +)", lambda: self.view.zoom_by(1.25))
        self.scopes_btn = self._tool("Scopes", "Group ops into boxes by name scope "
                                     "(double-click a box to open it, click a frame's title "
                                     "to close it)", None, checkable=True)
        self.scopes_btn.setChecked(scopes)
        self.scopes_btn.toggled.connect(self.set_scopes)
        self.dtypes_btn = self._tool("Dtypes", "Style edges by dtype and mark where int and "
                                     "float meet (QUANTIZE, DEQUANTIZE, hybrid ops)", None,
                                     checkable=True)
        self.dtypes_btn.toggled.connect(self.set_dtypes)
        self.lr_btn = self._tool("→", "Lay the graph out left to right (for tall graphs)",
                                 None, checkable=True)
        self.lr_btn.toggled.connect(self.set_left_to_right)
        self.labels_btn = self._tool("Shapes", "Label edges with tensor shape and dtype",
                                     None, checkable=True)
        self.labels_btn.toggled.connect(lambda on: self.view.set_edge_labels(on))
        self.export_btn = self._tool("Export", "Export the graph as PNG or SVG", None)
        menu = QMenu(self.export_btn)
        menu.addAction("Whole graph as PNG…", lambda: self._export_dialog("png", True))
        menu.addAction("Whole graph as SVG…", lambda: self._export_dialog("svg", True))
        menu.addAction("Visible area as PNG…", lambda: self._export_dialog("png", False))
        menu.addSeparator()
        menu.addAction("Whole graph as PNG, 2× (hi-DPI)…",
                       lambda: self._export_dialog("png", True, 2.0))
        menu.addAction("Visible area as PNG, 2× (hi-DPI)…",
                       lambda: self._export_dialog("png", False, 2.0))
        self.export_btn.setMenu(menu)
        self.export_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.inspector_btn = self._tool(
            "Inspector", "Show the inspector beside the graph when a node or an edge is "
            "selected (it takes no room while nothing is)", None, checkable=True)
        self.inspector_btn.setChecked(ui_state.flag("inspector_open", True))
        self.search_box = QLineEdit(self)
        self.search_box.setPlaceholderText("Search op type, name, #op or t:tensor (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(160)
        self.search_box.setMaximumWidth(320)
        self.search_box.returnPressed.connect(self._search_enter)
        self.search_box.textChanged.connect(lambda _: self._search_timer.start())
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(lambda: self.find(self.search_box.text()))
        self.info = plain_label(QLabel(self))   # echoes the search text and file names
        theme.set_role(self.info, "muted")
        # its text changes per subgraph: it must not set the panel's minimum width
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 4, 4, 0)
        for w in (self.back_btn, self.subgraph_box, fit, zout, zin, self.scopes_btn,
                  self.lr_btn, self.dtypes_btn, self.labels_btn,
                  self.export_btn, self.inspector_btn):
            bar.addWidget(w)
        bar.addWidget(self.info, 1)
        bar.addWidget(self.search_box)

        # layout progress
        self.progress_row = QWidget(self)
        self.progress = QProgressBar(self.progress_row)
        self.progress.setRange(0, 1000)
        self.progress_label = plain_label(QLabel(self.progress_row))
        self.cancel_btn = QPushButton("Cancel", self.progress_row)
        self.cancel_btn.clicked.connect(self._cancel_clicked)
        self.retry_btn = QPushButton("Lay out again", self.progress_row)
        self.retry_btn.clicked.connect(lambda: self.show_subgraph(self.current or 0, False))
        self.retry_btn.hide()
        pr = QHBoxLayout(self.progress_row)
        pr.setContentsMargins(4, 0, 4, 0)
        pr.addWidget(self.progress_label)
        pr.addWidget(self.progress, 1)
        pr.addWidget(self.cancel_btn)
        pr.addWidget(self.retry_btn)
        self.progress_row.hide()
        self._progress_timer = QTimer(self, singleShot=True, interval=150)
        self._progress_timer.timeout.connect(self.progress_row.show)

        # canvas, overlays, results, inspector
        self.view = GraphView(model, self)
        self.breadcrumb = Breadcrumb(self)
        self.breadcrumb.groupChosen.connect(self.show_group)
        self._crumb_timer = QTimer(self, singleShot=True, interval=120)
        self._crumb_timer.timeout.connect(self._update_breadcrumb)
        self.view.viewChanged.connect(self._crumb_timer.start)
        self.view.scopeToggled.connect(self.toggle_scope)
        self.minimap = Minimap(self.view, self.view)
        self.legend = Legend(self.view, self.view)
        self.dtype_legend = DtypeLegend(self.view)
        self.view.installEventFilter(self)
        self.results = QListWidget(self)
        self.results.setUniformItemSizes(True)
        self.results.hide()
        self.results.currentRowChanged.connect(self._result_chosen)
        self.results.setMaximumWidth(320)
        self.inspector = Inspector(model, self)
        self.inspector.setMinimumWidth(INSPECTOR_MIN_WIDTH)
        self.inspector.hide()   # until something is inspected (see _sync_inspector)
        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.addWidget(self.results)
        self.split.addWidget(self.view)
        self.split.addWidget(self.inspector)
        self.split.setStretchFactor(1, 1)
        self.split.setCollapsible(1, False)
        self.split.setSizes([0, 800, 0])
        self.inspector.contentChanged.connect(self._sync_inspector)
        self.inspector_btn.toggled.connect(self._inspector_toggled)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(bar)
        lay.addWidget(self.breadcrumb)
        lay.addWidget(self.progress_row)
        lay.addWidget(self.split, 1)

        self.view.nodeClicked.connect(self._node_clicked)
        self.view.edgeClicked.connect(self._edge_clicked)
        self.view.backgroundClicked.connect(self.inspector.clear)
        self.view.nodeActivated.connect(self._node_activated)
        self.view.backRequested.connect(self.back)
        self.view.rowClicked.connect(
            lambda _node, tensor: self.inspector.show_tensor(self.view.lay.subgraph, tensor))
        self.inspector.subgraphActivated.connect(lambda i: self.show_subgraph(i))
        self.inspector.tensorActivated.connect(self._tensor_link)
        self.inspector.opActivated.connect(lambda i: self.select_op(self.current, i))
        for seq, fn in ((QKeySequence.StandardKey.Find, self.focus_search),
                        (QKeySequence("Ctrl+0"), self._fit),
                        (QKeySequence("Alt+Left"), self.back)):
            sc = QShortcut(seq, self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(fn)
        esc = QShortcut(QKeySequence("Escape"), self.search_box)
        esc.setContext(Qt.ShortcutContext.WidgetShortcut)
        esc.activated.connect(self._search_escaped)
        if model.subgraphs:
            self.show_subgraph(0, push=False)

    def _tool(self, text, tip, slot, checkable=False) -> QToolButton:
        b = QToolButton(self)
        b.setText(text)
        b.setToolTip(tip)
        b.setCheckable(checkable)
        b.setAutoRaise(True)
        if slot is not None:
            b.clicked.connect(slot)
        return b

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(1100, 700)

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802
        if obj is self.view and ev.type() == ev.Type.Resize:
            self.minimap.fit_to(self.view.size())
            self.minimap.place()
            self.legend.move(10, 10)
            self.dtype_legend.move(self.view.width() - self.dtype_legend.width() - 10, 10)
        return False

    # -- the inspector's room --
    def _inspector_toggled(self, on: bool) -> None:
        ui_state.set_flag("inspector_open", on)
        self._sync_inspector()

    def _sync_inspector(self) -> None:
        """The inspector takes room only while it shows something and the user wants it."""
        want = self.inspector_btn.isChecked() and self.inspector.current is not None
        if want == (not self.inspector.isHidden()):
            return
        if want:
            results, graph, _ = self.split.sizes()
            self.inspector.show()
            self.split.setSizes([results, max(1, graph - INSPECTOR_WIDTH), INSPECTOR_WIDTH])
        else:
            self.inspector.hide()

    # -- subgraphs & layout --
    @property
    def layout_busy(self) -> bool:
        return self.layout_task.busy

    def show_subgraph(self, index: int, push: bool = True) -> None:
        if not 0 <= index < len(self.model.subgraphs):
            return
        if push and self.current is not None and self.view.lay is not None:
            self.history.append((self.current, self.view.ox, self.view.oy, self.view.scale))
        self.back_btn.setEnabled(bool(self.history))
        self.current = index
        self.subgraph_box.setCurrentIndex(index)
        self.results.clear()
        self.results.hide()
        self.hits = []
        self.inspector.clear()
        if index in self.layouts:
            self._show_layout(self.layouts[index])
            return
        self.cancel_layout(quiet=True)
        self.view.set_layout(None)
        self._lay_out(index)

    def _lay_out(self, index: int) -> None:
        """Lay out subgraph ``index`` (with its name-scope groups when Scopes is on), in place
        when small, else on the layout task with progress and Cancel."""
        n_ops = len(self.model.subgraphs[index].operators)
        run = self._layout_job(index)
        if n_ops <= SYNC_MAX_OPS:
            self._layout_done(run(None), index)
            return
        if self.view.lay is None:
            self.view.set_message(f"Laying out {n_ops:,} operators…")
        self.progress.setValue(0)
        self.progress_label.setText(f"Laying out subgraph {index} ({n_ops:,} ops)")
        self.cancel_btn.show()
        self.retry_btn.hide()
        self._progress_timer.start()
        self.layout_task.start(run)

    def _layout_job(self, index: int):
        """The layout of subgraph ``index`` as a function of a task state (None: no progress),
        with what it needs copied now (it may run on the task's thread)."""
        model, metrics = self.model, dict(self._metrics)
        scopes = self.scopes_btn.isChecked()
        h = self.hierarchies.get(index)
        expanded = self.expanded.get(index)

        def run(state: TaskState | None) -> GraphLayout:
            progress = state.set_progress if state is not None else None
            cancelled = state.is_interrupt_requested if state is not None else None
            groups = None
            if scopes and h is None:   # folded producers make no box of their own
                sg = model.subgraphs[index]
                groups = hierarchy.scope_hierarchy(sg, folded=constant_producers(sg) if
                                                   metrics.get("fold_producers") else ())
            elif scopes:
                groups = h
            if groups is None or not groups.has_scopes:
                return gl.layout_subgraph(model, index, progress=progress, cancelled=cancelled,
                                          **metrics)
            opened = expanded if expanded is not None else hierarchy.fit_expansion(groups)
            return hierarchy.layout_hierarchy(model, index, groups, opened, progress=progress,
                                              cancelled=cancelled, **metrics)
        return run

    def set_left_to_right(self, on: bool) -> None:
        """Layers from left to right instead of top to bottom (laid out again)."""
        if self.lr_btn.isChecked() != bool(on):
            self.lr_btn.setChecked(bool(on))   # comes back here through toggled
            return
        self._metrics["direction"] = "LR" if on else "TB"
        self.layouts.clear()
        if self.current is not None:
            self.show_subgraph(self.current, push=False)

    def set_dtypes(self, on: bool) -> None:
        """View → Dtypes: edges by dtype, int/float crossings marked, with their legend."""
        if self.dtypes_btn.isChecked() != bool(on):
            self.dtypes_btn.setChecked(bool(on))   # comes back here through toggled
            return
        self.view.set_dtypes(on)
        self.dtype_legend.adjustSize()
        self.dtype_legend.move(self.view.width() - self.dtype_legend.width() - 10, 10)
        self.dtype_legend.setVisible(bool(on))

    # -- name-scope groups --
    @property
    def scopes_on(self) -> bool:
        return self.scopes_btn.isChecked()

    def set_scopes(self, on: bool) -> None:
        """Scopes on: ops grouped into boxes by name scope; off: every op drawn flat."""
        if self.scopes_btn.isChecked() != bool(on):
            self.scopes_btn.setChecked(bool(on))   # comes back here through toggled
            return
        self.layouts.clear()
        if self.current is not None:
            self.show_subgraph(self.current, push=False)

    def toggle_scope(self, group: int) -> None:
        """Open a closed group or close an open one, in place: the group stays where it is on
        the screen and the rest of the layout keeps its order (core.graph.hierarchy)."""
        lay = self.view.lay
        if lay is None or not isinstance(lay.hierarchy, hierarchy.HierarchyState):
            return
        self.set_expanded(lay.subgraph, hierarchy.toggled(lay.hierarchy.expanded, group),
                          anchor=group)

    def set_expanded(self, index: int, expanded: frozenset[int],
                     anchor: int | None = None) -> None:
        """Lay subgraph ``index`` out again with the groups ``expanded`` open; ``anchor``: a
        group kept at the same place on the screen."""
        lay = self.view.lay
        self.expanded[index] = frozenset(expanded)
        self.layouts.pop(index, None)
        if anchor is not None and lay is not None and lay.subgraph == index:
            node = hierarchy.group_node(lay, anchor)
            p = self.view.to_widget(float(lay.x[node]), float(lay.y[node]))
            self._anchor = (anchor, p.x(), p.y())
        if index == self.current:
            self._lay_out(index)

    def show_group(self, group: int) -> None:
        """A breadcrumb level: fit its frame (or its box) in the view."""
        lay = self.view.lay
        if lay is None or not isinstance(lay.hierarchy, hierarchy.HierarchyState):
            return
        if group == 0:
            self.view.fit()
            return
        node = hierarchy.group_node(lay, group)
        x, y, w, h = lay.node_rect(node)
        s = min(self.view.width() / max(w + 40, 1), self.view.height() / max(h + 40, 1), 1.0)
        self.view.center_on_point(x + w / 2, y + h / 2, s)

    def reveal_op(self, op: int) -> bool:
        """Open the groups that hide op ``op`` (a search hit, a table row); True when a new
        layout is on its way."""
        lay = self.view.lay
        if lay is None or lay.shows(op) or not isinstance(lay.hierarchy,
                                                          hierarchy.HierarchyState):
            return False
        st = lay.hierarchy
        opened = hierarchy.revealing(st.groups, st.expanded, op)
        if opened == st.expanded:   # open already: folded onto its consumer's card
            return False
        self.set_expanded(lay.subgraph, opened)
        return True

    def _update_breadcrumb(self) -> None:
        lay = self.view.lay
        if lay is None or not isinstance(lay.hierarchy, hierarchy.HierarchyState):
            # always there (the view must not jump as it comes and goes): the subgraph
            sg = self.model.subgraphs[lay.subgraph] if lay is not None else None
            self.breadcrumb.set_path([(0, sg.name or f"subgraph {sg.index}")] if sg else [])
            return
        node = self.view.sel_node
        if node is not None:
            self.breadcrumb.set_path(hierarchy.breadcrumb(lay, node=node))
            return
        c = self.view.visible_scene_rect().center()
        self.breadcrumb.set_path(hierarchy.breadcrumb(lay, point=(c.x(), c.y())))

    @property
    def show_weights(self) -> bool:
        return self._metrics.get("fold_constants", True)

    @property
    def fold_producers(self) -> bool:
        return self._metrics.get("fold_producers", True)

    def set_fold_producers(self, on: bool) -> None:
        """View → Fold Constant Producers: a DEQUANTIZE of fp16 weights (and any op reading only
        constants) drawn as a row of its consumer's card (laid out again)."""
        if self.fold_producers == bool(on):
            return
        self._metrics["fold_producers"] = bool(on)
        self.layouts.clear()
        self.hierarchies.clear()   # the groups depend on what is folded
        self.expanded.clear()
        if self.current is not None:
            self.show_subgraph(self.current, push=False)

    def set_show_weights(self, on: bool) -> None:
        """Weights/bias rows on op cards (the cards are laid out again, smaller without)."""
        if self._metrics.get("fold_constants", True) == bool(on):
            return
        self._metrics["fold_constants"] = bool(on)
        self.layouts.clear()
        if self.current is not None:
            self.show_subgraph(self.current, push=False)

    def shutdown(self) -> None:
        """Closing the tab: stop a running layout without blocking the UI (the runner detaches
        it; the thread ends at the layout's next cancel check)."""
        self.layout_task.shutdown()
        self.export_task.shutdown()
        self._hide_progress()

    def _cancel_clicked(self) -> None:
        if self.export_task.busy:
            self.export_task.cancel()
        else:
            self.cancel_layout()

    def cancel_layout(self, quiet: bool = False) -> None:
        """Stop the running layout; it reports ``cancelled`` (the Retry row), or, ``quiet``,
        is dropped at once."""
        if quiet:
            self.shutdown()
        else:
            self.layout_task.cancel()

    def _hide_progress(self) -> None:
        self._progress_timer.stop()
        self.progress_row.hide()

    def _progressed(self, frac: float, phase: str) -> None:
        self.progress.setValue(int(frac * 1000))
        self.progress.setFormat(f"{phase} %p%")

    def _worker_done(self, lay: GraphLayout) -> None:
        self._hide_progress()
        self._layout_done(lay, lay.subgraph)

    def _worker_failed(self, error: Exception) -> None:
        # a layout bug must not take the app down: it is shown where the graph would be
        self._hide_progress()
        self.view.set_message(f"Layout failed: {type(error).__name__}: {error}")

    def _worker_cancelled(self) -> None:
        self._hide_progress()
        self.view.set_message("Layout cancelled.")
        self.progress_label.setText("Layout cancelled")
        self.cancel_btn.hide()
        self.retry_btn.show()
        self.progress_row.show()

    def _layout_done(self, lay: GraphLayout, index: int) -> None:
        self.layouts[index] = lay
        if isinstance(lay.hierarchy, hierarchy.HierarchyState):
            self.hierarchies[index] = lay.hierarchy.groups
            self.expanded[index] = lay.hierarchy.expanded
        if index == self.current:
            anchor, self._anchor = self._anchor, None
            self._show_layout(lay, keep_view=anchor is not None)
            if anchor is not None and isinstance(lay.hierarchy, hierarchy.HierarchyState):
                node = hierarchy.group_node(lay, anchor[0])
                s = self.view.scale
                self.view.set_view(s, float(lay.x[node]) - anchor[1] / s,
                                   float(lay.y[node]) - anchor[2] / s)

    def _show_layout(self, lay: GraphLayout, keep_view: bool = False) -> None:
        self.view.set_layout(lay, keep_view=keep_view)
        self.minimap.invalidate()
        self._show_layout_info()
        self._update_breadcrumb()
        if self.search_box.text().strip():
            self.find(self.search_box.text())
        self.layoutReady.emit(lay.subgraph)

    def _show_layout_info(self) -> None:
        """The shown subgraph's counts in the toolbar (what a search's count gives way to)."""
        lay = self.view.lay
        if lay is None:
            self.info.clear()
            return
        t = lay.timings.get("total", 0.0) * 1000
        boxes = ""
        if lay.shown is not None:
            # closed boxes and open frames: with every box open it read '0 boxes' beside frames
            closed = int((lay.shown & (lay.kind == gl.NODE_SCOPE)).sum())
            boxes = f" · {closed:,} boxes closed, {len(lay.frame_group):,} open"
        self.info.setText(f"{lay.n_ops:,} ops{boxes} · {lay.n_edges:,} edges · "
                          f"{lay.n_layers:,} layers · layout {fmt.duration_ms(t)}")

    def back(self) -> None:
        if not self.history:
            return
        sg, ox, oy, s = self.history.pop()
        self.show_subgraph(sg, push=False)
        if self.view.lay is not None and self.view.lay.subgraph == sg:
            self.view.set_view(s, ox, oy)
        self.back_btn.setEnabled(bool(self.history))

    def _fit(self) -> None:
        self.view.fit()

    # -- selection & inspector --
    def _node_clicked(self, node: int) -> None:
        lay = self.view.lay
        self._update_breadcrumb()
        if lay.kind[node] == gl.NODE_SCOPE:
            self.inspector.clear()
        elif lay.kind[node] == NODE_OP:
            self.inspector.show_op(lay.subgraph, node)
        else:
            self.inspector.show_tensor(lay.subgraph, int(lay.ref[node]))

    def _edge_clicked(self, edge: int) -> None:
        lay = self.view.lay
        self.inspector.show_tensor(lay.subgraph, int(lay.edge_tensor[edge]))

    def _node_activated(self, node: int) -> None:
        lay = self.view.lay
        if lay.kind[node] != NODE_OP:
            return
        links = dict(op_facts.subgraph_links(self.model.subgraphs[lay.subgraph].operators[node]))
        for role in ("body", "then", "init", "called", "else", "cond"):
            if role in links:
                self.show_subgraph(links[role])
                return

    def _tensor_link(self, tensor: int) -> None:
        lay = self.view.lay
        if lay is None:
            return
        if len(lay.edges_of_tensor(tensor)):
            self.view.select_tensor(tensor, center=True)
        else:
            node = gsearch.tensor_node(lay, self.model.subgraphs[lay.subgraph], tensor)
            if node is not None:
                self.view.select_node(node, center=True)
        self.inspector.show_tensor(lay.subgraph, tensor)

    def select_op(self, subgraph: int | None, op_index: int) -> None:
        """Show operator ``op_index`` of ``subgraph``: switch, center, select, inspect."""
        if subgraph is None:
            return
        if subgraph != self.current:
            self.show_subgraph(subgraph)
        if self._wait_for_layout(subgraph, op_index, self.select_op):
            return
        if self.reveal_op(op_index) and self._wait_for_layout(subgraph, op_index, self.select_op,
                                                              fresh=True):
            return
        self.view.select_node(op_index, center=True)
        self._update_breadcrumb()   # now, not when the view's move settles: it names the op's
        self.inspector.show_op(subgraph, op_index)

    def select_tensor(self, subgraph: int, tensor: int) -> None:
        """Show tensor ``tensor`` of ``subgraph``: its edge (or the node it feeds), inspected."""
        if subgraph != self.current:
            self.show_subgraph(subgraph)
        if self._wait_for_layout(subgraph, tensor, self.select_tensor):
            return
        self._tensor_link(tensor)

    def _wait_for_layout(self, subgraph: int, index: int, then, fresh: bool = False) -> bool:
        """True (and ``then(subgraph, index)`` queued) while ``subgraph``'s layout is not shown
        (``fresh``: while a new one is being made, even if one is shown)."""
        if (self.view.lay is not None and self.view.lay.subgraph == subgraph
                and (not fresh or subgraph in self.layouts)):
            return False
        if self._pending is None:
            self.layoutReady.connect(self._select_pending)
        self._pending = (subgraph, index, then)
        return True

    def _select_pending(self, sg: int) -> None:
        self.layoutReady.disconnect(self._select_pending)
        want, self._pending = self._pending, None
        if want and want[0] == sg:
            want[2](want[0], want[1])

    # -- search --
    def focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    def find(self, text: str) -> list[SearchHit]:
        lay = self.view.lay
        self.results.blockSignals(True)
        self.results.clear()
        self.results.blockSignals(False)
        if lay is None or not text.strip():
            self.hits = []
            self.view.set_highlight([])
            self.results.hide()
            self._show_layout_info()   # not the count of a search that is over
            return []
        self.hits = gsearch.search(self.model, lay, text, limit=MAX_RESULTS)
        self.view.set_highlight(h.node for h in self.hits)
        if len(self.hits) < MAX_RESULTS:  # then the bodies of control-flow ops and the rest
            self.hits += gsearch.search_other_subgraphs(self.model, lay.subgraph, text,
                                                   limit=MAX_RESULTS - len(self.hits))
        self.results.blockSignals(True)
        for h in self.hits:
            QListWidgetItem(h.text, self.results)
        self.results.blockSignals(False)
        self.results.setVisible(True)
        if self.split.sizes()[0] < 120:
            s = self.split.sizes()
            self.split.setSizes([220, max(200, s[1] - 220), s[2]])
        self.info.setText(f"{len(self.hits):,}{'+' if len(self.hits) >= MAX_RESULTS else ''}"
                          f" match(es) for “{text}”" if self.hits else f"no match for “{text}”")
        return self.hits

    def _search_escaped(self) -> None:
        """Esc in the search box ends the search at once: text, highlights, results, count."""
        self._search_timer.stop()
        self.search_box.clear()
        self._search_timer.stop()   # started again by the cleared text
        self.find("")

    def _search_enter(self) -> None:
        self._search_timer.stop()
        if not self.hits or self.search_box.text() != self._last_q:
            self.find(self.search_box.text())
            self._last_q = self.search_box.text()
            if self.hits:
                self.results.setCurrentRow(0)
            return
        row = (self.results.currentRow() + 1) % max(1, len(self.hits))
        self.results.setCurrentRow(row)

    def _result_chosen(self, row: int) -> None:
        if not 0 <= row < len(self.hits):
            return
        h = self.hits[row]
        lay = self.view.lay
        if h.subgraph is not None and h.subgraph != lay.subgraph:
            self.select_op(h.subgraph, h.node)
            return
        if h.kind == "op" and self.reveal_op(h.node):
            self.select_op(lay.subgraph, h.node)
            return
        if h.tensor is not None and len(lay.edges_of_tensor(h.tensor)):
            self.view.select_tensor(h.tensor)
            self.view.center_on(h.node, max(self.view.scale, 0.8))
            self.inspector.show_tensor(lay.subgraph, h.tensor)
        else:
            self.view.select_node(h.node, center=True)
            self._node_clicked(h.node)

    # -- export --
    def export(self, path: str, whole: bool = True, scale: float = 1.0) -> None:
        """Write ``path`` (.svg, else an image by suffix) now, on this thread; a PNG at
        ``scale`` (2: for hi-DPI screens)."""
        write_export(self.view.export_snapshot(whole, scale), path)

    def export_problem(self, fmt: str, whole: bool, scale: float = 1.0) -> str | None:
        """Why this export would be useless or huge (core.graph.export_plan), or None."""
        lay = self.view.lay
        if not whole:
            return None
        if fmt == "svg":   # what is drawn: ops in closed boxes or folded are not
            return export_plan.svg_warning(lay.n_nodes if lay.shown is None
                                           else int(lay.shown.sum()))
        return export_plan.image_warning(export_plan.image_plan(lay.width, lay.height, scale))

    def _export_dialog(self, fmt: str, whole: bool, scale: float = 1.0) -> None:
        if self.view.lay is None or self.export_task.busy:
            return
        problem = self.export_problem(fmt, whole, scale)
        if problem:
            box = QMessageBox(QMessageBox.Icon.Warning, "Export graph", problem,
                              QMessageBox.StandardButton.Cancel, self)
            visible = box.addButton("Export the visible area", QMessageBox.ButtonRole.AcceptRole)
            anyway = box.addButton("Export anyway", QMessageBox.ButtonRole.DestructiveRole)
            box.exec()
            if box.clickedButton() is visible:
                whole = False
            elif box.clickedButton() is not anyway:
                return
        stem = Path(self.model.path).stem + f"_sg{self.view.lay.subgraph}"
        if scale != 1.0:
            stem += f"@{scale:g}x"
        path = file_dialogs.save_file(self, "Export graph", f"{stem}.{fmt}",
                                      f"{fmt.upper()} (*.{fmt})")
        if path:
            self.export_in_background(path, whole, scale)

    def export_in_background(self, path: str, whole: bool = True, scale: float = 1.0) -> None:
        """Write the export on a task thread with progress and Cancel in the progress row."""
        self.progress.setValue(0)
        self.progress_label.setText(f"Exporting {Path(path).name}")
        self.retry_btn.hide()
        self.cancel_btn.show()
        self._progress_timer.start()

        snap = self.view.export_snapshot(whole, scale)   # on the UI thread; painted on the task's

        def work(state):
            write_export(snap, path, state)
            return path
        self.export_task.start(work)

    def _export_done(self, path: str) -> None:
        self._hide_progress()
        self.info.setText(f"exported {Path(path).name}")

    def _export_failed(self, error: Exception) -> None:
        self._hide_progress()
        if isinstance(error, ExportCancelled):
            return
        QMessageBox.warning(self, "Export failed", str(error))

    def _export_cancelled(self) -> None:
        self._hide_progress()
        self.info.setText("export cancelled; nothing was written")
