"""One per-model input shape setting for dynamic inputs, shared by the Run, Memory and Quantize
panels of a model's tab and saved with the session: what ``--shape NAME=D,D,...`` is on the
command line (same text, same parser: ``core.inference.inputs.parse_shapes``). Empty = not set:
each panel then uses the model's stored shape and says so."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.inference.inputs import parse_shapes


class ShapeSetting(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._shapes: dict[str, list[int]] = {}

    @property
    def shapes(self) -> dict[str, list[int]] | None:
        """The chosen shapes by input name (None when none is set)."""
        return dict(self._shapes) or None

    def text(self) -> str:
        return "; ".join(f"{k}={','.join(map(str, v))}" for k, v in self._shapes.items())

    def set_text(self, text: str) -> None:
        """'NAME=D,D; NAME2=D' (InputError for a malformed one, the setting unchanged)."""
        self.set(parse_shapes([p for p in text.split(";") if p.strip()]))

    def set(self, shapes: dict[str, list[int]] | None) -> None:
        new = {k: [int(d) for d in v] for k, v in (shapes or {}).items()}
        if new != self._shapes:
            self._shapes = new
            self.changed.emit()
