"""Graph export to PNG (any QImage format by suffix) or SVG, from a snapshot.

``GraphView.export_snapshot()`` takes an ``ExportSnapshot`` on the UI thread (the ``Scene``, the
scene rectangle and the zoom to export); ``write_export`` paints it onto a QImage or an SVG
generator, so it is safe on a task thread and unaffected by what the view does meanwhile.
Writes go through ``core.fileio.atomic_path`` (never over the model, nothing on failure).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QTransform

from core.fileio import atomic_path
from core.graph.export_plan import (
    LEGEND_PAD,
    LEGEND_ROW,
    LEGEND_SWATCH,
    LegendSection,
    legend_height,
)
from gui.graph.renderer import Scene, paint_scene

EXPORT_BAND_NODES = 500    # nodes per progress step of an export


class ExportCancelled(Exception):
    """An export stopped by its Cancel button: nothing is written."""


@dataclass(frozen=True)
class ExportSnapshot:
    scene: Scene
    rect: tuple[float, float, float, float]   # scene x, y, width, height to export
    scale: float                              # image pixels per scene unit (PNG)
    title: str                                # the SVG's description: model and subgraph
    legend: tuple[LegendSection, ...] = ()    # drawn in a strip above the graph
    legend_scale: float = 1.0                 # image pixels per legend pixel (hi-DPI PNG: 2)


def write_export(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    """Write ``path`` (.svg, else an image by suffix); returns the size in pixels (SVG: scene
    units). ``state`` (a gui.tasks TaskState) gets progress and may interrupt."""
    if Path(path).suffix.lower() == ".svg":
        return write_svg(snap, path, state)
    return write_image(snap, path, state)


def write_image(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    r = QRectF(*snap.rect)
    s = snap.scale
    top = int(legend_height(snap.legend) * snap.legend_scale)
    w, h = max(1, int(r.width() * s)), max(1, int(r.height() * s))
    img = QImage(w, h + top, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(snap.scene.canvas["bg"])
    p = QPainter(img)
    try:
        if top:
            p.save()
            p.scale(snap.legend_scale, snap.legend_scale)
            _paint_legend(p, snap)
            p.restore()
            p.translate(0, top)
        _paint_bands(p, snap.scene, r, s, None, state)
    finally:
        p.end()
    with atomic_path(path, overwrite=True) as tmp:   # the save dialog asked
        if not img.save(tmp, Path(path).suffix.lstrip(".").upper() or "PNG"):
            raise OSError(f"{path}: could not write the image")
    return w, h + top


def write_svg(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    """Vector export at full detail (every node as a card, text as text)."""
    from PySide6.QtSvg import QSvgGenerator
    r = QRectF(*snap.rect)
    top = legend_height(snap.legend)
    size = QSize(int(r.width()), int(r.height()) + top)
    with atomic_path(path, overwrite=True) as tmp:   # the save dialog asked
        gen = QSvgGenerator()
        gen.setFileName(tmp)
        gen.setSize(size)
        gen.setViewBox(QRectF(0, 0, r.width(), r.height() + top))
        gen.setTitle("LiteLens graph")
        gen.setDescription(snap.title)
        p = QPainter(gen)
        try:
            p.fillRect(QRectF(0, 0, r.width(), r.height() + top), snap.scene.canvas["bg"])
            if top:
                _paint_legend(p, snap)
                p.translate(0, top)
            _paint_bands(p, snap.scene, r, 1.0, "near", state)
        finally:
            p.end()
    return size.width(), size.height()


def _paint_bands(p: QPainter, sc: Scene, r: QRectF, s: float, lod: str | None, state) -> None:
    """Paint ``r`` in horizontal bands of about EXPORT_BAND_NODES nodes each, reporting
    progress and checking for a cancel between bands (a 100k-op export takes ~25 s)."""
    bands = max(1, min(200, sc.lay.n_nodes // EXPORT_BAND_NODES))
    step = r.height() / bands
    for k in range(bands):
        if state is not None:
            if state.is_interrupt_requested():
                raise ExportCancelled()
            state.set_progress(k / bands, "exporting")
        band = QRectF(r.left(), r.top() + k * step, r.width(), step)
        p.save()
        t = QTransform(s, 0, 0, s, -r.left() * s, -r.top() * s)
        p.setTransform(t)
        p.setClipRect(band)  # a node on a band's edge is painted once, across both bands
        paint_scene(p, sc, band, s, t, lod=lod)
        p.restore()


def _paint_legend(p: QPainter, snap: ExportSnapshot) -> None:
    """The overlays' (and dtypes') legend in a strip above the graph, sections side by side
    (``core.graph.export_plan.legend_height`` sizes the strip), in the canvas's colours."""
    canvas, fonts = snap.scene.canvas, snap.scene.fonts
    head = QFont(fonts.badge)
    row = QFont(fonts.row)
    x = float(LEGEND_PAD)
    for sec in snap.legend:
        y = float(LEGEND_PAD)
        fm_h, fm_r = QFontMetricsF(head), QFontMetricsF(row)
        texts = [sec.summary] + [label for label, _c in sec.entries]
        width = max([fm_h.horizontalAdvance(sec.title)]
                    + [fm_r.horizontalAdvance(t) + LEGEND_SWATCH + 6 for t in texts])
        p.setFont(head)
        p.setPen(canvas["row"])
        p.drawText(QRectF(x, y, width, LEGEND_ROW), Qt.AlignmentFlag.AlignVCenter, sec.title)
        y += LEGEND_ROW
        p.setFont(row)
        if sec.summary:
            p.setPen(canvas["label"])
            p.drawText(QRectF(x, y, width, LEGEND_ROW), Qt.AlignmentFlag.AlignVCenter,
                       sec.summary)
            y += LEGEND_ROW
        for label, color in sec.entries:
            p.setPen(QPen(canvas["edge"], 1))
            p.setBrush(QColor(color))
            p.drawRoundedRect(QRectF(x, y + (LEGEND_ROW - LEGEND_SWATCH) / 2, LEGEND_SWATCH,
                                     LEGEND_SWATCH), 3, 3)
            p.setPen(canvas["row"])
            p.drawText(QRectF(x + LEGEND_SWATCH + 6, y, width, LEGEND_ROW),
                       Qt.AlignmentFlag.AlignVCenter, label)
            y += LEGEND_ROW
        x += width + 2 * LEGEND_PAD
