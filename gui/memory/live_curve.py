"""Bytes alive per op step under the chosen planner's lifetimes, with the peak marked above the
curve (a marker, so no line hides it), and that planner's arena and lower bound beside it."""
from __future__ import annotations

import pyqtgraph as pg

from core import format as fmt

PEAK = "#e15759"
CURVE = "#4e79a7"


class LiveCurve(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setTitle("bytes alive per op")
        self.setLabel("bottom", "op")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.setLabel("left", "bytes")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.curve = self.plot(stepMode="center", fillLevel=0, brush=(78, 121, 167, 90),
                               pen=pg.mkPen(CURVE, width=1.5))
        # the peak: a marker just above the top of its step and a label, drawn over the curve
        # but covering none of it (a vertical line through the step hid it on large graphs)
        self.peak_marker = pg.ArrowItem(angle=-90, headLen=12, tipAngle=40, pen=pg.mkPen(PEAK),
                                        brush=pg.mkBrush(PEAK))
        self.peak_label = pg.TextItem(color=PEAK, anchor=(0.5, 1.6))
        self.arena_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#76b7b2", width=1.5,
                                                                style=pg.QtCore.Qt.DashLine),
                                          label="arena", labelOpts={"position": 0.85,
                                                                    "color": "#4a8f8a"})
        self.bound_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(CURVE, width=1,
                                                                style=pg.QtCore.Qt.DotLine),
                                          label="lower bound",
                                          labelOpts={"position": 0.15, "color": CURVE,
                                                     "anchors": [(0.5, 0), (0.5, 0)]})
        for item in (self.arena_line, self.bound_line):
            item.setZValue(-5)   # behind the curve
            self.addItem(item)
        self.addItem(self.peak_marker)
        self.addItem(self.peak_label)
        self.peak_op: int | None = None

    def set_curve(self, live: list[int], peak_op: int | None, arena_bytes: int,
                  lower_bound: int | None = None, what: str = "") -> None:
        """``live``: bytes alive per op step; ``what``: whose lifetimes they are (the title)."""
        self.setTitle(f"bytes alive per op{f' ({what})' if what else ''}")
        if live:  # step mode: one more edge than values
            self.curve.setData(list(range(len(live) + 1)), live, stepMode="center")
        else:
            self.curve.setData([], [])
        self.peak_op = peak_op
        shown = peak_op is not None and 0 <= peak_op < len(live)
        self.peak_marker.setVisible(shown)
        self.peak_label.setVisible(shown)
        if shown:
            top = live[peak_op]
            # the marker's tip sits on the top of the peak's step; the label stays inside
            self.peak_marker.setPos(peak_op + 0.5, top)
            self.peak_label.setText(f"peak at op {peak_op}: {fmt.size(top)}")
            where = (peak_op + 0.5) / max(len(live), 1)
            self.peak_label.setAnchor((0.0 if where < 0.2 else 1.0 if where > 0.8 else 0.5,
                                       1.6))
            self.peak_label.setPos(peak_op + 0.5, top)
        # binary units on the axis, as everywhere else (pyqtgraph's own prefixes are decimal)
        unit, div = fmt.size_unit(max([arena_bytes, lower_bound or 0, *live]))
        self.getAxis("left").setScale(1 / div)
        self.setLabel("left", f"bytes ({unit})")
        self.arena_line.setPos(arena_bytes)
        self.arena_line.label.setFormat(f"arena {fmt.size(arena_bytes)}")
        self.bound_line.setVisible(lower_bound is not None)
        if lower_bound is not None:
            self.bound_line.setPos(lower_bound)
            self.bound_line.label.setFormat(f"lower bound {fmt.size(lower_bound)}")
        self.autoRange()
        # room above the highest line for the peak's label
        _, (lo, hi) = self.viewRange()
        self.setYRange(lo, hi + 0.12 * (hi - lo or 1), padding=0)
