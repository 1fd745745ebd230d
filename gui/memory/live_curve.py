"""Live bytes per op step (main arena, shared buffers once), with the peak op marked and the
arena size beside it for scale."""
from __future__ import annotations

import pyqtgraph as pg

from core import format as fmt


class LiveCurve(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setTitle("live arena bytes per op")
        self.setLabel("bottom", "op")
        self.setLabel("left", "bytes", units="B")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.curve = self.plot(stepMode="center", fillLevel=0, brush=(78, 121, 167, 90),
                               pen=pg.mkPen("#4e79a7", width=1.5))
        self.peak_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#e15759", width=2),
                                         label="peak", labelOpts={"position": 0.92,
                                                                  "color": "#e15759"})
        self.arena_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#76b7b2", width=1.5,
                                                                style=pg.QtCore.Qt.DashLine),
                                          label="arena", labelOpts={"position": 0.85,
                                                                    "color": "#4a8f8a"})
        self.addItem(self.peak_line)
        self.addItem(self.arena_line)
        self.peak_op: int | None = None

    def set_curve(self, live: list[int], peak_op: int | None, arena_bytes: int) -> None:
        if live:  # step mode: one more edge than values
            self.curve.setData(list(range(len(live) + 1)), live, stepMode="center")
        else:
            self.curve.setData([], [])
        self.peak_op = peak_op
        self.peak_line.setVisible(peak_op is not None and bool(live))
        if peak_op is not None and live:
            self.peak_line.setPos(peak_op + 0.5)
            self.peak_line.label.setFormat(f"peak op {peak_op}: {fmt.size(live[peak_op])}")
        self.arena_line.setPos(arena_bytes)
        self.arena_line.label.setFormat(f"arena {fmt.size(arena_bytes)}")
        self.autoRange()
