"""Runs ``core.graph.layout.layout_subgraph`` in a QThread: progress and result come back as
signals; ``cancel()`` stops it at its next check (between phases and sweeps)."""
from __future__ import annotations

import threading

from PySide6.QtCore import QThread, Signal

from core.graph.layout import LayoutCancelled, layout_subgraph
from core.model.types import Model


class LayoutWorker(QThread):
    progressed = Signal(float, str)   # fraction done, phase
    done = Signal(object)             # GraphLayout
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, model: Model, subgraph: int, metrics: dict | None = None, parent=None):
        super().__init__(parent)
        self.model = model
        self.subgraph = subgraph
        self.metrics = metrics or {}
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def is_cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        try:
            lay = layout_subgraph(self.model, self.subgraph, progress=self.progressed.emit,
                                  cancelled=self._stop.is_set, **self.metrics)
        except LayoutCancelled:
            self.cancelled.emit()
        except Exception as e:  # a layout bug must not take the app down
            self.failed.emit(f"{type(e).__name__}: {e}")
        else:
            self.done.emit(lay)
