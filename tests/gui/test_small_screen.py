"""At 1280x800 (offscreen, measured on the widgets' geometry): the graph keeps at least 60 % of the
window's width, the info panel and the inspector collapse (and stay so in the next session), the
Run panel's results show the median and p90 without scrolling sideways and its plot titles are
whole, and the compare view gives its room to the graphs and figures, with the minimap off the
nodes."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QFontMetrics  # noqa: E402

from core.inference.run_queue import RESULT_COLUMNS  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SIZE = (1280, 800)
GRAPH_SHARE = 0.6


@pytest.fixture
def open_window(qtbot, tmp_path):
    """open_window() -> a MainWindow at 1280x800 on one settings file (a second call: the next
    session)."""
    made = []

    def make() -> MainWindow:
        w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(w)
        w.resize(*SIZE)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w
    yield make
    for w in made:
        w.shut_down(save_session=False)


def _open(qtbot, w: MainWindow, path):
    with qtbot.waitSignal(w.model_opened, timeout=30_000):
        w.open_paths([str(path)])
    tab = w.model_tabs()[-1]
    qtbot.waitUntil(lambda: tab.graph.view.lay is not None, timeout=30_000)
    return tab


def test_graph_keeps_60_percent_of_the_width(open_window, qtbot, shared_model):
    w = open_window()
    tab = _open(qtbot, w, shared_model("mobilenet_v2_224_float32"))
    graph = tab.graph
    qtbot.waitUntil(lambda: graph.view.width() > 0)
    assert tab.info.isVisible() and graph.inspector.isHidden()   # nothing inspected yet
    assert graph.view.width() >= GRAPH_SHARE * w.width(), graph.view.width()
    graph.select_op(0, 0)
    qtbot.waitUntil(lambda: graph.inspector.isVisible())
    assert graph.inspector.width() >= graph.inspector.minimumWidth() > 200
    assert graph.view.width() >= GRAPH_SHARE * w.width(), graph.view.width()
    # a click on the empty canvas inspects nothing: the inspector gives its room back
    empty = QPoint(graph.view.width() - 5, 5)
    qtbot.mouseClick(graph.view, Qt.MouseButton.LeftButton, pos=empty)
    qtbot.waitUntil(lambda: graph.inspector.isHidden())
    qtbot.waitUntil(lambda: graph.view.width() >= 0.75 * w.width())


def test_info_panel_and_inspector_collapse_and_stay_collapsed(open_window, qtbot,
                                                              demo_model_path):
    w = open_window()
    tab = _open(qtbot, w, demo_model_path)
    graph = tab.graph
    before = graph.view.width()
    tab.info_btn.click()
    qtbot.waitUntil(lambda: graph.view.width() > before)
    assert tab.info.isHidden() and graph.view.width() >= before + 200
    graph.inspector_btn.click()                    # the user does not want the inspector
    graph.select_op(0, 0)
    assert graph.inspector.current is not None and graph.inspector.isHidden()
    w.view_menu.aboutToShow.emit()
    assert not w.info_action.isChecked() and not w.inspector_action.isChecked()
    w.shut_down(save_session=False)
    again = open_window()                          # the next session
    tab2 = _open(qtbot, again, demo_model_path)
    assert tab2.info.isHidden() and not tab2.graph.inspector_btn.isChecked()
    again.info_action.trigger()                    # View → Model Info Panel brings it back
    assert tab2.info.isVisible() and tab2.info_btn.isChecked()


def test_run_results_and_plots_fit(open_window, qtbot, demo_model_path):
    w = open_window()
    tab = _open(qtbot, w, demo_model_path)
    tab.tabs.setCurrentWidget(tab._run_slot)
    run = tab.run
    run.runs.setValue(5)
    with qtbot.waitSignal(run.run_finished, timeout=120_000) as sig:
        run.start()
    assert sig.args[0].status == "ok", sig.args[0].error
    table = run.table
    table.horizontalScrollBar().setValue(0)
    for name in ("median", "p90"):
        c = RESULT_COLUMNS.index(name)
        x = table.columnViewportPosition(c)
        assert 0 <= x and x + table.columnWidth(c) <= table.viewport().width(), name
        text = table.item(0, c).text()
        assert text and QFontMetrics(table.font()).horizontalAdvance(text) < table.columnWidth(c)
    titles = [item for item in run.plots.ci.items if isinstance(item, pg.PlotItem)]
    assert len(titles) == 4
    for plot in titles:
        shown = plot.titleLabel.item.boundingRect().width()
        assert shown <= plot.titleLabel.width() + 1 and shown <= plot.width(), plot.titleLabel.text


def test_compare_view_gives_room_to_graphs_and_figures(open_window, qtbot, shared_model):
    from gui.quantize.compare_view import CompareView
    w = open_window()
    w.open_compare(str(shared_model("mobilenet_v2_224_float32")),
                   str(shared_model("mobilenet_v2_224_int8")))
    qtbot.waitUntil(lambda: isinstance(w.tabs.currentWidget(), CompareView), timeout=120_000)
    view = w.tabs.currentWidget()
    graphs = (view.graph_a, view.graph_b)
    qtbot.waitUntil(lambda: all(g.view.lay is not None for g in graphs), timeout=60_000)
    for g in graphs:   # empty inspectors take no room: the two graphs share the width
        assert g.inspector.isHidden()
        assert g.view.width() >= 0.45 * w.width(), g.view.width()
    # the summary's figures are whole, side by side, without a sideways scroll
    s = view.summary
    assert s.horizontalScrollBar().maximum() == 0
    metrics = QFontMetrics(s.font())
    for r in range(s.rowCount()):
        if s.item(r, 0).text() == "file":   # names may be cut: their tooltip has them whole
            continue
        for c in (1, 2):
            text = s.item(r, c).text()
            assert metrics.horizontalAdvance(text) < s.columnWidth(c), (r, c, text)
    # zoomed in, the nodes along the right edge (where the minimap sat): it is shown and
    # covers no node
    for g in graphs:
        v = g.view
        v.center_on(10, 1.0)
        v.set_view(1.0, float(v.lay.x[10] + v.lay.w[10]) - (v.width() - 30), v.oy)
        qtbot.waitUntil(lambda v=v, g=g: g.minimap.isVisible())
        box = g.minimap.geometry()
        lay = v.lay
        for n in range(lay.n_nodes):
            top_left = v.to_widget(lay.x[n], lay.y[n])
            bottom_right = v.to_widget(lay.x[n] + lay.w[n], lay.y[n] + lay.h[n])
            covered = (top_left.x() < box.right() and bottom_right.x() > box.left()
                       and top_left.y() < box.bottom() and bottom_right.y() > box.top())
            assert not covered, f"the minimap covers node {n}"


def test_run_panel_of_a_dynamic_model_fits_800_px(open_window, qtbot, tmp_path):
    """The dynamic-shape hint lengthens the settings form: it scrolls instead of making the
    window taller than the screen."""
    from tests.analysis.dynamic_models import conv_dynamic_height
    w = open_window()
    tab = _open(qtbot, w, conv_dynamic_height().save(tmp_path / "dynamic.tflite"))
    tab.tabs.setCurrentWidget(tab._run_slot)
    assert tab.run.shapes_hint.isVisibleTo(tab.run) and "Dynamic input" in tab.run.shapes_hint.text()
    # the layout settles at the window's size: the hint no longer asks for more height
    qtbot.waitUntil(lambda: w.minimumSizeHint().height() <= SIZE[1] and w.height() == SIZE[1])
