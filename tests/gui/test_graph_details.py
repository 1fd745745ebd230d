"""Small things the Graph tab must get right (pytest-qt, offscreen, real models): Esc ends a
search with its count, and the inspector lists a scalar's or a short tensor's values instead of
drawing their histogram."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from core.model.reader import open_model  # noqa: E402


@pytest.fixture
def panel_of(qtbot):
    tabs = []

    def make(path):
        from gui.model.model_tab import ModelTab
        tab = ModelTab(open_model(path))
        qtbot.addWidget(tab)
        tab.resize(1280, 800)
        tab.show()
        qtbot.waitExposed(tab)
        qtbot.waitUntil(lambda: tab.graph.view.lay is not None, timeout=30_000)
        tabs.append(tab)
        return tab.graph
    yield make
    for t in tabs:
        t.close_model()


def test_esc_ends_the_search_and_its_count(qtbot, panel_of, shared_model):
    panel = panel_of(shared_model("mobilenet_v2_224_int8"))
    before = panel.info.text()
    assert "ops" in before and "layers" in before
    panel.window().activateWindow()
    panel.focus_search()
    qtbot.waitUntil(panel.search_box.hasFocus)
    qtbot.keyClicks(panel.search_box, "conv")
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert "match" in panel.info.text() and panel.results.isVisible()
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Escape)
    assert panel.search_box.text() == ""
    assert panel.info.text() == before            # "53 match(es) for “conv”" stayed
    assert not panel.results.isVisible() and len(panel.view.highlight) == 0


def test_inspector_gives_a_scalar_its_value_not_a_histogram(qtbot, panel_of, shared_model):
    path = shared_model("sine_float")
    panel = panel_of(path)
    with open_model(path) as m:
        sg = m.subgraphs[0]
        (bias,) = [t for t in sg.tensors if t.constant and list(t.shape) == [1]]
        value = float(m.tensor_data(0, bias.index).reshape(-1)[0])
        big = max((t for t in sg.tensors if t.constant), key=lambda t: t.bytes)
    panel.inspector.show_tensor(0, bias.index)
    text = " ".join(panel.inspector.plain_text().split())
    assert "value " in text and "std" not in text
    assert f"{value:.4g}"[:5] in text
    assert panel.inspector.plots == []            # a one-bar histogram was drawn
    panel.inspector.show_tensor(0, big.index)     # a real weight tensor keeps its histogram
    assert len(panel.inspector.plots) == 1
