"""The Memory panel (pytest-qt, offscreen) on a real model: the arena chart's rectangles, hover
and click (selects the tensor in the graph), the live curve's peak, the table with the runtime's
measured arena, the threads selector and the graph overlay."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, Qt  # noqa: E402

from core.model.reader import open_model  # noqa: E402


def _memory_tab(qtbot, path):
    from gui.model.model_tab import ModelTab
    tab = ModelTab(open_model(path))
    qtbot.addWidget(tab)
    tab.resize(1400, 900)
    tab.show()
    qtbot.waitExposed(tab)
    tab.tabs.setCurrentWidget(tab._memory_slot)
    panel = tab.memory
    assert panel is not None  # built when the tab is first shown
    qtbot.waitUntil(lambda: panel.report is not None, timeout=30000)
    return tab, panel


def test_memory_panel_on_a_real_model(qtbot, shared_model, tmp_path):
    tab, panel = _memory_tab(qtbot, shared_model("hand_recrop"))
    try:
        sg = panel.current_subgraph()
        lt = sg.tflite_arena
        main = [t for t in lt.tensors if t.arena == "main" and t.bytes]
        assert len(panel.chart.tensors) == len(main) > 10
        assert panel.curve.peak_op == lt.peak_op
        assert max(sg.live_bytes) == sg.lower_bound_bytes <= lt.arena_bytes
        rows = {r[0]: r for r in panel.table.rows()}
        assert "LiteRT arena (predicted)" in rows and "TFLM head (predicted)" in rows
        # each arena beside its own bound, in adaptive units first
        from core import format as fmt
        assert rows["LiteRT arena lower bound"][1] == \
            f"{fmt.size(lt.lower_bound_bytes)} ({lt.lower_bound_bytes:,} B)"
        tg = sg.tflm_greedy
        assert rows["TFLM head lower bound"][1].startswith(fmt.size(tg.lower_bound_bytes))
        assert tg.lower_bound_bytes <= tg.arena_bytes
        # the peak is marked above the curve, at the top of its step; the bound line drawn
        assert panel.curve.peak_marker.isVisible()
        assert panel.curve.peak_marker.pos().y() == max(sg.live_bytes)
        assert panel.curve.bound_line.value() == lt.lower_bound_bytes
        assert "MiB" in panel.curve.getAxis("left").labelText
        # the TFLM chart: its own lifetimes, its own arena and bound
        panel.planner.setCurrentIndex(panel.planner.findData("tflm_greedy"))
        assert panel.curve.bound_line.value() == tg.lower_bound_bytes
        assert panel.curve.arena_line.value() == tg.arena_bytes
        assert "TFLM" in panel.curve.plotItem.titleLabel.text
        panel.planner.setCurrentIndex(panel.planner.findData("tflite_arena"))
        # the graph shows live memory per op
        assert any(o.name == "live memory" for o in tab.graph.view.overlays())

        # hover a tensor's rectangle: its name; click it: selected in the graph
        t = max(main, key=lambda x: x.bytes * (x.last_op - x.first_op + 1))
        vb = panel.chart.plotItem.vb
        scene = vb.mapViewToScene(QPointF((t.first_op + t.last_op) / 2,
                                          t.offset + t.bytes / 2))
        pos = panel.chart.mapFromScene(scene)
        qtbot.mouseMove(panel.chart.viewport(), pos)
        qtbot.waitUntil(lambda: panel.chart.hover_text != "", timeout=5000)
        hovered = panel.chart.tensor_at(vb.mapSceneToView(scene).x(),
                                        vb.mapSceneToView(scene).y())
        assert hovered is not None and hovered.name in panel.chart.hover_text
        qtbot.mouseClick(panel.chart.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        view = tab.graph.view
        qtbot.waitUntil(lambda: view.sel_tensor == hovered.index
                        or view.sel_node == hovered.first_op, timeout=30000)

        # the runtime's measured arena, in the table, equal to the plan
        with qtbot.waitSignal(panel._runtime_task.done, timeout=120000):
            panel.check_runtime()
        rows = {r[0]: r for r in panel.table.rows()}
        measured = rows["runtime arena (measured)"]
        assert measured[1].endswith(f"({lt.arena_bytes:,} B)")
        assert measured[2].startswith("equal")
        persistent_note = rows["runtime persistent (measured)"][2]
        assert persistent_note == "empty, as planned" if lt.persistent_bytes == 0 else \
            persistent_note.startswith("equal")
        takes = rows["tensors XNNPACK takes out of the arena"]
        assert "not XNNPACK's memory use" in takes[2]
        assert "XNNPACK footprint (measured)" in rows

        # two threads: a new plan (float convs keep HWCN weights in the persistent arena)
        before = lt.persistent_bytes
        panel.threads.setValue(2)
        qtbot.waitUntil(lambda: panel.report.config.threads == 2, timeout=30000)
        after = panel.current_subgraph().tflite_arena.persistent_bytes
        assert after > before
        assert panel.runtime is None  # the old measurement does not describe the new plan
        panel.arena.setCurrentIndex(panel.arena.findData("persistent"))
        persistent = [t for t in panel.current_subgraph().tflite_arena.tensors
                      if t.arena == "persistent" and t.bytes]
        assert len(panel.chart.tensors) == len(persistent) > 0

        png = tmp_path / "memory.png"
        assert tab.grab().save(str(png)) and png.stat().st_size > 10000
    finally:
        tab.close_model()


def test_a_runtime_check_for_other_threads_is_not_shown(qtbot, demo_model_path):
    """Threads changed while the runtime ran: its measurement describes the old plan."""
    tab, panel = _memory_tab(qtbot, demo_model_path)
    try:
        with qtbot.waitSignal(panel._runtime_task.done, timeout=120000):
            panel.check_runtime()
            panel.threads.setValue(2)
        qtbot.waitUntil(lambda: panel.report.config.threads == 2, timeout=30000)
        assert panel.runtime is None
        assert not any(r[0] == "runtime arena (measured)" for r in panel.table.rows())
        assert panel.check.isEnabled()
    finally:
        tab.close_model()


def test_memory_panel_tflm_beside_litert(qtbot, shared_model):
    """The TFLM rows (head, tail, arena_size) beside the LiteRT arena; "Check on TFLM" runs
    tflite-micro in a worker and adds its measured figures (SOURCES.md: head 3,424 B, tail
    16,384 B on the wake-word model)."""
    import pytest
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed (LiteLens[micro])")
    tab, panel = _memory_tab(qtbot, shared_model("micro_wakeword_hey_jarvis"))
    try:
        rows = {r[0]: r for r in panel.table.rows()}
        assert rows["TFLM head (predicted)"][1].endswith("(3,424 B)")
        with qtbot.waitSignal(panel._tflm_task.done, timeout=120000):
            panel.check_tflm.click()
        qtbot.waitUntil(lambda: any(r[0] == "TFLM tail (measured)"
                                    for r in panel.table.rows()), timeout=10000)
        rows = {r[0]: r for r in panel.table.rows()}
        assert rows["TFLM head (measured)"][1].endswith("(3,424 B)")
        assert "equal to the plan" in rows["TFLM head (measured)"][2]
        assert rows["TFLM tail (measured)"][1].endswith("(16,384 B)")
        assert "max |diff| 0" in rows["TFLM outputs vs LiteRT"][2]
    finally:
        tab.close_model()
