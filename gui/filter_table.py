"""A sortable table with a filter box: the base of the operator and tensor tables.

Filtering and sorting happen in the model over a row-order list, not in a QSortFilterProxyModel:
the proxy calls back into Python for every row (filterAcceptsRow, data for sort keys) whenever
anything changes, which froze the UI for seconds on 100k-row models. Here a filter is one list
comprehension over cached lower-case row texts and a sort one ``sorted`` over the column's keys.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.rich_text import plain_tooltip


class RowsModel(QAbstractTableModel):
    """Rows are computed lazily per cell from ``items`` by ``cell(item, column)``; a cell returns
    (display text, sort key). ``order`` lists the item indices shown, in display order."""

    columns: tuple[str, ...] = ()

    def __init__(self, items: list, parent=None):
        super().__init__(parent)
        self.items = items
        self.order: list[int] = list(range(len(items)))
        self._search: list[str | None] = [None] * len(items)
        self._terms: list[str] = []
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    # -- Qt model API --
    def rowCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802 (Qt API)
        return 0 if parent is not None and parent.isValid() else len(self.order)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.items[self.order[index.row()]]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(item, index.column())[0]
        if role == Qt.ItemDataRole.ToolTipRole:  # names from the file: shown as written
            return plain_tooltip(self.tooltip(item, index.column()))
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._apply()
        self.layoutChanged.emit()

    # -- content --
    def cell(self, item, column: int) -> tuple[str, object]:
        raise NotImplementedError

    def tooltip(self, item, column: int) -> str | None:
        text = self.cell(item, column)[0]
        return text if len(text) > 40 else None

    def search_text(self, row: int) -> str:
        """Lower-case text the filter matches against (cached per item)."""
        text = self._search[row]
        if text is None:
            text = self._search[row] = self.row_text(self.items[row]).lower()
        return text

    def row_text(self, item) -> str:
        """What a row is found by; every column's text unless a table says otherwise."""
        return " ".join(self.cell(item, c)[0] for c in range(len(self.columns)))

    def set_filter(self, text: str) -> None:
        self.beginResetModel()
        self._terms = text.lower().split()
        self._apply()
        self.endResetModel()

    def item_at(self, row: int):
        return self.items[self.order[row]]

    def _apply(self) -> None:
        rows = range(len(self.items))
        if self._terms:
            terms = self._terms
            rows = [i for i in rows if all(t in self.search_text(i) for t in terms)]
        column, order = self._sort
        if column >= 0:
            items, cell = self.items, self.cell
            rows = sorted(rows, key=lambda i: cell(items[i], column)[1],
                          reverse=order == Qt.SortOrder.DescendingOrder)
        self.order = list(rows)


class FilterTable(QWidget):
    """Filter box + sortable table over a RowsModel. Emits ``activated_item`` with the item."""

    activated_item = Signal(object)

    def __init__(self, model: RowsModel, placeholder: str, parent=None):
        super().__init__(parent)
        self.model = model
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText(placeholder)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.count = QLabel(self)
        self.view = QTableView(self)
        self.view.setWordWrap(False)
        # long tensor names differ at their end ('…/conv1/weights' vs '…/conv2/weights'): cut
        # them in the middle
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        vh = self.view.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(22)
        self.view.setModel(model)
        hh = self.view.horizontalHeader()
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # enabling sorting must not sort
        self.view.setSortingEnabled(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.doubleClicked.connect(self._activated)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.count)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.view)
        self._update_count()

    def set_column_widths(self, widths: list[int]) -> None:
        """Starting widths, never narrower than the column's header with its sort arrow."""
        hh = self.view.horizontalHeader()
        fm = hh.fontMetrics()
        bold = hh.font()
        bold.setBold(True)   # the style sheet draws header labels in bold
        fm = type(fm)(bold)
        for i, w in enumerate(widths):
            title = str(self.model.columns[i])
            self.view.setColumnWidth(i, max(w, fm.horizontalAdvance(title) + 30))

    def _filter_changed(self, text: str) -> None:
        self.model.set_filter(text)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = len(self.model.order), len(self.model.items)
        self.count.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,}")

    def _activated(self, index: QModelIndex) -> None:
        self.activated_item.emit(self.model.item_at(index.row()))

    def visible_items(self) -> list:
        return [self.model.items[i] for i in self.model.order]
