"""Graph export to PNG (any QImage format by suffix) or SVG, from a snapshot.

``GraphView.export_snapshot()`` takes an ``ExportSnapshot`` on the UI thread (the ``Scene``, the
scene rectangle and the zoom to export); ``write_export`` paints it onto a QImage or an SVG
generator, so it is safe on a task thread and unaffected by what the view does meanwhile.
Writes go through ``core.fileio.atomic_path`` (never over the model, nothing on failure).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter, QTransform

from core.fileio import atomic_path
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


def write_export(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    """Write ``path`` (.svg, else an image by suffix); returns the size in pixels (SVG: scene
    units). ``state`` (a gui.tasks TaskState) gets progress and may interrupt."""
    if Path(path).suffix.lower() == ".svg":
        return write_svg(snap, path, state)
    return write_image(snap, path, state)


def write_image(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    r = QRectF(*snap.rect)
    s = snap.scale
    w, h = max(1, int(r.width() * s)), max(1, int(r.height() * s))
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(snap.scene.canvas["bg"])
    p = QPainter(img)
    try:
        _paint_bands(p, snap.scene, r, s, None, state)
    finally:
        p.end()
    with atomic_path(path, overwrite=True) as tmp:   # the save dialog asked
        if not img.save(tmp, Path(path).suffix.lstrip(".").upper() or "PNG"):
            raise OSError(f"{path}: could not write the image")
    return w, h


def write_svg(snap: ExportSnapshot, path: str, state=None) -> tuple[int, int]:
    """Vector export at full detail (every node as a card, text as text)."""
    from PySide6.QtSvg import QSvgGenerator
    r = QRectF(*snap.rect)
    size = QSize(int(r.width()), int(r.height()))
    with atomic_path(path, overwrite=True) as tmp:   # the save dialog asked
        gen = QSvgGenerator()
        gen.setFileName(tmp)
        gen.setSize(size)
        gen.setViewBox(QRectF(0, 0, r.width(), r.height()))
        gen.setTitle("LiteLens graph")
        gen.setDescription(snap.title)
        p = QPainter(gen)
        try:
            p.fillRect(QRectF(0, 0, r.width(), r.height()), snap.scene.canvas["bg"])
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
