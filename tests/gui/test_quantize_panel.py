"""The Quantize panel and the compare view, offscreen with the real quantizer and runtime."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from core.analysis.compare import MedianLatency, compare_models  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from core.model.samples import demo_model  # noqa: E402


@pytest.fixture
def demo_tab(qtbot, tmp_path):
    from gui.model.model_tab import ModelTab
    path = demo_model().save(tmp_path / "demo.tflite")
    tab = ModelTab(open_model(path))
    qtbot.addWidget(tab)
    tab.resize(1300, 850)
    tab.show()
    yield tab
    tab.close_model()


def test_recipe_button_runs_verifies_and_paints_error(demo_tab, qtbot, tmp_path):
    panel = demo_tab.quantize_panel()
    with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
        panel.recipe_buttons["full_int8"].click()
        assert panel.cancel_button.isEnabled()
    report = sig.args[0]
    assert report.failure is None
    assert report.output == str(tmp_path / "demo.full_int8.tflite")
    assert (tmp_path / "demo.full_int8.tflite").is_file()
    # the table shows the report's rows, worst first, and the graph has the error overlay
    assert panel.table.rowCount() == len(report.per_layer) > 0
    assert panel.table.item(0, 4).text() == f"{report.per_layer[0].cosine:.5f}"
    overlay = {o.name: o for o in demo_tab.graph.view.overlays()}["quantization error"]
    worst = report.per_layer[0].op_index
    assert overlay.colors[(0, worst)] == "#9d0208"
    assert "FAILED" not in panel.summary.toPlainText()
    # "keep these N ops float": one click re-runs with the worst 2 kept float
    panel.keep_n.setValue(2)
    names = [r.tensor for r in report.per_layer[:2]]
    with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
        panel.rerun_button.click()
    again = sig.args[0]
    assert again.failure is None
    assert again.output == str(tmp_path / "demo.full_int8.2.tflite")
    kept = {k.tensor: k.reason for k in again.kept_float}
    assert all("kept float as asked" in kept[n] for n in names)


def test_cancel_button(demo_tab, qtbot, tmp_path):
    panel = demo_tab.quantize_panel()
    panel.output.setText(str(tmp_path / "never.tflite"))
    seen = []
    panel.runner.progress.connect(lambda f, text: seen.append(text))
    with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
        panel.recipe_buttons["int16x8"].click()
        qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
        panel.cancel_button.click()
    assert sig.args[0].failure == "cancelled"
    assert not (tmp_path / "never.tflite").exists()
    assert all(b.isEnabled() for b in panel.recipe_buttons.values())


def test_refused_output_is_shown_not_raised(demo_tab, qtbot):
    panel = demo_tab.quantize_panel()
    panel.output.setText(demo_tab.model.path)
    with qtbot.waitSignal(panel.finished, timeout=10_000) as sig:
        panel.recipe_buttons["dynamic_int8"].click()
    assert "the output is the input model" in sig.args[0].failure
    assert "FAILED" in panel.summary.toPlainText()


def test_compare_view_diff_and_aligned_selection(qtbot, tmp_path):
    from core.quantize.run import QuantizeRequest, quantize
    from gui.quantize.compare_view import CompareView
    src = demo_model().save(tmp_path / "demo.tflite")
    r = quantize(QuantizeRequest(str(src), "weight_only_int8", eval_samples=1))
    a, b = open_model(src), open_model(r.output)
    diff = compare_models(a, b)
    # weight-only int8 inserts one DEQUANTIZE per quantized weight, nothing else is removed
    added = [row for row in diff.ops if row.status == "added"]
    assert added and all(row.b is not None and row.b.op == "DEQUANTIZE" for row in added)
    assert diff.counts.removed == 0
    assert b.op_count == a.op_count + len(added)
    view = CompareView(a, b, MedianLatency(1.0, 2.0))
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    assert view.table.rowCount() == sum(1 for row in diff.ops if row.status != "same")
    view.only_diffs.setChecked(False)
    assert view.table.rowCount() == len(diff.ops)
    qtbot.waitUntil(lambda: view.graph_a.view.lay is not None and
                    view.graph_b.view.lay is not None, timeout=30_000)
    row = next(i for i, r in enumerate(view.rows) if r.a and r.b)
    view.table.setCurrentCell(row, 0)
    assert view.graph_a.view.sel_node == view.rows[row].a.index
    assert view.graph_b.view.sel_node == view.rows[row].b.index
    view.close_model()


def test_main_window_opens_result_and_compare_tab(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.quantize.compare_view import CompareView
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    src = demo_model().save(tmp_path / "demo.tflite")
    w.open_paths([str(src)])
    qtbot.waitUntil(lambda: w.tabs.count() == 1 and not w.pending, timeout=30_000)
    panel = w.tabs.widget(0).quantize_panel()
    with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
        panel.recipe_buttons["float16"].click()
    out = sig.args[0].output
    assert out and panel.open_button.isEnabled() and panel.compare_button.isEnabled()
    panel.open_button.click()
    qtbot.waitUntil(lambda: w.tabs.count() == 2 and not w.pending, timeout=30_000)
    assert w.tabs.tabToolTip(1) == out
    panel.compare_button.click()   # both models are read off the UI thread first
    qtbot.waitUntil(lambda: w.tabs.count() == 3, timeout=30_000)
    assert isinstance(w.tabs.widget(2), CompareView)
    assert w.tabs.widget(2).diff.counts.changed > 0
    for i in reversed(range(w.tabs.count())):
        w.close_tab(i)


def test_run_an_edited_recipe_file(demo_tab, qtbot, tmp_path):
    from core.quantize import recipes
    path = recipes.save_recipe(tmp_path / "mine.json",
                               recipes.aeq_recipe("weight_only_int8", keep_float=["^head/"]))
    panel = demo_tab.quantize_panel()
    panel.recipe_file.setText(str(path))
    with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
        panel.run_file_button.click()
    r = sig.args[0]
    assert r.failure is None and r.recipe == str(path)
    assert r.output == str(tmp_path / "demo.mine.tflite")
    assert any(k.tensor.startswith("head/") and "kept float as asked" in k.reason
               for k in r.kept_float)



@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_fail_verdict_looks_like_a_failure_and_can_be_kept(qtbot, tmp_path, theme):
    """full_int8 of a model whose output stops following its input (y = dense(x) + 100): the
    panel says FAIL in the theme's fail colour, the bar is no longer the 'done' blue, nothing
    is written, and "Write it anyway" writes it."""
    import numpy as np
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from core.model.builder import ModelBuilder
    from gui.model.model_tab import ModelTab
    from gui.theme import apply_theme, current_choice
    from tests.gui.test_theme_contrast import contrast
    rng = np.random.default_rng(3)
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16])
    w = sg.tensor("w", [8, 16], data=(rng.standard_normal((8, 16)) * 1e-3).astype(np.float32))
    b = sg.tensor("b", [8], data=np.zeros(8, np.float32))
    y = sg.tensor("dense", [1, 8])
    sg.op("FULLY_CONNECTED", [x, w, b], [y], {"fused_activation_function": "NONE"})
    c = sg.tensor("c", [1], data=np.array([100.0], np.float32))
    z = sg.tensor("shifted", [1, 8])
    sg.op("ADD", [y, c], [z], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [z]
    path = mb.save(tmp_path / "offset.tflite")
    app = QApplication.instance()
    before = current_choice()
    apply_theme(app, "light" if theme == "dark" else "dark")   # switched to once it failed
    tab = ModelTab(open_model(path))
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    try:
        panel = tab.quantize_panel()
        idle = panel.progress.palette().color(QPalette.ColorRole.Highlight)
        panel.delegate.setCurrentIndex(panel.delegate.findData("gpu"))
        with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
            panel.recipe_buttons["full_int8"].click()
        report = sig.args[0]
        assert report.verdict == "fail" and report.output is None
        assert report.coverage is not None and report.coverage.delegate == "gpu"
        assert not (tmp_path / "offset.full_int8.tflite").exists()
        assert not panel.verdict.isHidden() and panel.verdict.text().startswith("Verdict: FAIL")
        assert "nothing written" in panel.verdict.text()
        assert "verdict: FAIL" in panel.summary.toPlainText()
        apply_theme(app, theme)

        def red(c):
            return c != idle and (c.hslHue() < 15 or c.hslHue() > 345)
        # the bar repaints on the theme's palette change: red, not the 'done' blue
        qtbot.waitUntil(lambda: red(panel.progress.palette().color(QPalette.ColorRole.Highlight)))
        bar = panel.progress.palette()
        fill = bar.color(QPalette.ColorRole.Highlight)
        assert contrast(bar.color(QPalette.ColorRole.HighlightedText), fill) >= 4.5
        label = panel.verdict.palette().color(QPalette.ColorRole.WindowText)
        assert label.hslHue() < 15 or label.hslHue() > 345
        assert contrast(label, panel.palette().color(QPalette.ColorRole.Window)) >= 4.5
        assert panel.keep_failed_button.isEnabled() and not panel.open_button.isEnabled()
        with qtbot.waitSignal(panel.finished, timeout=120_000) as sig:
            panel.keep_failed_button.click()
        kept = sig.args[0]
        assert kept.verdict == "fail" and kept.output == str(tmp_path / "offset.full_int8.tflite")
        assert (tmp_path / "offset.full_int8.tflite").is_file()
        assert "written to" in panel.verdict.text() and panel.open_button.isEnabled()
    finally:
        tab.close_model()
        apply_theme(app, before)
