"""The legend of the graph view's overlays: what each colour means, per overlay."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.graph.view import GraphView


class _Swatch(QWidget):
    def __init__(self, color: QColor, parent=None):
        super().__init__(parent)
        self.color = color
        self.setFixedSize(14, 14)

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(QColor("#555"))
        p.setBrush(self.color)
        p.drawRoundedRect(self.rect().adjusted(0, 0, -1, -1), 3, 3)


class Legend(QFrame):
    """Floats over the view's corner; rebuilt on ``overlaysChanged``; hidden without overlays."""

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent)
        self.view = view
        self.setObjectName("graphLegend")
        self.setStyleSheet("#graphLegend { background: rgba(255,255,255,230); "
                           "border: 1px solid #c8ccd2; border-radius: 4px; }")
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(8, 6, 8, 6)
        self.lay.setSpacing(3)
        self.entries: list[tuple[str, str, QColor]] = []  # (overlay, label, colour)
        view.overlaysChanged.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        while self.lay.count():
            item = self.lay.takeAt(0)
            w = item.widget()
            if w is not None:
                w.deleteLater()
            elif item.layout() is not None:
                sub = item.layout()
                while sub.count():
                    c = sub.takeAt(0).widget()
                    if c is not None:
                        c.deleteLater()
        self.entries = []
        for ov in self.view.overlays():
            if not ov.legend:
                continue
            title = QLabel(f"<b>{ov.name}</b>", self)
            self.lay.addWidget(title)
            for label, color in ov.legend:
                row = QWidget(self)
                h = QHBoxLayout(row)
                h.setContentsMargins(0, 0, 0, 0)
                h.setSpacing(6)
                h.addWidget(_Swatch(color, row))
                h.addWidget(QLabel(label, row), 1)
                self.lay.addWidget(row)
                self.entries.append((ov.name, label, color))
        self.setVisible(bool(self.entries))
        self.adjustSize()
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
