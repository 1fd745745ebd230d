"""The per-layer error table of a quantize report: every op output both models keep, worst first
(lowest cosine), with the quantized tensor's dtype, scale and zero point."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core import format as fmt
from core.quantize.report import LayerRow
from gui import theme

COLUMNS = ("op", "type", "tensor", "dtype", "cosine", "RMSE", "max abs", "scale", "zero point")


class LayerErrorTable(QTableWidget):
    op_activated = Signal(int)   # op index (subgraph 0 of the input model)

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.rows: list[LayerRow] = []
        self._highlighted = 0
        theme.on_theme_change(self, lambda: self.highlight(self._highlighted))
        self.cellDoubleClicked.connect(
            lambda r, _c: self.op_activated.emit(self.rows[r].op_index))

    def set_rows(self, rows: list[LayerRow], highlight: int = 0) -> None:
        """Rows as the report gives them (sorted worst first); the first ``highlight`` rows are
        tinted: the ops a "keep N float" re-run would keep."""
        self.rows = list(rows)
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = (str(r.op_index), r.op, fmt.elide(r.tensor, 80), r.dtype,
                     f"{r.cosine:.5f}", f"{r.rmse:.4g}", f"{r.max_abs:.4g}",
                     "" if r.scale is None else f"{r.scale:.4g}",
                     "" if r.zero_point is None else str(r.zero_point))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setToolTip(r.tensor)
                if c in (0, 4, 5, 6, 7, 8):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(i, c, item)
        self.highlight(highlight)
        self.resizeColumnsToContents()

    def highlight(self, n: int) -> None:
        """Tint the first ``n`` rows (the theme's "removed" tint, its text colour)."""
        self._highlighted = n
        worst, text = theme.color("removed_bg"), theme.color("tint_text")
        for i in range(self.rowCount()):
            for c in range(self.columnCount()):
                item = self.item(i, c)
                if item is not None:
                    item.setBackground(worst if i < n else QBrush())
                    item.setForeground(text if i < n else QBrush())
