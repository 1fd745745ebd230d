"""The operator table of a model (all subgraphs), sortable and filterable."""
from __future__ import annotations

from core import format as fmt
from core.analysis.report import options_summary
from core.analysis.support.compute import op_macs
from core.model.types import Model
from gui.filter_table import FilterTable, RowsModel


class OpRows(RowsModel):
    columns = ("Subgraph", "#", "Operator", "Version", "MACs", "Inputs", "Outputs",
               "Output shape", "Options")

    def __init__(self, model: Model, parent=None):
        items = [op for sg in model.subgraphs for op in sg.operators]
        super().__init__(items, parent)
        self.m = model
        self._macs: dict[tuple[int, int], int] = {}

    def macs(self, op) -> int:
        key = (op.subgraph, op.index)
        if key not in self._macs:
            self._macs[key] = op_macs(op, self.m.subgraphs[op.subgraph])
        return self._macs[key]

    def cell(self, op, column: int):
        if column == 0:
            return str(op.subgraph), op.subgraph
        if column == 1:
            return str(op.index), (op.subgraph, op.index)
        if column == 2:
            return fmt.printable(op.label, 200), op.label
        if column == 3:
            return str(op.version), op.version
        if column == 4:
            n = self.macs(op)
            return (fmt.count(n) if n else ""), n
        if column in (5, 6):  # tensor names (short; full names and indices in the tooltip)
            idx = op.inputs if column == 5 else op.outputs
            ts = self.m.subgraphs[op.subgraph].tensors
            return ", ".join(fmt.short_name(ts[i].name, 32) if i >= 0 else "—"
                             for i in idx), len(idx)
        if column == 7:   # sorted by the shapes themselves (then by element count, rank, ...)
            ts = self.m.subgraphs[op.subgraph].tensors
            outs = [ts[i] for i in op.outputs if i >= 0]
            return ("; ".join(fmt.shape_and_signature(t.shape, t.shape_signature, "×", False)
                              for t in outs), tuple(tuple(t.shape) for t in outs))
        text = options_summary(op.options)
        return text, text

    def tooltip(self, op, column: int) -> str | None:
        if column in (5, 6, 7):   # the output shapes' tooltip names each output with its shape
            ts = self.m.subgraphs[op.subgraph].tensors
            idx = op.inputs if column == 5 else op.outputs
            return "\n".join(f"#{i} {ts[i].name} {fmt.shape(ts[i].shape)} {ts[i].dtype}"
                             if i >= 0 else "(optional input left out)" for i in idx) or None
        return super().tooltip(op, column)

    def row_text(self, op) -> str:
        ts = self.m.subgraphs[op.subgraph].tensors
        names = " ".join(ts[i].name for i in op.inputs + op.outputs if i >= 0)
        return f"{op.label} {op.op} #{op.index} {names}"


class OpTable(FilterTable):
    def __init__(self, model: Model, parent=None):
        super().__init__(OpRows(model), "Filter operators by type, index (#12) or tensor name…",
                         parent)
        self.set_column_widths([70, 60, 190, 60, 70, 280, 160, 120])
        # one subgraph: its column says "0" on every row and pushed the output shapes out of
        # sight at 1280 px
        self.view.setColumnHidden(0, len(model.subgraphs) == 1)
