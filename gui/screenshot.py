"""``litelens-gui --screenshot PNG [--view VIEW] [--theme T] [--size WxH] MODEL...``: the window
showing one view, saved once that view has its content (a run done, a plan made), then quit.

For README images and for looking at a view at a given size and theme without a display."""
from __future__ import annotations

VIEWS = ("graph", "inspector", "operators", "tensors", "delegates", "run", "quantize", "memory",
         "compare", "start")
RUNS = 30   # a short run: enough for the results row and the plots


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def _tab(win):
    tabs = win.model_tabs()
    return tabs[0] if tabs else None


def stage(win, view: str, paths: list[str]) -> None:
    """Bring the window to ``view`` (the models are open)."""
    tab = _tab(win)
    if view == "compare":
        win.open_compare(paths[0], paths[1] if len(paths) > 1 else paths[0])
        return
    if tab is None:
        return
    if view == "inspector":
        ops = tab.model.subgraphs[0].operators if tab.model.subgraphs else []
        if ops:   # the op with the most inputs: a full inspector
            tab.graph.select_op(0, max(ops, key=lambda o: len(o.inputs)).index)
    slot = {"operators": tab.ops, "tensors": tab.tensors, "delegates": tab._delegates_slot,
            "run": tab._run_slot, "quantize": tab._quantize_slot,
            "memory": tab._memory_slot}.get(view)
    if slot is not None:
        tab.tabs.setCurrentWidget(slot)
    if view == "run":
        tab.run.runs.setValue(RUNS)
        tab.run.start()


def ready(win, view: str) -> bool:
    """Whether ``view`` shows its content."""
    from gui.quantize.compare_view import CompareView
    tab = _tab(win)
    if view == "compare":
        cmp = win.tabs.currentWidget()
        return isinstance(cmp, CompareView) and all(
            g is None or g.view.lay is not None for g in (cmp.graph_a, cmp.graph_b))
    if tab is None:
        return True
    if tab.graph.view.lay is None:
        return False
    if view == "delegates":
        return tab.delegates is not None and tab.delegates.matrix is not None
    if view == "run":
        return tab.run is not None and tab.run.session is None and bool(tab.run.results)
    if view == "memory":
        return tab.memory is not None and tab.memory.report is not None
    return True


def when_ready(app, win, path: str, view: str, paths: list[str]) -> None:
    """Stage ``view`` once the models are open, save ``path`` once it is ready, then quit."""
    from PySide6.QtCore import QTimer
    staged = []

    def check():
        if win.loader.busy or win.pending:
            QTimer.singleShot(100, check)
            return
        if not staged:
            staged.append(True)
            stage(win, view, paths)
        if not ready(win, view):
            QTimer.singleShot(100, check)
            return
        QTimer.singleShot(300, lambda: (win.grab().save(path), app.exit(1 if win.errors else 0)))
    QTimer.singleShot(100, check)
