"""Names from a model file (a custom op code, tensor names) show as written in every tooltip and
label of the graph, the op/tensor tables and the support matrix, never as rich text."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from core.analysis.overlay import Overlay  # noqa: E402
from core.model.builder import ModelBuilder  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from tests.gui.shown_text import label_shown, shown  # noqa: E402

CODE = "<b>EVIL_CUSTOM_OPERATOR_WITH_A_LONG_NAME</b>"   # > 40 chars: the table shows a tooltip
TENSOR = "<i>input & more</i>"


@pytest.fixture
def tab(qtbot, build_model):
    from gui.model.model_tab import ModelTab
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    a, b = sg.tensor(TENSOR, [1, 4]), sg.tensor("out", [1, 4])
    sg.op("CUSTOM", [a], [b], custom_code=CODE)
    sg.inputs, sg.outputs = [a], [b]
    t = ModelTab(open_model(build_model(mb, "evil.tflite")))
    qtbot.addWidget(t)
    t.resize(1400, 900)
    t.show()
    qtbot.waitUntil(lambda: t.graph.view.lay is not None, timeout=30_000)
    yield t
    t.graph.cancel_layout(quiet=True)
    t.close_model()


def _tip(rows, row, col):
    return rows.data(rows.index(row, col), Qt.ItemDataRole.ToolTipRole)


def test_op_table_tooltips_show_the_names_as_written(tab):
    rows = tab.ops.model
    assert CODE in shown(_tip(rows, 0, 2))         # the op (its custom code)
    assert TENSOR in shown(_tip(rows, 0, 5))       # its input tensors, one a line


def test_graph_tooltip_and_legend_show_the_text_as_written(tab):
    view, legend = tab.graph.view, tab.graph.legend
    view.center_on(0, 1.0)
    view.set_overlay(Overlay("latency", "<b>slow</b> summary", colors={(0, 0): "#d7301f"},
                             badges={(0, 0): "<u>2 ms</u>"}, legend=[("<b>slow</b>", "#d7301f")]))
    tip = shown(view.tooltip_at(view.node_pos(0).x(), view.node_pos(0).y()))
    assert CODE in tip and "<u>2 ms</u>" in tip
    texts = [label_shown(w) for w in legend.findChildren(QLabel)]
    assert "<b>slow</b>" in texts and "<b>slow</b> summary" in texts


def test_support_matrix_reason_shows_the_custom_code_as_written(tab, qtbot):
    tab.tabs.setCurrentWidget(tab._delegates_slot)
    qtbot.waitUntil(lambda: tab.delegates is not None and tab.delegates.matrix is not None,
                    timeout=20_000)
    rows = tab.delegates.matrix.model
    col = 3 + rows.delegates.index("xnnpack")
    assert f"custom op {CODE}" in shown(_tip(rows, 0, col))
