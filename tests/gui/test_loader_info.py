"""Opening a model through the window: the info panel's sections (totals, operator histogram,
metadata) are computed in the loader's task, not on the UI thread."""
from __future__ import annotations

import threading

from core.analysis import report
from core.analysis.report import info_sections
from core.model.reader import open_model
from core.model.samples import synthetic_chain
from gui.model.model_tab import ModelTab


def test_totals_are_computed_off_the_ui_thread(qtbot, window, tmp_path, monkeypatch):
    path = synthetic_chain(2000).save(tmp_path / "chain.tflite")
    threads: list[threading.Thread] = []
    real = report.model_totals

    def recording(model):  # the real computation, noting which thread ran it
        threads.append(threading.current_thread())
        return real(model)

    monkeypatch.setattr(report, "model_totals", recording)
    with qtbot.waitSignal(window.model_opened, timeout=60000):
        window.open_paths([str(path)])
    tab = window.tabs.currentWidget()
    assert isinstance(tab, ModelTab)
    assert threads and threading.main_thread() not in threads, threads
    monkeypatch.setattr(report, "model_totals", real)
    with open_model(path) as m:
        expected = info_sections(m)
    shown = tab.info.text_for("Model")
    assert shown["Totals"] == dict(expected[0].rows)["Totals"]
    assert "2,000" in shown["Operators"]
