"""What a hostile file shows in the GUI: non-finite numbers say so, names are escaped."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.model.reader import open_model
from gui.model.model_tab import ModelTab
from tests.model import hostile


@pytest.fixture
def tab_for(qtbot, tmp_path):
    tabs = []

    def make(data: bytes, name: str) -> ModelTab:
        p = tmp_path / name
        p.write_bytes(data)
        tab = ModelTab(open_model(p))
        qtbot.addWidget(tab)
        tab.resize(1200, 800)
        tab.show()
        qtbot.waitUntil(lambda: tab.graph.view.lay is not None, timeout=30000)
        tabs.append(tab)
        return tab
    yield make
    for t in tabs:
        t.graph.cancel_layout(quiet=True)


def _display(table, row: int, column: int) -> str:
    m = table.model
    return m.data(m.index(row, column), Qt.ItemDataRole.DisplayRole)


def test_nonfinite_numbers_are_shown_as_such(tab_for, tmp_path):
    tab = tab_for(hostile.nonfinite_numbers(), "nan.tflite")
    warnings = tab.info.text_for("Warnings")
    assert list(warnings.values()) == [
        "tensor 0 'input' (subgraph 0): quantization.scale[0] is NaN in the file; "
        "reported as null",
        "tensor 1 'per_channel' (subgraph 0): quantization.scale[1] is Infinity in the file; "
        "reported as null"]
    tab.graph.inspector.show_op(0, 0)
    text = " ".join(tab.graph.inspector.plain_text().split())
    assert "alpha NaN (not finite in the file)" in text
    assert "scale=NaN (not finite in the file)" in text
    tab.graph.inspector.show_tensor(0, 1)
    assert "1 not finite in the file" in tab.graph.inspector.plain_text()
    options = tab.ops.model.columns.index("Options")
    assert "alpha=NaN (not finite in the file)" in _display(tab.ops, 0, options)
    tab.info.grab().save(str(tmp_path / "info.png"))


def test_control_characters_in_names_are_escaped(tab_for):
    tab = tab_for(hostile.control_char_name(False), "ansi.tflite")
    shown = _display(tab.tensors, 0, 2)
    assert shown == r"x\n\x1b[2K\x1b[1Gok: fine\x1b[0m\r\x07"
    tab.graph.inspector.show_tensor(0, 0)
    assert "\x1b" not in tab.graph.inspector.plain_text()
    assert r"\x1b[2K" in tab.graph.inspector.plain_text()
    assert all("\x1b" not in label and "\n" not in label for label in tab.graph.view.lay.labels)
    assert "\x1b" not in tab.info.toPlainText()
