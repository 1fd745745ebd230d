"""The tensor table of a model (all subgraphs), sortable and filterable."""
from __future__ import annotations

from core.model.types import Model
from core import format as fmt
from core.analysis.report import tensor_kind
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
    def __init__(self, model: Model, parent=None):
        super().__init__(TensorRows(model), "Filter tensors by name, #index, type or kind…", parent)
        self.set_column_widths([70, 60, 300, 120, 120, 70, 80, 60, 80])
