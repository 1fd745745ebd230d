"""The graph canvas: paints a ``core.graph.layout.GraphLayout`` with level of detail.

A plain QWidget painter (no QGraphicsItems): every frame asks the layout for the nodes and edges
in view (binary search on y plus a vectorised box test) and paints only those.

Levels of detail, by zoom and by how many nodes are in view:

* far (zoom < 0.2 or > 2500 nodes in view): nodes as flat rectangles, edges as straight
  polylines, both built from numpy arrays in one ``QPainterPath`` per colour (pyqtgraph's
  ``arrayToQPath``) after merging what falls on the same device pixels; no text;
* mid (zoom < 0.45): coloured boxes and curved edges, no text;
* near: Netron-like cards (coloured header with the op name, folded constants as rows), curved
  edges with arrow heads, tensor shape labels on edges (``set_edge_labels(True)``), badges.

Overlays are core values (``core.analysis.overlay.Overlay``: fill colours, badges, outline
groups and legend, keyed by (subgraph, op)); the view only paints them::

    view.set_overlay(heat_overlay(times))   # replaces an overlay of the same name
    view.clear_overlay("latency")
    view.overlays()                         # the core Overlays, in the order set

The most recently set overlay that colours a node wins; badges of all overlays are drawn
(stacked); each outline group is drawn as a rounded outline in its colour around each of its
nodes, labelled at its top node. The legend widget (``gui/graph/legend.py``) listens to
``overlaysChanged``.

Signals: ``nodeClicked(int)``, ``edgeClicked(int)`` (edge id; its tensor is
``layout.edge_tensor[e]``), ``backgroundClicked()``, ``nodeActivated(int)`` (double click: the panel
opens control-flow bodies), ``viewChanged()`` (pan/zoom, for the minimap).
"""
from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np
from pyqtgraph import arrayToQPath
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QTransform,
)
from PySide6.QtWidgets import QToolTip, QWidget

from core import format as fmt
from core.analysis.overlay import Overlay
from core.fileio import atomic_path
from core.graph import layout as gl
from core.graph import navigate
from core.graph.export_plan import MAX_SIDE, image_plan
from core.graph.layout import NODE_INPUT, GraphLayout
from core.model import ops as op_facts
from core.model.types import Model
from gui.theme import is_dark

CATEGORY_COLORS = {
    "layer": "#2f5d8c", "activation": "#8c3b2f", "pool": "#2f6e45", "norm": "#574a8c",
    "shape": "#6e5a3c", "quant": "#2c7474", "control": "#7a2f7a", "custom": "#c2185b",
    "math": "#3e4650", "stablehlo": "#5a5a5a", "input": "#cfd8e3", "output": "#cfd8e3",
}
# the canvas follows the app's theme (gui.theme); category colours read on both
CANVAS = {
    "light": {"bg": QColor("#fbfbfc"), "edge": QColor("#8a9099"), "card": QColor("#ffffff"),
              "row": QColor("#374151"), "label": QColor("#555555"),
              "label_bg": QColor(251, 251, 252, 220), "hint": QColor("#666666")},
    "dark": {"bg": QColor("#1b1d20"), "edge": QColor("#7d838c"), "card": QColor("#2a2d32"),
             "row": QColor("#d5d9de"), "label": QColor("#b8bcc2"),
             "label_bg": QColor(27, 29, 32, 220), "hint": QColor("#9aa0a6")},
}
SELECT = QColor("#ff8c00")
# custom ops (the stock runtime may not resolve them) get a dashed frame besides their colour
CUSTOM_FRAME = QColor("#c2185b")
HIGHLIGHT = QColor("#ffd400")

LOD_FAR = 0.2
LOD_TEXT = 0.45
FAR_NODES = 2500
MIN_SCALE, MAX_SCALE = 1e-5, 4.0
EXPORT_BAND_NODES = 500    # nodes per progress step of an export


class ExportCancelled(Exception):
    """An export stopped by its Cancel button (or a subgraph switch): nothing is written."""
START_MAX_SCALE = 1.0      # a 2-op graph opens at natural size, not magnified to fill the view
START_MIN_SCALE = LOD_TEXT * 1.15   # a graph opens where op names are drawn


_QCOLORS: dict[str, QColor] = {}


def qcolor(hex_color: str) -> QColor:
    """The QColor of an overlay's ``#rrggbb`` (cached: painting asks for the same few often)."""
    c = _QCOLORS.get(hex_color)
    if c is None:
        c = _QCOLORS[hex_color] = QColor(hex_color)
    return c


def _fonts(base: QFont) -> tuple[QFont, QFont, QFont]:
    head = QFont(base)
    head.setPointSizeF(9.0)
    head.setBold(True)
    row = QFont(base)
    row.setPointSizeF(7.5)
    badge = QFont(row)
    badge.setBold(True)
    return head, row, badge


def text_metrics(base: QFont | None = None) -> dict[str, float]:
    """Mean character advances of the view's fonts, for ``layout_subgraph``'s width estimate."""
    head, row, _ = _fonts(base or QFont())
    sample_h = "DEPTHWISE_CONV_2D · RELU6 FULLY_CONNECTED"
    sample_r = "filter ⟨32×3×3×3⟩ bias ⟨1280⟩ serving_default_input:0"
    return {"char_w": QFontMetricsF(head).horizontalAdvance(sample_h) / len(sample_h),
            "row_char_w": QFontMetricsF(row).horizontalAdvance(sample_r) / len(sample_r)}


def _unique_rows(a: np.ndarray) -> np.ndarray:
    """Indices of the distinct rows of 4 device-pixel coordinates (packed to one int64 key)."""
    q = (np.clip(a, -16384, 16383).astype(np.int64) + 16384)
    key = (q[:, 0] << 45) | (q[:, 1] << 30) | (q[:, 2] << 15) | q[:, 3]
    return np.unique(key, return_index=True)[1]


class GraphView(QWidget):
    nodeClicked = Signal(int)
    edgeClicked = Signal(int)
    backgroundClicked = Signal()
    nodeActivated = Signal(int)
    backRequested = Signal()     # Backspace: back to the previous subgraph
    rowClicked = Signal(int, int)  # node, tensor: a weight/bias row of an op card was clicked
    viewChanged = Signal()
    overlaysChanged = Signal()

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.canvas = CANVAS["dark" if is_dark() else "light"]
        self.lay: GraphLayout | None = None
        self.scale = 1.0
        self.ox = 0.0  # scene point at the widget's top-left
        self.oy = 0.0
        self.sel_node: int | None = None
        self.sel_tensor: int | None = None
        self.highlight: np.ndarray = np.zeros(0, np.int64)
        self.edge_labels = False
        self._overlays: dict[str, Overlay] = {}
        self._node_color_ids: np.ndarray | None = None
        self._palette: list[QColor] = []
        # node -> [(group colour, group label at the group's top node, else None)]
        self._outlines: dict[int, list[tuple[QColor, str | None]]] = {}
        self._auto_view = False
        self._press: QPointF | None = None
        self._press_origin = (0.0, 0.0)
        self._dragged = False
        self.last_paint_ms = 0.0
        self.paint_count = 0
        self.message = "Laying out…"
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.grabGesture(Qt.GestureType.PinchGesture)
        self.font_head, self.font_row, self.font_badge = _fonts(self.font())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, 600)

    # -- content --
    def set_layout(self, lay: GraphLayout | None, keep_view: bool = False) -> None:
        self.lay = lay
        self.sel_node = None
        self.sel_tensor = None
        self.highlight = np.zeros(0, np.int64)
        self._recolor()
        if lay is not None and not keep_view:
            self.reset_view()
        self.update()
        self.viewChanged.emit()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    @property
    def subgraph(self) -> int | None:
        return self.lay.subgraph if self.lay is not None else None

    # -- overlays --
    def set_overlay(self, overlay: Overlay) -> None:
        self._overlays.pop(overlay.name, None)
        self._overlays[overlay.name] = overlay
        self._recolor()
        self.update()
        self.overlaysChanged.emit()

    def clear_overlay(self, name: str) -> None:
        if self._overlays.pop(name, None) is not None:
            self._recolor()
            self.update()
            self.overlaysChanged.emit()

    def overlays(self) -> list[Overlay]:
        return list(self._overlays.values())

    def node_color(self, node: int) -> QColor:
        """Fill colour of a node (overlay colour if any, else its category colour)."""
        return self._palette[int(self._node_color_ids[node])]

    def _recolor(self) -> None:
        lay = self.lay
        if lay is None:
            self._node_color_ids = None
            self._outlines = {}
            return
        palette: list[QColor] = []
        index: dict[int, int] = {}

        def cid(c: QColor) -> int:
            k = c.rgba()
            if k not in index:
                index[k] = len(palette)
                palette.append(c)
            return index[k]
        ids = np.array([cid(QColor(CATEGORY_COLORS.get(c, "#555555"))) for c in lay.categories],
                       np.int32) if lay.n_nodes else np.zeros(0, np.int32)
        sg = lay.subgraph
        outlines: dict[int, list[tuple[QColor, str | None]]] = {}
        for ov in self._overlays.values():
            for (s, op), c in ov.colors.items():
                if s == sg and 0 <= op < lay.n_ops:
                    ids[op] = cid(qcolor(c))
            for g in ov.groups:
                mine = [op for s, op in g.ops if s == sg and 0 <= op < lay.n_ops]
                if not mine:
                    continue
                top = min(mine, key=lambda n: (lay.y[n], lay.x[n]))
                for op in mine:
                    outlines.setdefault(op, []).append((qcolor(g.color),
                                                        g.label if op == top else None))
        self._palette = palette
        self._node_color_ids = ids
        self._outlines = outlines

    def _badges(self, node: int) -> list[str]:
        out = []
        key = (self.lay.subgraph, node)
        for ov in self._overlays.values():
            b = ov.badges.get(key)
            if b:
                out.append(b)
        return out

    # -- view transform --
    def fit_scale(self) -> float:
        if self.lay is None:
            return 1.0
        return min(max(self.width(), 1) / self.lay.width, max(self.height(), 1) / self.lay.height)

    def fit(self) -> None:
        if self.lay is None:
            return
        s = self.fit_scale() * 0.97
        self.set_view(s, self.lay.width / 2 - self.width() / s / 2,
                       self.lay.height / 2 - self.height() / s / 2)

    def reset_view(self) -> None:
        """Whole graph if it fits readably, else the top of the graph at a readable zoom.

        Until the user pans, zooms or selects, the view keeps doing this when the widget is
        resized (a freshly opened tab gets its final size only after the first layout)."""
        self._reset_view()
        self._auto_view = True

    def _reset_view(self) -> None:
        lay = self.lay
        f = self.fit_scale() * 0.97
        if f >= START_MIN_SCALE:  # the whole graph fits with op names readable
            s = min(f, START_MAX_SCALE)
            self.set_view(s, lay.width / 2 - self.width() / s / 2,
                          lay.height / 2 - self.height() / s / 2)
            return
        s = min(START_MAX_SCALE, max(START_MIN_SCALE, self.width() / lay.width * 0.97))
        top = lay.y[lay.kind == NODE_INPUT].min() if (lay.kind == NODE_INPUT).any() else 0.0
        self.set_view(s, lay.width / 2 - self.width() / s / 2, max(0.0, top - 20))
        if lay.width * s < self.width():
            return
        # wide graph: start at the first node, near the top of the view
        n0 = int(np.argmin(lay.y)) if lay.n_nodes else 0
        self.center_on(n0, s)
        self.set_view(s, self.ox, max(0.0, float(lay.y[n0]) - 80.0 / s))

    def set_view(self, s: float, ox: float, oy: float) -> None:
        """Zoom ``s`` with scene point (ox, oy) at the widget's top-left."""
        self._auto_view = False  # any move but reset_view's own ends the automatic fitting
        self.scale = float(min(MAX_SCALE, max(MIN_SCALE, s)))
        self.ox, self.oy = float(ox), float(oy)
        self.update()
        self.viewChanged.emit()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        sx, sy = self.to_scene(anchor.x(), anchor.y())
        s = min(MAX_SCALE, max(MIN_SCALE, self.scale * factor))
        self.set_view(s, sx - anchor.x() / s, sy - anchor.y() / s)

    def pan_by(self, dx_px: float, dy_px: float) -> None:
        self.set_view(self.scale, self.ox + dx_px / self.scale, self.oy + dy_px / self.scale)

    def center_on_point(self, x: float, y: float, scale: float | None = None) -> None:
        s = self.scale if scale is None else scale
        self.set_view(s, x - self.width() / s / 2, y - self.height() / s / 2)

    def center_on(self, node: int, scale: float | None = None) -> None:
        x, y, w, h = self.lay.node_rect(node)
        self.center_on_point(x + w / 2, y + h / 2, scale)

    def to_scene(self, px: float, py: float) -> tuple[float, float]:
        return self.ox + px / self.scale, self.oy + py / self.scale

    def to_widget(self, sx: float, sy: float) -> QPointF:
        return QPointF((sx - self.ox) * self.scale, (sy - self.oy) * self.scale)

    def node_pos(self, node: int) -> QPointF:
        """Widget point inside a node's header (where a click selects it)."""
        x, y, w, h = self.lay.node_rect(node)
        return self.to_widget(x + w / 2, y + min(h / 2, 8.0))

    def visible_scene_rect(self) -> QRectF:
        return QRectF(self.ox, self.oy, self.width() / self.scale, self.height() / self.scale)

    # -- selection --
    def select_node(self, node: int | None, center: bool = False) -> None:
        self.sel_node = node
        self.sel_tensor = None
        if node is not None and center:
            self.center_on(node, max(self.scale, 0.8))
        self.update()

    def select_tensor(self, tensor: int | None, center: bool = False) -> None:
        self.sel_tensor = tensor
        self.sel_node = None
        if tensor is not None and center and self.lay is not None:
            e = self.lay.edges_of_tensor(tensor)
            if len(e):
                r = self.lay.route(int(e[0]))
                self.center_on_point(*r[: min(len(r), 2)].mean(0), max(self.scale, 0.8))
        self.update()

    def set_highlight(self, nodes) -> None:
        self.highlight = np.unique(np.asarray(list(nodes), np.int64))
        self.update()

    def set_edge_labels(self, on: bool) -> None:
        self.edge_labels = bool(on)
        self.update()

    # -- painting --
    def paintEvent(self, event) -> None:  # noqa: N802
        t0 = time.perf_counter()
        p = QPainter(self)
        p.fillRect(self.rect(), self.canvas["bg"])
        if self.lay is None:
            p.setPen(self.canvas["hint"])
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
        else:
            r = self.visible_scene_rect()
            self.paint_scene(p, r, self.scale,
                             QTransform(self.scale, 0, 0, self.scale, -self.ox * self.scale,
                                        -self.oy * self.scale))
        p.end()
        self.last_paint_ms = (time.perf_counter() - t0) * 1000
        self.paint_count += 1

    def paint_scene(self, p: QPainter, r: QRectF, scale: float, transform: QTransform,
                    lod: str | None = None, edges: bool = True, outlines: bool = True) -> str:
        """Paint the part ``r`` (scene units) of the layout; returns the level of detail used.
        ``edges=False`` paints nodes only (the minimap of a big graph); ``outlines=False`` leaves
        out the overlays' outline groups (their device-pixel frames would crowd the minimap)."""
        lay = self.lay
        x0, y0, x1, y1 = r.left(), r.top(), r.right(), r.bottom()
        nodes = lay.visible_nodes(x0, y0, x1, y1)
        edges = lay.visible_edges(x0, y0, x1, y1) if edges else np.zeros(0, np.int64)
        if lod is None:
            lod = ("far" if scale < LOD_FAR or len(nodes) > FAR_NODES
                   else "mid" if scale < LOD_TEXT else "near")
        p.setTransform(transform)
        if lod == "far":
            self._paint_far(p, nodes, edges, scale, transform)
        else:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self._paint_edges(p, edges, scale, near=lod == "near", clip=(x0, y0, x1, y1))
            self._paint_nodes(p, nodes, scale, near=lod == "near")
        if outlines and self._outlines:
            self._paint_outlines(p, nodes, transform)
        return lod

    def _paint_outlines(self, p: QPainter, nodes, transform: QTransform) -> None:
        """Outline groups in device pixels, so the outline and its label read the same at every
        zoom: a rounded frame around each member node, the group's label above its top node."""
        lay = self.lay
        m11, m22, dx, dy = transform.m11(), transform.m22(), transform.dx(), transform.dy()
        p.save()
        p.setTransform(QTransform())
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)
        labels = []
        outlined = np.fromiter(self._outlines, np.int64, len(self._outlines))
        for n in nodes[np.isin(nodes, outlined)].tolist():  # a vectorised pick: 100k in view
            groups = self._outlines[n]
            r = QRectF(lay.x[n] * m11 + dx, lay.y[n] * m22 + dy,
                       max(lay.w[n] * m11, 2.0), max(lay.h[n] * m22, 2.0))
            small = r.height() < 10  # far zoom: frames would tangle; a halo merges into a band
            for k, (color, label) in enumerate(groups):  # nested frames for several groups
                pad = 3.0 + 3.0 * k
                if small:
                    halo = QColor(color)
                    halo.setAlpha(110)
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(halo)
                else:
                    p.setPen(QPen(color, 2.0))
                    p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(r.adjusted(-pad, -pad, pad, pad), 4, 4)
                if label:
                    labels.append((r.left() - pad, r.top() - pad, color, label))
        if labels:
            p.setFont(self.font_badge)
            fm = QFontMetricsF(self.font_badge)
            for x, y, color, label in labels:
                box = QRectF(x, y - fm.height() - 2, fm.horizontalAdvance(label) + 8,
                             fm.height() + 2)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(color)
                p.drawRoundedRect(box, 3, 3)
                p.setPen(QColor("#ffffff") if color.lightness() < 150 else QColor("#111"))
                p.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        p.restore()

    def _paint_far(self, p: QPainter, nodes, edges, scale, transform) -> None:
        """Flat shapes from numpy, in device pixels, with duplicates on the same pixels merged."""
        lay = self.lay
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setTransform(QTransform())  # draw in device pixels
        m11, m22, dx, dy = transform.m11(), transform.m22(), transform.dx(), transform.dy()
        if len(edges):
            off = lay.route_off
            starts, ends = off[edges], off[edges + 1]
            lens = ends - starts
            idx = np.repeat(starts - np.cumsum(np.concatenate([[0], lens[:-1]])), lens) \
                + np.arange(lens.sum())
            pts = lay.route_pts[idx]
            px = np.round(pts[:, 0] * m11 + dx)
            py = np.round(pts[:, 1] * m22 + dy)
            # segments (a -> b) within each edge, merged when identical in device pixels
            last = np.cumsum(lens) - 1
            keep = np.ones(len(px), bool)
            keep[last] = False
            a = np.nonzero(keep)[0]
            seg = np.stack([px[a], py[a], px[a + 1], py[a + 1]], 1)
            if len(seg) > 2000:
                seg = seg[_unique_rows(seg)]
            xs = seg[:, [0, 2]].ravel()
            ys = seg[:, [1, 3]].ravel()
            sel = self._selected_edge_mask(edges)
            p.setPen(QPen(self.canvas["edge"], 0))
            p.drawPath(arrayToQPath(xs, ys, connect="pairs"))
            if sel is not None and sel.any():
                self._paint_edges(p, edges[sel], scale, near=False, transform=transform,
                                  pen=QPen(SELECT, 2.5))
        if len(nodes):
            nx0 = np.round(lay.x[nodes] * m11 + dx)
            ny0 = np.round(lay.y[nodes] * m22 + dy)
            nx1 = np.maximum(np.round((lay.x[nodes] + lay.w[nodes]) * m11 + dx), nx0 + 2)
            ny1 = np.maximum(np.round((lay.y[nodes] + lay.h[nodes]) * m22 + dy), ny0 + 2)
            cid = self._node_color_ids[nodes]
            rect = np.stack([nx0, ny0, nx1, ny1], 1)
            p.setPen(Qt.PenStyle.NoPen)
            for c in np.unique(cid).tolist():
                rr = rect[cid == c]
                if len(rr) > 500:
                    rr = rr[_unique_rows(rr)]
                xs = np.stack([rr[:, 0], rr[:, 2], rr[:, 2], rr[:, 0], rr[:, 0]], 1).ravel()
                ys = np.stack([rr[:, 1], rr[:, 1], rr[:, 3], rr[:, 3], rr[:, 1]], 1).ravel()
                con = np.tile(np.array([1, 1, 1, 1, 0], bool), len(rr))
                path = arrayToQPath(xs, ys, connect=con)
                path.setFillRule(Qt.FillRule.WindingFill)  # overlapping rects: union, not XOR
                p.fillPath(path, self._palette[c])
            marks = [n for n in self.highlight.tolist() if n < lay.n_nodes]
            if self.sel_node is not None:
                marks.append(self.sel_node)
            if marks:
                m = np.asarray(marks)
                cx = (lay.x[m] + lay.w[m] / 2) * m11 + dx
                cy = (lay.y[m] + lay.h[m] / 2) * m22 + dy
                p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                for i, (a, b) in enumerate(zip(cx.tolist(), cy.tolist(), strict=False)):
                    sel = marks[i] == self.sel_node
                    p.setPen(QPen(QColor("#222"), 1))
                    p.setBrush(SELECT if sel else HIGHLIGHT)
                    p.drawEllipse(QPointF(a, b), 6 if sel else 5, 6 if sel else 5)
        p.setTransform(transform)

    def _selected_edge_mask(self, edges):
        if self.sel_tensor is None and self.sel_node is None:
            return None
        lay = self.lay
        if self.sel_tensor is not None:
            return lay.edge_tensor[edges] == self.sel_tensor
        return (lay.edge_src[edges] == self.sel_node) | (lay.edge_dst[edges] == self.sel_node)

    def _paint_edges(self, p: QPainter, edges, scale, near: bool, transform=None,
                     pen: QPen | None = None, clip: tuple | None = None) -> None:
        lay = self.lay
        if not len(edges):
            return
        paths: list[QPainterPath] = []
        off, pts = lay.route_off, lay.route_pts
        mapper = transform if transform is not None else None
        arrows = []
        cx0, cy0, cx1, cy1 = clip if clip is not None else (-np.inf, -np.inf, np.inf, np.inf)
        for e in edges.tolist():
            r = pts[off[e]:off[e + 1]]
            # only the segments whose box meets the view (a curve stays in its ends' box)
            xa, xb, ya, yb = r[:-1, 0], r[1:, 0], r[:-1, 1], r[1:, 1]
            vis = ((np.minimum(xa, xb) <= cx1) & (np.maximum(xa, xb) >= cx0)
                   & (ya <= cy1) & (yb >= cy0))
            if not vis.any():
                continue
            if mapper is not None:
                r = np.stack([r[:, 0] * mapper.m11() + mapper.dx(),
                              r[:, 1] * mapper.m22() + mapper.dy()], 1)
            c1, c2 = gl.curve_controls(r)
            rl, c1l, c2l = r.tolist(), c1.tolist(), c2.tolist()
            path = QPainterPath()  # one path per edge: stroking one big path is much slower
            paths.append(path)
            drawn = False
            for k in np.nonzero(vis)[0].tolist():
                if not drawn or not vis[k - 1]:
                    path.moveTo(*rl[k])
                path.cubicTo(c1l[k][0], c1l[k][1], c2l[k][0], c2l[k][1], rl[k + 1][0],
                             rl[k + 1][1])
                drawn = True
            if near and vis[-1]:
                arrows.append(rl[-1])
        if pen is None:
            pen = QPen(self.canvas["edge"], 1.2)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for path in paths:
            p.drawPath(path)
        if near and arrows:
            head = QPainterPath()
            for ax, ay in arrows:
                head.moveTo(ax, ay)
                head.lineTo(ax - 3.5, ay - 7)
                head.lineTo(ax + 3.5, ay - 7)
                head.closeSubpath()
            p.fillPath(head, pen.color())
        if pen.color() == self.canvas["edge"]:
            sel = self._selected_edge_mask(edges)
            if sel is not None and sel.any():
                self._paint_edges(p, edges[sel], scale, near, transform, QPen(SELECT, 2.5),
                                  clip)
            if near and self.edge_labels:
                self._paint_edge_labels(p, edges)

    def _paint_edge_labels(self, p: QPainter, edges) -> None:
        lay = self.lay
        ts = self.model.subgraphs[lay.subgraph].tensors
        p.setFont(self.font_row)
        fm = QFontMetricsF(self.font_row)
        done = set()
        for e in edges.tolist():
            t = int(lay.edge_tensor[e])
            r = lay.route(e)
            key = (t, round(r[0, 0]), round(r[0, 1]))
            if len(r) == 2 and key in done:
                continue
            done.add(key)
            tt = ts[t]
            text = f"{fmt.shape(tt.shape)} {tt.dtype}" if tt.dtype != "float32" else \
                fmt.shape(tt.shape)
            a, b = r[0], r[1]
            mx, my = a[0] + 4, a[1] + min(18.0, (b[1] - a[1]) / 2)
            w = fm.horizontalAdvance(text) + 6
            p.fillRect(QRectF(mx, my - 7, w, 13), self.canvas["label_bg"])
            p.setPen(self.canvas["label"])
            p.drawText(QPointF(mx + 3, my + 3.5), text)

    def _paint_nodes(self, p: QPainter, nodes, scale, near: bool) -> None:
        lay = self.lay
        xs, ys, ws, hs = (lay.x[nodes].tolist(), lay.y[nodes].tolist(), lay.w[nodes].tolist(),
                          lay.h[nodes].tolist())
        hl = set(self.highlight.tolist())
        border = QPen(QColor("#6b7280"), 1.0)
        fm_row = QFontMetricsF(self.font_row)
        for i, n in enumerate(nodes.tolist()):
            rect = QRectF(xs[i], ys[i], ws[i], hs[i])
            color = self.node_color(n)
            is_op = n < lay.n_ops
            if n in hl:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(HIGHLIGHT)
                p.drawRoundedRect(rect.adjusted(-6, -6, 6, 6), 8, 8)
            if not is_op:  # input / output: a pill
                p.setPen(border)
                p.setBrush(color if self._overlays else QColor(CATEGORY_COLORS["input"]))
                p.drawRoundedRect(rect, hs[i] / 2, hs[i] / 2)
                if near:
                    p.setFont(self.font_row)
                    p.setPen(QColor("#1f2937"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, lay.labels[n])
            else:
                head = QRectF(xs[i], ys[i], ws[i], gl.HEADER_H)
                if not near:
                    p.setPen(border)
                    p.setBrush(self.canvas["card"])
                    p.drawRect(rect)
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(color)
                    p.drawRect(head)
                else:
                    p.setPen(border)
                    p.setBrush(self.canvas["card"])
                    p.drawRoundedRect(rect, 4, 4)
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(color)
                    clip = QPainterPath()
                    clip.addRoundedRect(rect, 4, 4)
                    hp = QPainterPath()
                    hp.addRect(head)
                    p.drawPath(clip.intersected(hp))
                    p.setFont(self.font_head)
                    p.setPen(QColor("#ffffff") if color.lightness() < 150 else QColor("#111"))
                    p.drawText(head, Qt.AlignmentFlag.AlignCenter, lay.labels[n])
                    rows = lay.rows[n]
                    if rows:
                        p.setFont(self.font_row)
                        ry = ys[i] + gl.HEADER_H + 2
                        for slot, shape, _t in rows:
                            p.setPen(self.canvas["row"])
                            p.drawText(QPointF(xs[i] + gl.PAD, ry + 11), slot)
                            p.setPen(QColor("#6b7280"))
                            sw = fm_row.horizontalAdvance(f"⟨{shape}⟩")
                            p.drawText(QPointF(xs[i] + ws[i] - gl.PAD - sw, ry + 11),
                                       f"⟨{shape}⟩")
                            ry += gl.ROW_H
                    badges = self._badges(n)
                    if badges:
                        p.setFont(self.font_badge)
                        fmb = QFontMetricsF(self.font_badge)
                        bx = xs[i] + ws[i] - 4
                        for b in badges:
                            bw = fmb.horizontalAdvance(b) + 8
                            br = QRectF(bx - bw + 8, ys[i] - 9, bw, 14)
                            p.setPen(QPen(QColor("#111"), 0.8))
                            p.setBrush(QColor("#fff7d6"))
                            p.drawRoundedRect(br, 7, 7)
                            p.setPen(QColor("#111"))
                            p.drawText(br, Qt.AlignmentFlag.AlignCenter, b)
                            bx -= bw + 2
            if is_op and lay.categories[n] == "custom":
                p.setPen(QPen(CUSTOM_FRAME, 1.5 if near else 1.5 / max(scale, 0.1),
                              Qt.PenStyle.DashLine))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), 6, 6)
            if n == self.sel_node:
                p.setPen(QPen(SELECT, 3 if near else 3 / max(scale, 0.1)))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 5, 5)

    # -- export --
    def export_image(self, path: str, whole: bool = True, max_side: int = MAX_SIDE,
                     scale: float = 1.0, state=None) -> tuple[int, int]:
        """PNG (or any QImage format by suffix) of the whole graph (or the view), at ``scale``,
        reduced so that no side exceeds ``max_side`` pixels. Returns the image size. ``state``
        (a gui.tasks TaskState) gets progress and may interrupt: safe off the UI thread (a
        QImage, not a widget, is painted)."""
        r = QRectF(0, 0, self.lay.width, self.lay.height) if whole else self.visible_scene_rect()
        s = image_plan(r.width(), r.height(), scale, max_side).scale if whole else self.scale
        w, h = max(1, int(r.width() * s)), max(1, int(r.height() * s))
        img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(self.canvas["bg"])
        p = QPainter(img)
        try:
            self._paint_bands(p, r, s, None, state)
        finally:
            p.end()
        with atomic_path(path) as tmp:
            if not img.save(tmp, Path(path).suffix.lstrip(".").upper() or "PNG"):
                raise OSError(f"{path}: could not write the image")
        return w, h

    def export_svg(self, path: str, whole: bool = True, state=None) -> None:
        """Vector export at full detail (every node as a card, text as text)."""
        r = QRectF(0, 0, self.lay.width, self.lay.height) if whole else self.visible_scene_rect()
        with atomic_path(path) as tmp:
            self._write_svg(tmp, r, state)

    def _write_svg(self, path: str, r: QRectF, state=None) -> None:
        from PySide6.QtSvg import QSvgGenerator
        gen = QSvgGenerator()
        gen.setFileName(path)
        gen.setSize(QSize(int(r.width()), int(r.height())))
        gen.setViewBox(QRectF(0, 0, r.width(), r.height()))
        gen.setTitle("LiteLens graph")
        gen.setDescription(f"{self.model.path} subgraph {self.lay.subgraph}")
        p = QPainter(gen)
        try:
            p.fillRect(QRectF(0, 0, r.width(), r.height()), self.canvas["bg"])
            self._paint_bands(p, r, 1.0, "near", state)
        finally:
            p.end()

    def _paint_bands(self, p: QPainter, r: QRectF, s: float, lod: str | None, state) -> None:
        """Paint ``r`` in horizontal bands of about EXPORT_BAND_NODES nodes each, reporting
        progress and checking for a cancel between bands (a 100k-op export takes ~25 s)."""
        lay = self.lay
        bands = max(1, min(200, lay.n_nodes // EXPORT_BAND_NODES))
        step = r.height() / bands
        for k in range(bands):
            if state is not None:
                if state.is_interrupt_requested() or self.lay is not lay:
                    raise ExportCancelled()
                state.set_progress(k / bands, "exporting")
            band = QRectF(r.left(), r.top() + k * step, r.width(), step)
            p.save()
            t = QTransform(s, 0, 0, s, -r.left() * s, -r.top() * s)
            p.setTransform(t)
            p.setClipRect(band)  # a node on a band's edge is painted once, across both bands
            self.paint_scene(p, band, s, t, lod=lod)
            p.restore()

    # -- input --
    def mousePressEvent(self, e) -> None:  # noqa: N802
        if e.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._press = e.position()
            self._press_origin = (self.ox, self.oy)
            self._dragged = False
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if self._press is None:
            return
        d = e.position() - self._press
        if abs(d.x()) + abs(d.y()) > 3:
            self._dragged = True
        if self._dragged:
            self.set_view(self.scale, self._press_origin[0] - d.x() / self.scale,
                           self._press_origin[1] - d.y() / self.scale)

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        was_drag = self._dragged
        self._press = None
        self._dragged = False
        self.unsetCursor()
        if not was_drag and e.button() == Qt.MouseButton.LeftButton:
            self.click_at(e.position().x(), e.position().y())

    def click_at(self, px: float, py: float) -> None:
        """What a left click at widget point (px, py) does: select a node, else an edge."""
        if self.lay is None:
            return
        sx, sy = self.to_scene(px, py)
        node = self.lay.node_at(sx, sy)
        if node is None and self.scale < LOD_FAR:
            node = self._nearest_node(sx, sy, 6 / self.scale)
        if node is not None:
            self.select_node(node)
            tensor = self.row_tensor_at(node, sy)
            if tensor is not None:
                self.rowClicked.emit(node, tensor)
            else:
                self.nodeClicked.emit(node)
            return
        edge = self.lay.edge_at(sx, sy, tol=max(4.0, 5 / self.scale))
        if edge is not None:
            self.select_tensor(int(self.lay.edge_tensor[edge]))
            self.edgeClicked.emit(edge)
            return
        self.select_node(None)
        self.backgroundClicked.emit()

    def row_tensor_at(self, node: int, sy: float) -> int | None:
        """The folded constant (weights, bias...) whose row of ``node``'s card is at scene y
        ``sy``, when rows are drawn (zoomed in enough for text)."""
        lay = self.lay
        if self.scale < LOD_TEXT or not lay.rows[node]:
            return None
        k = int((sy - lay.y[node] - gl.HEADER_H - 2) // gl.ROW_H)
        return int(lay.rows[node][k][2]) if 0 <= k < len(lay.rows[node]) else None

    def _nearest_node(self, sx, sy, tol):
        cand = self.lay.visible_nodes(sx - tol, sy - tol, sx + tol, sy + tol)
        if not len(cand):
            return None
        lay = self.lay
        d = (lay.x[cand] + lay.w[cand] / 2 - sx) ** 2 + (lay.y[cand] + lay.h[cand] / 2 - sy) ** 2
        return int(cand[np.argmin(d)])

    def mouseDoubleClickEvent(self, e) -> None:  # noqa: N802
        if self.lay is None:
            return
        node = self.lay.node_at(*self.to_scene(e.position().x(), e.position().y()))
        if node is not None:
            self.nodeActivated.emit(node)

    def wheelEvent(self, e) -> None:  # noqa: N802
        pd, ad = e.pixelDelta(), e.angleDelta()
        if e.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = (ad.y() / 120.0) if ad.y() else pd.y() / 50.0
            self.zoom_by(1.2 ** steps, e.position())
        else:
            dx, dy = (pd.x(), pd.y()) if not pd.isNull() else (ad.x() / 2, ad.y() / 2)
            if e.modifiers() & Qt.KeyboardModifier.ShiftModifier and dx == 0:
                dx, dy = dy, 0
            self.pan_by(-dx, -dy)
        e.accept()

    # keys the view handles itself (the Help menu lists them)
    KEY_HELP = (
        ("Arrows (node selected)", "Graph: move along edges (up/down) and across a layer"),
        ("Enter", "Graph: open the selected control-flow op's subgraph"),
        ("Backspace", "Graph: back to the previous subgraph"),
        ("Esc", "Graph: clear the selection (arrows pan again)"),
        ("+ / −, Ctrl+wheel", "Graph: zoom"),
        ("Arrows, PgUp / PgDn, wheel", "Graph: pan"),
    )

    def _navigate(self, e) -> bool:
        """Keyboard moves between nodes while one is selected; True when the key was used."""
        k, node = e.key(), self.sel_node
        if k == Qt.Key.Key_Backspace:
            self.backRequested.emit()
            return True
        if node is None or self.lay is None or e.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        direction = {Qt.Key.Key_Up: "up", Qt.Key.Key_Down: "down", Qt.Key.Key_Left: "left",
                     Qt.Key.Key_Right: "right"}.get(k)
        if direction is not None:
            nxt = navigate.neighbour(self.lay, node, direction)
            if nxt is not None:
                x, y, w, h = self.lay.node_rect(nxt)
                self.select_node(nxt, center=not self.visible_scene_rect().contains(
                    QRectF(x, y, w, h)))
                self.nodeClicked.emit(nxt)
            return True
        if k in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.nodeActivated.emit(node)
            return True
        if k == Qt.Key.Key_Escape:
            self.select_node(None)
            return True
        return False

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:  # the app's theme changed
            self.canvas = CANVAS["dark" if is_dark() else "light"]
            self.update()

    def keyPressEvent(self, e) -> None:  # noqa: N802
        if self._navigate(e):
            return
        k = e.key()
        step = 60
        if k in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1.25)
        elif k == Qt.Key.Key_Minus:
            self.zoom_by(0.8)
        elif k == Qt.Key.Key_Left:
            self.pan_by(-step, 0)
        elif k == Qt.Key.Key_Right:
            self.pan_by(step, 0)
        elif k == Qt.Key.Key_Up:
            self.pan_by(0, -step)
        elif k == Qt.Key.Key_Down:
            self.pan_by(0, step)
        elif k == Qt.Key.Key_PageDown:
            self.pan_by(0, self.height() * 0.9)
        elif k == Qt.Key.Key_PageUp:
            self.pan_by(0, -self.height() * 0.9)
        else:
            super().keyPressEvent(e)

    def event(self, e) -> bool:
        t = e.type()
        if t == QEvent.Type.ToolTip:
            text = self.tooltip_at(e.position().x(), e.position().y()) \
                if hasattr(e, "position") else self.tooltip_at(e.pos().x(), e.pos().y())
            if text:
                QToolTip.showText(e.globalPos(), text, self)
            else:
                QToolTip.hideText()
                e.ignore()
            return True
        if (t == QEvent.Type.NativeGesture
                and e.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):  # trackpad pinch
            self.zoom_by(1.0 + e.value(), e.position())
            return True
        if t == QEvent.Type.Gesture:
            pinch = e.gesture(Qt.GestureType.PinchGesture)
            if pinch is not None:
                c = self.mapFromGlobal(pinch.centerPoint().toPoint())
                self.zoom_by(pinch.scaleFactor(), QPointF(c))
                e.accept()
                return True
        return super().event(e)

    def tooltip_at(self, px: float, py: float) -> str | None:
        lay = self.lay
        if lay is None:
            return None
        sx, sy = self.to_scene(px, py)
        sg = self.model.subgraphs[lay.subgraph]
        node = lay.node_at(sx, sy)
        if node is not None:
            if node < lay.n_ops:
                op = sg.operators[node]
                ins = ", ".join(fmt.shape(sg.tensors[t].shape) for t in op.inputs if t >= 0)
                outs = ", ".join(fmt.shape(sg.tensors[t].shape) for t in op.outputs
                                 if t >= 0)
                extra = "".join(f"<br>{b}" for b in self._badges(node))
                links = op_facts.subgraph_links(op)
                if links:
                    extra += "<br><i>double-click: open " + ", ".join(
                        f"{role} (subgraph {i})" for role, i in links) + "</i>"
                return (f"<b>{html.escape(fmt.printable(op.label, 120))}</b> #{op.index} "
                        f"(v{op.version})<br>in: {ins}"
                        f"<br>out: {outs}{extra}")
            t = sg.tensors[int(lay.ref[node])]
            return (f"<b>{html.escape(fmt.printable(t.name, 200))}</b><br>"
                    f"{fmt.shape(t.shape)} {t.dtype}")
        edge = lay.edge_at(sx, sy, tol=max(4.0, 5 / self.scale))
        if edge is not None:
            t = sg.tensors[int(lay.edge_tensor[edge])]
            q = fmt.quantization(t.quantization)
            return (f"<b>{html.escape(fmt.printable(t.name, 200))}</b> (tensor {t.index})<br>"
                    f"{fmt.shape(t.shape)} {t.dtype}"
                    f" · {fmt.size(t.bytes)}" + (f"<br>{q}" if q else ""))
        return None

    def resizeEvent(self, e) -> None:  # noqa: N802
        super().resizeEvent(e)
        if self._auto_view and self.lay is not None:
            self.reset_view()
        self.viewChanged.emit()
