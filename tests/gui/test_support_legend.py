"""The Delegates matrix says what its marks mean (pytest-qt, offscreen, real model): every mark a
cell shows, "✓ CPU" included, has a legend entry under the table, and no entry is for a mark the
matrix does not show."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from tests.gui.delegates_tab import delegates_tab  # noqa: E402
from tests.gui.shown_text import shown  # noqa: E402


@pytest.mark.parametrize("name", ["transformer_encoder_dynint8", "face_detection_short_range"])
def test_every_mark_in_the_matrix_has_a_legend_entry(qtbot, shared_model, name):
    tab = delegates_tab(qtbot, shared_model(name))
    try:
        matrix = tab.delegates.matrix
        rows = matrix.model
        marks = {rows.data(rows.index(r, c)) for r in range(rows.rowCount())
                 for c in range(3, rows.columnCount())}
        assert "✓ CPU" in marks or name != "transformer_encoder_dynint8"
        legend = " ".join(shown(matrix.legend.text()).split())
        qtbot.waitUntil(matrix.legend.isVisible)
        said = {m for m in ("✓ CPU", "✓ blocked", "✗", "—") if f"{m} " in legend}
        assert said == marks - {"✓"}
        assert ("✓ delegated" in legend) == ("✓" in marks)
        assert "partition is not kept" in legend or "✓ CPU" not in marks
    finally:
        tab.close_model()
