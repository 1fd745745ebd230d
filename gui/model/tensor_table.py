"""The tensor table of a model (all subgraphs), sortable and filterable."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QMessageBox

from core import format as fmt
from core.analysis.report import tensor_kind
from core.fileio import write_npy
from core.model.types import Model
from gui import file_dialogs
from gui.filter_table import FilterTable, RowsModel


class TensorRows(RowsModel):
    columns = ("Subgraph", "#", "Name", "Shape", "Signature", "Type", "Bytes", "Buffer", "Kind",
               "Quantization")

    def __init__(self, model: Model, parent=None):
        items: list = []
        for sg in model.subgraphs:
            items.extend(sg.tensors)
        super().__init__(items, parent)

    def cell(self, t, column: int):
        si = t.subgraph
        if column == 0:
            return str(si), si
        if column == 1:
            return str(t.index), (si, t.index)
        if column == 2:
            return fmt.printable(t.name, 1000), t.name
        if column == 3:
            return fmt.shape(t.shape), len(t.shape)
        if column == 4:
            return fmt.shape(t.shape_signature), len(t.shape_signature)
        if column == 5:
            return t.dtype, t.dtype
        if column == 6:
            return fmt.size(t.bytes), t.bytes
        if column == 7:
            return str(t.buffer), t.buffer
        if column == 8:
            k = tensor_kind(t)
            return k, k
        text = fmt.quantization(t.quantization)
        return text, text

    def row_text(self, t) -> str:
        return f"{t.name} #{t.index} {t.dtype} {tensor_kind(t)}"


class TensorTable(FilterTable):
    """Double-click shows the tensor in the graph; the context menu saves a constant's values."""

    def __init__(self, model: Model, parent=None):
        super().__init__(TensorRows(model), "Filter tensors by name, #index, type or kind…", parent)
        self.m = model
        self.set_column_widths([70, 60, 300, 120, 120, 70, 80, 60, 80])
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)

    def _menu(self, pos) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        t = self.model.item_at(index.row())
        menu = QMenu(self)
        show = menu.addAction("Show in graph")
        show.triggered.connect(lambda: self.activated_item.emit(t))
        save = menu.addAction("Save values as .npy…")
        save.setEnabled(bool(t.constant))
        save.triggered.connect(lambda: self.save_dialog(t))
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def save_npy(self, t, path: str) -> Path:
        """The constant tensor's values (as stored: quantized values stay integers)."""
        arr = self.m.tensor_data(t.subgraph, t.index)
        if arr is None:
            raise OSError(f"tensor {t.name!r} has no stored values")
        return write_npy(path, arr, overwrite=True)   # from the save dialog, which asked

    def save_dialog(self, t) -> None:
        name = (t.name.replace("/", "_").replace(";", "_").replace(":", "_") or
                f"tensor{t.index}") + ".npy"
        path = file_dialogs.save_file(self, "Save tensor values", name, "NumPy array (*.npy)")
        if path:
            try:
                self.save_npy(t, path)
            except OSError as e:
                QMessageBox.warning(self, "Save failed", str(e))
