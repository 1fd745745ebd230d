"""The first window: opening by argument, drag-and-drop, recent files, errors, tables."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.model.reader import open_model
from gui.display_check import display_problem
from gui.main_window import MainWindow
from gui.model.model_tab import ModelTab


def _double_click(qtbot, table, row: int, column: int = 2) -> None:
    """A real double click: press/release, then the double-click event on the same cell."""
    view = table.view
    rect = view.visualRect(table.model.index(row, column))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _open(qtbot, w: MainWindow, *paths) -> None:
    with qtbot.waitSignals([w.model_opened] * len(paths), timeout=20000):
        w.open_paths([str(p) for p in paths])


def test_open_demo_shows_counts_from_reader(qtbot, window, demo_model_path):
    _open(qtbot, window, demo_model_path)
    tab = window.tabs.currentWidget()
    assert isinstance(tab, ModelTab)
    m = open_model(demo_model_path)
    assert f"{m.op_count} ops" in window.statusBar().currentMessage()
    assert f"{m.tensor_count} tensors" in window.statusBar().currentMessage()
    assert tab.ops.model.rowCount() == m.op_count
    assert tab.tensors.model.rowCount() == m.tensor_count
    assert tab.info.text_for("Model")["Min runtime"] == m.min_runtime_version


def test_drop_several_files_opens_a_tab_each(qtbot, window, demo_model_path, shared_model):
    other = shared_model("sine_float")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_model_path)), QUrl.fromLocalFile(str(other))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignals([window.model_opened] * 2, timeout=20000):
        window.dropEvent(event)
    names = sorted(window.tabs.tabText(i) for i in range(window.tabs.count()))
    assert names == sorted([demo_model_path.name, other.name])


def test_bad_file_shows_reader_message_and_app_keeps_running(qtbot, window, tmp_path,
                                                              demo_model_path):
    _open(qtbot, window, demo_model_path)
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(demo_model_path.read_bytes()[:500])
    with qtbot.waitSignal(window.model_failed, timeout=20000) as sig:
        window.open_paths([str(bad)])
    path, message = sig.args
    assert path == str(bad) and str(bad) in message and "truncated" in message
    assert window.error_box is not None and window.error_box.isVisible()
    assert message in window.error_box.text()
    assert window.tabs.count() == 1  # the model opened before is still there
    window.error_box.close()
    other = tmp_path / "other.tflite"
    other.write_bytes(demo_model_path.read_bytes())
    _open(qtbot, window, other)  # and the app still opens files
    assert window.tabs.count() == 2
    assert bad.read_bytes() == demo_model_path.read_bytes()[:500]  # the file was not touched


def test_recent_files_persist_in_settings(qtbot, tmp_path, demo_model_path, shared_model):
    ini = str(tmp_path / "s.ini")
    w = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    other = shared_model("sine_float")
    _open(qtbot, w, demo_model_path)
    _open(qtbot, w, other)
    w2 = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    assert w2.recent_files() == [str(other.resolve()), str(demo_model_path.resolve())]
    actions = [a.text() for a in w2.recent_menu.actions() if a.text() and not a.isSeparator()]
    assert actions[:2] == [str(other.resolve()), str(demo_model_path.resolve())]
    with qtbot.waitSignal(w2.model_opened, timeout=20000):
        w2.recent_menu.actions()[1].trigger()
    assert w2.tabs.tabText(0) == demo_model_path.name


def test_operator_filter_and_sort(qtbot, window, shared_model):
    path = shared_model("mobilenet_v2_224_float32")
    _open(qtbot, window, path)
    tab = window.tabs.currentWidget()
    m = open_model(path)
    n_dw = sum(op.op == "DEPTHWISE_CONV_2D" for op in m.subgraphs[0].operators)
    qtbot.keyClicks(tab.ops.filter, "depthwise_conv_2d")
    shown = tab.ops.visible_items()
    assert len(shown) == n_dw and all(op.op == "DEPTHWISE_CONV_2D" for op in shown)
    tab.ops.filter.clear()
    tab.tensors.view.sortByColumn(6, Qt.SortOrder.DescendingOrder)  # bytes
    first = tab.tensors.visible_items()[0]
    assert first.bytes == max(t.bytes for t in m.subgraphs[0].tensors)


def test_tab_close_releases_model(qtbot, window, demo_model_path):
    _open(qtbot, window, demo_model_path)
    window.close_tab(0)
    assert window.tabs.count() == 0


def test_display_problem_names_the_missing_setting():
    msg = display_problem({"PATH": "/usr/bin"})
    assert msg is not None and "DISPLAY" in msg and "xvfb-run" in msg
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_gui_entry_point_without_display_exits_with_message(tmp_path):
    import subprocess
    import sys
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "gui.app", "--demo"], capture_output=True,
                       text=True, env=env, cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert r.returncode == 3 and "DISPLAY" in r.stderr and "Traceback" not in r.stderr


def test_display_problem_lists_missing_xcb_packages(monkeypatch):
    import gui.display_check as dc
    monkeypatch.setattr(dc, "missing_libraries", lambda binary: ["libxcb-icccm.so.4"])
    msg = dc.display_problem({"DISPLAY": ":0"})
    if dc._xcb_plugin() is None:
        pytest.skip("this PySide6 has no xcb plugin")
    assert "libxcb-icccm4" in msg and "apt-get install" in msg


def test_double_click_operator_row_jumps_to_graph_node(qtbot, window, shared_model):
    path = shared_model("mobilenet_v2_224_float32")
    _open(qtbot, window, path)
    tab = window.tabs.currentWidget()
    tab.tabs.setCurrentWidget(tab.ops)
    qtbot.keyClicks(tab.ops.filter, "mean")
    row, op = next((r, o) for r, o in enumerate(tab.ops.visible_items()) if o.op == "MEAN")
    _double_click(qtbot, tab.ops, row)
    qtbot.waitUntil(lambda: tab.graph.inspector.current == ("op", 0, op.index), timeout=10000)
    assert tab.tabs.currentWidget() is tab.graph
    assert open_model(path).subgraphs[0].operators[op.index].op == "MEAN"


def test_run_tab_profile_colours_the_graph(qtbot, window, demo_model_path):
    _open(qtbot, window, demo_model_path)
    tab = window.tabs.currentWidget()
    assert tab.run is None  # built on first use
    run_tab = next(i for i in range(tab.tabs.count()) if tab.tabs.tabText(i) == "Run")
    tab.tabs.setCurrentIndex(run_tab)
    assert tab.run is not None and tab.run.isVisible()
    tab.run.runs.setValue(5)
    tab.run.profile.setChecked(True)
    with qtbot.waitSignal(tab.run.op_profile_ready, timeout=90_000) as sig:
        tab.run.start()
    times = sig.args[0]
    (overlay,) = [o for o in tab.graph.view.overlays() if o.name == "latency"]
    slowest = max(times, key=times.get)
    assert set(overlay.colors) == {(0, op) for op in times}
    assert re.fullmatch(r"[0-9.]+ (ns|µs|ms|s)", overlay.badges[(0, slowest)])  # units adapt
    # the slowest op gets the hottest colour of the legend
    assert overlay.colors[(0, slowest)] == overlay.legend[-1][1]
    qtbot.waitUntil(lambda: not tab.run.running, timeout=30_000)


def test_closing_a_tab_while_its_graph_is_laid_out(qtbot, window, tmp_path):
    from core.model.samples import synthetic_chain
    from gui.tasks import wait_for_tasks
    path = synthetic_chain(6000).save(tmp_path / "chain6000.tflite")
    _open(qtbot, window, path)
    tab = window.tabs.currentWidget()
    qtbot.waitUntil(lambda: tab.graph.layout_busy, timeout=10000)
    task = tab.graph.layout_task
    window.close_tab(0)
    assert window.tabs.count() == 0
    assert wait_for_tasks(10)
    assert task.wait(0)
    _open(qtbot, window, path)  # the app carries on
    assert window.tabs.count() == 1


def _copies(src: Path, folder: Path, names) -> list[Path]:
    out = []
    for n in names:
        p = folder / n
        p.write_bytes(src.read_bytes())
        out.append(p)
    return out


def test_tabs_open_in_the_order_given(qtbot, window, tmp_path, demo_model_path, shared_model):
    # a big model first: it finishes loading last, its tab must still come first
    big = shared_model("mobilenet_v2_224_float32")
    small = _copies(demo_model_path, tmp_path, ["a.tflite", "b.tflite"])
    _open(qtbot, window, big, *small)
    assert [window.tabs.tabText(i) for i in range(3)] == [big.name, "a.tflite", "b.tflite"]
    assert window.tabs.currentIndex() == 2  # the last one asked for


def test_opening_the_same_file_again_focuses_its_tab(qtbot, window, tmp_path, demo_model_path):
    a, b = _copies(demo_model_path, tmp_path, ["a.tflite", "b.tflite"])
    _open(qtbot, window, a, b)
    assert window.tabs.currentIndex() == 1
    window.open_paths([str(tmp_path / "." / "a.tflite")])  # the same file, spelled differently
    assert window.tabs.count() == 2 and window.tabs.currentIndex() == 0
    assert not window.loader.busy


def test_several_bad_files_share_one_dialog(qtbot, window, tmp_path):
    bad = []
    for k in range(3):
        p = tmp_path / f"bad{k}.tflite"
        p.write_bytes(b"junk" * (k + 1))
        bad.append(p)
    with qtbot.waitSignals([window.model_failed] * 3, timeout=20000):
        window.open_paths([str(p) for p in bad])
    box = window.error_box
    assert box.isVisible() and box.windowTitle() == "Cannot open 3 models"
    assert all(str(p) in box.text() for p in bad)
    others = [w for w in window.findChildren(type(box)) if w.isVisible()]
    assert others == [box]


def test_closing_the_last_tab_shows_the_start_page(qtbot, window, demo_model_path):
    from gui.main_window import START_STATUS
    assert window.stack.currentWidget() is window.start_page
    assert not window.tabs.isVisible()  # no stray tab widget under the menu bar
    _open(qtbot, window, demo_model_path)
    assert window.stack.currentWidget() is window.tabs
    assert "ops" in window.statusBar().currentMessage()
    window.close_tab(0)
    assert window.stack.currentWidget() is window.start_page
    assert window.statusBar().currentMessage() == START_STATUS
    assert window.windowTitle() == "LiteLens"
    assert demo_model_path.name in window.start_page.recent.text()


def test_reload_reads_the_file_again_in_place(qtbot, window, tmp_path, demo_model_path,
                                              shared_model):
    a, b = _copies(demo_model_path, tmp_path, ["a.tflite", "b.tflite"])
    _open(qtbot, window, a, b)
    window.tabs.setCurrentIndex(0)
    a.write_bytes(shared_model("sine_float").read_bytes())  # the file changed on disk
    with qtbot.waitSignal(window.model_opened, timeout=20000):
        window.reload_action.trigger()
    assert window.tabs.tabText(0) == "a.tflite" and window.tabs.currentIndex() == 0
    assert window.tabs.widget(0).model.op_count == open_model(str(a)).op_count != \
        window.tabs.widget(1).model.op_count


def test_last_session_reopens(qtbot, tmp_path, demo_model_path):
    ini = str(tmp_path / "s.ini")
    a, b = _copies(demo_model_path, tmp_path, ["a.tflite", "b.tflite"])
    w = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    _open(qtbot, w, b, a)
    w.close()
    b.unlink()
    w2 = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.model_opened, timeout=20000):
        gone = w2.restore_session()
    assert gone == [str(b)]
    assert [w2.tabs.tabText(i) for i in range(w2.tabs.count())] == ["a.tflite"]


def test_open_dialog_starts_in_the_last_folder(qtbot, window, tmp_path, demo_model_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit
    folder = tmp_path / "models"
    folder.mkdir()
    (a,) = _copies(demo_model_path, folder, ["a.tflite"])
    seen = []

    def answer(path):
        def go():
            dlgs = [w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QFileDialog) and w.isVisible()]
            if not dlgs:
                QTimer.singleShot(50, go)
                return
            dlg = dlgs[0]
            seen.append(dlg.directory().absolutePath())
            if path:  # typed into the file name box, as a user would
                dlg.findChild(QLineEdit, "fileNameEdit").setText(str(path))
                dlg.accept()
            else:
                dlg.reject()
        QTimer.singleShot(50, go)

    # Qt's own dialog (not a desktop portal's), so the test can answer it
    QApplication.instance().setAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs, True)
    answer(a)
    with qtbot.waitSignal(window.model_opened, timeout=20000):
        window.open_dialog()
    answer(None)
    window.open_dialog()
    assert seen[1] == str(folder)


def test_info_panel_keeps_its_width_on_multi_subgraph_models(qtbot, window, shared_model):
    from gui.model.info_panel import MIN_WIDTH
    window.resize(1280, 800)
    _open(qtbot, window, shared_model("lstm_gru_text_float32"))
    tab = window.tabs.currentWidget()
    qtbot.waitUntil(lambda: tab.info.width() > 0)
    before = tab.info.width()
    assert before >= MIN_WIDTH  # it collapsed to ~130 px: labels broke mid-word
    for i in range(len(tab.model.subgraphs)):
        tab.graph.show_subgraph(i)
        qtbot.wait(20)
        assert tab.info.width() == before, f"subgraph {i} changed the info panel's width"


def test_tables_show_names_headers_and_tensors_in_the_graph(qtbot, window, shared_model, tmp_path):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    path = shared_model("mobilenet_v2_224_int8")
    _open(qtbot, window, path)
    tab = window.tabs.currentWidget()
    m = tab.model
    sg = m.subgraphs[0]
    # operator table: tensor names, not indices
    op = sg.operators[0]
    row = tab.ops.visible_items().index(op)
    cell = tab.ops.model.index(row, 5).data()
    from core import format as fmt
    assert cell == ", ".join(fmt.short_name(sg.tensors[i].name, 32) for i in op.inputs if i >= 0)
    tip = tab.ops.model.index(row, 5).data(Qt.ItemDataRole.ToolTipRole)
    assert all(f"#{i} {sg.tensors[i].name}" in tip for i in op.inputs if i >= 0)
    # headers are never cut, long names are cut in the middle
    for table in (tab.ops, tab.tensors):
        hh = table.view.horizontalHeader()
        for c, title in enumerate(table.model.columns[:-1]):
            if table.view.isColumnHidden(c):   # a one-subgraph model's Subgraph column
                continue
            assert table.view.columnWidth(c) >= hh.fontMetrics().horizontalAdvance(title) + 20
        assert table.view.textElideMode() == Qt.TextElideMode.ElideMiddle
    # double-click a tensor row: the graph shows and inspects that tensor
    t = next(t for t in sg.tensors if t.constant and len(t.shape) == 4)
    tab.tabs.setCurrentWidget(tab.tensors)
    qtbot.keyClicks(tab.tensors.filter, t.name)
    _double_click(qtbot, tab.tensors, tab.tensors.visible_items().index(t))
    qtbot.waitUntil(lambda: tab.graph.inspector.current == ("tensor", 0, t.index), timeout=10000)
    assert tab.tabs.currentWidget() is tab.graph
    # Save as .npy: the values the runtime holds for that constant
    out = tab.tensors.save_npy(t, str(tmp_path / "w.npy"))
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    assert np.array_equal(np.load(out), it.get_tensor(t.index))


def test_view_menu_acts_on_the_current_graph(qtbot, window, demo_model_path):
    from core.analysis.overlay import heat_overlay
    _open(qtbot, window, demo_model_path)
    tab = window.tabs.currentWidget()
    qtbot.waitUntil(lambda: tab.graph.view.lay is not None, timeout=20_000)
    tab.tabs.setCurrentWidget(tab.tensors)
    actions = {a.text().split("\t")[0].replace("&", ""): a for a in window.view_menu.actions()}
    actions["Find in Graph…"].trigger()
    assert tab.tabs.currentWidget() is tab.graph
    actions["Tensor Shapes on Edges"].trigger()
    assert tab.graph.labels_btn.isChecked() and tab.graph.view.edge_labels
    tab.graph.view.set_overlay(heat_overlay({0: 1.0, 1: 2.0}, subgraph=0))
    assert tab.graph.view.overlays()
    actions["Remove Overlays"].trigger()
    assert tab.graph.view.overlays() == []
    # weights off: op cards without their weight/bias rows, smaller; the inspector still has them
    conv = 0
    assert tab.graph.view.lay.rows[conv]
    h_with = tab.graph.view.lay.h[conv]
    actions["Weights on Nodes"].trigger()
    qtbot.waitUntil(lambda: tab.graph.view.lay is not None and not any(tab.graph.view.lay.rows),
                    timeout=20_000)
    assert tab.graph.view.lay.h[conv] < h_with and not window.weights_action.isChecked()
    tab.graph.select_op(0, conv)
    assert "filter" in tab.graph.inspector.plain_text()
    actions["Weights on Nodes"].trigger()
    qtbot.waitUntil(lambda: tab.graph.view.lay is not None and bool(tab.graph.view.lay.rows[conv]),
                    timeout=20_000)
    keys = [a.text() for a in window.view_menu.actions()]
    assert "&Find in Graph…\tCtrl+F" in keys and "&Fit Graph\tCtrl+0" in keys


def test_compare_reads_both_models_off_the_ui_thread(qtbot, window, demo_model_path, tmp_path):
    from gui.quantize.compare_view import CompareView
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    _open(qtbot, window, demo_model_path)
    window.open_compare(str(demo_model_path), str(demo_model_path))
    assert window.tabs.count() == 1          # nothing read yet: the UI thread returned at once
    qtbot.waitUntil(lambda: isinstance(window.tabs.currentWidget(), CompareView), timeout=20000)
    assert window.tabs.count() == 2 and "to compare" not in window.statusBar().currentMessage()
    assert window.tabs.currentWidget().diff.counts.same > 0   # diffed in the task
    with qtbot.waitSignal(window.model_failed, timeout=20000) as failed:
        window.open_compare(str(demo_model_path), str(bad))
    path, message = failed.args
    assert path == str(bad) and message.startswith(str(bad))   # names the file that is bad
    assert window.tabs.count() == 2 and window.error_box is not None
    window.error_box.close()


def test_compare_open_closes_model_a_when_b_fails(qtbot, window, demo_model_path, tmp_path,
                                                  monkeypatch):
    """Model A was opened, B's read failed, and A's mmap stayed open (leaked) until the GC."""
    import core.analysis.compare as compare
    import core.model.reader as reader
    opened = []
    real = reader.open_model

    def recording_open(path, **kw):   # the real reader; only remembers what it opened
        opened.append(real(path, **kw))
        return opened[-1]
    monkeypatch.setattr(reader, "open_model", recording_open)
    monkeypatch.setattr(compare, "open_model", recording_open, raising=False)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    with qtbot.waitSignal(window.model_failed, timeout=20000):
        window.open_compare(str(demo_model_path), str(bad))
    assert [m.path for m in opened] == [str(demo_model_path)]
    assert opened[0]._data.closed
    window.error_box.close()


def test_one_shape_setting_per_model_shared_by_run_memory_quantize_and_saved(
        qtbot, tmp_path, shared_model):
    from core.analysis.memory import memory_report
    ini = str(tmp_path / "s.ini")
    path = tmp_path / "sine.tflite"
    path.write_bytes(shared_model("sine_float").read_bytes())   # input [-1, 1]
    name = "serving_default_dense_input:0"
    w = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    _open(qtbot, w, path)
    tab = w.tabs.currentWidget()
    memory = tab.memory_panel()
    qtbot.waitUntil(lambda: memory.report is not None, timeout=30000)
    assert "--shape" in memory.status.text() and name in memory.status.text()
    run = tab.run_panel()
    run.shapes.setText(f"{name}=5,1")   # typed in the Run panel, as a user would
    run.shapes.editingFinished.emit()
    assert tab.shape_setting.shapes == {name: [5, 1]}
    assert run.config().shapes == {name: [5, 1]}
    # the Memory panel replans at it: the same plan the core makes at that shape
    qtbot.waitUntil(lambda: memory.report is not None
                    and memory.report.config.shapes == {name: [5, 1]}, timeout=30000)
    with open_model(str(path)) as m:
        want = memory_report(m, 1, shapes={name: [5, 1]})
    assert memory.report.subgraphs[0].tflite_arena == want.subgraphs[0].tflite_arena
    assert "at serving_default_dense_input:0=5,1" in memory.status.text()
    assert tab.quantize_panel().request("dynamic_int8").shapes == {name: [5, 1]}
    w.close()
    # saved with the session: the reopened tab has it, and its Run panel shows it
    w2 = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.model_opened, timeout=20000):
        w2.restore_session()
    tab2 = w2.tabs.currentWidget()
    assert tab2.shape_setting.shapes == {name: [5, 1]}
    assert tab2.run_panel().shapes.text() == f"{name}=5,1"
    w2.close()
