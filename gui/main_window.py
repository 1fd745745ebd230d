"""The main window: opens models (File→Open, drag-and-drop, command line, recent files), one tab
per model, errors in a dialog while the app keeps running."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (QApplication, QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget,
                               QVBoxLayout, QWidget)

from core import __version__
from core.resources import resource_path
from gui import gc_guard
from gui.model.loader import ModelLoader
from gui.model.model_tab import ModelTab
from gui.tasks import wait_for_tasks

MAX_RECENT = 10
MODEL_FILTER = "TFLite models (*.tflite *.lite *.tfl);;All files (*)"


class _Welcome(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lab = QLabel("<h2>LiteLens</h2><p>Drop .tflite files here, or use File → Open "
                     "(Ctrl+O).</p>", self)
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.addWidget(lab)


class MainWindow(QMainWindow):
    model_opened = Signal(str)          # path
    model_failed = Signal(str, str)     # path, message

    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        gc_guard.install(QApplication.instance())
        self.settings = settings or QSettings("LiteLens", "LiteLens")
        self.setWindowTitle("LiteLens")
        icon = resource_path("icons/litelens.png")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.tabs = QTabWidget(self)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._update_status)
        self.welcome = _Welcome(self)
        self.setCentralWidget(self.welcome)
        self.loader = ModelLoader(self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.error_box: QMessageBox | None = None
        self.errors: list[str] = []
        self._build_menus()
        self.statusBar().showMessage("Open a .tflite model to start")

    # -- menus --
    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        a = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open)
        a.triggered.connect(self.open_dialog)
        m.addAction(a)
        a = QAction("Co&mpare Two Models…", self)
        a.triggered.connect(self.compare_dialog)
        m.addAction(a)
        self.recent_menu = m.addMenu("Open &Recent")
        self._rebuild_recent()
        m.addSeparator()
        a = QAction("&Close Tab", self, shortcut=QKeySequence.StandardKey.Close)
        a.triggered.connect(lambda: self.close_tab(self.tabs.currentIndex()))
        m.addAction(a)
        a = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        a.triggered.connect(self.close)
        m.addAction(a)
        h = self.menuBar().addMenu("&Help")
        a = QAction("&About LiteLens", self)
        a.triggered.connect(lambda: QMessageBox.about(
            self, "About LiteLens", f"LiteLens {__version__}\nInspector for TFLite / LiteRT models."))
        h.addAction(a)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent_files", recent[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for p in recent:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda checked=False, p=p: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear list")
            clear.triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._rebuild_recent()

    # -- opening --
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open models", "", MODEL_FILTER)
        self.open_paths(paths)

    def open_paths(self, paths) -> None:
        for p in paths:
            self.statusBar().showMessage(f"Opening {p}…")
            self.loader.load(str(p))

    def compare_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose two models to compare", "",
                                                MODEL_FILTER)
        if len(paths) == 2:
            self.open_compare(*paths)
        elif paths:
            self._failed(paths[0], "Choose exactly two models to compare.")

    def open_compare(self, path_a: str, path_b: str, latency_ms: dict | None = None) -> None:
        """A tab with both models side by side and their op diff (gui/quantize/compare_view)."""
        from core.errors import ModelError
        from core.model.reader import open_model
        from gui.quantize.compare_view import CompareView
        try:
            a = open_model(path_a)
        except ModelError as e:
            self._failed(path_a, str(e))
            return
        try:
            b = open_model(path_b)
        except ModelError as e:
            a.close()
            self._failed(path_b, str(e))
            return
        view = CompareView(a, b, latency_ms, self)
        if self.centralWidget() is not self.tabs:
            self.takeCentralWidget()
            self.setCentralWidget(self.tabs)
        i = self.tabs.addTab(view, f"{Path(path_a).name} ⇄ {Path(path_b).name}")
        self.tabs.setTabToolTip(i, f"{path_a}\n{path_b}")
        self.tabs.setCurrentIndex(i)

    def _loaded(self, path: str, model) -> None:
        gc_guard.freeze_long_lived()
        tab = ModelTab(model, self)
        tab.open_requested.connect(lambda p: self.open_paths([p]))
        tab.compare_requested.connect(self.open_compare)
        if self.centralWidget() is not self.tabs:
            self.takeCentralWidget()
            self.setCentralWidget(self.tabs)
        i = self.tabs.addTab(tab, Path(path).name)
        self.tabs.setTabToolTip(i, path)
        self.tabs.setCurrentIndex(i)
        self._remember(path)
        self._update_status()
        self.model_opened.emit(path)

    def _failed(self, path: str, message: str) -> None:
        self.errors.append(message)
        self.statusBar().showMessage(f"Could not open {Path(path).name}")
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open model", message,
                          QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("The file was not changed. LiteLens keeps running.")
        box.open()  # window-modal, non-blocking
        self.error_box = box
        self.model_failed.emit(path, message)

    def close_tab(self, index: int) -> None:
        if index < 0:
            return
        tab = self.tabs.widget(index)
        self.tabs.removeTab(index)
        if hasattr(tab, "close_model"):   # a ModelTab or a CompareView
            tab.close_model()
            tab.deleteLater()
            QTimer.singleShot(0, gc_guard.collect_all)  # once the tab is really gone
        self._update_status()

    def model_tabs(self) -> list[ModelTab]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def _update_status(self, *_):
        tab = self.tabs.currentWidget()
        if isinstance(tab, ModelTab):
            self.statusBar().showMessage(tab.status_text())
            self.setWindowTitle(f"{Path(tab.model.path).name} — LiteLens")
        else:
            self.setWindowTitle("LiteLens")

    # -- drag and drop --
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.loader.wait_all(5000)
        for tab in self.model_tabs():
            if hasattr(tab, "close_model"):
                tab.close_model()  # stop inference workers and layout threads
        wait_for_tasks()  # cancelled tasks (layouts of closed tabs) end before Qt goes
        super().closeEvent(event)
