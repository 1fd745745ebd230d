"""A paint device that records every text a painter draws on it, with the rectangle it covers in
device pixels (its advance by the font's ascent + descent), for tests of what a painter shows."""
from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QPaintDevice, QPaintEngine

_SIZE = 1 << 20   # device pixels each way: room for a whole graph at zoom 1


class _Engine(QPaintEngine):
    def __init__(self) -> None:
        super().__init__(QPaintEngine.PaintEngineFeature.AllFeatures)
        self.texts: list[tuple[QRectF, str]] = []

    def begin(self, device) -> bool:
        return True

    def end(self) -> bool:
        return True

    def updateState(self, state) -> None:  # noqa: N802
        pass

    def drawPixmap(self, r, pm, sr) -> None:  # noqa: N802
        pass

    def drawPath(self, path) -> None:  # noqa: N802
        pass

    def drawTextItem(self, p, ti) -> None:  # noqa: N802
        box = QRectF(p.x(), p.y() - ti.ascent(), ti.width(), ti.ascent() + ti.descent())
        self.texts.append((self.painter().transform().mapRect(box), ti.text()))

    def type(self) -> QPaintEngine.Type:
        return QPaintEngine.Type.User


class TextRecorder(QPaintDevice):
    """Paint on it with a QPainter; ``texts`` then holds (device rectangle, text) per text."""

    def __init__(self) -> None:
        super().__init__()
        self._engine = _Engine()

    @property
    def texts(self) -> list[tuple[QRectF, str]]:
        return self._engine.texts

    def paintEngine(self) -> QPaintEngine:  # noqa: N802
        return self._engine

    def metric(self, m) -> int:
        M = QPaintDevice.PaintDeviceMetric
        return {M.PdmWidth: _SIZE, M.PdmHeight: _SIZE, M.PdmWidthMM: _SIZE // 4,
                M.PdmHeightMM: _SIZE // 4, M.PdmDpiX: 96, M.PdmDpiY: 96, M.PdmPhysicalDpiX: 96,
                M.PdmPhysicalDpiY: 96, M.PdmDepth: 32, M.PdmNumColors: 1 << 24,
                M.PdmDevicePixelRatio: 1, M.PdmDevicePixelRatioScaled: 1}.get(m, 0)
