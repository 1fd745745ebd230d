"""Paints a graph scene onto any QPainter: the view's frames, the minimap and exports all come
through ``paint_scene``.

A ``Scene`` is an immutable snapshot of everything a picture depends on: the layout (a
``core.graph.layout.GraphLayout``), the subgraph's tensors (edge labels), the canvas palette, the
overlays resolved against the layout (``resolve_overlays``), the fonts, the selection and the
highlighted nodes. The view builds one on the UI thread (``GraphView.scene()``); an export keeps
the one taken when it started, so it paints on a task thread without reading the live widget.

Levels of detail, by zoom and by how many nodes are in view:

* far (zoom < 0.2 or > 2500 nodes in view): nodes as flat rectangles, edges as straight
  polylines, both built from numpy arrays in one ``QPainterPath`` per colour (pyqtgraph's
  ``arrayToQPath``) after merging what falls on the same device pixels; no text;
* mid (zoom < 0.45): boxes in the op's colour and curved edges; each box's name in device
  pixels where it fits (cut at a word boundary), nothing in boxes too small for it;
* near: Netron-like cards (coloured header with the op name, folded constants as rows), curved
  edges with arrow heads, tensor shape labels on edges (``Scene.edge_labels``), badges.
  Each text of a card is cut to its own box (``_card_texts``): a row's shape first, its name in
  what is left; a badge above the card, within its width (the full text is in the tooltip).

Overlays: the scene paints the overlays it is given (the view gives only its active one): the
latest that colours a node wins, badges are stacked; each outline group is drawn as a rounded
outline in its colour around each of its nodes, labelled at its top node.

Extending it (e.g. links between variable reads/writes and their VAR_HANDLE): resolve the new
marks against the layout in ``resolve_overlays`` (a field of ``OverlayPaint``), give them a pen in
``gui/graph/style.py`` and paint them in a pass of ``paint_scene``; the view, the minimap and the
exports then all show them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

import numpy as np
from pyqtgraph import arrayToQPath
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QTransform

from core import format as fmt
from core.analysis.overlay import Overlay
from core.graph import hierarchy
from core.graph import layout as gl
from core.graph.layout import GraphLayout
from core.model.types import Tensor
from gui.graph import style
from gui.graph.style import Fonts

Outline = tuple[QColor, "str | None"]  # group colour, group label (at the group's top node only)


@dataclass(frozen=True)
class OverlayPaint:
    """Overlays resolved against one layout: what the painters ask per node."""
    color_ids: np.ndarray                  # int32 (N,): index into ``palette`` per node
    palette: tuple[QColor, ...]
    outlines: Mapping[int, tuple[Outline, ...]] = field(default_factory=dict)
    badges: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    any_overlay: bool = False              # an overlay is set (input pills take its colours)


def resolve_overlays(lay: GraphLayout, overlays: Iterable[Overlay]) -> OverlayPaint:
    """Node colours (category colour, else the latest overlay's), outline groups and badges of
    ``overlays`` (in the order set) on ``lay``'s subgraph."""
    palette: list[QColor] = []
    index: dict[int, int] = {}

    def cid(c: QColor) -> int:
        k = c.rgba()
        if k not in index:
            index[k] = len(palette)
            palette.append(c)
        return index[k]
    cats = style.category_colors()
    ids = np.array([cid(style.qcolor(cats.get(c, style.FALLBACK))) for c in lay.categories],
                   np.int32) if lay.n_nodes else np.zeros(0, np.int32)
    sg = lay.subgraph
    outlines: dict[int, list[Outline]] = {}
    badges: dict[int, list[str]] = {}
    overlays = list(overlays)
    for ov in overlays:
        mine = {op: c for (s, op), c in ov.colors.items() if s == sg and 0 <= op < lay.n_ops}
        for op, c in mine.items():
            ids[op] = cid(style.qcolor(c))
        if lay.owner is not None:   # a closed box: its ops' worst colour, and how many
            for box, (c, k, total) in hierarchy.box_colors(
                    lay.owner, lay.n_ops, mine, [col for _l, col in ov.legend]).items():
                if lay.kind[box] != gl.NODE_SCOPE:   # a folded producer: its consumer's own
                    continue
                ids[box] = cid(style.qcolor(c))
                badges.setdefault(box, []).append(f"{k}/{total} ops")
        for (s, op), b in ov.badges.items():
            if s == sg and 0 <= op < lay.n_ops and b:
                badges.setdefault(op, []).append(b)
        for g in ov.groups:
            members = [op for s, op in g.ops if s == sg and 0 <= op < lay.n_ops]
            if lay.owner is not None:   # ops in a closed box: the box is outlined once
                members = list(dict.fromkeys(lay.shown_node(op) for op in members))
            if not members:
                continue
            mine_g = members
            top = min(mine_g, key=lambda n: (lay.y[n], lay.x[n]))
            for op in mine_g:
                outlines.setdefault(op, []).append((style.qcolor(g.color),
                                                    g.label if op == top else None))
    ids.setflags(write=False)
    return OverlayPaint(ids, tuple(palette),
                        MappingProxyType({k: tuple(v) for k, v in outlines.items()}),
                        MappingProxyType({k: tuple(v) for k, v in badges.items()}),
                        bool(overlays))


@dataclass(frozen=True)
class Scene:
    """Everything one picture of a subgraph depends on (see the module docstring)."""
    lay: GraphLayout
    tensors: Sequence[Tensor]              # the subgraph's tensors (edge labels)
    canvas: Mapping[str, QColor]
    overlay: OverlayPaint
    fonts: Fonts
    sel_node: int | None = None
    sel_tensor: int | None = None
    highlight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edge_labels: bool = False
    box_hits: Mapping[int, int] = field(default_factory=dict)   # search hits per closed box
    # View → Dtypes (core.graph.dtypes): each edge's dtype class, the int/float crossings
    edge_class: np.ndarray | None = None
    boundaries: Mapping[int, str] = field(default_factory=dict)

    def node_color(self, node: int) -> QColor:
        """Fill colour of a node (overlay colour if any, else its category colour)."""
        return self.overlay.palette[int(self.overlay.color_ids[node])]


def choose_lod(scale: float, nodes_in_view: int) -> str:
    return ("far" if scale < style.LOD_FAR or nodes_in_view > style.FAR_NODES
            else "mid" if scale < style.LOD_TEXT else "near")


def paint_scene(p: QPainter, sc: Scene, r: QRectF, scale: float, transform: QTransform,
                lod: str | None = None, edges: bool = True, outlines: bool = True) -> str:
    """Paint the part ``r`` (scene units) of the scene; returns the level of detail used.
    ``edges=False`` paints nodes only (the minimap of a big graph); ``outlines=False`` leaves
    out the overlays' outline groups (their device-pixel frames would crowd the minimap)."""
    lay = sc.lay
    x0, y0, x1, y1 = r.left(), r.top(), r.right(), r.bottom()
    nodes = lay.visible_nodes(x0, y0, x1, y1)
    edge_ids = lay.visible_edges(x0, y0, x1, y1) if edges else np.zeros(0, np.int64)
    if lod is None:
        lod = choose_lod(scale, len(nodes))
    p.setTransform(transform)
    if len(lay.frame_rect):
        _paint_frames(p, sc, (x0, y0, x1, y1), scale, lod)
    if lod == "far":
        _paint_far(p, sc, nodes, edge_ids, scale, transform)
    else:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        state = _state_mask(lay, edge_ids)
        if sc.edge_class is not None and len(sc.edge_class) == lay.n_edges:
            _paint_dtype_edges(p, sc, edge_ids[~state], scale, lod == "near", (x0, y0, x1, y1))
        else:
            _paint_edges(p, sc, edge_ids[~state], scale, near=lod == "near",
                         clip=(x0, y0, x1, y1))
        if state.any():
            _paint_state_edges(p, sc, edge_ids[state], scale, lod == "near", (x0, y0, x1, y1))
        _paint_nodes(p, sc, nodes, scale, near=lod == "near")
    if outlines and sc.overlay.outlines:
        _paint_outlines(p, sc, nodes, transform)
    return lod


def _unique_rows(a: np.ndarray) -> np.ndarray:
    """Indices of the distinct rows of 4 device-pixel coordinates (packed to one int64 key)."""
    q = (np.clip(a, -16384, 16383).astype(np.int64) + 16384)
    key = (q[:, 0] << 45) | (q[:, 1] << 30) | (q[:, 2] << 15) | q[:, 3]
    return np.unique(key, return_index=True)[1]


def _paint_outlines(p: QPainter, sc: Scene, nodes: np.ndarray, transform: QTransform) -> None:
    """Outline groups in device pixels, so the outline and its label read the same at every
    zoom: a rounded frame around each member node, the group's label above its top node."""
    lay = sc.lay
    groups_of = sc.overlay.outlines
    m11, m22, dx, dy = transform.m11(), transform.m22(), transform.dx(), transform.dy()
    p.save()
    p.setTransform(QTransform())
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setBrush(Qt.BrushStyle.NoBrush)
    labels = []
    outlined = np.fromiter(groups_of, np.int64, len(groups_of))
    for n in nodes[np.isin(nodes, outlined)].tolist():  # a vectorised pick: 100k in view
        r = QRectF(lay.x[n] * m11 + dx, lay.y[n] * m22 + dy,
                   max(lay.w[n] * m11, 2.0), max(lay.h[n] * m22, 2.0))
        small = r.height() < 10  # far zoom: frames would tangle; a halo merges into a band
        for k, (color, label) in enumerate(groups_of[n]):  # nested frames for several groups
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
        p.setFont(sc.fonts.badge)
        fm = QFontMetricsF(sc.fonts.badge)
        for x, y, color, label in labels:
            box = QRectF(x, y - fm.height() - 2, fm.horizontalAdvance(label) + 8,
                         fm.height() + 2)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRoundedRect(box, 3, 3)
            p.setPen(style.text_on(color))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
    p.restore()


def _paint_far(p: QPainter, sc: Scene, nodes: np.ndarray, edges: np.ndarray, scale: float,
               transform: QTransform) -> None:
    """Flat shapes from numpy, in device pixels, with duplicates on the same pixels merged."""
    lay = sc.lay
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
        sel = _selected_edge_mask(sc, edges)
        p.setPen(QPen(sc.canvas["edge"], 0))
        p.drawPath(arrayToQPath(xs, ys, connect="pairs"))
        if sel is not None and sel.any():
            # the selected edges as device-pixel curves over the flat lines
            _paint_edges(p, sc, edges[sel], scale, near=False, to_device=transform,
                         pen=style.selected_edge_pen())
    if len(nodes):
        nx0 = np.round(lay.x[nodes] * m11 + dx)
        ny0 = np.round(lay.y[nodes] * m22 + dy)
        nx1 = np.maximum(np.round((lay.x[nodes] + lay.w[nodes]) * m11 + dx), nx0 + 2)
        ny1 = np.maximum(np.round((lay.y[nodes] + lay.h[nodes]) * m22 + dy), ny0 + 2)
        cid = sc.overlay.color_ids[nodes]
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
            p.fillPath(path, sc.overlay.palette[c])
        marks = [n for n in sc.highlight.tolist() if n < lay.n_nodes]
        if sc.sel_node is not None:
            marks.append(sc.sel_node)
        if marks:
            m = np.asarray(marks)
            cx = (lay.x[m] + lay.w[m] / 2) * m11 + dx
            cy = (lay.y[m] + lay.h[m] / 2) * m22 + dy
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for i, (a, b) in enumerate(zip(cx.tolist(), cy.tolist(), strict=False)):
                sel = marks[i] == sc.sel_node
                p.setPen(QPen(style.MARK_RING, 1))
                p.setBrush(style.SELECT if sel else style.HIGHLIGHT)
                p.drawEllipse(QPointF(a, b), 6 if sel else 5, 6 if sel else 5)
    p.setTransform(transform)


def _selected_edge_mask(sc: Scene, edges: np.ndarray) -> np.ndarray | None:
    if sc.sel_tensor is None and sc.sel_node is None:
        return None
    lay = sc.lay
    if sc.sel_tensor is not None:
        return lay.edge_tensor[edges] == sc.sel_tensor
    return (lay.edge_src[edges] == sc.sel_node) | (lay.edge_dst[edges] == sc.sel_node)


def _paint_edges(p: QPainter, sc: Scene, edges: np.ndarray, scale: float, near: bool,
                 to_device: QTransform | None = None, pen: QPen | None = None,
                 clip: tuple[float, float, float, float] | None = None) -> None:
    """Edges as curves. ``to_device``: the routes are mapped by it first (the painter then
    draws in device pixels, as the far level does); ``clip``: only the segments meeting it."""
    lay = sc.lay
    if not len(edges):
        return
    paths: list[QPainterPath] = []
    off, pts = lay.route_off, lay.route_pts
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
        if to_device is not None:
            r = np.stack([r[:, 0] * to_device.m11() + to_device.dx(),
                          r[:, 1] * to_device.m22() + to_device.dy()], 1)
        c1, c2 = gl.curve_controls(r, lay.horizontal)
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
        pen = style.edge_pen(sc.canvas)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for path in paths:
        p.drawPath(path)
    if near and arrows:
        head = QPainterPath()
        for ax, ay in arrows:   # pointing down, or right in a left-to-right layout
            head.moveTo(ax, ay)
            if lay.horizontal:
                head.lineTo(ax - 7, ay - 3.5)
                head.lineTo(ax - 7, ay + 3.5)
            else:
                head.lineTo(ax - 3.5, ay - 7)
                head.lineTo(ax + 3.5, ay - 7)
            head.closeSubpath()
        p.fillPath(head, pen.color())
    if pen.color() == sc.canvas["edge"]:
        sel = _selected_edge_mask(sc, edges)
        if sel is not None and sel.any():
            _paint_edges(p, sc, edges[sel], scale, near, to_device, style.selected_edge_pen(),
                         clip)
        if near and sc.edge_labels:
            _paint_edge_labels(p, sc, edges)


def _paint_dtype_edges(p: QPainter, sc: Scene, edges: np.ndarray, scale: float, near: bool,
                       clip: tuple[float, float, float, float]) -> None:
    """Edges styled by their tensor's dtype class (``style.dtype_pen``), then the selected ones
    and the shape labels over them, as plain edges have them."""
    assert sc.edge_class is not None
    cls = sc.edge_class[edges]
    for c in np.unique(cls).tolist():
        _paint_edges(p, sc, edges[cls == c], scale, near,
                     pen=style.dtype_pen(c, sc.canvas), clip=clip)
    sel = _selected_edge_mask(sc, edges)
    if sel is not None and sel.any():
        _paint_edges(p, sc, edges[sel], scale, near, pen=style.selected_edge_pen(), clip=clip)
    if near and sc.edge_labels:
        _paint_edge_labels(p, sc, edges)


def _state_mask(lay: GraphLayout, edges: np.ndarray) -> np.ndarray:
    if len(lay.edge_state) != lay.n_edges:   # a layout made without state flags
        return np.zeros(len(edges), bool)
    return lay.edge_state[edges]


def _paint_state_edges(p: QPainter, sc: Scene, edges: np.ndarray, scale: float, near: bool,
                       clip: tuple[float, float, float, float]) -> None:
    """A variable's handle to its reads and writes: dashed state edges, selected ones on top."""
    _paint_edges(p, sc, edges, scale, near, pen=style.state_edge_pen(), clip=clip)
    sel = _selected_edge_mask(sc, edges)
    if sel is not None and sel.any():
        _paint_edges(p, sc, edges[sel], scale, near, pen=style.selected_edge_pen(), clip=clip)


def _paint_edge_labels(p: QPainter, sc: Scene, edges: np.ndarray) -> None:
    lay = sc.lay
    ts = sc.tensors
    p.setFont(sc.fonts.row)
    fm = QFontMetricsF(sc.fonts.row)
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
        p.fillRect(QRectF(mx, my - 7, w, 13), sc.canvas["label_bg"])
        p.setPen(sc.canvas["label"])
        p.drawText(QPointF(mx + 3, my + 3.5), text)


_ELIDED: dict[tuple[str, float, str], str] = {}   # (text, width px, font key) -> what fits
_LOCAL = threading.local()   # font metrics per thread (exports paint on a task thread)


def _font_cache(font: QFont) -> tuple[QFontMetricsF, dict[str, float], str]:
    """(metrics, advance per text, key) of ``font`` for this thread; the cache holds the font,
    so its id stays its own."""
    cache = getattr(_LOCAL, "fonts", None)
    if cache is None:
        cache = _LOCAL.fonts = {}
    entry = cache.get(id(font))
    if entry is None:
        entry = cache[id(font)] = (font, QFontMetricsF(font), {}, font.key())
    return entry[1], entry[2], entry[3]


def _advance(text: str, font: QFont) -> float:
    fm, widths, _key = _font_cache(font)
    w = widths.get(text)
    if w is None:
        if len(widths) > 50_000:
            widths.clear()
        w = widths[text] = fm.horizontalAdvance(text)
    return w


def fitted(text: str, width: float, font: QFont) -> str:
    """``text`` cut at a word boundary with … to fit ``width`` (pixels at zoom 1) in ``font``
    (cached: a frame asks for the same few labels at the same widths)."""
    width = int(width * 4) / 4    # quarter pixels: a cache key that keeps what just fits
    key = (text, width, _font_cache(font)[2])
    out = _ELIDED.get(key)
    if out is None:
        if len(_ELIDED) > 50_000:
            _ELIDED.clear()
        out = _ELIDED[key] = fmt.elide_words(text, width, _font_cache(font)[0].horizontalAdvance)
    return out


BADGE_H = 14.0   # a badge sits on top of its card, right-aligned, never over the card's text
ROW_GAP = 6.0    # between a row's name and its shape
ROW_BASELINE = 11.0   # from a row's top


def _card_texts(sc: Scene, n: int, x: float, y: float, w: float
                ) -> list[tuple[QRectF, str, str]]:
    """The texts of op ``n``'s card at the near level, each cut to its own box so that none
    overlaps another: (box, text, role) with role "head", "slot", "shape" or "badge"."""
    lay, fonts = sc.lay, sc.fonts
    inner = w - 2 * gl.PAD
    out = [(QRectF(x + gl.PAD, y, inner, gl.HEADER_H), fitted(lay.labels[n], inner, fonts.head),
            "head")]
    ry = y + gl.HEADER_H + 2
    for slot, shape, _t in lay.rows[n]:
        shape_text = fitted(f"⟨{shape}⟩", inner, fonts.row)
        sw = _advance(shape_text, fonts.row)
        name = fitted(slot, inner - sw - ROW_GAP, fonts.row)
        if name:
            out.append((QRectF(x + gl.PAD, ry, _advance(name, fonts.row), gl.ROW_H), name,
                        "slot"))
        out.append((QRectF(x + w - gl.PAD - sw, ry, sw, gl.ROW_H), shape_text, "shape"))
        ry += gl.ROW_H
    badges = sc.overlay.badges.get(n)
    if badges:   # the full text is in the node's tooltip
        text = fitted(" · ".join(badges), w - 12, fonts.badge)
        if text:
            bw = _advance(text, fonts.badge) + 8
            out.append((QRectF(x + w - 4 - bw, y - BADGE_H + 1, bw, BADGE_H), text, "badge"))
    return out


MID_TEXT_MIN_PX = 7   # smaller text is not worth drawing


def _paint_mid_labels(p: QPainter, sc: Scene, nodes: list[int], colors: list[QColor]) -> None:
    """Mid zoom: each node's name in device pixels where it fits: as tall as the box allows up
    to the badge font, cut at a word boundary, at least a few characters, in the colour that
    reads on its fill; nothing in boxes lower than ``MID_TEXT_MIN_PX``."""
    lay, base = sc.lay, sc.fonts.badge
    t = p.transform()
    m11, m22, dx, dy = t.m11(), t.m22(), t.dx(), t.dy()
    full_px = int(_font_cache(base)[0].height())
    sized = getattr(_LOCAL, "mid_fonts", None)   # kept: the font caches hold them by id
    if sized is None:
        sized = _LOCAL.mid_fonts = {}
    base_key = _font_cache(base)[2]
    p.save()
    p.setTransform(QTransform())
    for n, color in zip(nodes, colors, strict=True):
        h = lay.h[n] * m22
        w = lay.w[n] * m11 - 6
        px = min(full_px, int(h) - 1)
        if px < MID_TEXT_MIN_PX or w < 24:
            continue
        font = sized.get((base_key, px))
        if font is None:
            font = sized[(base_key, px)] = QFont(base)
            font.setPixelSize(max(1, round(px * 0.8)))   # a line is about 1.25x the pixel size
        text = fitted(lay.labels[n], w, font)
        if len(text.rstrip("…")) < 3:
            continue
        p.setFont(font)
        p.setPen(style.text_on(color) if n < lay.n_ops or lay.kind[n] == gl.NODE_SCOPE
                 else style.IO_TEXT)
        p.drawText(QRectF(lay.x[n] * m11 + dx + 3, lay.y[n] * m22 + dy, w, h),
                   Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


def _paint_frames(p: QPainter, sc: Scene, clip: tuple[float, float, float, float],
                  scale: float, lod: str) -> None:
    """Open name-scope groups: a tinted frame around their contents with a title bar (name
    and op count), outer ones first; the title only where text is drawn."""
    lay, canvas = sc.lay, sc.canvas
    r = lay.frame_rect
    x0, y0, x1, y1 = clip
    vis = np.flatnonzero((r[:, 0] <= x1) & (r[:, 0] + r[:, 2] >= x0) & (r[:, 1] <= y1)
                         & (r[:, 1] + r[:, 3] >= y0))
    if not len(vis):
        return
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, lod != "far")
    pen = QPen(canvas["frame_border"], 1.0 / max(scale, 1e-3) if lod == "far" else 1.0)
    head_h = hierarchy.FRAME_HEAD
    for i in vis[np.argsort(r[vis, 2] * r[vis, 3])[::-1]].tolist():   # outer ones first
        fx, fy, fw, fh = r[i].tolist()
        rect = QRectF(fx, fy, fw, fh)
        p.setPen(pen)
        p.setBrush(canvas["frame"])
        p.drawRoundedRect(rect, 6, 6)
        if lod == "far":
            continue
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(canvas["frame_head"])
        p.drawRoundedRect(QRectF(fx + 1, fy + 1, fw - 2, head_h - 2), 5, 5)
        if lod == "near":
            p.setFont(sc.fonts.row)
            p.setPen(canvas["frame_text"])
            fm = QFontMetricsF(sc.fonts.row)
            text = fm.elidedText("▾ " + lay.frame_labels[i], Qt.TextElideMode.ElideMiddle,
                                 fw - 12)
            p.drawText(QRectF(fx + 6, fy, fw - 12, head_h),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
    p.restore()


def _card_head(p: QPainter, rect: QRectF, color: QColor) -> None:
    """The header band of a card (an op or a closed group): ``color`` across its top, inside the
    card's rounded corners."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    card = QPainterPath()
    card.addRoundedRect(rect, 4, 4)
    band = QPainterPath()
    band.addRect(QRectF(rect.x(), rect.y(), rect.width(), gl.HEADER_H))
    p.drawPath(card.intersected(band))


def _paint_box(p: QPainter, sc: Scene, n: int, rect: QRectF, color: QColor, near: bool) -> None:
    """A closed name-scope group: a card on a stack (it holds several), its name in the header,
    how many ops it holds below."""
    lay, canvas = sc.lay, sc.canvas
    border = QPen(style.CARD_BORDER, 1.0)
    p.setPen(border)
    p.setBrush(canvas["card"])
    for k in (2, 1):   # the stack behind
        p.drawRoundedRect(rect.translated(3 * k, 3 * k), 4, 4)
    _card_head(p, rect, color)
    if not near:
        return
    inner = rect.width() - 2 * gl.PAD
    p.setFont(sc.fonts.head)
    p.setPen(style.text_on(color))
    p.drawText(QRectF(rect.x() + gl.PAD, rect.y(), inner, gl.HEADER_H),
               Qt.AlignmentFlag.AlignCenter, fitted("▸ " + lay.labels[n], inner, sc.fonts.head))
    # the row: how many ops, then (right-aligned, inside the card: an outline group's label
    # sits on its top edge) the overlays' badges and the search hits it holds
    row_y = rect.y() + gl.HEADER_H + 2
    count = f"{hierarchy.node_size_ops(lay, n):,} ops"
    p.setFont(sc.fonts.row)
    p.setPen(canvas["row"])
    p.drawText(QPointF(rect.x() + gl.PAD, row_y + ROW_BASELINE), count)
    marks = list(sc.overlay.badges.get(n, ()))
    hits = sc.box_hits.get(n)
    if hits:
        marks.append(f"{hits} hit{'s' if hits != 1 else ''}")
    room = inner - _advance(count, sc.fonts.row) - ROW_GAP - 8
    text = fitted(" · ".join(marks), room, sc.fonts.badge) if marks and room > 12 else ""
    if text:
        bw = _advance(text, sc.fonts.badge) + 8
        badge = QRectF(rect.right() - gl.PAD - bw, row_y, bw, gl.ROW_H - 1)
        p.setFont(sc.fonts.badge)
        p.setPen(QPen(style.DARK_TEXT, 0.8))
        p.setBrush(style.BADGE_BG)
        p.drawRoundedRect(badge, 7, 7)
        p.setPen(style.DARK_TEXT)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


def _paint_nodes(p: QPainter, sc: Scene, nodes: np.ndarray, scale: float, near: bool) -> None:
    lay = sc.lay
    canvas, fonts = sc.canvas, sc.fonts
    xs, ys, ws, hs = (lay.x[nodes].tolist(), lay.y[nodes].tolist(), lay.w[nodes].tolist(),
                      lay.h[nodes].tolist())
    hl = set(sc.highlight.tolist())
    border = QPen(style.CARD_BORDER, 1.0)
    io_fill = style.qcolor(style.IO_COLOR)
    palette, color_ids = sc.overlay.palette, sc.overlay.color_ids   # per node: locals
    labelled: list[int] = []
    label_colors: list[QColor] = []
    for i, n in enumerate(nodes.tolist()):
        rect = QRectF(xs[i], ys[i], ws[i], hs[i])
        color = palette[color_ids[n]]
        is_op = n < lay.n_ops
        is_box = not is_op and lay.kind[n] == gl.NODE_SCOPE
        if n in hl:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(style.HIGHLIGHT)
            p.drawRoundedRect(rect.adjusted(-6, -6, 12, 12) if is_box
                              else rect.adjusted(-6, -6, 6, 6), 8, 8)
        if is_box:
            _paint_box(p, sc, n, rect, color, near)
            if not near:
                labelled.append(n)
                label_colors.append(color)
        elif not is_op:  # input / output: a pill
            fill = color if sc.overlay.any_overlay else io_fill
            p.setPen(border)
            p.setBrush(fill)
            p.drawRoundedRect(rect, hs[i] / 2, hs[i] / 2)
            if near:
                p.setFont(fonts.row)
                p.setPen(style.IO_TEXT)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                           fitted(lay.labels[n], ws[i] - hs[i], fonts.row))
            else:
                labelled.append(n)
                label_colors.append(fill)
        elif not near:   # mid: a box in the op's colour, its name drawn after where it fits
            p.setPen(border)
            p.setBrush(color)
            p.drawRect(rect)
            labelled.append(n)
            label_colors.append(color)
        else:
            p.setPen(border)
            p.setBrush(canvas["card"])
            p.drawRoundedRect(rect, 4, 4)
            _card_head(p, rect, color)
            for box, text, role in _card_texts(sc, n, xs[i], ys[i], ws[i]):
                if role == "head":
                    p.setFont(fonts.head)
                    p.setPen(style.text_on(color))
                    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
                elif role == "badge":
                    p.setFont(fonts.badge)
                    p.setPen(QPen(style.DARK_TEXT, 0.8))
                    p.setBrush(style.BADGE_BG)
                    p.drawRoundedRect(box, 7, 7)
                    p.setPen(style.DARK_TEXT)
                    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
                else:   # a row: its box is as wide as its text, which sits on the baseline
                    p.setFont(fonts.row)
                    p.setPen(canvas["row"] if role == "slot" else style.ROW_SHAPE)
                    p.drawText(QPointF(box.left(), box.top() + ROW_BASELINE), text)
        mark = sc.boundaries.get(n) if is_op else None
        if mark is not None:   # an int/float crossing: a stripe down the card's left side
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(style.boundary_color(mark))
            p.drawRoundedRect(QRectF(xs[i] - 5, ys[i], 5, hs[i]), 2, 2)
        if is_op and lay.categories[n] == "custom":
            p.setPen(style.custom_frame_pen(1.5 if near else 1.5 / max(scale, 0.1)))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), 6, 6)
        if n == sc.sel_node:
            p.setPen(QPen(style.SELECT, 3 if near else 3 / max(scale, 0.1)))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 5, 5)
    if labelled:
        _paint_mid_labels(p, sc, labelled, label_colors)
