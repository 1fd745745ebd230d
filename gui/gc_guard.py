"""Keep Python's cyclic garbage collection on the UI thread.

Qt objects must be destroyed by the thread that owns them. With automatic GC on, a collection can
be triggered by any thread that allocates — e.g. the model loader thread while it builds
thousands of tensor objects — and then it frees widgets' Python wrappers from that thread, which
crashes Qt. So automatic GC is switched off and a timer on the UI thread collects instead
(the recipe PyQt/PySide applications use).
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_installed: "MainThreadGC | None" = None


class MainThreadGC(QObject):
    def __init__(self, interval_ms: int = 500, parent=None):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 > t0:
            gen = 2 if c2 > t2 else 1 if c1 > t1 else 0
            gc.collect(gen)


def install(app) -> MainThreadGC:
    """Install once per QApplication (idempotent)."""
    global _installed
    if _installed is None:
        _installed = MainThreadGC(parent=app)
    return _installed


def freeze_long_lived() -> None:
    """After a model is read: move everything alive into the permanent generation, so the
    timer's collections do not rescan a 100k-op model's million objects on the UI thread."""
    gc.freeze()


def collect_all() -> None:
    """After a tab is closed: bring frozen objects back, free the cycles among them (Qt signal
    lambdas), and freeze what is still alive."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
