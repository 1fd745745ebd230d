"""Overlays on the graph (pytest-qt, offscreen, real models): one overlay per kind, only the top
one paints the nodes, the legend names it and lists the others, × removes exactly one overlay
with its colours, and the Delegates panel says what the graph shows."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QLabel, QToolButton  # noqa: E402

from core.analysis.overlay import KIND_LATENCY, KIND_MEMORY, Overlay, heat_overlay  # noqa: E402
from core.analysis.support.overlay import PALETTE  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from gui.graph.style import category_colors  # noqa: E402

RED, BLUE = "#d7301f", "#2166ac"


@pytest.fixture
def tab(qtbot, shared_model):
    from gui.model.model_tab import ModelTab
    t = ModelTab(open_model(shared_model("mobilenet_v2_224_float32")))
    qtbot.addWidget(t)
    t.resize(1280, 800)
    t.show()
    qtbot.waitExposed(t)
    qtbot.waitUntil(lambda: t.graph.view.lay is not None, timeout=30_000)
    t.graph.view.center_on(3, 1.0)
    yield t
    t.close_model()


def _pixel(view, node) -> QColor:
    x, y, w, h = view.lay.node_rect(node)
    return view.grab().toImage().pixelColor(view.to_widget(x + w / 2, y + 4).toPoint())


def _latency(color: str, op: int = 3) -> Overlay:
    return Overlay("latency", "1 op timed", colors={(0, op): color}, badges={(0, op): "2 ms"},
                   legend=[("slow", color)], kind=KIND_LATENCY)


def _memory() -> Overlay:
    return Overlay("live memory", "peak at op 4", colors={(0, 3): BLUE, (0, 4): BLUE},
                   badges={(0, 4): "9 KiB"}, legend=[("peak", BLUE)], kind=KIND_MEMORY)


def _shown(legend, cls, name):
    """The legend's widget called ``name`` that it shows (rows of an earlier build wait hidden
    for deletion)."""
    (w,) = [w for w in legend.findChildren(cls, name) if w.isVisibleTo(legend)]
    return w


def _shown_rows_fit(legend) -> bool:
    """Every row the legend shows lies inside its box (the box was left 18×14 and empty)."""
    rows = [w for w in legend.findChildren(QLabel) if w.isVisibleTo(legend)]
    return bool(rows) and all(legend.rect().contains(QRect(w.mapTo(legend, QPoint(0, 0)),
                                                           w.size())) for w in rows) \
        and legend.size() == legend.sizeHint()


def test_only_the_top_overlay_paints_and_one_overlay_per_kind(tab, qtbot):
    view, legend = tab.graph.view, tab.graph.legend
    category = QColor(category_colors()[view.lay.categories[4]])
    view.set_overlay(_latency(RED))
    view.set_overlay(_memory())
    assert [o.name for o in view.overlays()] == ["latency", "live memory"]
    assert view.active_overlay().name == "live memory"
    assert _pixel(view, 3) == QColor(BLUE)                 # memory's colour, not latency's red
    tip = view.tooltip_at(view.node_pos(3).x(), view.node_pos(3).y())
    assert "2 ms" not in tip                               # the hidden overlay's badge neither
    # the legend: the active overlay in full, the other one line under it
    assert [e[1] for e in legend.entries] == ["peak"]
    assert _shown(legend, QLabel, "activeOverlay").text() == "<b>live memory</b>"
    assert _shown(legend, QLabel, "showOverlay:latency").text().endswith(">latency</a>")
    # a new latency overlay replaces the old one and goes on top
    view.set_overlay(_latency(RED, op=5))
    assert [o.name for o in view.overlays()] == ["live memory", "latency"]
    assert _pixel(view, 4) == category and _pixel(view, 3) != QColor(RED)
    # its name in the legend brings a stacked overlay back on top
    _shown(legend, QLabel, "showOverlay:live memory").linkActivated.emit("show")
    assert view.active_overlay().name == "live memory" and _pixel(view, 4) == QColor(BLUE)


def test_x_removes_one_overlay_and_its_colours(tab, qtbot):
    view, legend = tab.graph.view, tab.graph.legend
    before = _pixel(view, 3)
    view.set_overlay(heat_overlay({3: 2.0, 4: 1.0}, kind=KIND_LATENCY))
    view.set_overlay(_memory())
    qtbot.waitUntil(lambda: _shown_rows_fit(legend))
    # × on the stacked latency overlay: the memory overlay and its legend stay
    qtbot.mouseClick(_shown(legend, QToolButton, "removeOverlay:latency"),
                     Qt.MouseButton.LeftButton)
    assert [o.name for o in view.overlays()] == ["live memory"]
    assert legend.isVisibleTo(tab.graph) and [e[1] for e in legend.entries] == ["peak"]
    qtbot.waitUntil(lambda: _shown_rows_fit(legend))
    assert _pixel(view, 3) == QColor(BLUE)
    # × on the last one: no overlay, no box, the category colours back
    qtbot.mouseClick(_shown(legend, QToolButton, "removeOverlay:live memory"),
                     Qt.MouseButton.LeftButton)
    assert view.overlays() == [] and not legend.isVisibleTo(tab.graph)
    assert _pixel(view, 3) == before


def test_delegates_panel_follows_the_legend(tab, qtbot):
    tab.tabs.setCurrentWidget(tab._delegates_slot)
    qtbot.waitUntil(lambda: tab.delegates is not None and tab.delegates.result is not None,
                    timeout=30_000)
    view, legend, combo = tab.graph.view, tab.graph.legend, tab.delegates.delegate
    view.set_overlay(_memory())
    tab.delegates.choose_delegate("coreml")
    assert combo.currentText() == "overlay: Core ML"
    (support,) = [o for o in view.overlays() if o.name.endswith("Core ML")]
    assert view.active_overlay() is support
    tab.delegates.choose_delegate("xnnpack")               # one delegate overlay at a time
    assert [o.name for o in view.overlays()] == ["live memory", "Delegate support: XNNPACK (CPU)"]
    tab.tabs.setCurrentWidget(tab.graph)
    assert _pixel(view, 3) == QColor(PALETTE["delegated"][1])
    qtbot.mouseClick(_shown(legend, QToolButton, "removeOverlay:Delegate support: "
                                                   "XNNPACK (CPU)"), Qt.MouseButton.LeftButton)
    assert combo.currentText() == "no overlay"             # not "overlay: XNNPACK" any more
    assert [o.name for o in view.overlays()] == ["live memory"]
    assert _pixel(view, 3) == QColor(BLUE)
    tab.delegates.choose_delegate("xnnpack")               # choosing it again shows it again
    assert view.active_overlay().name == "Delegate support: XNNPACK (CPU)"
