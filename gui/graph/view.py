"""The graph canvas: a widget that shows a ``core.graph.layout.GraphLayout`` and handles input
(pan, zoom, pinch, clicks, keyboard moves between nodes, tooltips). Painting is
``gui/graph/renderer.py`` (shared with the minimap and the exports), the look
``gui/graph/style.py``; every frame paints the view's current ``scene()``.

Overlays are core values (``core.analysis.overlay.Overlay``: fill colours, badges, outline
groups and legend, keyed by (subgraph, op)). The view keeps one overlay per kind, stacked in the
order set, and paints only the top one (the active one: its colours, badges and outlines), so
every colour on the graph belongs to the one legend shown in full; the others wait in the stack
until shown again or removed. The active overlay is resolved against the layout once per change
(``renderer.resolve_overlays``) and the renderer paints it::

    view.set_overlay(heat_overlay(times))   # on top; replaces the overlay of the same kind
    view.show_overlay("live memory")        # an overlay of the stack back on top
    view.clear_overlay("latency")           # that one overlay, its colours with it
    view.clear_kind(KIND_DELEGATE)
    view.overlays()                         # the core Overlays, in stack order (active last)
    view.active_overlay()

The legend widget (``gui/graph/legend.py``) listens to ``overlaysChanged``.

Exports: ``export_snapshot()`` (on the UI thread) freezes the scene, the rectangle and the zoom;
``gui.graph.export.write_export`` paints that snapshot on any thread.

Signals: ``nodeClicked(int)``, ``edgeClicked(int)`` (edge id; its tensor is
``layout.edge_tensor[e]``), ``backgroundClicked()``, ``nodeActivated(int)`` (double click: the panel
opens control-flow bodies), ``viewChanged()`` (pan/zoom, for the minimap).
"""
from __future__ import annotations

import html
import time
from collections import Counter
from types import MappingProxyType

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QTransform
from PySide6.QtWidgets import QToolTip, QWidget

from core import format as fmt
from core.analysis.overlay import Overlay
from core.graph import dtypes as gdtypes
from core.graph import hierarchy, navigate
from core.graph import layout as gl
from core.graph.export_plan import MAX_SIDE, LegendSection, image_plan, legend_sections
from core.graph.layout import NODE_INPUT, NODE_SCOPE, GraphLayout
from core.model import ops as op_facts
from core.model.types import Model
from gui.graph import renderer, style
from gui.graph.dtype_legend import entries as dtype_legend_entries
from gui.graph.export import ExportSnapshot
from gui.graph.renderer import OverlayPaint, Scene

MIN_SCALE, MAX_SCALE = 1e-5, 4.0
START_MAX_SCALE = 1.0      # a 2-op graph opens at natural size, not magnified to fill the view
START_MIN_SCALE = style.LOD_TEXT * 1.15   # a graph opens where op names are drawn



class GraphView(QWidget):
    nodeClicked = Signal(int)
    edgeClicked = Signal(int)
    backgroundClicked = Signal()
    nodeActivated = Signal(int)
    backRequested = Signal()     # Backspace: back to the previous subgraph
    rowClicked = Signal(int, int)  # node, tensor: a weight/bias row of an op card was clicked
    viewChanged = Signal()
    overlaysChanged = Signal()
    scopeToggled = Signal(int)     # group: a closed box double-clicked, an open frame's title clicked

    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.model = model
        self.canvas = style.canvas()
        self.lay: GraphLayout | None = None
        self.scale = 1.0
        self.ox = 0.0  # scene point at the widget's top-left
        self.oy = 0.0
        self.sel_node: int | None = None
        self.sel_tensor: int | None = None
        self.highlight: np.ndarray = np.zeros(0, np.int64)
        self.box_hits: dict[int, int] = {}
        self.edge_labels = False
        self.dtypes = False          # edges styled by dtype, int/float crossings marked
        self._dtype_marks: tuple[np.ndarray | None, dict[int, str]] = (None, {})
        self._overlays: dict[str, Overlay] = {}   # kind -> overlay, in stack order
        self._overlay_paint: OverlayPaint | None = None   # the overlays resolved on ``lay``
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
        self.fonts = style.fonts(self.font())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(800, 600)

    # -- content --
    def set_layout(self, lay: GraphLayout | None, keep_view: bool = False) -> None:
        self.lay = lay
        self.sel_node = None
        self.sel_tensor = None
        self.highlight = np.zeros(0, np.int64)
        self.box_hits = {}
        self._recolor()
        self._mark_dtypes()
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
        """Show ``overlay`` on top, in place of the stacked overlay of its kind."""
        self._overlays.pop(overlay.kind, None)
        self._overlays[overlay.kind] = overlay
        self._overlays_changed()

    def show_overlay(self, name: str) -> None:
        """Bring the stacked overlay called ``name`` back on top (it paints the nodes)."""
        for kind, ov in list(self._overlays.items()):
            if ov.name == name and ov is not self.active_overlay():
                self._overlays[kind] = self._overlays.pop(kind)
                self._overlays_changed()
                return

    def clear_overlay(self, name: str) -> None:
        """Remove the overlay called ``name``, and with it its colours, badges and outlines."""
        for kind, ov in list(self._overlays.items()):
            if ov.name == name:
                del self._overlays[kind]
                self._overlays_changed()
                return

    def clear_kind(self, kind: str) -> None:
        if self._overlays.pop(kind, None) is not None:
            self._overlays_changed()

    def overlays(self) -> list[Overlay]:
        """The stacked overlays, the active one last."""
        return list(self._overlays.values())

    def active_overlay(self) -> Overlay | None:
        """The overlay that paints the nodes (the last one set or shown)."""
        return next(reversed(self._overlays.values()), None)

    def _overlays_changed(self) -> None:
        self._recolor()
        self.update()
        self.overlaysChanged.emit()

    def node_color(self, node: int) -> QColor:
        """Fill colour of a node (overlay colour if any, else its category colour)."""
        return self.scene().node_color(node)

    def _recolor(self) -> None:
        active = self.active_overlay()
        self._overlay_paint = (renderer.resolve_overlays(self.lay, [active] if active else [])
                               if self.lay is not None else None)

    def scene(self) -> Scene:
        """What the view shows now, as an immutable snapshot for the renderer (UI thread)."""
        assert self.lay is not None and self._overlay_paint is not None
        return Scene(self.lay, self.model.subgraphs[self.lay.subgraph].tensors, self.canvas,
                     self._overlay_paint, self.fonts, self.sel_node, self.sel_tensor,
                     self.highlight, self.edge_labels, MappingProxyType(self.box_hits),
                     self._dtype_marks[0], MappingProxyType(self._dtype_marks[1]))

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
        if lay.horizontal:   # left to right: the start of the graph, at the left, centred
            s = min(START_MAX_SCALE, max(START_MIN_SCALE, self.height() / lay.height * 0.97))
            left = lay.x[lay.kind == NODE_INPUT].min() if (lay.kind == NODE_INPUT).any() else 0.0
            self.set_view(s, max(0.0, left - 20), lay.height / 2 - self.height() / s / 2)
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
        if node is not None and self.lay is not None:
            node = self.lay.shown_node(node)   # an op in a closed box: the box
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
        """Mark ``nodes`` (search hits); ops in a closed box mark the box, with a count."""
        nodes = list(nodes)
        lay = self.lay
        self.box_hits = hierarchy.hit_counts(lay.owner if lay is not None else None, nodes,
                                             lay.n_ops if lay is not None else 0)
        if lay is not None and lay.owner is not None:
            nodes = [lay.shown_node(n) for n in nodes]
        highlight = np.unique(np.asarray(nodes, np.int64))
        highlight.setflags(write=False)   # shared with the scenes taken from now on
        self.highlight = highlight
        self.update()

    def set_dtypes(self, on: bool) -> None:
        """View → Dtypes: edges styled by their tensor's dtype, the ops where int and float meet
        (QUANTIZE, DEQUANTIZE, hybrid) marked (``core.graph.dtypes``)."""
        self.dtypes = bool(on)
        self._mark_dtypes()
        self.update()

    def _mark_dtypes(self) -> None:
        lay = self.lay
        if not self.dtypes or lay is None:
            self._dtype_marks = (None, {})
            return
        sg = self.model.subgraphs[lay.subgraph]
        classes = gdtypes.edge_classes(lay, sg)
        classes.setflags(write=False)
        self._dtype_marks = (classes, {op: kind for op, kind in gdtypes.boundaries(sg).items()
                                       if lay.shows(op)})

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
            renderer.paint_scene(p, self.scene(), self.visible_scene_rect(), self.scale,
                                 self.device_transform())
        p.end()
        self.last_paint_ms = (time.perf_counter() - t0) * 1000
        self.paint_count += 1

    def device_transform(self) -> QTransform:
        """Scene units to widget pixels."""
        s = self.scale
        return QTransform(s, 0, 0, s, -self.ox * s, -self.oy * s)

    # -- export --
    def export_snapshot(self, whole: bool = True, scale: float = 1.0,
                        max_side: int = MAX_SIDE) -> ExportSnapshot:
        """What an export of the whole graph (or the visible area, at the view's zoom) paints:
        taken on the UI thread, then written anywhere by ``gui.graph.export.write_export``.
        A whole-graph image is at ``scale`` (the visible area at the view's zoom × ``scale``:
        2 for a hi-DPI PNG), reduced so that no side exceeds ``max_side``; the overlays' legend
        (and the dtypes', when shown) goes in a strip above, at ``scale`` too."""
        lay = self.lay
        assert lay is not None
        r = QRectF(0, 0, lay.width, lay.height) if whole else self.visible_scene_rect()
        s = (image_plan(r.width(), r.height(), scale, max_side).scale if whole
             else image_plan(r.width(), r.height(), self.scale * scale, max_side).scale)
        extra = ()
        if self.dtypes:   # View → Dtypes: its legend goes along
            extra = (LegendSection("Dtypes", "", tuple((label, color) for _sec, label, color
                                                       in dtype_legend_entries())),)
        return ExportSnapshot(self.scene(), (r.x(), r.y(), r.width(), r.height()), s,
                              f"{self.model.path} subgraph {lay.subgraph}",
                              legend_sections(self.overlays(), extra), max(scale, 1.0))

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
        if node is None and self.scale < style.LOD_FAR:
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
        group = hierarchy.frame_at(self.lay, sx, sy, title_only=True)
        if group is not None:   # an open group's title bar: close it
            self.scopeToggled.emit(group)
            return
        self.select_node(None)
        self.backgroundClicked.emit()

    def row_tensor_at(self, node: int, sy: float) -> int | None:
        """The folded constant (weights, bias...) whose row of ``node``'s card is at scene y
        ``sy``, when rows are drawn (zoomed in enough for text)."""
        lay = self.lay
        if self.scale < style.LOD_TEXT or not lay.rows[node]:
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
            self.activate(node)

    def activate(self, node: int) -> None:
        """Double click / Enter: a closed box opens, anything else is ``nodeActivated``."""
        if self.lay is not None and self.lay.kind[node] == NODE_SCOPE:
            self.scopeToggled.emit(int(self.lay.ref[node]))
        else:
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
            self.activate(node)
            return True
        if k == Qt.Key.Key_Escape:
            self.select_node(None)
            return True
        return False

    def changeEvent(self, e) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.PaletteChange:  # the app's theme changed
            self.canvas = style.canvas()
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
        if node is not None and lay.kind[node] == NODE_SCOPE:
            return self._box_tooltip(node)
        if node is None:
            group = hierarchy.frame_at(lay, sx, sy, title_only=True)
            if group is not None and isinstance(lay.hierarchy, hierarchy.HierarchyState):
                g = lay.hierarchy.groups.groups[group]
                return (f"<b>{html.escape(fmt.printable(g.name, 200))}</b><br>"
                        f"{g.ops:,} ops<br><i>click: close</i>")
        if node is not None:
            if node < lay.n_ops:
                op = sg.operators[node]
                ins = ", ".join(fmt.shape(sg.tensors[t].shape) for t in op.inputs if t >= 0)
                outs = ", ".join(fmt.shape(sg.tensors[t].shape) for t in op.outputs
                                 if t >= 0)
                extra = "".join(f"<br>{html.escape(b)}"
                                for b in self._overlay_paint.badges.get(node, ()))
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

    def _box_tooltip(self, node: int) -> str:
        """A closed box: its name, how many ops, the most common op types."""
        lay = self.lay
        st = lay.hierarchy
        assert isinstance(st, hierarchy.HierarchyState)
        g = int(lay.ref[node])
        ops = st.groups.ops_under(g)
        sg = self.model.subgraphs[lay.subgraph]
        kinds = Counter(sg.operators[i].label for i in ops).most_common(5)
        mix = ", ".join(f"{html.escape(fmt.printable(k, 40))} ×{c}" for k, c in kinds)
        extra = "".join(f"<br>{html.escape(b)}" for b in self._overlay_paint.badges.get(node, ()))
        return (f"<b>{html.escape(fmt.printable(st.groups.groups[g].name, 200))}</b><br>"
                f"{len(ops):,} ops: {mix}{extra}<br><i>double-click: open</i>")

    def resizeEvent(self, e) -> None:  # noqa: N802
        super().resizeEvent(e)
        if self._auto_view and self.lay is not None:
            self.reset_view()
        self.viewChanged.emit()

