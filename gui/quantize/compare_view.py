"""Two models side by side: both graphs, a summary (sizes, op counts, constant bytes by dtype,
XNNPACK coverage, planned arena, latency) and the op diff table (added / removed / changed type,
dtype or XNNPACK support) from
``core.analysis.compare``. Choosing a row selects that op in both graphs, so they stay aligned by
op."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import format as fmt
from core.analysis.compare import DiffRow, MedianLatency, ModelDiff, OpSide, compare_models
from core.model.types import Model
from gui import theme

# a row's tint by its status: gui/theme.py roles (the text on them: "tint_text")
STATUS_ROLES = {"added": "added_bg", "removed": "removed_bg", "changed": "changed_bg",
                "same": None}
COLUMNS = ("status", "A op", "A dtype", "A weights", "A XNNPACK", "B op", "B dtype", "B weights",
           "B XNNPACK", "tensor")


def summary_rows(diff: ModelDiff) -> list[tuple[str, str, str]]:
    """(what, A, B) lines of the summary table."""
    a, b = diff.a, diff.b
    rows = [("file", Path(a.path).name, Path(b.path).name),
            ("size", fmt.size(a.size_bytes), fmt.size(b.size_bytes)),
            ("ops", f"{a.ops:,}", f"{b.ops:,}"),
            ("tensors", f"{a.tensors:,}", f"{b.tensors:,}")]
    for dt in sorted(set(a.constant_bytes) | set(b.constant_bytes)):
        rows.append((f"{dt} constants", fmt.size(a.constant_bytes.get(dt, 0)),
                     fmt.size(b.constant_bytes.get(dt, 0))))
    rows.append(("XNNPACK ops", *(f"{x.delegated_ops}/{x.total_ops} in {x.partitions} "
                                  f"partition{'s' if x.partitions != 1 else ''}"
                                  for x in (a.xnnpack, b.xnnpack))))
    rows.append(("arena (planned)", fmt.size(a.arena_bytes), fmt.size(b.arena_bytes)))
    lat = diff.latency_ms
    if lat is not None and lat.a is not None and lat.b is not None:
        rows.append(("latency (median)", fmt.duration_ms(lat.a), fmt.duration_ms(lat.b)))
    c = diff.counts
    rows += [("ops only in A", f"{c.removed:,}", ""), ("ops only in B", "", f"{c.added:,}"),
             ("ops changed", f"{c.changed:,}", f"{c.changed:,}"),
             ("ops the same", f"{c.same:,}", f"{c.same:,}")]
    return rows


def _delegated(side: OpSide | None) -> str:
    if side is None or side.xnnpack is None:
        return ""
    return "yes" if side.xnnpack else "no"


def _side_cells(side: OpSide | None) -> tuple[str, str, str, str]:
    """(op, dtype, weights, XNNPACK) cells of one side ("" where the model has no such op)."""
    if side is None:
        return "", "", "", ""
    return f"{side.index} {side.op}", side.dtype, ", ".join(side.weights), _delegated(side)


class CompareView(QWidget):
    def __init__(self, a: Model, b: Model, latency_ms: MedianLatency | None = None, parent=None,
                 graphs: bool = True, diff: ModelDiff | None = None):
        """``diff``: ``compare_models(a, b, latency_ms)`` when the caller computed it already
        (off the UI thread: support and arena plans of two big models take seconds)."""
        super().__init__(parent)
        self.a, self.b = a, b
        self.diff = compare_models(a, b, latency_ms) if diff is None else diff
        self.summary = QTableWidget(0, 3, self)
        self.summary.setHorizontalHeaderLabels(("", "A", "B"))
        self.summary.verticalHeader().setVisible(False)
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for i, row in enumerate(summary_rows(self.diff)):
            self.summary.insertRow(i)
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)   # a long file name is cut to the column
                self.summary.setItem(i, c, item)
        # the figures side by side in the summary's width, never scrolled sideways: what they
        # are as wide as it needs, A and B share the rest
        head = self.summary.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for c in (1, 2):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch)
        self.summary.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary.setWordWrap(False)
        rows_px = self.fontMetrics().height() + 8
        self.summary.verticalHeader().setDefaultSectionSize(rows_px)
        self.summary.verticalHeader().setMinimumSectionSize(rows_px)
        self.only_diffs = QCheckBox("only differences", self)
        self.only_diffs.setChecked(True)
        self.only_diffs.toggled.connect(self._fill)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1,
                                                           QHeaderView.ResizeMode.Stretch)
        self.table.currentCellChanged.connect(lambda r, *_: self._select(r))
        self.rows: list[DiffRow] = []
        self.graph_a = self.graph_b = None
        split = QSplitter(Qt.Orientation.Vertical, self)
        if graphs:
            from gui.graph.panel import GraphPanel
            pair = QSplitter(Qt.Orientation.Horizontal, self)
            self.graph_a, self.graph_b = GraphPanel(a, self), GraphPanel(b, self)
            for g, m, tag in ((self.graph_a, a, "A"), (self.graph_b, b, "B")):
                box = QWidget(self)
                bl = QVBoxLayout(box)
                bl.setContentsMargins(0, 0, 0, 0)
                bl.addWidget(QLabel(f"<b>{tag}</b>: {Path(m.path).name}", box))
                bl.addWidget(g, 1)
                pair.addWidget(box)
            split.addWidget(pair)
        lower = QWidget(self)
        ll = QHBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary, 2)   # 2:3 with the op diff: the summary fits its figures
        right = QVBoxLayout()
        right.addWidget(self.only_diffs)
        right.addWidget(self.table, 1)
        ll.addLayout(right, 3)
        split.addWidget(lower)
        split.setSizes([520, 320])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self._fill()
        theme.on_theme_change(self.table, self._tint)

    def _fill(self) -> None:
        only = self.only_diffs.isChecked()
        self.rows = [r for r in self.diff.ops if not only or r.status != "same"]
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            either = r.a or r.b
            cells = (r.status, *_side_cells(r.a), *_side_cells(r.b),
                     either.tensor if either else "")
            for c, text in enumerate(cells):
                self.table.setItem(i, c, QTableWidgetItem(text))
        self._tint()
        self.table.resizeColumnsToContents()

    def _tint(self) -> None:
        """Rows tinted by status in the theme's colours (again on a theme switch)."""
        text = theme.color("tint_text")
        for i, r in enumerate(self.rows):
            role = STATUS_ROLES[r.status]
            if role is None:
                continue
            bg = theme.color(role)
            for c in range(self.table.columnCount()):
                item = self.table.item(i, c)
                if item is not None:
                    item.setBackground(bg)
                    item.setForeground(text)

    def _select(self, row: int) -> None:
        if not (0 <= row < len(self.rows)) or self.graph_a is None:
            return
        r = self.rows[row]
        for side, graph in ((r.a, self.graph_a), (r.b, self.graph_b)):
            if side is not None and graph is not None:
                graph.select_op(side.subgraph, side.index)

    def close_model(self) -> None:
        for g in (self.graph_a, self.graph_b):
            if g is not None:
                g.shutdown()
        self.a.close()
        self.b.close()
