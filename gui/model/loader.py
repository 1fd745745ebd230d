"""Opens models off the UI thread: the reader runs in a QThread, results come back as signals."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal

from core.errors import ModelError
from core.model.reader import open_model


class _LoadThread(QThread):
    loaded = Signal(str, object)   # path, Model
    failed = Signal(str, str)      # path, message

    def __init__(self, path: str, parent=None):
        super().__init__(parent)
        self.path = path

    def run(self) -> None:
        try:
            model = open_model(self.path)
        except ModelError as e:
            self.failed.emit(self.path, str(e))
        except Exception as e:  # a reader bug must not kill the app: report it like a bad file
            self.failed.emit(self.path, f"{self.path}: unexpected error while reading: "
                                        f"{type(e).__name__}: {e}")
        else:
            self.loaded.emit(self.path, model)


class ModelLoader(QObject):
    """Starts one thread per file; keeps them alive until they finish."""

    loaded = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._threads: set[_LoadThread] = set()

    def load(self, path: str) -> None:
        t = _LoadThread(path, self)
        t.loaded.connect(self.loaded)
        t.failed.connect(self.failed)
        t.finished.connect(lambda t=t: self._done(t))
        self._threads.add(t)
        t.start()

    def _done(self, t: _LoadThread) -> None:
        self._threads.discard(t)
        t.deleteLater()

    @property
    def busy(self) -> bool:
        return bool(self._threads)

    def wait_all(self, ms: int = 30000) -> None:
        for t in list(self._threads):
            t.wait(ms)
