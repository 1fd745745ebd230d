"""Inspector beside the graph: the selected operator (name, version, decoded options, every
input and output tensor) or tensor (shape, signature, dtype, quantization, size, and for
constants a weights preview: statistics, a pyqtgraph histogram and the first values).

Links in the text emit ``tensorActivated(int)``, ``opActivated(int)`` and
``subgraphActivated(int)`` (control-flow bodies); ``plain_text()`` is what is shown, as text.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette, QTextDocument
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from core import format as fmt
from core.analysis.report import tensor_kind
from core.analysis.support.compute import op_compute
from core.analysis.weight_stats import weight_stats
from core.graph.state import variable_accesses
from core.model import ops as op_facts
from core.model.types import Model, Tensor
from gui import theme

MAX_PREVIEWS = 8  # weight previews (histograms) per operator


def _fmt(v) -> str:
    if isinstance(v, float):
        return fmt.number(v)
    if isinstance(v, list) and len(v) > 8:
        return "[" + ", ".join(map(_fmt, v[:8])) + f", … ({len(v)})]"
    if isinstance(v, list):
        return "[" + ", ".join(map(_fmt, v)) + "]"
    return fmt.printable(str(v), 400)


def _numbers(vals, n: int = 6, total: int | None = None) -> str:
    """The first ``n`` values; '… (of N)' names how many there are in all (``total``: the whole
    tensor's count when ``vals`` is only its preview)."""
    vals = list(vals)
    total = len(vals) if total is None else total
    s = ", ".join(_fmt(float(v)) if isinstance(v, float) else str(v) for v in vals[:n])
    return s + (f", … (of {total:,})" if total > min(n, len(vals)) else "")


def quantization_html(q) -> str:
    """The one-line summary (core.format), plus per-channel values the inspector has room for."""
    head = html.escape(fmt.quantization(q))
    if not head or len(q.scale) == 1:
        return head
    sc = np.asarray(q.scale)
    zp = np.asarray(q.zero_point or [0])
    zps = f"all {int(zp[0])}" if len(zp) and (zp == zp[0]).all() else _numbers(zp.tolist())
    fin = sc[np.isfinite(sc)]
    median = f"median {np.median(fin):.4g}" if len(fin) else "none finite"
    return (f"{head}<br>&nbsp;&nbsp;scales ({median}): "
            f"{_numbers(sc.tolist(), 4)}<br>&nbsp;&nbsp;zero points {zps}")


class Inspector(QScrollArea):
    tensorActivated = Signal(int)
    opActivated = Signal(int)
    subgraphActivated = Signal(int)
    contentChanged = Signal()   # something else (or nothing: ``current`` is None) is shown

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self.current: tuple | None = None  # ("op" | "tensor", subgraph, index)
        self.plots: list[pg.PlotWidget] = []
        self._body = QWidget()
        self._lay = QVBoxLayout(self._body)
        self._lay.setContentsMargins(8, 8, 8, 8)
        self._lay.setSpacing(6)
        self.setWidget(self._body)
        self.clear()

    def _color(self, role: QPalette.ColorRole) -> str:
        """A palette colour as #rrggbb: the text follows the light or dark theme."""
        return self.palette().color(role).name()

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:  # the theme changed: redraw in its colours
            self.refresh()

    def refresh(self) -> None:
        """Show the current selection again."""
        if self.current is None:
            self.clear()
        elif self.current[0] == "op":
            self.show_op(self.current[1], self.current[2])
        else:
            self.show_tensor(self.current[1], self.current[2])

    # -- building blocks --
    def _reset(self) -> None:
        self.plots = []
        body = QWidget()
        self._lay = QVBoxLayout(body)
        self._lay.setContentsMargins(8, 8, 8, 8)
        self._lay.setSpacing(6)
        old = self.takeWidget()
        if old is not None:
            old.deleteLater()
        self._body = body
        self.setWidget(body)

    def _label(self, text: str) -> QLabel:
        lab = QLabel(text, self._body)
        lab.setWordWrap(True)
        lab.setTextFormat(Qt.TextFormat.RichText)
        lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        lab.linkActivated.connect(self._link)
        self._lay.addWidget(lab)
        return lab

    def _link(self, href: str) -> None:
        kind, _, num = href.partition(":")
        if kind == "tensor":
            self.tensorActivated.emit(int(num))
        elif kind == "op":
            self.opActivated.emit(int(num))
        elif kind == "subgraph":
            self.subgraphActivated.emit(int(num))

    def _finish(self) -> None:
        self._lay.addStretch(1)
        self.contentChanged.emit()

    def plain_text(self) -> str:
        parts = []
        for lab in self._body.findChildren(QLabel):
            d = QTextDocument()
            d.setHtml(lab.text())
            parts.append(d.toPlainText())
        return "\n".join(parts)

    # -- contents --
    def clear(self) -> None:
        self._reset()
        self.current = None
        self._label(f"<span style='color:{self._color(QPalette.ColorRole.PlaceholderText)}'>"
                    "Click a node or an edge to inspect it.<br>"
                    "Double-click a control-flow op to open the subgraph it runs.</span>")
        self._finish()

    def _state_html(self, sg, op_index: int) -> str:
        """A variable op's state: the variable, and its handle and other accesses as links."""
        accesses = variable_accesses(sg)
        access = accesses.get(op_index)
        if access is None:
            return ""
        name = html.escape(fmt.printable(access.variable or "(unnamed)", 200))
        same = [a for a in accesses.values() if a.variable == access.variable
                and a.kind != "handle" and a.op != op_index]

        def link(i: int) -> str:
            return f"<a href='op:{i}'>#{i} {html.escape(sg.operators[i].op)}</a>"
        verb = {"handle": "names", "read": "reads", "write": "writes"}[access.kind]
        text = f"<b>State</b> {verb} variable '{name}'"
        if access.kind != "handle":
            text += (f" through {link(access.handle_op)}" if access.handle_op is not None
                     else " (its handle comes from outside this subgraph)")
        if same:
            text += "<br>also " + ", ".join(
                f"{'read' if a.kind == 'read' else 'written'} by {link(a.op)}" for a in same[:12])
        return text

    def show_op(self, subgraph: int, op_index: int) -> None:
        self._reset()
        sg = self.model.subgraphs[subgraph]
        op = sg.operators[op_index]
        self.current = ("op", subgraph, op_index)
        custom = (f" (custom code {html.escape(fmt.printable(op.custom_code, 200))})"
                  if op.custom_code else "")
        self._label(f"<h3 style='margin:0'>{html.escape(fmt.printable(op.label, 200))}</h3>"
                    f"operator #{op.index} · builtin {op.op}{custom} · version {op.version}"
                    f" · subgraph {subgraph}")
        c = op_compute(op, sg)
        self._label(f"<b>Compute</b> {fmt.count(c.macs)} MACs · {fmt.count(c.flops)} FLOPs · "
                    f"{fmt.size(c.bytes)} moved")
        state = self._state_html(sg, op_index)
        if state:
            self._label(state)
        links = op_facts.subgraph_links(op)
        if links:
            self._label("<br>".join(
                f"<a href='subgraph:{i}'>open {role} → subgraph {i} "
                f"({html.escape(fmt.printable(self.model.subgraphs[i].name or '', 200))})</a>"
                for role, i in links if i < len(self.model.subgraphs)))
        if op.options:
            muted = self._color(QPalette.ColorRole.PlaceholderText)
            rows = "".join(f"<tr><td style='color:{muted}'>{html.escape(k)}</td>"
                           f"<td>&nbsp;{html.escape(_fmt(v))}</td></tr>"
                           for k, v in op.options.items())
            self._label(f"<b>Options</b><table>{rows}</table>")
        elif op.options_table is None and op.op == "CUSTOM":
            self._label("<b>Options</b> custom (opaque bytes)")
        previews = 0
        for title, idxs in (("Inputs", op.inputs), ("Outputs", op.outputs)):
            self._label(f"<b>{title}</b>")
            slots = op_facts.slot_names(op.op) if title == "Inputs" else ()
            for s, t in enumerate(idxs):
                slot = slots[s] if s < len(slots) else f"{title[:-1].lower()} {s}"
                if t < 0:
                    self._label(f"<i>{slot}: omitted (optional)</i>")
                    continue
                previews += self._tensor_block(subgraph, sg.tensors[t], slot,
                                               preview=previews < MAX_PREVIEWS)
        self._finish()

    def show_tensor(self, subgraph: int, tensor: int) -> None:
        self._reset()
        sg = self.model.subgraphs[subgraph]
        self.current = ("tensor", subgraph, tensor)
        self._tensor_block(subgraph, sg.tensors[tensor], None, preview=True, big=True)
        prod = [op.index for op in sg.operators if tensor in op.outputs]
        cons = [op.index for op in sg.operators if tensor in op.inputs]

        def ops(lst):
            return ", ".join(f"<a href='op:{i}'>#{i} "
                             f"{html.escape(fmt.printable(sg.operators[i].label, 80))}</a>"
                             for i in lst[:20]) + (" …" if len(lst) > 20 else "") or "—"
        io = (" · graph input" if tensor in sg.inputs else "") + \
             (" · graph output" if tensor in sg.outputs else "")
        self._label(f"<b>Written by</b> {ops(prod)}{io}<br><b>Read by</b> {ops(cons)}")
        self._finish()

    def _tensor_block(self, subgraph: int, t: Tensor, slot: str | None, preview: bool,
                      big: bool = False) -> int:
        name = html.escape(fmt.printable(t.name, 400))
        head = (f"<h3 style='margin:0'>{name}</h3>" if big else
                f"<span style='color:{self._color(QPalette.ColorRole.PlaceholderText)}'>"
                f"{html.escape(slot)}:</span> "
                f"<a href='tensor:{t.index}'>{name}</a>")
        sig = f"<br>shape_signature {fmt.shape(t.shape_signature)}" \
            if tuple(t.shape_signature) != tuple(t.shape) \
            and not any(d < 0 for d in t.shape_signature) else ""
        q = quantization_html(t.quantization)
        lines = [head,
                 f"tensor {t.index} · {tensor_kind(t)} · {t.dtype} · "
                 f"{fmt.shape_and_signature(t.shape, t.shape_signature, '×', brackets=False)} · "
                 f"{fmt.size(t.bytes)} ({t.bytes:,} B)"
                 + sig]
        if q:
            lines.append(f"quantization: {q}")
        lab = self._label("<br>".join(lines))
        lab.setStyleSheet(f"QLabel {{ border-left: 3px solid {self._color(QPalette.ColorRole.Mid)};"
                          " padding-left: 5px; }")
        if not (t.constant and preview):
            return 0
        arr = self.model.tensor_data(subgraph, t.index)
        st = weight_stats(arr, t.quantization)
        if st is None:
            return 0
        if st.count == 1:   # a scalar: its value says it all
            text = f"value {html.escape(_numbers(st.first))}"
            if st.dequantized:
                text += f" (dequantized {st.dequantized[0]:.4g})"
            self._label(text)
            return 1
        text = (f"min {st.min:.4g} · max {st.max:.4g} · mean {st.mean:.4g} · std {st.std:.4g}"
                f" · zeros {st.zeros_pct:.1f}%" + (" (sampled)" if st.sampled else ""))
        if st.dequantized:
            text += f"<br>dequantized range {st.dequantized[0]:.4g} … {st.dequantized[1]:.4g}"
        if st.listed_in_full:
            text += f"<br>values: {html.escape(_numbers(st.first, len(st.first)))}"
        else:
            text += f"<br>first values: {html.escape(_numbers(st.first, 8, st.count))}"
        self._label(text)
        if len(st.hist_counts) and not st.listed_in_full:
            plot = pg.PlotWidget(self._body, background=self._color(QPalette.ColorRole.Base))
            plot.setFixedHeight(110)
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            plot.getPlotItem().setMenuEnabled(False)
            plot.plot(st.hist_edges, st.hist_counts, stepMode="center", fillLevel=0,
                      brush=theme.color("series_fill"), pen=pg.mkPen(theme.color("series_1")))
            plot.getAxis("left").setStyle(tickLength=-3)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(self._color(QPalette.ColorRole.Text))
            self._lay.addWidget(plot)
            self.plots.append(plot)
        return 1
