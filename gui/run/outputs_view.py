"""The Run panel's Outputs tab: the run's outputs in words, then one tensor at a time (the outputs,
and every tensor kept when asked) as a values table, a histogram and "Save as .npy…".

Thin over ``core.inference.tensor_values``, which makes the table rows, the histogram and the file;
they are made on the task runner (a kept activation can be tens of millions of values: seconds of
decoding, sorting and binning that must not freeze the window).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import format as fmt
from core.fileio import OutputExists
from core.inference import tensor_values as tvs
from gui import file_dialogs, theme
from gui.tasks import TaskRunner


@dataclass(frozen=True)
class _Drawing:
    """What the runner made for one tensor: its table, and its histogram (None when its values
    are not numbers)."""
    tv: tvs.TensorValues
    table: tvs.ValueTable
    histogram: tvs.Histogram | None


def _drawing(tv: tvs.TensorValues) -> _Drawing:
    table = tvs.value_table(tv)
    try:
        hist: tvs.Histogram | None = tvs.histogram(tv)
    except ValueError:   # a string or bool tensor has no real values to bin
        hist = None
    return _Drawing(tv, table, hist)


def _label(tv: tvs.TensorValues) -> str:
    where = {"output": f"output {tv.position}", "input": f"input (tensor {tv.index})",
             "intermediate": f"tensor {tv.index}"}.get(tv.kind, tv.kind)
    shape, dtype = tv.header()
    return f"{where}: {fmt.elide(tv.name, 60)} {fmt.shape(shape)} {dtype}"


class OutputsView(QWidget):
    """``set_summary(lines)`` as soon as the first inference is done; ``set_tensors(values,
    note)`` once the run is over. ``drawn`` is emitted once the chosen tensor's table and
    histogram are shown."""

    drawn = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._runner = TaskRunner(self, name="tensor-values")
        self._runner.done.connect(self._draw)
        self._runner.failed.connect(self._draw_failed)
        self.tensors: list[tvs.TensorValues] = []
        self.summary = QPlainTextEdit(readOnly=True)
        self.summary.setMaximumHeight(72)
        self.chooser = QComboBox()
        self.chooser.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.chooser.currentIndexChanged.connect(self._show)
        self.save_btn = QPushButton("Save as .npy…", enabled=False,
                                    toolTip="the values as the runtime produced them, to a new "
                                            "file (an existing file is never replaced)")
        self.save_btn.clicked.connect(self._save_dialog)
        self.note = QLabel("", wordWrap=True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.hist = pg.PlotWidget()
        self.hist.setLabel("left", "count")
        self.hist.setLabel("bottom", "value")
        for side in ("left", "bottom"):
            self.hist.getAxis(side).enableAutoSIPrefix(False)
        self.hist_curve = self.hist.plot(stepMode="center", fillLevel=0)
        theme.style_plots(self.hist, self._style_series)
        top = QHBoxLayout()
        top.addWidget(self.chooser, 1)
        top.addWidget(self.save_btn)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.hist)
        split.setSizes([520, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addLayout(top)
        lay.addWidget(self.note)
        lay.addWidget(split, 1)

    def _style_series(self) -> None:
        self.hist_curve.setPen(pg.mkPen(theme.color("series_1")))
        self.hist_curve.setBrush(theme.color("series_fill"))

    # -- what the panel calls ------------------------------------------------------------------
    def shutdown(self) -> None:
        self._runner.shutdown()

    def set_summary(self, lines: list[str]) -> None:
        self.summary.setPlainText("\n".join(lines))

    def clear(self, placeholder: str) -> None:
        self.summary.setPlainText(placeholder)
        self.set_tensors([], "")

    def set_tensors(self, tensors: list[tvs.TensorValues], note: str | None) -> None:
        self.tensors = tvs.tensor_choices(tensors)
        self._source_note = note or ""
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for tv in self.tensors:
            self.chooser.addItem(_label(tv))
        self.chooser.blockSignals(False)
        self.save_btn.setEnabled(bool(self.tensors))
        self._show()

    @property
    def current(self) -> tvs.TensorValues | None:
        i = self.chooser.currentIndex()
        return self.tensors[i] if 0 <= i < len(self.tensors) else None

    def save(self, path: str) -> Path:
        """The shown tensor to ``path`` (a new file; OutputExists when it is taken)."""
        tv = self.current
        if tv is None:
            raise OSError("no tensor to save: run the model first")
        return tvs.save_npy(tv, path)

    # -- drawing -------------------------------------------------------------------------------
    def _show(self) -> None:
        tv = self.current
        if tv is None:
            self._runner.cancel()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.hist_curve.setData([0, 1], [0])
            self.note.setText(self._source_note)
            theme.set_role(self.note, None)
            self.drawn.emit()
            return
        self._runner.start(lambda _state, tv=tv: _drawing(tv))

    def _draw_failed(self, error: Any) -> None:
        self.table.setRowCount(0)
        self.hist_curve.setData([0, 1], [0])
        self.note.setText(f"the values could not be read: {error}")
        theme.set_role(self.note, "error")
        self.drawn.emit()

    def _draw(self, d: _Drawing) -> None:
        tv = d.tv
        if tv is not self.current:   # another tensor was chosen meanwhile: its task follows
            return
        vt = d.table
        self.table.setColumnCount(len(vt.columns))
        self.table.setHorizontalHeaderLabels(list(vt.columns))
        self.table.setRowCount(len(vt.rows))
        for r, row in enumerate(vt.rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if vt.columns[c] in ("value", "raw", "rank", "index"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.note.setText(vt.note + (f". {self._source_note}" if tv.kind != "output"
                                     and self._source_note else ""))
        theme.set_role(self.note, None)
        h = d.histogram
        if h is None:
            self.hist_curve.setData([0, 1], [0])
            self.drawn.emit()
            return
        if h.counts.size:
            self.hist_curve.setData(h.edges, h.counts)
            # the tab is short: the count axis marks the tallest bin (its count said below the
            # plot), so no labels print over each other
            peak = int(h.counts.max())
            self.hist.getAxis("left").setTicks([[(0, "0"), (peak, "")]])
        else:
            self.hist_curve.setData([0, 1], [0])
            self.hist.getAxis("left").setTicks(None)
        self.hist.setLabel("bottom", f"value ({h.finite:,} finite"
                           + (f", {h.nonfinite:,} not finite, not drawn" if h.nonfinite else "")
                           + (f"; tallest bin {int(h.counts.max()):,}" if h.counts.size else "")
                           + ")")
        self.hist.enableAutoRange()
        if h.counts.size:   # room above the tallest bin for its label
            self.hist.setYRange(0, float(h.counts.max()) * 1.2, padding=0)
        self.drawn.emit()

    def _save_dialog(self) -> None:
        tv = self.current
        if tv is None:
            return
        folder = file_dialogs.last_folder("exports") or str(Path.home())
        suggested = tvs.free_path(folder, tvs.npy_name(tv))
        path = file_dialogs.save_file(self, "Save tensor values", suggested.name,
                                      "NumPy array (*.npy)")
        if not path:
            return
        try:
            self.note.setText(f"Saved {tv.name} to {self.save(path)}.")
            theme.set_role(self.note, None)
        except (OutputExists, OSError) as e:
            self.note.setText(str(e))
            theme.set_role(self.note, "error")
