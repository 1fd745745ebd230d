"""The ops × delegates matrix: ✓ delegated, ✓ CPU (supported, its partition not kept), ✓ blocked
(supported by a whole-model target such as TFLite Micro that refuses the model for another op),
✗ not supported; the reason on hover; a legend under the table says what each mark shown means;
filterable to the ops some delegate cannot take."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from core import format as fmt
from core.analysis.support.analyze import short_name
from core.analysis.support.overlay import PALETTE
from core.analysis.support.result import SupportReport
from core.analysis.support.targets import provenance_line
from gui import theme
from gui.filter_table import FilterTable, RowsModel

MARKS = {"delegated": "✓", "kept_on_cpu": "✓ CPU", "unsupported": "✗", "no_answer": "—"}
# every mark a cell can show, what it means (the graph overlay's words) and its verdict (its
# colour: the theme's <verdict>_bg role, its text "verdict_text")
LEGEND = (
    ("✓", PALETTE["delegated"][0], "delegated"),
    ("✓ CPU", "supported, but its partition is not kept (partition limits): runs on the CPU",
     "kept_on_cpu"),
    ("✓ blocked", "supported, but the target refuses the model for another op", "kept_on_cpu"),
    ("✗", PALETTE["unsupported"][0], "unsupported"),
    ("—", "no answer (the target's tool could not run; see the column's tooltip)", "no_answer"),
)
UNVERIFIED_MARK = " *"
UNVERIFIED_MEANING = ("* unverified: the column follows its delegate's source; nothing here runs "
                      "it (hover the header for which source)")
VERDICTS = ("delegated", "kept_on_cpu", "unsupported", "no_answer")


class SupportRows(RowsModel):
    """One row per op of one subgraph; a row item is the op index."""

    def __init__(self, labels: list[str], macs: list[int], result: SupportReport,
                 subgraph: int, parent=None):
        self.delegates = list(result.delegates)
        verdicts = result.delegates
        # a column no tool here answered is marked in its header, not only in a tooltip
        self.unverified = {d for d, r in verdicts.items()
                           if r.provenance and r.provenance["kind"] == "source"}
        self.columns = ("#", "Operator", "MACs",
                        *(short_name(d) + (UNVERIFIED_MARK if d in self.unverified else "")
                          for d in self.delegates))
        self.labels, self.macs = labels, macs
        # a tool-run target without an answer (tool or SDK missing, model refused) has no ops:
        # its cells say so instead of showing a made-up verdict
        self.ops = {d: r.subgraphs[subgraph].ops if r.subgraphs else None
                    for d, r in verdicts.items()}
        self.errors = {d: r.error for d, r in verdicts.items()}
        self.provenance = {d: provenance_line(r.provenance)
                           for d, r in verdicts.items() if r.provenance}
        # whole-model targets (no CPU fallback): why the model does not run at all
        self.refused = {d: r.refused for d, r in verdicts.items()}
        self.unsupported_only = False
        self._colors: dict = {}   # the theme's cell colours, per theme (light / dark)
        super().__init__(list(range(len(labels))), parent)

    def mark(self, verdict: str, d: str) -> str:
        """What a cell of delegate ``d`` with ``verdict`` shows."""
        if verdict == "kept_on_cpu" and self.refused[d]:
            return "✓ blocked"
        return MARKS[verdict]

    def legend(self) -> list[tuple[str, str, str]]:
        """(mark, meaning, verdict) of each kind of cell the matrix has, in a fixed order."""
        shown: set[str] = set()
        for d, ops in self.ops.items():
            if ops is None:
                shown.add("—")
                continue
            for i in range(len(ops)):
                shown.add(self.mark(self.verdict(i, d), d))
        return [(mark, meaning, verdict) for mark, meaning, verdict in LEGEND if mark in shown]

    def verdict(self, i: int, d: str) -> str:
        ops = self.ops[d]
        if ops is None:
            return "no_answer"
        o = ops[i]
        if o.partition is not None:
            return "delegated"
        return "kept_on_cpu" if o.supported else "unsupported"

    def cell(self, i: int, column: int):
        if column == 0:
            return str(i), i
        if column == 1:
            return self.labels[i], self.labels[i]
        if column == 2:
            return (fmt.count(self.macs[i]) if self.macs[i] else ""), self.macs[i]
        d = self.delegates[column - 3]
        v = self.verdict(i, d)
        return self.mark(v, d), ("delegated", "kept_on_cpu", "unsupported", "no_answer").index(v)

    def tooltip(self, i: int, column: int) -> str | None:
        if column < 3:
            return None
        d = self.delegates[column - 3]
        return f"{self._verdict_tip(i, d)}\n({self.provenance.get(d, '')})"

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        # a delegate column's header says who answered it: a tool run here, or a source
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal \
                and section >= 3:
            d = self.delegates[section - 3]
            return f"{short_name(d)}: {self.provenance.get(d, '')}"
        return super().headerData(section, orientation, role)

    def _verdict_tip(self, i: int, d: str) -> str:
        ops = self.ops[d]
        if ops is None:
            return f"{short_name(d)}: no answer: {self.errors[d]}"
        o = ops[i]
        if o.partition is not None:
            return f"{short_name(d)}: delegated (partition {o.partition + 1})"
        if o.supported and self.refused[d]:
            return f"{short_name(d)}: this op is supported, but {self.refused[d]}"
        if o.supported:
            return (f"{short_name(d)}: supported, but its partition is not kept "
                    "(partition limits); runs on the CPU")
        return f"{short_name(d)}: {o.reason}"

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole) \
                and index.isValid() and index.column() >= 3:
            colors = self._theme_colors()
            if role == Qt.ItemDataRole.ForegroundRole:
                return colors["text"]
            i = self.items[self.order[index.row()]]
            return colors[self.verdict(i, self.delegates[index.column() - 3])]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.isValid() and index.column() >= 2:
            return int(Qt.AlignmentFlag.AlignCenter)
        return super().data(index, role)

    def _theme_colors(self) -> dict:
        dark = theme.is_dark()
        colors = self._colors.get(dark)
        if colors is None:
            colors = self._colors[dark] = {v: theme.color(f"{v}_bg") for v in VERDICTS}
            colors["text"] = theme.color("verdict_text")
        return colors

    def row_text(self, i: int) -> str:
        return f"#{i} {self.labels[i]}"

    def set_unsupported_only(self, on: bool) -> None:
        self.beginResetModel()
        self.unsupported_only = on
        self._apply()
        self.endResetModel()

    def _apply(self) -> None:
        super()._apply()
        if self.unsupported_only:
            self.order = [i for i in self.order
                          if any(ops is not None and not ops[i].supported
                                 for ops in self.ops.values())]


class SupportMatrix(FilterTable):
    def __init__(self, rows: SupportRows, parent=None):
        super().__init__(rows, "Filter ops by type or index (#12)…", parent)
        self.set_column_widths([50, 200, 70] + [80] * len(rows.delegates))
        self.view.setAlternatingRowColors(False)
        self.view.horizontalHeader().setStretchLastSection(False)
        # what each mark means: "✓ CPU" and "✓ blocked" explain themselves nowhere else
        self.legend = QLabel(self)
        self.legend.setObjectName("supportLegend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)   # coloured marks; texts escaped
        self.layout().addWidget(self.legend)
        theme.on_theme_change(self.legend, lambda: self._show_legend(rows))

    def _show_legend(self, rows: SupportRows) -> None:
        """The marks on the cells' colours of the theme in use."""
        ink = theme.hex_color("verdict_text")
        self.legend.setText(" &nbsp; ".join(
            f"<span style='background:{theme.hex_color(f'{verdict}_bg')}; color:{ink}'>"
            f"&nbsp;{html.escape(mark)}&nbsp;</span>&nbsp;{html.escape(meaning)}"
            for mark, meaning, verdict in rows.legend())
            + (f" &nbsp; {html.escape(UNVERIFIED_MEANING)}" if rows.unverified else ""))

    def set_unsupported_only(self, on: bool) -> None:
        self.model.set_unsupported_only(on)
        self._update_count()
