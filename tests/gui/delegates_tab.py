"""A model tab at 1280x800 with its Delegates panel shown and its matrix built (the panel is
built when the tab is first shown, its analysis on the task runner): the start of every Delegates
panel test."""
from __future__ import annotations

from core.model.reader import open_model
from gui.model.model_tab import ModelTab


def delegates_tab(qtbot, path, timeout: int = 30_000) -> ModelTab:
    tab = ModelTab(open_model(path))
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    assert tab.delegates is None                  # built when the tab is first shown
    tab.tabs.setCurrentWidget(tab._delegates_slot)
    qtbot.waitUntil(lambda: tab.delegates is not None and tab.delegates.matrix is not None,
                    timeout=timeout)
    return tab
