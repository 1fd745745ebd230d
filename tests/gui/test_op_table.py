"""The operator table's output-shape column: every output's shape as stored, a dynamic one with
its signature first, on a built model whose shapes are set here."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from core.model.builder import ModelBuilder  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from tests.gui.shown_text import shown  # noqa: E402


def test_output_shape_column(qtbot, build_model):
    from gui.model.op_table import OpTable
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 8, 4], shape_signature=[-1, 8, 4])
    y = sg.tensor("y", [1, 8, 4], shape_signature=[-1, 8, 4])
    sg.op("RELU", [x], [y])
    a, b = sg.tensor("a", [1, 8, 2]), sg.tensor("b", [1, 8, 2])
    axis = sg.tensor("axis", [], "int32", data=b"\x02\0\0\0")
    sg.op("SPLIT", [axis, y], [a, b], {"num_splits": 2})
    sg.inputs, sg.outputs = [x], [a, b]
    with open_model(build_model(mb)) as m:
        table = OpTable(m)
        qtbot.addWidget(table)
        rows = table.model
        col = rows.columns.index("Output shape")
        text = [rows.data(rows.index(r, col), Qt.ItemDataRole.DisplayRole) for r in range(2)]
        assert text == ["-1×8×4 (stored 1×8×4)", "1×8×2; 1×8×2"]
        assert rows.columns[-1] == "Options"
        tip = rows.data(rows.index(1, col), Qt.ItemDataRole.ToolTipRole)
        assert shown(tip).splitlines() == ["#2 a 1×8×2 float32", "#3 b 1×8×2 float32"]


def test_output_shapes_in_view_at_1280(qtbot, shared_model):
    """In the window at 1280×800 the output shapes are in view without scrolling sideways: a
    one-subgraph model's table leaves out its all-zero Subgraph column; a model with several
    subgraphs keeps it."""
    from gui.main_window import MainWindow
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.open_paths([str(shared_model("mobilenet_v2_224_int8")),
                    str(shared_model("multi_signature_float32"))])
    qtbot.waitUntil(lambda: len(win.model_tabs()) == 2 and not win.loader.busy,
                    timeout=60_000)
    one, several = win.model_tabs()
    assert len(several.model.subgraphs) > 1
    for tab in (one, several):
        win.tabs.setCurrentWidget(tab)
        tab.tabs.setCurrentWidget(tab.ops)
        table = tab.ops.view
        qtbot.waitUntil(table.isVisible)
        col = tab.ops.model.columns.index("Output shape")
        right = table.columnViewportPosition(col) + table.columnWidth(col)
        assert table.isColumnHidden(0) == (tab is one)
        if tab is one:
            assert 0 <= table.columnViewportPosition(col) and right <= table.viewport().width()
    win.shut_down(save_session=False)
