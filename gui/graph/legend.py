"""The legend of the graph view's overlays: the overlay that colours the graph with its name,
summary line and what each colour means (the entries come with the core ``Overlay``), and one
line per overlay stacked under it (click its name to show it instead); each has a × that removes
that overlay only."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.analysis.overlay import Overlay
from gui.graph.style import CARD_BORDER, canvas, floating_box_qss, qcolor
from gui.graph.view import GraphView
from gui.rich_text import plain_label

SUMMARY_WIDTH = 320   # px: a long summary wraps instead of widening the box over the graph


class _Swatch(QWidget):
    def __init__(self, color: QColor, parent=None):
        super().__init__(parent)
        self.color = color
        self.setFixedSize(14, 14)

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(CARD_BORDER)
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
        # the box follows its rows whenever they change (sized once by hand while its new rows
        # were not shown yet, it was left empty and tiny)
        self.lay.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        self.entries: list[tuple[str, str, str]] = []  # (overlay, label, #rrggbb)
        view.overlaysChanged.connect(self.rebuild)
        self.rebuild()

    def _style(self) -> None:
        """Colours of the canvas it floats over (light or dark), text included: the app's text
        colour would be white on a light legend in the dark theme."""
        qss = (floating_box_qss("graphLegend")
               + f" #graphLegend QLabel#legendSummary {{ color: {canvas()['label'].name()}; }}")
        if qss != self.styleSheet():   # setting it sends another PaletteChange
            self.setStyleSheet(qss)

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:  # the theme changed
            self._style()

    def rebuild(self) -> None:
        """The active overlay in full (name, summary, what each colour means), then one line per
        overlay stacked under it: its name (click: show it instead) and ×."""
        while self.lay.count():
            item = self.lay.takeAt(0)
            w = item.widget()
            if w is not None:  # hidden at once: deleteLater waits for the event loop
                w.hide()
                w.deleteLater()
        self.entries = []
        active = self.view.active_overlay()
        stacked = [ov for ov in reversed(self.view.overlays()) if ov is not active]
        if active is not None:
            self.lay.addWidget(self._head(active, None))
            if active.summary:
                summary = plain_label(QLabel(active.summary, self))
                summary.setObjectName("legendSummary")
                summary.setWordWrap(True)
                summary.setMaximumWidth(SUMMARY_WIDTH)
                self.lay.addWidget(summary)
            for label, color in active.legend:
                row = QWidget(self)
                h = QHBoxLayout(row)
                h.setContentsMargins(0, 0, 0, 0)
                h.setSpacing(6)
                h.addWidget(_Swatch(qcolor(color), row))
                h.addWidget(plain_label(QLabel(label, row)), 1)
                self.lay.addWidget(row)
                self.entries.append((active.name, label, color))
        if stacked:
            note = plain_label(QLabel("Also stacked (click to show instead):", self))
            note.setObjectName("legendSummary")
            self.lay.addWidget(note)
            for ov in stacked:
                self.lay.addWidget(self._head(ov, active))
        for i in range(self.lay.count()):   # now: a shown parent shows new rows only later
            self.lay.itemAt(i).widget().show()
        self.setVisible(active is not None)

    def _head(self, ov: Overlay, active: Overlay | None) -> QWidget:
        """An overlay's name and its × button; ``active``: the overlay shown over it, which its
        name (a button then) replaces on the graph when clicked."""
        head = QWidget(self)
        h = QHBoxLayout(head)
        h.setContentsMargins(0, 0, 0, 0)
        h.setSpacing(4)
        if active is None:
            name = QLabel(f"<b>{html.escape(ov.name)}</b>", head)
            name.setTextFormat(Qt.TextFormat.RichText)   # bold markup; the name escaped
            name.setObjectName("activeOverlay")
            name.setToolTip("This overlay colours the graph")
            h.addWidget(name, 1)
        else:
            show = QLabel(f'<a href="show">{html.escape(ov.name)}</a>', head)
            show.setTextFormat(Qt.TextFormat.RichText)   # a link; the name escaped
            show.setObjectName(f"showOverlay:{ov.name}")
            show.setToolTip(f"Colour the graph by {ov.name} instead of {active.name}")
            show.linkActivated.connect(lambda _=None, name=ov.name: self.view.show_overlay(name))
            h.addWidget(show, 1)
        close = QToolButton(head)
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip(f"Remove the {ov.name} overlay")
        close.setObjectName(f"removeOverlay:{ov.name}")
        close.clicked.connect(lambda _=False, name=ov.name: self.view.clear_overlay(name))
        h.addWidget(close)
        return head
