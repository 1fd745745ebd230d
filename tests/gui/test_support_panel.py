"""The Delegates panel in a model tab (pytest-qt, offscreen): the matrix shows what the core
analysis says, the filter keeps the ops some delegate cannot take, a click jumps to the node, the
chosen delegate's overlay lands on the graph, and the runtime check reports its verdict."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QCoreApplication, Qt  # noqa: E402

from core.analysis.support.analyze import analyze  # noqa: E402
from core.analysis.support.overlay import OVERLAY_PREFIX  # noqa: E402
from tests.gui.delegates_tab import delegates_tab  # noqa: E402
from tests.gui.shown_text import shown  # noqa: E402


@pytest.fixture
def tab(qtbot, shared_model):
    t = delegates_tab(qtbot, shared_model("transformer_encoder_dynint8"))
    yield t
    t.close_model()


def test_matrix_matches_the_core_analysis(tab):
    rows = tab.delegates.matrix.model
    expected = analyze(tab.model)
    for col, d in enumerate(rows.delegates, start=3):
        for r in range(rows.rowCount()):
            i = rows.item_at(r)
            o = expected.delegates[d].subgraphs[0].ops[i]
            text = rows.data(rows.index(r, col))
            kept = "✓ blocked" if expected.delegates[d].refused else "✓ CPU"
            assert text == ("✓" if o.partition is not None else
                            kept if o.supported else "✗")
            tip = rows.data(rows.index(r, col), Qt.ItemDataRole.ToolTipRole)
            if not o.supported:
                assert o.reason in shown(tip)


def test_filter_keeps_ops_some_delegate_cannot_take(tab):
    tab.delegates.unsupported.setChecked(True)
    rows = tab.delegates.matrix.model
    assert 0 < rows.rowCount() <= len(tab.model.subgraphs[0].operators)
    # Edge TPU takes nothing of this float model: every op is unsupported somewhere
    assert rows.rowCount() == len(tab.model.subgraphs[0].operators)
    tab.delegates.matrix.filter.setText("BATCH_MATMUL")
    assert {rows.data(rows.index(r, 1)) for r in range(rows.rowCount())} == {"BATCH_MATMUL"}


def test_click_jumps_to_the_node(tab, qtbot):
    m = tab.delegates.matrix
    m.filter.setText("#12")
    idx = m.model.index(0, 1)
    assert m.model.item_at(0) == 12
    m.view.doubleClicked.emit(idx)
    assert tab.tabs.currentWidget() is tab.graph
    qtbot.waitUntil(lambda: tab.graph.inspector.current == ("op", 0, 12), timeout=20_000)


def test_overlay_follows_the_chosen_delegate(tab):
    tab.delegates.choose_delegate("nnapi")
    names = [ov.name for ov in tab.graph.view.overlays() if ov.name.startswith(OVERLAY_PREFIX)]
    assert names == [OVERLAY_PREFIX + "NNAPI"]
    ov = tab.graph.view.overlays()[-1]
    assert ov.summary.startswith("NNAPI: ") and "partition" in ov.summary
    assert len(ov.groups) == analyze(tab.model).delegates["nnapi"].subgraphs[0].partitions
    tab.delegates.choose_delegate("xnnpack")
    names = [ov.name for ov in tab.graph.view.overlays() if ov.name.startswith(OVERLAY_PREFIX)]
    assert names == [OVERLAY_PREFIX + "XNNPACK (CPU)"]
    tab.delegates.choose_delegate(None)
    assert not [ov for ov in tab.graph.view.overlays() if ov.name.startswith(OVERLAY_PREFIX)]


def test_runtime_check_shows_its_verdict(tab, qtbot):
    tab.delegates.run_check()
    qtbot.waitUntil(lambda: tab.delegates.verdict is not None, timeout=60_000)
    text = tab.delegates.checked.text()
    assert "checked against LiteRT" in text and "50/50 agree, 1 partition" in text


def test_options_rerun_the_analysis(tab, qtbot):
    before = tab.delegates.result.delegates["nnapi"].subgraphs[0].delegated_ops
    tab.delegates.options.setText("android_sdk_version=27")
    tab.delegates.apply_options()
    qtbot.waitUntil(lambda: tab.delegates.result.delegates["nnapi"].options["android_sdk_version"] == 27,
                    timeout=20_000)
    assert tab.delegates.result.delegates["nnapi"].subgraphs[0].delegated_ops < before
    tab.delegates.options.setText("bogus=1")
    tab.delegates.apply_options()
    assert "unknown option" in tab.delegates.summary.text()


def test_new_options_drop_a_check_still_running(tab, qtbot):
    # the check compares the prediction it started with: once the options change, its verdict
    # would describe an analysis no longer shown
    tab.delegates.run_check()
    tab.delegates.options.setText("clustering=false")
    tab.delegates.apply_options()
    assert tab.delegates.check.isEnabled()
    assert tab.delegates.check_runner.wait(60)
    qtbot.waitUntil(lambda: tab.delegates.result.delegates["xnnpack"].options["clustering"] is False,
                    timeout=20_000)
    # the check's thread has ended, so its finished signal is queued: deliver it, then look
    QCoreApplication.sendPostedEvents()
    QCoreApplication.processEvents()
    assert tab.delegates.verdict is None and tab.delegates.checked.text() == ""
