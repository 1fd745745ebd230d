"""Minimap of the graph view: the whole subgraph in miniature with the visible area framed;
click or drag to move the view there. Very tall or wide graphs are squeezed (separate x and y
scales) so the minimap stays usable for 50k-op chains."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QFrame

from gui.graph import renderer
from gui.graph.style import SELECT
from gui.graph.view import GraphView

MAX_EDGES = 3000  # past this, edges squeezed into the minimap only paint it grey
# the minimap takes this share of the canvas, within these bounds (px): a fixed 170x230 box
# covered a third of a small canvas
SHARE_W, SHARE_H = 0.15, 0.25
MIN_SIZE, MAX_SIZE = QSize(80, 100), QSize(170, 230)
MARGIN = 10
CORNERS = ("bottom-right", "bottom-left", "top-right")   # top-left is the overlay legend's


class Minimap(QFrame):
    def __init__(self, view: GraphView, parent=None, size: QSize | None = None):
        super().__init__(parent)
        size = size if size is not None else QSize(170, 230)
        self.view = view
        self.setFixedSize(size)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._image: QImage | None = None
        self._key = None
        self._sx = self._sy = 1.0
        self._ox = self._oy = 0.0
        self.corner = CORNERS[0]
        view.viewChanged.connect(self._view_changed)
        view.overlaysChanged.connect(self.invalidate)

    def fit_to(self, canvas: QSize) -> None:
        """Size the minimap for a canvas of this size."""
        w = int(min(MAX_SIZE.width(), max(MIN_SIZE.width(), canvas.width() * SHARE_W)))
        h = int(min(MAX_SIZE.height(), max(MIN_SIZE.height(), canvas.height() * SHARE_H)))
        if (w, h) != (self.width(), self.height()):
            self.setFixedSize(w, h)  # the cached image is keyed by size: redrawn on next paint

    def _view_changed(self) -> None:
        """Shown only while part of the graph is off screen (else it just hides nodes)."""
        v, lay = self.view, self.view.lay
        whole = lay is not None and (lay.width * v.scale <= v.width() + 1
                                     and lay.height * v.scale <= v.height() + 1)
        self.setVisible(lay is not None and not whole)
        self.place()
        self.update()

    def _corner_rect(self, corner: str) -> QRectF:
        v = self.view
        x = MARGIN if corner.endswith("left") else v.width() - self.width() - MARGIN
        y = MARGIN if corner.startswith("top") else v.height() - self.height() - MARGIN
        return QRectF(x, y, self.width(), self.height())

    def nodes_under(self, rect: QRectF) -> int:
        """How many of the graph's nodes a minimap at ``rect`` (view pixels) would cover."""
        v, lay = self.view, self.view.lay
        if lay is None:
            return 0
        x0, y0 = v.to_scene(rect.left(), rect.top())
        x1, y1 = v.to_scene(rect.right(), rect.bottom())
        return int(np.count_nonzero((lay.x < x1) & (lay.x + lay.w > x0)
                                    & (lay.y < y1) & (lay.y + lay.h > y0)))

    def place(self) -> None:
        """In the corner of the view where it covers the fewest nodes (it covered the nodes
        at the bottom right of small canvases, the compare view's); the current corner wins
        ties, so it does not jump about while the view pans over empty space."""
        if self.view.lay is None or self.isHidden():
            rect = self._corner_rect(self.corner)
        else:
            order = (self.corner, *(c for c in CORNERS if c != self.corner))
            self.corner = min(order, key=lambda c: self.nodes_under(self._corner_rect(c)))
            rect = self._corner_rect(self.corner)
        self.move(int(rect.x()), int(rect.y()))

    def invalidate(self) -> None:
        self._key = None
        self.update()

    def _ensure_image(self) -> None:
        lay = self.view.lay
        key = (id(lay), self.width(), self.height())
        if lay is None or key == self._key:
            return
        w, h = self.width() - 8, self.height() - 8
        sx, sy = w / lay.width, h / lay.height
        s = min(sx, sy)
        # uniform when the aspect is sane; past 4:1 each axis fills the minimap on its own
        if max(sx, sy) / s <= 4:
            sx = sy = s
        self._sx, self._sy = sx, sy
        self._ox = 4 + (w - lay.width * sx) / 2
        self._oy = 4 + (h - lay.height * sy) / 2
        img = QImage(self.width(), self.height(), QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(QColor(255, 255, 255, 0))
        p = QPainter(img)
        renderer.paint_scene(p, self.view.scene(), QRectF(0, 0, lay.width, lay.height),
                             min(sx, sy), QTransform(sx, 0, 0, sy, self._ox, self._oy),
                             lod="far", edges=lay.n_edges <= MAX_EDGES, outlines=False)
        p.end()
        self._image = img
        self._key = key

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        bg = QColor(self.view.canvas["card"])  # the canvas's theme
        bg.setAlpha(240)
        p.fillRect(self.rect(), bg)
        p.setPen(self.view.canvas["edge"])
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self.view.lay is None:
            p.end()
            return
        self._ensure_image()
        p.drawImage(0, 0, self._image)
        r = self.view.visible_scene_rect()
        frame = QRectF(self._ox + r.left() * self._sx, self._oy + r.top() * self._sy,
                       max(4.0, r.width() * self._sx), max(4.0, r.height() * self._sy))
        shade = QColor(SELECT)   # the visible area framed in the selection colour
        shade.setAlpha(40)
        p.setPen(QPen(SELECT, 1.5))
        p.setBrush(shade)
        p.drawRect(frame.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        p.end()

    def scene_point(self, px: float, py: float) -> tuple[float, float]:
        return (px - self._ox) / self._sx, (py - self._oy) / self._sy

    def _jump(self, pos) -> None:
        if self.view.lay is None:
            return
        self._ensure_image()
        self.view.center_on_point(*self.scene_point(pos.x(), pos.y()))

    def mousePressEvent(self, e) -> None:  # noqa: N802
        self._jump(e.position())

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        if e.buttons() & Qt.MouseButton.LeftButton:
            self._jump(e.position())
