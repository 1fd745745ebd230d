"""Bytes alive per op step under the chosen planner's lifetimes, with the peak marked above the
curve (a marker, so no line hides it), and that planner's arena and lower bound beside it."""
from __future__ import annotations

import pyqtgraph as pg

from core import format as fmt
from gui import theme


class LiveCurve(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("bytes alive per op")
        self.setLabel("bottom", "op")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.setLabel("left", "bytes")
        self.showGrid(x=True, y=True, alpha=0.2)
        self.curve = self.plot(stepMode="center", fillLevel=0)
        # the peak: a marker just above the top of its step and a label, drawn over the curve
        # but covering none of it (a vertical line through the step hid it on large graphs)
        self.peak_marker = pg.ArrowItem(angle=-90, headLen=12, tipAngle=40)
        self.peak_label = pg.TextItem(anchor=(0.5, 1.6))
        self.arena_line = pg.InfiniteLine(angle=0, label="arena", labelOpts={"position": 0.85})
        self.bound_line = pg.InfiniteLine(angle=0, label="lower bound",
                                          labelOpts={"position": 0.15,
                                                     "anchors": [(0.5, 0), (0.5, 0)]})
        for item in (self.arena_line, self.bound_line):
            item.setZValue(-5)   # behind the curve
            self.addItem(item)
        self.addItem(self.peak_marker)
        self.addItem(self.peak_label)
        self.peak_op: int | None = None
        theme.style_plots(self, self._style_items)

    def _style_items(self) -> None:
        """Curve, peak, arena and bound in the theme's colours (again on a theme switch)."""
        curve, peak, ref = theme.color("series_1"), theme.color("peak"), theme.color("reference")
        self.curve.setPen(pg.mkPen(curve, width=1.5))
        self.curve.setBrush(theme.color("series_fill"))
        self.peak_marker.setStyle(pen=pg.mkPen(peak), brush=pg.mkBrush(peak))
        self.peak_label.setColor(peak)
        self.arena_line.setPen(pg.mkPen(ref, width=1.5, style=pg.QtCore.Qt.DashLine))
        self.arena_line.label.setColor(ref)
        self.bound_line.setPen(pg.mkPen(curve, width=1, style=pg.QtCore.Qt.DotLine))
        self.bound_line.label.setColor(curve)

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
