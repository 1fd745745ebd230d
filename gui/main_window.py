"""The main window: opens models (File→Open, drag-and-drop, command line, recent files, last
session), one tab per model in the order asked for, errors collected in one dialog while the app
keeps running; a start page when no model is open."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import ModelError
from core.inference.inputs import InputError
from core.resources import resource_path
from gui import file_dialogs, gc_guard, theme
from gui.code_dialog import CopyCodeDialog
from gui.help_dialogs import ShortcutsDialog, show_about
from gui.model.loader import ModelLoader, read_error_message
from gui.model.model_tab import ModelTab
from gui.tasks import TaskRunner, wait_for_tasks

if TYPE_CHECKING:   # the analyses load when a comparison is opened, not at start-up
    from core.analysis.compare import MedianLatency, ModelDiff

MAX_RECENT = 10
MODEL_FILTER = "TFLite models (*.tflite *.lite *.tfl);;All files (*)"
START_STATUS = "Open a .tflite model to start"


def _key(path: str) -> str:
    """Identity of a file for "already open": the resolved absolute path."""
    return str(Path(path).resolve())


class _StartPage(QWidget):
    """What the window shows with no model open."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        title = QLabel("<h2>LiteLens</h2><p>Drop .tflite files here, or open one "
                       "(Ctrl+O).</p>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton("Open model…", self)
        button.clicked.connect(window.open_dialog)
        self.recent = QLabel(self)
        self.recent.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent.setTextFormat(Qt.TextFormat.RichText)
        self.recent.linkActivated.connect(lambda p: window.open_paths([p]))
        self._paths: list[str] = []
        theme.on_theme_change(self.recent, lambda: self.set_recent(self._paths))
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        lay.addWidget(title)
        lay.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(16)
        lay.addWidget(self.recent)
        lay.addStretch(3)

    def set_recent(self, paths: list[str]) -> None:
        self._paths = list(paths)
        muted = theme.hex_color("muted")
        links = "<br>".join(f"<a href='{escape(p, quote=True)}'>{escape(Path(p).name)}</a>"
                            f" <span style='color:{muted}'>{escape(str(Path(p).parent))}</span>"
                            for p in paths[:6])
        self.recent.setText(f"<p><b>Recent</b></p>{links}" if paths else "")


class _Opening(QWidget):
    """A tab's place while its model loads, so tabs keep the order the files were given in."""

    def __init__(self, path: str, parent=None):
        super().__init__(parent)
        self.path = path
        lab = QLabel(f"Opening {escape(path)}…", self)
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        QVBoxLayout(self).addWidget(lab)


class MainWindow(QMainWindow):
    model_opened = Signal(str)          # path
    model_failed = Signal(str, str)     # path, message

    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        gc_guard.install(QApplication.instance())
        self.settings = settings or QSettings("LiteLens", "LiteLens")
        self._shut_down = False
        self._session_shapes: dict[str, str] = {}   # path -> shapes, until its tab opens
        file_dialogs.use_settings(self.settings)
        self.setWindowTitle("LiteLens")
        icon = resource_path("icons/litelens.png")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.tabs = QTabWidget(self)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._update_status)
        self.start_page = _StartPage(self)
        # one central stack: the tab widget is never a stray child drawn over the start page
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)
        self.loader = ModelLoader(self)
        self._compare_runners: set[TaskRunner] = set()   # models being read for a compare tab
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.error_box: QMessageBox | None = None
        self.code_dialog: CopyCodeDialog | None = None   # the last Copy Code dialog opened
        self.errors: list[str] = []          # every failure since the window opened
        self._unshown: list[str] = []        # failures the error box has not listed yet
        self._box_errors: list[str] = []     # failures the open error box lists
        self._build_menus()
        self._show_start()

    # -- menus --
    def _action(self, menu, text: str, slot, *shortcuts) -> QAction:
        """A menu action; shortcuts are spelled out where the platform's standard key may be
        empty (offscreen and some desktops have no Quit binding)."""
        a = QAction(text, self)
        if shortcuts:
            a.setShortcuts([QKeySequence(s) for s in shortcuts])
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open…", self.open_dialog, "Ctrl+O")
        self._action(m, "Co&mpare Two Models…", self.compare_dialog)
        self.recent_menu = m.addMenu("Open &Recent")
        self._rebuild_recent()
        self.reload_action = self._action(m, "&Reload", self.reload_current, "F5")
        m.addSeparator()
        self.copy_code_action = self._action(m, "Copy &Code That Runs This Model…",
                                             self.copy_code_dialog, "Ctrl+Shift+C")
        m.addSeparator()
        self._action(m, "&Close Tab", lambda: self.close_tab(self.tabs.currentIndex()),
                     "Ctrl+W", "Ctrl+F4")
        self._action(m, "&Quit", self.close, "Ctrl+Q")
        self.view_menu = v = self.menuBar().addMenu("&View")
        # the graph panel owns Ctrl+F / Ctrl+0 (they work in a panel alone too): shown, not bound
        self._action(v, "&Find in Graph…\tCtrl+F", lambda: self._graph_do("focus_search"))
        self._action(v, "&Fit Graph\tCtrl+0", lambda: self._graph_do("_fit"))
        self.edge_shapes_action = self._action(v, "Tensor &Shapes on Edges",
                                               self._toggle_edge_shapes)
        self.edge_shapes_action.setCheckable(True)
        self.weights_action = self._action(v, "&Weights on Nodes", self._toggle_weights)
        self.weights_action.setCheckable(True)
        self.weights_action.setChecked(True)
        self.fold_action = self._action(v, "&Fold Constant Producers", self._toggle_fold)
        self.fold_action.setCheckable(True)
        self.fold_action.setChecked(True)
        self.fold_action.setToolTip("Draw a DEQUANTIZE of fp16 weights (any op reading only "
                                    "constants) as a row of its consumer's card")
        self.scopes_action = self._action(v, "&Group by Name Scope", self._toggle_scopes)
        self.scopes_action.setCheckable(True)
        self.scopes_action.setChecked(True)
        self._action(v, "&Remove Overlays", self.remove_overlays)
        v.addSeparator()
        # the panels beside the graph collapse for small screens (remembered, see gui/ui_state)
        self.info_action = self._action(v, "Model &Info Panel", self._toggle_info)
        self.info_action.setCheckable(True)
        self.inspector_action = self._action(v, "&Inspector", self._toggle_inspector)
        self.inspector_action.setCheckable(True)
        v.aboutToShow.connect(self._sync_panel_actions)
        v.addSeparator()
        self._action(v, "&Export Graph as PNG…", lambda: self._graph_do("_export_dialog", "png",
                                                                        True))
        self._action(v, "Export Graph as S&VG…", lambda: self._graph_do("_export_dialog", "svg",
                                                                       True))
        v.addSeparator()
        themes = self.view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        chosen = str(self.settings.value("theme", "system"))
        for key, text in (("system", "Follow &system"), ("light", "&Light"), ("dark", "&Dark")):
            a = themes.addAction(text)
            a.setCheckable(True)
            a.setChecked(key == chosen)
            a.triggered.connect(lambda checked=False, k=key: self.set_theme(k))
            group.addAction(a)
        h = self.menuBar().addMenu("&Help")
        self._action(h, "&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self._action(h, "&About LiteLens", lambda: show_about(self))

    def current_graph(self):
        """The graph panel of the current model tab (None on the start page or a compare tab)."""
        tab = self.tabs.currentWidget() if self.stack.currentWidget() is self.tabs else None
        return tab.graph if isinstance(tab, ModelTab) else None

    def _graph_do(self, method: str, *args) -> None:
        graph = self.current_graph()
        if graph is not None:
            tab = self.tabs.currentWidget()   # show the tab's graph page first
            tab.tabs.setCurrentWidget(graph)
            getattr(graph, method)(*args)

    def _toggle_edge_shapes(self, on: bool) -> None:
        graph = self.current_graph()
        if graph is not None:
            graph.labels_btn.setChecked(on)

    def _toggle_info(self, on: bool) -> None:
        tab = self.tabs.currentWidget() if self.stack.currentWidget() is self.tabs else None
        if isinstance(tab, ModelTab):
            tab.set_info_visible(on)

    def _toggle_inspector(self, on: bool) -> None:
        graph = self.current_graph()
        if graph is not None:
            graph.inspector_btn.setChecked(on)

    def _toggle_weights(self, on: bool) -> None:
        graph = self.current_graph()
        if graph is not None:
            graph.set_show_weights(on)

    def _toggle_fold(self, on: bool) -> None:
        graph = self.current_graph()
        if graph is not None:
            graph.set_fold_producers(on)

    def _toggle_scopes(self, on: bool) -> None:
        graph = self.current_graph()
        if graph is not None:
            graph.set_scopes(on)

    def remove_overlays(self) -> None:
        """Back to category colours: drop the latency / quantization-error overlays."""
        graph = self.current_graph()
        if graph is not None:
            for o in graph.view.overlays():
                graph.view.clear_overlay(o.name)

    def menus(self):
        return [a.menu() for a in self.menuBar().actions() if a.menu() is not None]

    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self.menus(), self)
        dlg.open()
        return dlg

    def set_theme(self, choice: str) -> None:
        self.settings.setValue("theme", choice)
        theme.apply_theme(QApplication.instance(), choice)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: str) -> None:
        path = _key(path)
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
        if hasattr(self, "start_page"):
            self.start_page.set_recent(recent)

    def _clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._rebuild_recent()

    # -- opening --
    def open_dialog(self) -> None:
        self.open_paths(file_dialogs.open_files(self, "Open models", MODEL_FILTER, "models"))

    def copy_code_dialog(self) -> CopyCodeDialog | None:
        """Code that runs the current model (Python, Kotlin, C++), starting from its Run panel's
        signature, delegate and threads and the tab's input shapes."""
        tab = self.tabs.currentWidget() if self.stack.currentWidget() is self.tabs else None
        if not isinstance(tab, ModelTab):
            return None
        run = tab.run
        dlg = CopyCodeDialog(tab.model, self, shapes=tab.shape_setting.shapes,
                             signature=run.signature.currentData() if run else None,
                             delegate=run.delegate.currentData() if run else "xnnpack",
                             threads=run.threads.value() if run else 1)
        dlg.open()
        self.code_dialog = dlg
        return dlg

    def compare_dialog(self) -> None:
        paths = file_dialogs.open_files(self, "Choose two models to compare", MODEL_FILTER,
                                        "models")
        if len(paths) == 2:
            self.open_compare(*paths)
        elif paths:
            self._report_error(paths[0], "Choose exactly two models to compare.")

    def open_compare(self, path_a: str, path_b: str,
                     latency_ms: MedianLatency | None = None) -> None:
        """A tab with both models side by side and their op diff (gui/quantize/compare_view);
        reading the two models and diffing them (support and arena plans: seconds for 10k ops)
        happen off the UI thread."""
        from core.analysis.compare import open_and_compare
        runner = TaskRunner(self, name="open-compare")

        def read_both(state):
            return open_and_compare(path_a, path_b, latency_ms)

        def finished():
            self._compare_runners.discard(runner)
            runner.deleteLater()
            self.statusBar().clearMessage()   # the "Opening … to compare" line
            self._update_status()

        def failed(error: Exception) -> None:
            finished()
            # a ModelError names its file; a reader bug is told against the pair
            self._report_error(error.path if isinstance(error, ModelError) else path_a,
                               read_error_message(f"{path_a} / {path_b}", error))

        def done(result) -> None:
            finished()
            self._show_compare(*result, latency_ms)

        runner.done.connect(done)
        runner.failed.connect(failed)
        self._compare_runners.add(runner)
        self.statusBar().showMessage(f"Opening {Path(path_a).name} and {Path(path_b).name} "
                                     "to compare them…")
        runner.start(read_both)

    def _show_compare(self, a, b, diff: ModelDiff, latency_ms: MedianLatency | None) -> None:
        from gui.quantize.compare_view import CompareView
        path_a, path_b = a.path, b.path
        gc_guard.freeze_long_lived()
        view = CompareView(a, b, latency_ms, self, diff=diff)
        i = self.tabs.addTab(view, f"{Path(path_a).name} ⇄ {Path(path_b).name}")
        self.tabs.setTabToolTip(i, f"{path_a}\n{path_b}")
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentIndex(i)

    def _tab_for(self, path: str) -> int:
        key = _key(path)
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            p = w.path if isinstance(w, _Opening) else getattr(getattr(w, "model", None),
                                                                "path", None)
            if p is not None and _key(p) == key:
                return i
        return -1

    def open_paths(self, paths, at: int | None = None) -> None:
        """Open files as tabs in the given order (a file already open gets focus instead);
        ``at`` puts the first one at that tab index."""
        last = -1
        for p in paths:
            p = str(p)
            existing = self._tab_for(p)
            if existing >= 0:
                last = existing
                continue
            holder = _Opening(p, self)
            i = self.tabs.insertTab(at if at is not None else self.tabs.count(), holder,
                                    Path(p).name)
            if at is not None:
                at = i + 1
            self.tabs.setTabToolTip(i, f"{p} (opening…)")
            last = i
            self.statusBar().showMessage(f"Opening {p}…")
            self.loader.load(p)
        if last >= 0:
            self.stack.setCurrentWidget(self.tabs)
            self.tabs.setCurrentIndex(last)

    @property
    def pending(self) -> int:
        """Models still loading."""
        return sum(isinstance(self.tabs.widget(i), _Opening) for i in range(self.tabs.count()))

    def _holder(self, path: str) -> int:
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            if isinstance(w, _Opening) and w.path == path:
                return i
        return -1

    def _loaded(self, path: str, model, info) -> None:
        i = self._holder(path)
        if i < 0:  # its tab was closed while it loaded
            model.close()
            return
        gc_guard.freeze_long_lived()
        tab = ModelTab(model, self, info)
        shapes = self._session_shapes.pop(path, None)
        if shapes:
            try:
                tab.shape_setting.set_text(shapes)
            except InputError:   # the model changed since: its inputs are named otherwise
                pass
        tab.open_requested.connect(lambda p: self.open_paths([p]))
        tab.compare_requested.connect(self.open_compare)
        was_current = self.tabs.currentIndex() == i
        holder = self.tabs.widget(i)
        self.tabs.removeTab(i)
        holder.deleteLater()
        self.tabs.insertTab(i, tab, Path(path).name)
        self.tabs.setTabToolTip(i, path)
        if was_current:
            self.tabs.setCurrentIndex(i)
        self._remember(path)
        self._update_status()
        self.model_opened.emit(path)

    def _failed(self, path: str, message: str) -> None:
        i = self._holder(path)
        if i >= 0:
            holder = self.tabs.widget(i)
            self.tabs.removeTab(i)
            holder.deleteLater()
        self._report_error(path, message)

    def _report_error(self, path: str, message: str) -> None:
        """Into the errors dialog, the status bar and ``model_failed``."""
        self.errors.append(message)
        self._unshown.append(message)
        self._show_errors()
        if self.tabs.count() == 0:
            self._show_start()
        self.statusBar().showMessage(f"Could not open {Path(path).name}")
        self.model_failed.emit(path, message)

    def _show_errors(self) -> None:
        """One dialog for all failures: while it is open, later ones are added to it."""
        if not self._unshown:
            return
        if self.error_box is None or not self.error_box.isVisible():
            self._box_errors = []
            box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open model", "",
                              QMessageBox.StandardButton.Ok, self)
            box.setInformativeText("The files were not changed. LiteLens keeps running.")
            box.open()  # window-modal, non-blocking
            self.error_box = box
        self._box_errors += self._unshown
        self._unshown = []
        n = len(self._box_errors)
        self.error_box.setWindowTitle("Cannot open model" if n == 1 else
                                      f"Cannot open {n} models")
        self.error_box.setText("\n\n".join(self._box_errors))

    def reload_current(self) -> None:
        """Read the current tab's file again (after it changed on disk), in the same place."""
        i = self.tabs.currentIndex()
        tab = self.tabs.widget(i)
        if not isinstance(tab, ModelTab):
            return
        path = tab.model.path
        self.close_tab(i)
        self.open_paths([path], at=i)

    def close_tab(self, index: int) -> None:
        if index < 0:
            return
        tab = self.tabs.widget(index)
        self.tabs.removeTab(index)
        if hasattr(tab, "close_model"):   # a ModelTab or a CompareView
            tab.close_model()
            QTimer.singleShot(0, gc_guard.collect_all)  # once the tab is really gone
        tab.deleteLater()
        if self.tabs.count() == 0:
            self._show_start()
        else:
            self._update_status()

    def model_tabs(self) -> list[ModelTab]:
        return [w for w in (self.tabs.widget(i) for i in range(self.tabs.count()))
                if isinstance(w, ModelTab)]

    def _show_start(self) -> None:
        self.stack.setCurrentWidget(self.start_page)
        self.setWindowTitle("LiteLens")
        self.statusBar().showMessage(START_STATUS)

    def _sync_panel_actions(self) -> None:
        """View → Model Info Panel / Inspector say what the current tab shows (its own buttons
        toggle them too)."""
        tab = self.tabs.currentWidget() if self.stack.currentWidget() is self.tabs else None
        graph = self.current_graph()
        self.info_action.setEnabled(isinstance(tab, ModelTab))
        self.info_action.setChecked(isinstance(tab, ModelTab) and tab.info_btn.isChecked())
        self.inspector_action.setEnabled(graph is not None)
        self.inspector_action.setChecked(graph is not None and graph.inspector_btn.isChecked())

    def _update_status(self, *_):
        tab = self.tabs.currentWidget()
        graph = self.current_graph()
        self.edge_shapes_action.setChecked(graph is not None and graph.labels_btn.isChecked())
        self.weights_action.setChecked(graph is None or graph.show_weights)
        self.fold_action.setChecked(graph is None or graph.fold_producers)
        self.scopes_action.setChecked(graph is None or graph.scopes_on)
        self._sync_panel_actions()
        if isinstance(tab, ModelTab):
            self.statusBar().showMessage(tab.status_text())
            self.setWindowTitle(f"{Path(tab.model.path).name} — LiteLens")
        elif isinstance(tab, _Opening):
            self.statusBar().showMessage(f"Opening {tab.path}…")
            self.setWindowTitle("LiteLens")

    # -- session --
    def save_session(self) -> None:
        tabs = self.model_tabs()
        self.settings.setValue("session", [t.model.path for t in tabs])
        # each model's dynamic input shapes (the text --shape takes), restored with the tab
        self.settings.setValue("session_shapes", json.dumps(
            {t.model.path: t.shape_setting.text() for t in tabs if t.shape_setting.shapes}))

    def restore_session(self) -> list[str]:
        """Reopen the models open when the app was last closed; returns the ones gone since."""
        value = self.settings.value("session", [])
        paths = [value] if isinstance(value, str) else [str(p) for p in (value or [])]
        try:
            shapes = json.loads(str(self.settings.value("session_shapes", "") or "{}"))
        except ValueError:   # a settings file edited by hand: the shapes are only a convenience
            shapes = {}
        if isinstance(shapes, dict):
            self._session_shapes = {str(k): str(v) for k, v in shapes.items()}
        gone = [p for p in paths if not Path(p).is_file()]
        self.open_paths([p for p in paths if p not in gone])
        if gone:
            self.statusBar().showMessage(f"{len(gone)} model(s) of the last session are gone: "
                                         + ", ".join(Path(p).name for p in gone))
        return gone

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
        self.shut_down()
        super().closeEvent(event)

    def shut_down(self, save_session: bool = True) -> None:
        """Stop what runs beside the UI (the loader, inference workers, layout threads) before Qt
        goes. Closing the window does it; ``gui.app`` calls it again after the event loop, for
        the exits that close no window (``--self-test``, ``--screenshot``: their model is not
        saved as the user's session). Only the first call acts."""
        if self._shut_down:
            return
        self._shut_down = True
        if save_session:
            self.save_session()
        self.loader.wait_all(5000)
        for i in range(self.tabs.count()):
            tab = self.tabs.widget(i)
            if hasattr(tab, "close_model"):
                tab.close_model()  # stop inference workers and layout threads
        wait_for_tasks()  # cancelled tasks (layouts of closed tabs) end before Qt goes
