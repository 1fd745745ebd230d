"""Name-scope boxes in the graph tab (pytest-qt, offscreen): a big chain opens collapsed, boxes
open and close in place, the breadcrumb follows, search and overlays reach ops in closed boxes."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from core.analysis.overlay import RAMP, heat_overlay  # noqa: E402
from core.graph import hierarchy as H  # noqa: E402
from core.graph.layout import NODE_SCOPE  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from core.model.samples import synthetic_chain  # noqa: E402
from gui.graph.panel import MAX_RESULTS  # noqa: E402


@pytest.fixture
def chain_panel(qtbot, tmp_path):
    from gui.graph.panel import GraphPanel
    model = open_model(synthetic_chain(10_000).save(tmp_path / "c.tflite"))
    panel = GraphPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=60_000)
    yield panel
    panel.shutdown()


def _relaid(qtbot, panel, action):
    before = panel.view.lay
    with qtbot.waitSignal(panel.layoutReady, timeout=60_000):
        action()
    assert panel.view.lay is not before
    return panel.view.lay


def _box_at_top(lay):
    """The first closed box drawn (in execution order)."""
    return next(n for n in np.flatnonzero(lay.shown) if lay.kind[n] == NODE_SCOPE)


def test_big_chain_opens_collapsed_and_boxes_open_in_place(qtbot, chain_panel):
    panel = chain_panel
    view = panel.view
    lay = view.lay
    assert int(lay.shown.sum()) <= H.FIT_NODES + 2
    closed = int((lay.shown & (lay.kind == NODE_SCOPE)).sum())
    assert f"{closed:,} boxes closed, {len(lay.frame_group):,} open" in panel.info.text()
    assert closed > 0 and len(lay.frame_group) > 0   # the chain opens one level: both kinds
    box = _box_at_top(lay)
    group = int(lay.ref[box])
    view.center_on(box, 1.0)
    at = view.node_pos(box)
    corner = view.to_widget(lay.x[box], lay.y[box])
    # double-click opens it: its frame's corner stays where the box was on the screen
    new = _relaid(qtbot, panel, lambda: qtbot.mouseDClick(view, Qt.MouseButton.LeftButton,
                                                          pos=at.toPoint()))
    assert group in new.frame_group.tolist() and not new.shows(box)
    moved = view.to_widget(new.x[box], new.y[box])
    assert abs(moved.x() - corner.x()) < 1 and abs(moved.y() - corner.y()) < 1
    # the breadcrumb runs from the subgraph down through the opened group to the selection
    op = new.hierarchy.groups.ops_under(group)[0]
    view.select_node(op)
    panel._update_breadcrumb()
    path = [g for g, _ in panel.breadcrumb.path]
    assert path[0] == 0 and group in path
    assert panel.breadcrumb.text().startswith("main › ")
    # a click on the frame's title closes it again
    title = view.to_widget(new.x[box] + 30, new.y[box] + H.FRAME_HEAD / 2)
    back = _relaid(qtbot, panel, lambda: qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                                                          pos=title.toPoint()))
    assert back.shows(box) and group not in back.frame_group.tolist()


def test_search_marks_closed_boxes_and_a_hit_opens_its_path(qtbot, chain_panel):
    panel = chain_panel
    view, lay = panel.view, panel.view.lay
    hits = panel.find("TANH")
    ops = [h.node for h in hits if h.kind == "op"]
    assert len(ops) == MAX_RESULTS     # the first 1000 of the 2500 TANH ops
    # each closed box on screen is marked with how many TANH ops it holds
    owners = {int(lay.owner[o]) for o in ops}
    assert set(view.highlight.tolist()) == owners
    for b in owners:
        assert view.box_hits[b] == sum(1 for o in ops if lay.owner[o] == b)
    target = ops[789]
    row = next(i for i, h in enumerate(panel.hits) if h.node == target and h.kind == "op")
    new = _relaid(qtbot, panel, lambda: panel.results.setCurrentRow(row))
    assert new.shows(target) and view.sel_node == target
    assert panel.inspector.current == ("op", 0, target)


def test_overlay_colours_a_closed_box_by_its_worst_op(qtbot, chain_panel):
    panel = chain_panel
    view, lay = panel.view, panel.view.lay
    box = _box_at_top(lay)
    inside = lay.hierarchy.groups.ops_under(int(lay.ref[box]))
    # every op 1 ms except one of the box's, 10 ms: the box takes the hottest colour
    times = {i: 1.0 for i in range(lay.n_ops)}
    times[inside[3]] = 10.0
    view.set_overlay(heat_overlay(times))
    assert view.node_color(box).name() == RAMP[-1]
    assert "1/" in " ".join(view.scene().overlay.badges[box])


def test_fold_toggle_and_the_inspector_still_shows_a_folded_op(qtbot, build_model):
    from gui.graph.panel import GraphPanel
    from tests.graph.test_hierarchy import _fp16_model
    model = _fp16_model(build_model)
    panel = GraphPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=30_000)
    lay = panel.view.lay
    assert panel.fold_producers and not lay.shows(0) and lay.shown_node(0) == 1
    # the Operators table (or a search hit) asks for the folded DEQUANTIZE: its consumer's
    # card is selected and the inspector shows the DEQUANTIZE itself
    panel.select_op(0, 0)
    assert panel.view.sel_node == 1 and panel.inspector.current == ("op", 0, 0)
    # off: the DEQUANTIZEs are cards of their own again
    with qtbot.waitSignal(panel.layoutReady, timeout=30_000):
        panel.set_fold_producers(False)
    assert panel.view.lay.shows(0) and panel.view.lay.shows(2)


def test_dtypes_toggle_marks_crossings_with_a_legend(qtbot, build_model):
    from gui.graph import style
    from gui.graph.panel import GraphPanel
    from tests.graph.test_dtypes import _mixed
    panel = GraphPanel(_mixed(build_model))
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=30_000)
    view = panel.view
    panel.set_dtypes(True)
    assert panel.dtype_legend.isVisible() and view.scene().boundaries == {
        0: "float → int", 2: "int → float", 3: "hybrid"}
    view.center_on(3, 1.0)
    img = view.grab().toImage()
    x, y, w, h = view.lay.node_rect(3)
    stripe = view.to_widget(x - 2.5, y + h / 2).toPoint()
    assert img.pixelColor(stripe).name() == style.BOUNDARY_COLORS["hybrid"]
    panel.set_dtypes(False)
    assert not panel.dtype_legend.isVisible() and view.scene().edge_class is None


def test_exports_carry_the_legend_and_a_2x_png(qtbot, tmp_path, shared_model):
    import xml.etree.ElementTree as ET

    from PySide6.QtGui import QImage

    from core.analysis.overlay import categorical_overlay
    from core.graph.export_plan import legend_height
    from gui.graph.panel import GraphPanel
    model = open_model(shared_model("transformer_encoder_dynint8"))
    panel = GraphPanel(model)
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=30_000)
    view = panel.view
    ov = categorical_overlay("verdict", {(0, 0): "ok", (0, 1): "bad"},
                             {"ok": ("runs here", "#2e7d32"), "bad": ("falls back", "#c62828")},
                             summary="2 ops checked")
    view.set_overlay(ov)
    panel.set_dtypes(True)
    one, two = tmp_path / "g.png", tmp_path / "g@2x.png"
    panel.export(str(one), whole=False)
    panel.export(str(two), whole=False, scale=2.0)
    a, b = QImage(str(one)), QImage(str(two))
    snap = view.export_snapshot(False)
    assert [s.title for s in snap.legend] == ["verdict", "Dtypes"]
    strip = legend_height(snap.legend)
    # the graph below the legend strip; the 2x image twice as large, strip included
    assert a.width() == view.width() and a.height() == view.height() + strip
    assert abs(b.width() - 2 * a.width()) <= 1 and abs(b.height() - 2 * a.height()) <= 2
    # the legend's swatches are in the strip, in the overlay's colours
    colours = {a.pixelColor(x, y).name() for x in range(0, min(a.width(), 600), 2)
               for y in range(0, strip, 2)}
    assert {"#2e7d32", "#c62828", "#e8710a"} <= colours
    svg = tmp_path / "g.svg"
    panel.export(str(svg))
    texts = "".join(ET.parse(svg).getroot().itertext())
    assert "falls back" in texts and "runs here" in texts and "hybrid op" in texts


def test_selecting_an_op_names_its_scopes_in_the_breadcrumb_at_once(chain_panel, qtbot):
    """A table row or search hit selected in a closed box: the breadcrumb names the box's path
    as soon as the op is selected, not after the view's move settles (a screenshot taken then
    still read 'main › block0 … block2303')."""
    panel, op = chain_panel, 5_000
    assert not panel.view.lay.shows(op)
    panel.select_op(0, op)
    qtbot.waitUntil(lambda: panel.view.lay.shows(op) and panel.view.sel_node == op,
                    timeout=60_000)
    lay = panel.view.lay
    # back to the top of the path, then the op again: its path must be there on return
    panel.view.select_node(lay.n_ops)   # the input
    panel._update_breadcrumb()
    assert [g for g, _ in panel.breadcrumb.path] == [0]
    panel.select_op(0, op)
    path = [g for g, _ in panel.breadcrumb.path]
    groups = lay.hierarchy.groups
    assert len(path) >= 3 and all(op in groups.ops_under(g) for g in path[1:]), path
