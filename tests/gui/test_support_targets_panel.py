"""Tool-run targets in the Delegates panel (pytest-qt, offscreen): a target added from the
Targets menu becomes a column with the tool's own verdicts, vela's estimates get their summary
and a latency overlay labelled with the accelerator and clock, a target without its SDK shows
no made-up verdicts, and the NPU compile action reports the plugin's compile step."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from core.analysis.support.target_run import analyze_target  # noqa: E402
from core.inference.toolchains import vela_version  # noqa: E402
from tests.gui.delegates_tab import delegates_tab  # noqa: E402
from tests.gui.shown_text import shown  # noqa: E402


@pytest.fixture
def tab(qtbot, shared_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LITELENS_CACHE_DIR", str(tmp_path / "cache"))
    t = delegates_tab(qtbot, shared_model("micro_wakeword_hey_jarvis"))
    yield t
    t.close_model()


def _column(panel, name):
    rows = panel.matrix.model
    return rows, 3 + rows.delegates.index(name)


@pytest.mark.skipif(vela_version() is None, reason="ethos-u-vela is not installed")
def test_ethos_u_column_estimates_and_latency_overlay(tab, qtbot):
    panel = tab.delegates
    panel.add_target("ethos-u55-128")
    qtbot.waitUntil(lambda: "ethos-u55-128" in panel.target_blocks, timeout=120_000)
    expected = analyze_target(tab.model, "ethos-u55-128")    # the cached tool answer
    rows, col = _column(panel, "ethos-u55-128")
    for r in range(rows.rowCount()):
        i = rows.item_at(r)
        o = expected["subgraphs"][0]["ops"][i]
        assert rows.data(rows.index(r, col)) == ("✓" if o["partition"] is not None else
                                                 "✓ CPU" if o["supported"] else "✗")
        tip = shown(rows.data(rows.index(r, col), Qt.ItemDataRole.ToolTipRole))
        assert f"proven here by ethos-u-vela {vela_version()}" in tip
    assert panel.estimates.isVisible() and "500 MHz" in panel.estimates.text()
    panel.choose_delegate("ethos-u55-128#estimate")
    ov = tab.graph.view.overlays()[-1]
    assert ov.name == "Arm Ethos-U55-128 (vela) estimated latency @ 500 MHz"
    per_op = {(p["subgraph"], p["index"]) for p in expected["estimate"]["per_op"]}
    assert set(ov.colors) == per_op


def test_missing_sdk_column_has_no_verdicts(tab, qtbot):
    panel = tab.delegates
    panel.add_target("npu-samsung")
    qtbot.waitUntil(lambda: "npu-samsung" in panel.target_blocks, timeout=120_000)
    block = panel.target_blocks["npu-samsung"]
    if not block.error:
        pytest.skip("the Samsung SDK and plugin work here")
    rows, col = _column(panel, "npu-samsung")
    assert {rows.data(rows.index(r, col)) for r in range(rows.rowCount())} == {"—"}
    assert block.error in shown(rows.data(rows.index(0, col), Qt.ItemDataRole.ToolTipRole))
    assert block.error in panel.summary.text()


def test_intel_column_and_compile_action(tab, qtbot):
    panel = tab.delegates
    panel.add_target("npu-intel:LNL")
    qtbot.waitUntil(lambda: "npu-intel:LNL" in panel.target_blocks, timeout=120_000)
    if panel.target_blocks["npu-intel:LNL"].error:
        pytest.skip(panel.target_blocks["npu-intel:LNL"].error)
    rows, col = _column(panel, "npu-intel:LNL")
    assert rows.headerData(col, Qt.Orientation.Horizontal) == "NPU Intel"
    assert panel.compile.isVisible()
    panel.compile.click()
    qtbot.waitUntil(lambda: panel.target_blocks["npu-intel:LNL"].block.get("compile")
                    is not None, timeout=120_000)
    assert "compile (device cpu)" in panel.summary.text()


def test_column_headers_say_who_answered(tab):
    rows = tab.delegates.matrix.model
    tips = {d: rows.headerData(3 + k, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            for k, d in enumerate(rows.delegates)}
    assert "unverified: follows LiteRT's NNAPI delegate source" in tips["nnapi"]
    assert "deprecated: LiteRT deprecates the NNAPI delegate" in tips["nnapi"]
    assert "deprecated: LiteRT deprecates the Hexagon delegate" in tips["hexagon"]
    assert "deprecat" not in tips["gpu"]


def test_unverified_columns_say_so_on_screen(tab, qtbot):
    """Not only in a tooltip: the header of a column that follows a source carries the mark the
    legend explains, and each summary line says who answered it."""
    panel = tab.delegates
    panel.add_target("npu-intel:LNL")
    qtbot.waitUntil(lambda: "npu-intel:LNL" in panel.target_blocks, timeout=120_000)
    rows = panel.matrix.model
    heads = {d: rows.headerData(3 + k, Qt.Orientation.Horizontal)
             for k, d in enumerate(rows.delegates)}
    assert heads["nnapi"].endswith("*") and heads["edgetpu"].endswith("*")
    assert "* unverified" in panel.matrix.legend.text()
    summary = panel.summary.text().splitlines()
    nnapi = next(line for line in summary if line.startswith("NNAPI"))
    assert nnapi.endswith("[unverified: follows its source; deprecated]"), nnapi
    if not panel.target_blocks["npu-intel:LNL"].error:   # the plugin ran here: proven, unmarked
        assert not heads["npu-intel:LNL"].endswith("*")
        intel = next(line for line in summary if "Intel" in line)
        assert "[proven here by" in intel, intel


def test_check_on_tflite_micro_shows_its_figures_against_the_plan(tab, qtbot):
    """"Check on TFLite Micro" runs tflite-micro in a worker (off the UI thread) and shows its
    real head and tail against the plan (SOURCES.md: head 3,424 B, tail 16,384 B on the
    wake-word model) and its outputs against LiteRT's."""
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed (LiteLens[micro])")
    panel = tab.delegates
    qtbot.mouseClick(panel.check_tflm, Qt.MouseButton.LeftButton)
    assert not panel.check_tflm.isEnabled() and panel.tflm_checked.isVisible()
    qtbot.waitUntil(lambda: panel.check_tflm.isEnabled(), timeout=120_000)
    text = panel.tflm_checked.text()
    assert "head 3424 B (+0), tail 16384 B (+0)" in text, text
    assert "arena_size 20320 B" in text and "output 0 vs LiteRT: max |diff| 0" in text
