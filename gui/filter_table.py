"""A sortable table with a filter box: the base of the operator and tensor tables."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableView,
                               QVBoxLayout, QWidget)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class RowsModel(QAbstractTableModel):
    """Rows are computed lazily per cell from ``items`` by ``cell(item, column)``; a cell returns
    (display text, sort key)."""

    columns: tuple[str, ...] = ()

    def __init__(self, items: list, parent=None):
        super().__init__(parent)
        self.items = items
        self._search: list[str | None] = [None] * len(items)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None

    def cell(self, item, column: int) -> tuple[str, object]:
        raise NotImplementedError

    def search_text(self, row: int) -> str:
        """Lower-case text the filter matches against (cached per row)."""
        text = self._search[row]
        if text is None:
            text = " ".join(self.cell(self.items[row], c)[0] for c in self.search_columns()).lower()
            self._search[row] = text
        return text

    def search_columns(self) -> range:
        return range(len(self.columns))

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(item, index.column())[0]
        if role == SORT_ROLE:
            return self.cell(item, index.column())[1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(item, index.column())
        return None

    def tooltip(self, item, column: int) -> str | None:
        text = self.cell(item, column)[0]
        return text if len(text) > 40 else None


class _Proxy(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._terms: list[str] = []
        self.setSortRole(SORT_ROLE)

    def set_filter(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self._terms = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._terms = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:  # noqa: N802
        if not self._terms:
            return True
        text = self.sourceModel().search_text(row)
        return all(t in text for t in self._terms)


class FilterTable(QWidget):
    """Filter box + sortable table over a RowsModel. Emits ``activated_item`` with the item."""

    activated_item = Signal(object)

    def __init__(self, model: RowsModel, placeholder: str, parent=None):
        super().__init__(parent)
        self.model = model
        self.proxy = _Proxy(self)
        self.proxy.setSourceModel(model)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText(placeholder)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.count = QLabel(self)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
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
        for i, w in enumerate(widths):
            self.view.setColumnWidth(i, w)

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter(text)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown:,} of {total:,}" if shown != total else f"{total:,}")

    def _activated(self, index: QModelIndex) -> None:
        src = self.proxy.mapToSource(index)
        self.activated_item.emit(self.model.items[src.row()])

    def visible_items(self) -> list:
        return [self.model.items[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                for r in range(self.proxy.rowCount())]
