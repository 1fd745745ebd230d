"""The arena chart: x = op step, y = byte offset, one rectangle per tensor (a tensor lives from
its first to its last op and owns [offset, offset + bytes)); colour by kind. Hover names the
tensor, a click reports it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from core import format as fmt
from core.analysis.memory.result import PlannedTensor
from gui import theme

KINDS = ("activation", "temporary", "shared")   # coloured by the theme's kind_* roles


def tensor_kind(t: PlannedTensor) -> str:
    return "temporary" if t.temporary else "shared" if t.shares is not None else "activation"


class ArenaChart(pg.PlotWidget):
    tensor_clicked = Signal(object)   # PlannedTensor

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("arena layout (x: op step, y: offset)")
        self.setLabel("bottom", "op")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.setLabel("left", "offset")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMouseEnabled(x=True, y=True)
        self.tensors: list[PlannedTensor] = []
        self._rects = np.zeros((0, 4))
        self._bars: pg.BarGraphItem | None = None
        self.hover_text = ""
        self._label = pg.TextItem(anchor=(0, 1))
        self._label.setZValue(10)
        self.addItem(self._label)
        self._label.hide()
        theme.style_plots(self, self._style_items)
        self._hover_proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    def _style_items(self) -> None:
        self._label.setColor(theme.color("plot_fg"))
        self._label.fill = pg.mkBrush(theme.color("plot_label_bg"))
        if self.tensors:
            self.set_tensors(self.tensors)

    def set_tensors(self, tensors: list[PlannedTensor]) -> None:
        """One planner's tensors of one arena."""
        if self._bars is not None:
            self.removeItem(self._bars)
            self._bars = None
        self.tensors = [t for t in tensors if t.bytes]
        n = len(self.tensors)
        self._rects = np.zeros((n, 4))
        if not n:
            return
        for i, t in enumerate(self.tensors):
            self._rects[i] = (t.first_op - 0.45, t.last_op + 0.45, t.offset, t.offset + t.bytes)
        kind_brush = {k: pg.mkBrush(theme.color(f"kind_{k}")) for k in KINDS}
        brushes = [kind_brush[tensor_kind(t)] for t in self.tensors]
        r = self._rects
        self._bars = pg.BarGraphItem(x0=r[:, 0], x1=r[:, 1], y0=r[:, 2], y1=r[:, 3],
                                     brushes=brushes,
                                     pen=pg.mkPen(theme.color("bar_edge"), width=0.5))
        self.addItem(self._bars)
        # binary units on the axis, as in every size LiteLens prints
        unit, div = fmt.size_unit(float(r[:, 3].max()))
        self.getAxis("left").setScale(1 / div)
        self.setLabel("left", f"offset ({unit})")
        self.autoRange()

    def tensor_at(self, x: float, y: float) -> PlannedTensor | None:
        r = self._rects
        if not len(r):
            return None
        hit = np.flatnonzero((r[:, 0] <= x) & (x <= r[:, 1]) & (r[:, 2] <= y) & (y < r[:, 3]))
        if not hit.size:
            return None
        # shared buffers overlap their root: name the smallest (innermost) first
        return self.tensors[int(hit[np.argmin(r[hit, 3] - r[hit, 2])])]

    def describe(self, t: PlannedTensor) -> str:
        extra = (" · kernel temporary" if t.temporary else
                 f" · reuses tensor {t.shares}'s buffer" if t.shares is not None else "")
        return (f"#{t.index} {fmt.elide(t.name or '(unnamed)', 60)}\n"
                f"{fmt.size(t.bytes)} at offset {t.offset:,} · ops {t.first_op}–"
                f"{t.last_op}{extra}")

    def _moved(self, event) -> None:
        pos = event[0]
        if not self.sceneBoundingRect().contains(pos):
            return
        p = self.plotItem.vb.mapSceneToView(pos)
        t = self.tensor_at(p.x(), p.y())
        if t is None:
            self._label.hide()
            self.hover_text = ""
            return
        self.hover_text = self.describe(t)
        self._label.setText(self.hover_text)
        self._label.setPos(p.x(), p.y())
        self._label.show()

    def _clicked(self, event) -> None:
        p = self.plotItem.vb.mapSceneToView(event.scenePos())
        t = self.tensor_at(p.x(), p.y())
        if t is not None:
            self.tensor_clicked.emit(t)
