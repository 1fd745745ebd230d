"""Where you are in the name-scope hierarchy: the subgraph, then each scope down to the selected
node's (or the one at the view's centre), one flat button per level (``core.graph.hierarchy.
breadcrumb`` gives the path). A click on a level shows that group: ``groupChosen(group)``."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from core import format as fmt

MAX_CRUMB = 32     # characters of one level's name


class Breadcrumb(QWidget):
    groupChosen = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(4, 0, 4, 0)
        self.row.setSpacing(0)
        self.row.addStretch(1)
        self.setFixedHeight(24)
        self.path: list[tuple[int, str]] = []

    def set_path(self, path: list[tuple[int, str]]) -> None:
        if path == self.path:
            return
        self.path = list(path)
        while self.row.count() > 1:
            w = self.row.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.deleteLater()
        for k, (group, name) in enumerate(path):
            if k:
                self.row.insertWidget(self.row.count() - 1, QLabel("›", self))
            b = QToolButton(self)
            b.setAutoRaise(True)
            b.setText(fmt.elide(name, MAX_CRUMB))
            b.setToolTip(fmt.printable(name, 400))
            b.setObjectName(f"crumb:{group}")
            b.clicked.connect(lambda _=False, g=group: self.groupChosen.emit(g))
            self.row.insertWidget(self.row.count() - 1, b)

    def text(self) -> str:
        return " › ".join(name for _g, name in self.path)
