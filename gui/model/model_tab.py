"""One open model: info panel on the left; graph, operators, tensors, run, quantize and memory
as tabs on the right."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget

from core import format as fmt
from core.analysis.overlay import KIND_DELEGATE, KIND_LATENCY, heat_overlay
from core.analysis.report import InfoSection
from core.model.types import Model
from gui import ui_state
from gui.model.info_panel import InfoPanel
from gui.model.op_table import OpTable
from gui.model.tensor_table import TensorTable
from gui.run.panel import RunPanel
from gui.shape_setting import ShapeSetting
from gui.support.panel import DelegatesPanel

INFO_WIDTH = 250   # the info panel's default width (its minimum is info_panel.MIN_WIDTH)


class ModelTab(QWidget):
    open_requested = Signal(str)                   # a model to open in a new tab
    compare_requested = Signal(str, str, object)   # model A, model B, MedianLatency

    def __init__(self, model: Model, parent=None, info: list[InfoSection] | None = None):
        """``info``: the info panel's sections, when computed off the UI thread (the loader's)."""
        super().__init__(parent)
        self.model = model
        # dynamic input shapes: one setting for the Run, Memory and Quantize panels
        self.shape_setting = ShapeSetting(self)
        self.info = InfoPanel(model, self, info)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        # the tables first: the graph panel starts its layout thread, which would compete with
        # them for the GIL
        self.ops = OpTable(model, self)
        self.tensors = TensorTable(model, self)
        self.graph = self._make_graph_panel()
        self.graph.view.overlaysChanged.connect(self._overlays_changed)
        self.tabs.addTab(self.graph, "Graph")
        self.tabs.addTab(self.ops, f"Operators ({model.op_count:,})")
        self.ops.activated_item.connect(self.show_op_in_graph)
        self.tensors.activated_item.connect(self.show_tensor_row_in_graph)
        self.tabs.addTab(self.tensors, f"Tensors ({model.tensor_count:,})")
        # Panels are built the first time their tab is shown: their analyses would compete with
        # the graph layout for the GIL, and pyqtgraph plots cost ~0.1-0.8 s to create.
        self._builders: dict[QWidget, Callable[[], QWidget]] = {}
        self.delegates: DelegatesPanel | None = None
        self._delegates_slot = self._lazy_tab("Delegates", self.delegates_panel)
        self.run: RunPanel | None = None
        self._run_slot = self._lazy_tab("Run", self.run_panel)
        self.quantize = None   # gui.quantize.panel.QuantizePanel
        self._quantize_slot = self._lazy_tab("Quantize", self.quantize_panel)
        self.memory = None     # gui.memory.panel.MemoryPanel
        self._memory_slot = self._lazy_tab("Memory", self.memory_panel)
        self.tabs.currentChanged.connect(self._tab_changed)
        # the info panel collapses to give the graph the room (a button left of the tabs,
        # View → Model Info Panel); remembered across sessions
        self.info_btn = QToolButton(self.tabs)
        self.info_btn.setText("◧ Info")
        self.info_btn.setToolTip("Show or hide the model info panel")
        self.info_btn.setCheckable(True)
        self.info_btn.setAutoRaise(True)
        self.info_btn.setChecked(ui_state.flag("info_panel_open", True))
        self.info_btn.toggled.connect(self.set_info_visible)
        self.tabs.setCornerWidget(self.info_btn, Qt.Corner.TopLeftCorner)
        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.addWidget(self.info)
        self.split.addWidget(self.tabs)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self.split.setCollapsible(0, False)
        self.split.setCollapsible(1, False)
        self.split.setSizes([INFO_WIDTH, 1280 - INFO_WIDTH])
        self.info.setVisible(self.info_btn.isChecked())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.split)

    def set_info_visible(self, on: bool) -> None:
        """Show or collapse the model info panel (and remember it for the next tabs)."""
        self.info_btn.setChecked(on)
        self.info.setVisible(on)
        ui_state.set_flag("info_panel_open", on)

    def _make_graph_panel(self) -> QWidget:
        """The graph view (gui/graph/panel.py: canvas, minimap, search, inspector)."""
        from gui.graph.panel import GraphPanel
        return GraphPanel(self.model, self)

    def show_op_in_graph(self, op) -> None:
        """Double-click in the operator table: jump to that node in the graph."""
        self.show_op_index_in_graph(op.subgraph, op.index)

    def show_op_index_in_graph(self, subgraph: int, op_index: int) -> None:
        """Jump to a node in the graph (operator table, Delegates matrix)."""
        self.tabs.setCurrentWidget(self.graph)
        self.graph.select_op(subgraph, op_index)

    def show_support_overlay(self, overlay) -> None:
        """The chosen delegate's verdict on the graph (it replaces the delegate overlay shown)."""
        if overlay is not None:
            self.graph.view.set_overlay(overlay)
        else:
            self.graph.view.clear_kind(KIND_DELEGATE)

    def _overlays_changed(self) -> None:
        """Panels say what the graph shows: an overlay removed from the legend is no longer
        the Delegates panel's choice."""
        if self.delegates is not None:
            shown = {ov.name for ov in self.graph.view.overlays()}
            self.delegates.overlay_removed_unless(shown)

    def _lazy_tab(self, title: str, build: Callable[[], QWidget]) -> QWidget:
        """An empty tab whose panel ``build()`` makes and mounts when the tab is first shown."""
        slot = QWidget(self)
        QVBoxLayout(slot).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(slot, title)
        self._builders[slot] = build
        return slot

    @staticmethod
    def _mount(slot: QWidget, panel: QWidget) -> None:
        slot.layout().addWidget(panel)
        panel.show()

    def show_tensor_row_in_graph(self, tensor) -> None:
        """Double-click in the tensor table: that tensor's edge (or node) in the graph."""
        self.tabs.setCurrentWidget(self.graph)
        self.graph.select_tensor(tensor.subgraph, tensor.index)

    def _tab_changed(self, index: int) -> None:
        build = self._builders.get(self.tabs.widget(index))
        if build is not None:
            build()

    def delegates_panel(self) -> DelegatesPanel:
        """The Delegates panel; its overlay paints this graph."""
        if self.delegates is None:
            self.delegates = DelegatesPanel(self.model, self._delegates_slot)
            self.delegates.op_activated.connect(self.show_op_index_in_graph)
            self.delegates.overlay_changed.connect(self.show_support_overlay)
            self._mount(self._delegates_slot, self.delegates)
        return self.delegates

    def quantize_panel(self):
        """The Quantize panel; its per-layer error paints this graph."""
        if self.quantize is None:
            from gui.quantize.panel import QuantizePanel
            self.quantize = QuantizePanel(self.model, self._quantize_slot,
                                          shape_setting=self.shape_setting)
            self.quantize.overlay_ready.connect(self.graph.view.set_overlay)
            self.quantize.table.op_activated.connect(lambda i: self.show_op_index_in_graph(0, i))
            self.quantize.open_requested.connect(self.open_requested)
            self.quantize.compare_requested.connect(self.compare_requested)
            self._mount(self._quantize_slot, self.quantize)
        return self.quantize

    def memory_panel(self):
        """The Memory panel; its live-memory overlay paints this graph."""
        if self.memory is None:
            from gui.memory.panel import MemoryPanel
            self.memory = MemoryPanel(self.model, self._memory_slot,
                                      shape_setting=self.shape_setting)
            self.memory.overlay_ready.connect(self.graph.view.set_overlay)
            self.memory.tensor_selected.connect(self.show_tensor_in_graph)
            self._mount(self._memory_slot, self.memory)
        return self.memory

    def show_tensor_in_graph(self, subgraph: int, tensor: int, op: int) -> None:
        """A tensor clicked in the Memory panel: select it in the graph (a kernel temporary,
        which the graph does not draw, selects the op that owns it)."""
        self.graph.select_op(subgraph, op)
        view = self.graph.view
        if 0 <= tensor < len(self.model.subgraphs[subgraph].tensors) and view.lay is not None \
                and view.lay.subgraph == subgraph:
            view.select_tensor(tensor, center=True)

    def run_panel(self) -> RunPanel:
        """The Run panel; its per-op profile paints this graph."""
        if self.run is None:
            self.run = RunPanel(self.model.path, self._run_slot, model=self.model,
                                shape_setting=self.shape_setting)
            self.run.op_profile_ready.connect(self.show_op_latency)
            self._mount(self._run_slot, self.run)
        return self.run

    def show_op_latency(self, times: dict) -> None:
        """Per-op latency from the Run panel's profile as a heat overlay on the graph."""
        self.graph.view.set_overlay(heat_overlay(times, subgraph=0, text=fmt.duration_ms,
                                                 kind=KIND_LATENCY))

    def status_text(self) -> str:
        m = self.model
        return (f"{m.op_count:,} ops · {m.tensor_count:,} tensors · {len(m.subgraphs)} subgraph(s)"
                f" · parsed in {fmt.duration_ms(m.parse_seconds * 1000)}")

    def close_model(self) -> None:
        if self.delegates is not None:
            self.delegates.shutdown()
        if self.run is not None:
            self.run.shutdown()
        if self.quantize is not None:
            self.quantize.shutdown()
        if self.memory is not None:
            self.memory.shutdown()
        if hasattr(self.graph, "shutdown"):
            self.graph.shutdown()
        self.model.close()
