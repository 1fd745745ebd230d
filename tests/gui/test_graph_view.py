"""The graph tab (pytest-qt, offscreen): real models in a ModelTab, clicks, search, export,
control flow, the layout thread, overlays and the level-of-detail painter."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QTransform  # noqa: E402
from PySide6.QtWidgets import QLabel, QToolButton  # noqa: E402

from core import format as fmt  # noqa: E402
from core.graph.layout import NODE_OP  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from core.model.samples import synthetic_chain  # noqa: E402
from gui.graph.renderer import paint_scene  # noqa: E402
from tests.graph.test_layout import _while_model  # noqa: E402


@pytest.fixture
def open_tab(qtbot):
    tabs = []

    def make(path, scopes: bool = False, fold: bool = False):
        """By default every op drawn flat, each in a card of its own (what these tests look
        at); name-scope boxes and folded producers have their own tests
        (test_graph_scopes.py)."""
        from gui.model.model_tab import ModelTab
        tab = ModelTab(open_model(path))
        qtbot.addWidget(tab)
        tab.resize(1400, 900)
        tab.show()
        qtbot.waitExposed(tab)
        panel = tab.graph
        panel.set_scopes(scopes)
        panel.set_fold_producers(fold)
        qtbot.waitUntil(lambda: panel.view.lay is not None
                        and (scopes or panel.view.lay.hierarchy is None)
                        and (fold or panel.view.lay.shown is None), timeout=30000)
        tabs.append(tab)
        return tab, panel
    yield make
    for t in tabs:
        t.graph.cancel_layout(quiet=True)


def test_mobilenet_click_node_fills_inspector(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    model, view = tab.model, panel.view
    sg = model.subgraphs[0]
    assert (view.lay.kind == NODE_OP).sum() == len(sg.operators) == 65
    op = next(o for o in sg.operators if o.op == "DEPTHWISE_CONV_2D")
    view.center_on(op.index, 1.0)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.node_pos(op.index).toPoint())
    assert view.sel_node == op.index
    assert panel.inspector.current == ("op", 0, op.index)
    text = " ".join(panel.inspector.plain_text().split())
    assert op.label in text and f"version {op.version}" in text
    for k in ("padding", "stride_w", "depth_multiplier", "fused_activation_function"):
        assert f"{k} {op.options[k]}" in text
    for t in (*op.inputs, *op.outputs):
        tt = sg.tensors[t]
        assert tt.name in panel.inspector.plain_text().replace("\n", "")
        assert "×".join(map(str, tt.shape)) in text
        assert fmt.size(tt.bytes) in text
    weights = sg.tensors[op.inputs[1]]
    assert weights.constant and weights.quantization.per_channel
    assert f"{len(weights.quantization.scale)} channels" in text
    data = model.tensor_data(0, weights.index).astype(np.float64)
    assert f"min {data.min():.4g} · max {data.max():.4g}" in text
    assert len(panel.inspector.plots) == 2          # filter + bias histograms


def test_click_edge_shows_tensor(qtbot, open_tab, demo_model_path):
    tab, panel = open_tab(demo_model_path)
    view, lay = panel.view, panel.view.lay
    view.center_on(1, 1.0)
    e = int(np.nonzero(lay.edge_dst == 1)[0][0])
    from core.graph.layout import route_curve
    pts = route_curve(lay.route(e))
    mid = view.to_widget(*pts[len(pts) // 2])
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=mid.toPoint())
    t = int(lay.edge_tensor[e])
    assert panel.inspector.current == ("tensor", 0, t)
    assert tab.model.subgraphs[0].tensors[t].name in panel.inspector.plain_text()
    assert view.sel_tensor == t


def test_search_ctrl_f_jumps_and_highlights(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    sg = tab.model.subgraphs[0]
    tab.activateWindow()
    panel.view.setFocus()
    qtbot.waitUntil(panel.view.hasFocus)
    qtbot.keyClick(panel.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert panel.search_box.hasFocus()
    qtbot.keyClicks(panel.search_box, "softmax")
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    want = [op.index for op in sg.operators if op.op == "SOFTMAX"]
    assert [h.node for h in panel.hits if h.kind == "op"] == want
    assert panel.results.count() == len(panel.hits) and panel.results.isVisible()
    assert panel.view.sel_node == want[0]
    assert panel.view.highlight.tolist() == sorted({h.node for h in panel.hits})
    assert panel.inspector.current == ("op", 0, want[0])
    # the view moved there: the node is on screen
    x, y, w, h = panel.view.lay.node_rect(want[0])
    assert panel.view.visible_scene_rect().contains(QPointF(x + w / 2, y + h / 2))


def test_export_png_and_svg(qtbot, open_tab, demo_model_path, tmp_path):
    tab, panel = open_tab(demo_model_path)
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    panel.export(str(png))
    panel.export(str(svg))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = QImage(str(png))
    lay = panel.view.lay
    assert (img.width(), img.height()) == (int(lay.width), int(lay.height))
    # the first conv's header colour is in the picture, where the node is
    x, y, w, _ = lay.node_rect(0)
    assert img.pixelColor(int(x + 4), int(y + 3)) == panel.view.node_color(0)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = "".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for op in tab.model.subgraphs[0].operators:
        assert op.op in texts


def test_control_flow_bodies_reachable(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("lstm_gru_text_float32"))
    model, view = tab.model, panel.view
    whiles = [op for op in model.subgraphs[0].operators if op.op == "WHILE"]
    assert len(whiles) == 2
    for w in whiles:
        view.center_on(w.index, 1.0)
        qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=view.node_pos(w.index).toPoint())
        body = w.options["body_subgraph_index"]
        assert panel.current == body and view.lay.subgraph == body
        assert (view.lay.kind == NODE_OP).sum() == len(model.subgraphs[body].operators)
        qtbot.mouseClick(panel.back_btn, Qt.MouseButton.LeftButton)
        assert panel.current == 0
    # the inspector's link opens the condition subgraph
    panel.select_op(0, whiles[0].index)
    panel.inspector.subgraphActivated.emit(whiles[0].options["cond_subgraph_index"])
    assert panel.current == whiles[0].options["cond_subgraph_index"]
    # and the switcher reaches every subgraph
    for i, sg in enumerate(model.subgraphs):
        panel.subgraph_box.activated.emit(i)
        assert view.lay.subgraph == i and view.lay.n_ops == len(sg.operators)


def test_built_while_model(qtbot, open_tab, build_model):
    tab, panel = open_tab(build_model(_while_model(), "w.tflite"))
    panel.select_op(0, 0)
    text = panel.inspector.plain_text()
    assert "open body → subgraph 2" in text and "open cond → subgraph 1" in text
    panel.view.nodeActivated.emit(0)
    assert panel.view.lay.subgraph == 2


def test_big_graph_lays_out_in_thread_and_cancels(qtbot, tmp_path):
    from gui.graph.panel import SYNC_MAX_OPS, GraphPanel
    n = SYNC_MAX_OPS * 4
    model = open_model(synthetic_chain(n).save(tmp_path / "c.tflite"))
    panel = GraphPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    assert panel.layout_busy and panel.view.lay is None     # the UI thread is free meanwhile
    with qtbot.waitSignal(panel.layoutReady, timeout=60000):
        pass
    assert panel.view.lay.n_ops == n and not panel.layout_busy
    # cancel: a new panel, cancelled right away
    panel2 = GraphPanel(model)
    qtbot.addWidget(panel2)
    with qtbot.waitSignal(panel2.layout_task.cancelled, timeout=60000):
        panel2.cancel_layout()
    assert panel2.view.lay is None and panel2.retry_btn.isVisibleTo(panel2)
    assert panel2.layout_task.wait(10)


def test_overlay_colors_badges_legend(qtbot, open_tab, demo_model_path):
    from core.analysis.overlay import Overlay
    tab, panel = open_tab(demo_model_path)
    view = panel.view
    view.center_on(0, 1.0)
    view.set_overlay(Overlay("latency", "2 ops timed", colors={(0, 0): "#d7301f",
                                                               (0, 1): "#fee8c8"},
                             badges={(0, 0): "2.5 ms"},
                             legend=[("slow", "#d7301f"), ("fast", "#fee8c8")]))
    assert view.node_color(0) == QColor("#d7301f")
    assert [e[1] for e in panel.legend.entries] == ["slow", "fast"]
    assert panel.legend.isVisibleTo(panel)
    assert "2 ops timed" in " ".join(w.text() for w in panel.legend.findChildren(QLabel))
    img = view.grab().toImage()
    p = view.to_widget(view.lay.x[0] + 3, view.lay.y[0] + 3)
    assert img.pixelColor(p.toPoint()) == QColor("#d7301f")
    assert "2.5 ms" in view.tooltip_at(*[c for c in (view.node_pos(0).x(),
                                                      view.node_pos(0).y())])
    view.set_overlay(Overlay("delegate", colors={(0, 1): "#1a9850"}, legend=[("GPU", "#1a9850")]))
    assert view.node_color(1) == QColor("#1a9850")       # the latest overlay wins
    view.clear_overlay("delegate")
    view.clear_overlay("latency")
    assert not panel.legend.entries and not panel.legend.isVisibleTo(panel)
    assert view.node_color(0) != QColor("#d7301f")


def test_export_paints_the_snapshot_taken_when_it_started(qtbot, open_tab, demo_model_path,
                                                           tmp_path):
    """The export task paints the scene frozen on the UI thread: an overlay, a selection or a
    subgraph switch after the start does not reach the picture (nor races with the task)."""
    from core.analysis.overlay import Overlay
    from gui.graph.export import write_export
    tab, panel = open_tab(demo_model_path)
    view, lay = panel.view, panel.view.lay
    category = view.node_color(0)
    png = tmp_path / "snap.png"
    with qtbot.waitSignal(panel.export_task.done, timeout=60_000):
        panel.export_in_background(str(png))
        # the view changes while the task runs (the snapshot was taken by the call above)
        view.set_overlay(Overlay("latency", colors={(0, 0): "#d7301f"}))
        view.select_node(0)
        view.set_layout(None)
    img = QImage(str(png))
    x, y, w, _ = lay.node_rect(0)
    assert img.pixelColor(int(x + 4), int(y + 3)) == category      # not the overlay's red
    # a direct export of the snapshot after the view changed still renders the snapshot
    view.set_layout(lay)
    view.clear_overlay("latency")
    snap = view.export_snapshot()
    view.set_overlay(Overlay("latency", colors={(0, 0): "#d7301f"}))
    write_export(snap, str(tmp_path / "again.png"))
    assert QImage(str(tmp_path / "again.png")).pixelColor(int(x + 4), int(y + 3)) == category
    panel.export(str(tmp_path / "now.png"))                         # a new export: the overlay
    assert QImage(str(tmp_path / "now.png")).pixelColor(int(x + 4), int(y + 3)) \
        == QColor("#d7301f")


def test_minimap_and_view_paint_through_the_same_renderer(qtbot, open_tab, shared_model,
                                                          monkeypatch):
    from core.analysis.overlay import Overlay
    from gui.graph import renderer
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    view, mm = panel.view, panel.minimap
    calls = []
    real = renderer.paint_scene

    def spy(p, scene, *a, **kw):
        calls.append(scene)
        return real(p, scene, *a, **kw)
    monkeypatch.setattr(renderer, "paint_scene", spy)
    ops = range(view.lay.n_ops)
    view.set_overlay(Overlay("latency", colors={(0, i): "#d7301f" for i in ops}))
    view.grab()
    mm.invalidate()
    shot = mm.grab().toImage()
    assert len(calls) >= 2 and {id(s.lay) for s in calls} == {id(view.lay)}
    # the minimap shows the overlay the renderer resolved for the view
    assert all(s.overlay is calls[0].overlay for s in calls)
    red = QColor("#d7301f")
    assert any(shot.pixelColor(x, y) == red for x in range(shot.width())
               for y in range(0, shot.height(), 2))


def test_far_zoom_draws_the_selected_tensor_in_device_pixels(qtbot, open_tab, shared_model):
    """At far zoom the flat edges are device-pixel lines and the selected tensor's edge is
    mapped to device pixels before it is drawn (the renderer's ``to_device``): it lies on its
    route, not at the scene coordinates."""
    from gui.graph.style import SELECT
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    view, lay = panel.view, panel.view.lay
    e = next(e for e in range(lay.n_edges) if len(lay.route(e)) > 3)   # a residual lane
    view.select_tensor(int(lay.edge_tensor[e]))
    mid = lay.route(e)[2]
    view.center_on_point(float(mid[0]), float(mid[1]), 0.1)
    img = view.grab().toImage()
    c = view.to_widget(float(mid[0]), float(mid[1])).toPoint()
    assert any(img.pixelColor(c.x() + dx, c.y() + dy) == SELECT
               for dx in range(-2, 3) for dy in range(-2, 3))


def _centre_pixel(view, node) -> QColor:
    x, y, w, h = view.lay.node_rect(node)
    return view.grab().toImage().pixelColor(view.to_widget(x + w / 2, y + 4).toPoint())


def test_view_paints_a_core_heat_overlay_and_removing_it_restores_categories(
        qtbot, open_tab, shared_model):
    from core.analysis.overlay import RAMP, heat_overlay
    from gui.graph.style import category_colors
    tab, panel = open_tab(shared_model("mobilenet_v2_224_float32"))
    view = panel.view
    view.center_on(3, 1.0)
    before = _centre_pixel(view, 3)
    assert before == QColor(category_colors()[view.lay.categories[3]])
    view.set_overlay(heat_overlay({3: 2.0, 4: 1.0}))
    assert _centre_pixel(view, 3) == QColor(RAMP[-1])    # the header at the node's centre line
    qtbot.mouseClick(panel.legend.findChild(QToolButton, "removeOverlay:latency"),
                     Qt.MouseButton.LeftButton)
    assert view.overlays() == [] and not panel.legend.isVisibleTo(panel)
    assert _centre_pixel(view, 3) == before


@pytest.mark.parametrize("scale", [1.0, 0.3, 0.05])
def test_outline_groups_frame_their_nodes_at_every_zoom(qtbot, open_tab, shared_model, scale):
    from core.analysis.overlay import OutlineGroup, Overlay
    tab, panel = open_tab(shared_model("mobilenet_v2_224_float32"))
    view = panel.view
    ov = Overlay("delegate", "GPU: 10/65 ops, 2 partitions",
                 groups=[OutlineGroup("GPU 1", "#1a9850", [(0, i) for i in range(0, 5)]),
                         OutlineGroup("GPU 2", "#7b3294", [(0, i) for i in range(8, 13)])],
                 legend=[("GPU partition", "#1a9850")])
    view.set_overlay(ov)
    view.center_on(10, scale)
    img = view.grab().toImage()
    x, y, w, h = view.lay.node_rect(10)
    # just left of the node's left edge, at its middle: the group's frame (a translucent halo
    # when the nodes are a few pixels tall)
    p = view.to_widget(x, y + h / 2)
    group_hue = QColor("#7b3294").hsvHue()

    def tinted(image):
        return any(abs(c.hsvHue() - group_hue) < 12 and c.hsvSaturationF() > 0.2
                   for c in (image.pixelColor(int(p.x()) - d, int(p.y())) for d in (2, 3, 4)))
    assert tinted(img)
    view.clear_overlay("delegate")
    assert not tinted(view.grab().toImage())


@pytest.mark.parametrize("scale,lod", [(0.01, "far"), (0.3, "mid"), (1.0, "near")])
def test_level_of_detail_paints_nodes(qtbot, open_tab, shared_model, scale, lod):
    tab, panel = open_tab(shared_model("face_landmark_with_attention"))
    view, lay = panel.view, panel.view.lay
    assert lay.n_ops == 712
    conv = next(i for i in range(lay.n_ops) if lay.categories[i] == "layer")
    view.center_on(conv, scale)
    img = QImage(view.size(), QImage.Format.Format_ARGB32)
    p = QPainter(img)
    s = view.scale
    used = paint_scene(p, view.scene(), view.visible_scene_rect(), s,
                      QTransform(s, 0, 0, s, -view.ox * s, -view.oy * s))
    p.end()
    assert used == lod
    c = view.to_widget(view.lay.x[conv] + 2 / s, view.lay.y[conv] + 2 / s)
    assert img.pixelColor(c.toPoint()) == view.node_color(conv)
    before = view.paint_count
    shot = view.grab().toImage()           # goes through paintEvent
    assert view.paint_count == before + 1
    assert shot.pixelColor(c.toPoint()) == view.node_color(conv)


def test_minimap_moves_the_view(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    view, mm = panel.view, panel.minimap
    mm.repaint()
    bottom = QPointF(mm.width() / 2, mm.height() - 12)
    qtbot.mouseClick(mm, Qt.MouseButton.LeftButton, pos=bottom.toPoint())
    sx, sy = mm.scene_point(bottom.x(), bottom.y())
    r = view.visible_scene_rect()
    assert r.center().y() == pytest.approx(sy, abs=1)
    assert sy > view.lay.height * 0.8


def test_minimap_only_while_part_of_the_graph_is_off_screen(qtbot, open_tab, shared_model,
                                                             demo_model_path):
    _, small = open_tab(demo_model_path)
    small.view.fit()
    assert not small.minimap.isVisible()        # the whole demo graph is on screen
    _, big = open_tab(shared_model("mobilenet_v2_224_int8"))
    assert big.minimap.isVisible()              # 65 ops do not fit at a readable zoom
    big.view.fit()
    assert not big.minimap.isVisible()
    big.view.zoom_by(4.0)
    assert big.minimap.isVisible()


def test_search_finds_ops_inside_control_flow_bodies(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("lstm_gru_text_float32"))
    m = tab.model
    want = [(sg.index, op.index) for sg in m.subgraphs[1:] for op in sg.operators
            if op.op == "LOGISTIC"]
    assert want and not any(op.op == "LOGISTIC" for op in m.subgraphs[0].operators)
    hits = panel.find("logistic")
    assert [(h.subgraph, h.node) for h in hits] == want
    panel.results.setCurrentRow(0)
    sg, op = want[0]
    qtbot.waitUntil(lambda: panel.inspector.current == ("op", sg, op), timeout=10000)
    assert panel.view.lay.subgraph == sg and panel.view.sel_node == op


def test_export_refuses_to_overwrite_the_model(qtbot, open_tab, tmp_path, demo_model_path):
    target = tmp_path / "model.png"
    target.write_bytes(demo_model_path.read_bytes())  # a model that happens to be named .png
    _, panel = open_tab(demo_model_path)
    with pytest.raises(OSError, match="is a TFLite model, which LiteLens never overwrites"):
        panel.export(str(target))
    assert target.read_bytes() == demo_model_path.read_bytes()
    panel.export(str(tmp_path / "g.png"))
    panel.export(str(tmp_path / "g.svg"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "g.svg", "model.png"]


@pytest.mark.parametrize("n_ops", [2, 3, 26])
def test_a_graph_opens_readable_and_not_magnified(qtbot, open_tab, tmp_path, n_ops):
    from gui.graph.style import LOD_TEXT
    path = synthetic_chain(n_ops).save(tmp_path / f"chain{n_ops}.tflite")
    _, panel = open_tab(path)
    view = panel.view
    qtbot.waitUntil(lambda: view.width() > 0)
    view.reset_view()
    assert LOD_TEXT <= view.scale <= 1.0   # op names drawn; a 2-op graph is not blown up
    top = view.lay.y.min()
    r = view.visible_scene_rect()
    assert r.top() <= top + 1            # it starts at the graph's top


def test_minimap_takes_a_share_of_the_canvas(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    mm, view = panel.minimap, panel.view
    big = (mm.width(), mm.height())
    tab.resize(700, 500)   # a small window
    qtbot.waitUntil(lambda: mm.width() < big[0])
    assert mm.width() <= max(80, view.width() * 0.15) + 1
    assert mm.height() <= max(100, view.height() * 0.25) + 1
    assert mm.x() + mm.width() <= view.width() and mm.y() + mm.height() <= view.height()


def test_inspector_first_values_name_the_tensor_element_count(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    sg = tab.model.subgraphs[0]
    t = next(t for t in sg.tensors if t.constant and len(t.shape) == 4)
    count = int(np.prod(t.shape))
    panel.inspector.show_tensor(0, t.index)
    text = " ".join(panel.inspector.plain_text().split())
    assert f"… (of {count:,})" in text        # not the preview's 12
    assert "(12)" not in text


def test_big_graph_export_runs_off_the_ui_thread_warns_and_cancels(qtbot, tmp_path):
    from core.graph import export_plan
    from gui.graph.panel import GraphPanel
    path = synthetic_chain(6000).save(tmp_path / "chain6k.tflite")
    m = open_model(path)
    panel = GraphPanel(m, scopes=False)    # flat: 6000 ops in a column
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=60_000)
    lay = panel.view.lay
    # a 6000-op chain is far taller than 16000 px at a readable zoom: the PNG would be useless
    warning = panel.export_problem("png", whole=True)
    plan = export_plan.image_plan(lay.width, lay.height)
    assert not plan.readable and f"{plan.width:,} × {plan.height:,} px" in warning
    assert panel.export_problem("png", whole=False) is None
    # SVG: written on the task thread with progress, the UI thread keeps running
    svg = tmp_path / "g.svg"
    seen = []
    panel.export_task.progress.connect(lambda f, _: seen.append(f))
    with qtbot.waitSignal(panel.export_task.done, timeout=120_000):
        panel.export_in_background(str(svg))
    assert len(seen) >= 5 and seen == sorted(seen)
    root = ET.parse(svg).getroot()
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert "TANH" in texts and "ADD" in texts
    # Cancel: nothing written
    other = tmp_path / "cancelled.svg"
    with qtbot.waitSignal(panel.export_task.cancelled, timeout=60_000):
        panel.export_in_background(str(other))
        panel.export_task.cancel()
    assert not other.exists()
    panel.shutdown()
    m.close()


def test_custom_ops_are_framed_and_coloured_apart(qtbot, open_tab, shared_model):
    from gui.graph.style import CUSTOM_FRAME, category_colors
    tab, panel = open_tab(shared_model("selfie_segmentation"))
    view, lay = panel.view, panel.view.lay
    sg = tab.model.subgraphs[0]
    custom = next(i for i in range(lay.n_ops) if sg.operators[i].op == "CUSTOM")
    assert lay.categories[custom] == "custom"
    colors = category_colors()
    others = {c for k, c in colors.items() if k != "custom"}
    assert colors["custom"] not in others
    view.center_on(custom, 1.0)
    img = view.grab().toImage()
    x, y, w, h = lay.node_rect(custom)
    # the dashed frame 4 px outside the card: some of its pixels carry the frame colour
    frame = [view.to_widget(x + w * f, y - 4).toPoint() for f in np.linspace(0.2, 0.8, 40)]
    def near_frame(c):  # antialiased: close to the frame colour
        return (abs(c.red() - CUSTOM_FRAME.red()) + abs(c.green() - CUSTOM_FRAME.green())
                + abs(c.blue() - CUSTOM_FRAME.blue())) < 90
    hits = sum(near_frame(img.pixelColor(pt)) for pt in frame)
    assert 3 <= hits < len(frame)   # dashed: some, not all
    # an ordinary op has no frame there
    conv = next(i for i in range(lay.n_ops) if lay.categories[i] == "layer")
    view.center_on(conv, 1.0)
    img = view.grab().toImage()
    x, y, w, h = lay.node_rect(conv)
    assert not any(near_frame(img.pixelColor(view.to_widget(x + w * f, y - 4).toPoint()))
                   for f in np.linspace(0.2, 0.8, 40))


def test_keyboard_moves_along_edges_opens_and_goes_back(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("lstm_gru_text_float32"))
    view, lay = panel.view, panel.view.lay
    sg = tab.model.subgraphs[0]
    first = next(i for i in range(lay.n_ops) if sg.operators[i].op == "GATHER")
    view.center_on(first, 1.0)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.node_pos(first).toPoint())
    assert view.sel_node == first
    qtbot.keyClick(view, Qt.Key.Key_Down)
    nxt = view.sel_node
    # the op it moved to reads a tensor the first one writes
    assert set(sg.operators[nxt].inputs) & set(sg.operators[first].outputs)
    assert panel.inspector.current == ("op", 0, nxt)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.sel_node == first
    # walk down to a WHILE and open its body with Enter; Backspace comes back
    for _ in range(10):
        if sg.operators[view.sel_node].op == "WHILE":
            break
        qtbot.keyClick(view, Qt.Key.Key_Down)
    assert sg.operators[view.sel_node].op == "WHILE"
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.view.lay is not None and panel.view.lay.subgraph != 0,
                    timeout=20_000)
    qtbot.keyClick(panel.view, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: panel.view.lay is not None and panel.view.lay.subgraph == 0,
                    timeout=20_000)
    # with nothing selected, arrows pan as before
    qtbot.keyClick(panel.view, Qt.Key.Key_Escape)
    oy = panel.view.oy
    qtbot.keyClick(panel.view, Qt.Key.Key_Down)
    assert panel.view.sel_node is None and panel.view.oy > oy


def test_clicking_a_weight_row_inspects_that_tensor(qtbot, open_tab, shared_model):
    tab, panel = open_tab(shared_model("mobilenet_v2_224_int8"))
    view, lay = panel.view, panel.view.lay
    sg = tab.model.subgraphs[0]
    conv = next(i for i in range(lay.n_ops) if sg.operators[i].op == "CONV_2D" and lay.rows[i])
    view.center_on(conv, 1.0)
    from core.graph import layout as gl
    for k, (_slot, _shape, tensor) in enumerate(lay.rows[conv]):
        x, y, w, h = lay.node_rect(conv)
        pt = view.to_widget(x + w / 2, y + gl.HEADER_H + 2 + (k + 0.5) * gl.ROW_H).toPoint()
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=pt)
        assert panel.inspector.current == ("tensor", 0, tensor)
        assert tensor in sg.operators[conv].inputs and sg.tensors[tensor].constant
    # the header still inspects the op
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.node_pos(conv).toPoint())
    assert panel.inspector.current == ("op", 0, conv)


def test_variable_reads_and_writes_shown_as_state_linked_to_their_handle(qtbot, open_tab,
                                                                         shared_model):
    from gui.graph import style
    tab, panel = open_tab(shared_model("micro_wakeword_hey_jarvis"))
    model, view = tab.model, panel.view
    sg = model.subgraphs[0]
    read = next(o for o in sg.operators if o.op == "READ_VARIABLE")
    handle = sg.producers()[read.inputs[0]]
    view.center_on(read.index, 1.0)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.node_pos(read.index).toPoint())
    text = " ".join(panel.inspector.plain_text().split())
    name = sg.operators[handle].options["shared_name"]
    assert f"reads variable '{name}' through #{handle} VAR_HANDLE" in text
    writer = next(o for o in sg.operators if o.op == "ASSIGN_VARIABLE"
                  and o.inputs[0] == read.inputs[0])
    assert f"written by #{writer.index} ASSIGN_VARIABLE" in text
    # the handle -> read edge is drawn dashed in the state colour: a pixel on its route
    e = next(i for i in range(view.lay.n_edges) if view.lay.edge_src[i] == handle
             and view.lay.edge_dst[i] == read.index)
    assert view.lay.edge_state[e]
    view.select_node(None)   # unselected, so the edge shows its own colour
    view.center_on(handle, 1.0)
    img = view.grab().toImage()
    route = view.lay.route(e)
    seen = set()
    # the curve passes through its route's points; the dashes leave gaps, so look around each
    for x, y in route[1:-1].tolist() + [((route[0, 0] + route[1, 0]) / 2, route[0, 1] + 12)]:
        pt = view.to_widget(x, y).toPoint()
        for dx in range(-2, 3):
            for dy in range(-6, 7):
                seen.add(img.pixelColor(pt.x() + dx, pt.y() + dy).name())
    assert style.STATE.name() in seen
