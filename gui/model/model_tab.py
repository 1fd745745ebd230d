"""One open model: info panel on the left; graph, operators, tensors, run, quantize and memory
as tabs on the right."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from core import format as fmt
from core.analysis.overlay import heat_overlay
from core.model.types import Model
from gui.model.info_panel import InfoPanel
from gui.model.op_table import OpTable
from gui.run.panel import RunPanel
from gui.model.tensor_table import TensorTable


class ModelTab(QWidget):
    open_requested = Signal(str)                   # a model to open in a new tab
    compare_requested = Signal(str, str, object)   # model A, model B, latency {"a", "b"}

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.info = InfoPanel(model, self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        # the tables first: the graph panel starts its layout thread, which would compete with
        # them for the GIL
        self.ops = OpTable(model, self)
        self.tensors = TensorTable(model, self)
        self.graph = self._make_graph_panel()
        self.tabs.addTab(self.graph, "Graph")
        self.tabs.addTab(self.ops, f"Operators ({model.op_count:,})")
        self.ops.activated_item.connect(self.show_op_in_graph)
        self.tabs.addTab(self.tensors, f"Tensors ({model.tensor_count:,})")
        self.run: RunPanel | None = None  # built when the Run tab is first shown (pyqtgraph
        self._run_slot = QWidget(self)    # plots cost ~0.1-0.8 s to create)
        QVBoxLayout(self._run_slot).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self._run_slot, "Run")
        self.quantize = None   # gui.quantize.panel.QuantizePanel, built on first use
        self._quantize_slot = QWidget(self)
        QVBoxLayout(self._quantize_slot).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self._quantize_slot, "Quantize")
        self.memory = None                   # the Memory panel, built when first shown
        self._memory_slot = QWidget(self)
        QVBoxLayout(self._memory_slot).setContentsMargins(0, 0, 0, 0)
        self.tabs.addTab(self._memory_slot, "Memory")
        self.tabs.currentChanged.connect(self._tab_changed)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.info)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def _make_graph_panel(self) -> QWidget:
        """The graph view (gui/graph/panel.py: canvas, minimap, search, inspector)."""
        from gui.graph.panel import GraphPanel
        return GraphPanel(self.model, self)

    def show_op_in_graph(self, op) -> None:
        """Double-click in the operator table: jump to that node in the graph."""
        self.tabs.setCurrentWidget(self.graph)
        self.graph.select_op(op.subgraph, op.index)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self._run_slot:
            self.run_panel()
        elif self.tabs.widget(index) is self._quantize_slot:
            self.quantize_panel()
        elif self.tabs.widget(index) is self._memory_slot:
            self.memory_panel()

    def quantize_panel(self):
        """The Quantize panel, created on first use; its per-layer error paints this graph."""
        if self.quantize is None:
            from gui.quantize.panel import QuantizePanel
            self.quantize = QuantizePanel(self.model, self._quantize_slot)
            self.quantize.overlay_ready.connect(self.graph.view.set_overlay)
            self.quantize.table.op_activated.connect(self._show_op_index)
            self.quantize.open_requested.connect(self.open_requested)
            self.quantize.compare_requested.connect(self.compare_requested)
            self._quantize_slot.layout().addWidget(self.quantize)
            self.quantize.show()
        return self.quantize

    def _show_op_index(self, index: int) -> None:
        self.tabs.setCurrentWidget(self.graph)
        self.graph.select_op(0, index)

    def memory_panel(self):
        """The Memory panel, created on first use."""
        if self.memory is None:
            from gui.memory.panel import MemoryPanel
            self.memory = MemoryPanel(self.model, self._memory_slot)
            self.memory.overlay_ready.connect(self.graph.view.set_overlay)
            self.memory.tensor_selected.connect(self.show_tensor_in_graph)
            self._memory_slot.layout().addWidget(self.memory)
            self.memory.show()
        return self.memory

    def show_tensor_in_graph(self, subgraph: int, tensor: int, op: int) -> None:
        """A tensor clicked in the Memory panel: select it in the graph (a kernel temporary,
        which the graph does not draw, selects the op that owns it)."""
        self.graph.select_op(subgraph, op)
        view = self.graph.view
        if tensor < len(self.model.subgraphs[subgraph].tensors) and view.lay is not None \
                and view.lay.subgraph == subgraph:
            view.select_tensor(tensor, center=True)

    def run_panel(self) -> RunPanel:
        """The Run panel, created on first use."""
        if self.run is None:
            self.run = RunPanel(self.model.path, self._run_slot, model=self.model)
            self.run.op_profile_ready.connect(self.show_op_latency)
            self._run_slot.layout().addWidget(self.run)
            self.run.show()
        return self.run

    def show_op_latency(self, times: dict) -> None:
        """Per-op latency from the Run panel's profile as a heat overlay on the graph."""
        self.graph.view.set_overlay(heat_overlay(times, subgraph=0))

    def status_text(self) -> str:
        m = self.model
        return (f"{m.op_count:,} ops · {m.tensor_count:,} tensors · {len(m.subgraphs)} subgraph(s)"
                f" · parsed in {fmt.duration_ms(m.parse_seconds * 1000)}")

    def close_model(self) -> None:
        if self.run is not None:
            self.run.shutdown()
        if self.quantize is not None:
            self.quantize.shutdown()
        if self.memory is not None:
            self.memory.shutdown()
        if hasattr(self.graph, "shutdown"):
            self.graph.shutdown()
        self.model.close()
