"""The legend of View → Dtypes: the pen of each dtype class on the edges and the stripe colour of
each kind of int/float crossing (``core.graph.dtypes``; pens and colours from ``style``)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.graph import dtypes
from gui.graph import style


def entries() -> list[tuple[str, str, str]]:
    """(section, label, #rrggbb) of every legend row: edges by dtype, then the crossings."""
    canvas = style.canvas()
    rows = [("edges", name, style.dtype_pen(i, canvas).color().name())
            for i, name in enumerate(dtypes.CLASSES)]
    rows += [("ops", f"{kind} op", style.BOUNDARY_COLORS[kind]) for kind in dtypes.BOUNDARIES]
    return rows


class _Sample(QWidget):
    """A short stretch of an edge's pen, or a crossing's stripe."""

    def __init__(self, cls: int | None, stripe: str | None, parent=None):
        super().__init__(parent)
        self.cls, self.stripe = cls, stripe
        self.setFixedSize(28, 12)

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.stripe is not None:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(style.boundary_color(self.stripe))
            p.drawRoundedRect(10, 0, 6, 12, 2, 2)
        elif self.cls is not None:
            p.setPen(style.dtype_pen(self.cls, style.canvas()))
            p.drawLine(QLineF(2, 6, 26, 6))


class DtypeLegend(QFrame):
    """Floats over the view's top-right corner while View → Dtypes is on."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("dtypeLegend")
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 6, 8, 6)
        box.setSpacing(2)
        title = QLabel("<b>Dtypes</b>", self)
        box.addWidget(title)
        for i, name in enumerate(dtypes.CLASSES):
            box.addWidget(self._row(_Sample(i, None), name))
        for kind in dtypes.BOUNDARIES:
            box.addWidget(self._row(_Sample(None, kind), f"{kind} op"))
        self._style()
        self.adjustSize()
        self.hide()

    def _row(self, sample: QWidget, text: str) -> QWidget:
        row = QWidget(self)
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.setSpacing(6)
        sample.setParent(row)
        h.addWidget(sample)
        h.addWidget(QLabel(text, row), 1)
        return row

    def _style(self) -> None:
        qss = style.floating_box_qss("dtypeLegend")
        if qss != self.styleSheet():
            self.setStyleSheet(qss)

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:
            self._style()
