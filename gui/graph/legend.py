"""The legend of the graph view's overlays: per overlay its name, summary line and what each
colour means (the entries come with the core ``Overlay``), with a button that removes it."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from gui.graph.style import canvas, qcolor
from gui.graph.view import GraphView
from gui.rich_text import plain_label


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
        self._style()
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(8, 6, 8, 6)
        self.lay.setSpacing(3)
        self.entries: list[tuple[str, str, str]] = []  # (overlay, label, #rrggbb)
        view.overlaysChanged.connect(self.rebuild)
        self.rebuild()

    def _style(self) -> None:
        """Colours of the canvas it floats over (light or dark), text included: the app's text
        colour would be white on a light legend in the dark theme."""
        c = canvas()
        bg = c["bg"]
        qss = (f"#graphLegend {{ background: rgba({bg.red()},{bg.green()},{bg.blue()},230); "
               f"border: 1px solid {c['edge'].name()}; border-radius: 4px; }} "
               f"#graphLegend QLabel {{ color: {c['row'].name()}; }} "
               f"#graphLegend QLabel#legendSummary {{ color: {c['label'].name()}; }}")
        if qss != self.styleSheet():   # setting it sends another PaletteChange
            self.setStyleSheet(qss)

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:  # the theme changed
            self._style()

    def rebuild(self) -> None:
        while self.lay.count():
            item = self.lay.takeAt(0)
            w = item.widget()
            if w is not None:  # hidden at once: deleteLater waits for the event loop
                w.hide()
                w.deleteLater()
        self.entries = []
        shown = 0
        for ov in self.view.overlays():
            if not ov.legend and not ov.summary:
                continue
            shown += 1
            head = QWidget(self)
            h = QHBoxLayout(head)
            h.setContentsMargins(0, 0, 0, 0)
            name = QLabel(f"<b>{html.escape(ov.name)}</b>", head)
            name.setTextFormat(Qt.TextFormat.RichText)   # bold markup; the name escaped
            h.addWidget(name, 1)
            close = QToolButton(head)
            close.setText("×")
            close.setAutoRaise(True)
            close.setToolTip(f"Remove the {ov.name} overlay")
            close.setObjectName(f"removeOverlay:{ov.name}")
            close.clicked.connect(lambda _=False, name=ov.name: self.view.clear_overlay(name))
            h.addWidget(close)
            self.lay.addWidget(head)
            if ov.summary:
                summary = plain_label(QLabel(ov.summary, self))
                summary.setObjectName("legendSummary")
                self.lay.addWidget(summary)
            for label, color in ov.legend:
                row = QWidget(self)
                h = QHBoxLayout(row)
                h.setContentsMargins(0, 0, 0, 0)
                h.setSpacing(6)
                h.addWidget(_Swatch(qcolor(color), row))
                h.addWidget(plain_label(QLabel(label, row)), 1)
                self.lay.addWidget(row)
                self.entries.append((ov.name, label, color))
        self.setVisible(shown > 0)
        self.adjustSize()
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
