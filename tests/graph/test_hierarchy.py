"""Name-scope boxes (core/graph/hierarchy.py) on models named the way Keras, the MLIR converter and
MediaPipe name tensors, built here, on synthetic chains and on the shared real models."""
from __future__ import annotations

import numpy as np
import pytest

from core.graph import hierarchy as H
from core.graph import layout as gl
from core.graph.layout import NODE_SCOPE, layout_subgraph
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from core.model.samples import synthetic_chain
from tests.conftest import all_shared_models


def _named_model(build_model, names, ops=None):
    """A chain of ops whose output tensors carry ``names`` (one op each, in order)."""
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    cur = x = sg.tensor("input", [1, 4])
    for i, name in enumerate(names):
        out = sg.tensor(name, [1, 4])
        op = (ops or {}).get(i, "RELU")
        sg.op(op, [cur], [out])
        cur = out
    sg.inputs, sg.outputs = [x], [cur]
    return open_model(build_model(mb))


def _tree(h, g=0):
    grp = h.groups[g]
    return (grp.name, grp.ops, sorted(grp.direct_ops), [_tree(h, c) for c in grp.children])


def test_keras_names(build_model):
    m = _named_model(build_model, [
        "model/block_1/conv/Conv2D", "model/block_1/relu/Relu",
        "model/block_2/conv/Conv2D", "model/block_2/relu/Relu",
        "model/head/dense/MatMul"])
    h = H.scope_hierarchy(m.subgraphs[0])
    # block_1/conv holds one op: no box of its own, the op sits in block_1; "head/dense"
    # likewise ends in "model"
    assert _tree(h) == ("main", 5, [], [
        ("model", 5, [4], [("block_1", 2, [0, 1], []), ("block_2", 2, [2, 3], [])])])


def test_mlir_fused_names(build_model):
    m = _named_model(build_model, [
        "m/b1/conv/BiasAdd;m/b1/conv/Conv2D;m/b1/bn/mul",      # common scope: m/b1
        "m/b1/relu/Relu6",
        "m/b2/conv/BiasAdd;m/b2/conv/Conv2D",                  # m/b2/conv
        "m/b2/add/Add;m/b2/conv/Conv2D",                       # m/b2
        "m/b2/out/Identity"])
    h = H.scope_hierarchy(m.subgraphs[0])
    # m has no ops of its own besides its sub-scopes b1 and b2: it stays (two children)
    assert _tree(h) == ("main", 5, [], [
        ("m", 5, [], [("b1", 2, [0, 1], []), ("b2", 3, [2, 3, 4], [])])])


def test_mediapipe_names(build_model):
    # MediaPipe names a layer's output after the layer and its fp16 weights' DEQUANTIZE under it
    m = _named_model(build_model, [
        "conv2d/Kernel_dequantize", "conv2d", "p_re_lu", "conv2d_1/Kernel_dequantize",
        "conv2d_1"])
    h = H.scope_hierarchy(m.subgraphs[0])
    assert _tree(h) == ("main", 5, [2], [("conv2d", 2, [0, 1], []),
                                         ("conv2d_1", 2, [3, 4], [])])


def test_a_scope_of_one_sub_scope_is_one_box(build_model):
    m = _named_model(build_model, [
        "StatefulPartitionedCall/model/a/x", "StatefulPartitionedCall/model/a/y",
        "StatefulPartitionedCall/model/b/x", "StatefulPartitionedCall/model/b/y"])
    h = H.scope_hierarchy(m.subgraphs[0])
    assert _tree(h) == ("main", 4, [], [("StatefulPartitionedCall/model", 4, [], [
        ("a", 2, [0, 1], []), ("b", 2, [2, 3], [])])])


def test_many_siblings_are_chunked_in_order(build_model):
    names = [f"s{i}/op{k}" for i in range(25) for k in range(2)]
    h = H.scope_hierarchy(_named_model(build_model, names).subgraphs[0], max_children=10)
    top = h.groups[0]
    # 25 scopes -> chunks of 10, 10, 5 consecutive scopes
    assert [h.groups[c].name for c in top.children] == ["s0 … s9", "s10 … s19", "s20 … s24"]
    assert [h.groups[c].ops for c in top.children] == [20, 20, 10]
    first = h.groups[top.children[0]]
    assert [h.groups[c].name for c in first.children] == [f"s{i}" for i in range(10)]
    assert h.groups[first.children[3]].direct_ops == [6, 7]
    assert all(h.groups[c].depth == 2 for c in first.children)
    # every op has one innermost group, whose chain leads to the top
    for op in range(50):
        assert h.path_of_op(op)[0] == 0 and op in h.groups[int(h.op_group[op])].direct_ops


def _edge_set(lay):
    return sorted(zip(lay.edge_tensor.tolist(), lay.edge_src.tolist(), lay.edge_dst.tolist(),
                      strict=True))


def _check(model, lay, h):
    """Every op is drawn once (itself or in the closed box that holds it); edges join drawn
    nodes; closed boxes and frames hold exactly the ops of their groups."""
    n_ops = lay.n_ops
    shown = lay.shown
    vis = H.visible_group(h, lay.hierarchy.expanded)
    for op in range(n_ops):
        owner = int(lay.owner[op])
        if shown[op]:
            assert owner == op
        else:
            assert lay.kind[owner] == NODE_SCOPE and shown[owner]
            assert op in h.ops_under(int(lay.ref[owner]))
    assert shown[lay.edge_src].all() and shown[lay.edge_dst].all()
    assert (lay.edge_src != lay.edge_dst).all()
    # a frame contains its drawn contents
    for g, (fx, fy, fw, fh) in zip(lay.frame_group.tolist(), lay.frame_rect.tolist(),
                                   strict=True):
        assert vis[g] == -1
        inside = [n for n in np.flatnonzero(shown) if lay.node_group[n] == g]
        for n in inside:
            assert fx <= lay.x[n] and lay.x[n] + lay.w[n] <= fx + fw + 1e-6
            assert fy + H.FRAME_HEAD - 1e-6 <= lay.y[n] and lay.y[n] + lay.h[n] <= fy + fh + 1e-6


@pytest.mark.parametrize("n", [1000, 10_000])
def test_chain_opens_collapsed_to_fit_and_fully_open_equals_flat(tmp_path, n):
    model = open_model(synthetic_chain(n).save(tmp_path / "c.tflite"))
    h = H.scope_hierarchy(model.subgraphs[0])
    ex = H.fit_expansion(h)
    lay = H.layout_hierarchy(model, 0, h, ex)
    drawn = int(lay.shown.sum())
    assert drawn <= H.FIT_NODES + 2          # + the graph input and output
    _check(model, lay, h)
    # fully open: the same nodes and edges as the flat layout
    full = H.layout_hierarchy(model, 0, h, range(len(h.groups)))
    assert full.shown[:n].all()
    flat = layout_subgraph(model, 0)
    assert _edge_set(full) == _edge_set(flat)
    _check(model, full, h)


def test_opening_a_box_keeps_the_rest_in_place(tmp_path):
    model = open_model(synthetic_chain(1000).save(tmp_path / "c.tflite"))
    h = H.scope_hierarchy(model.subgraphs[0])
    ex = H.fit_expansion(h)
    before = H.layout_hierarchy(model, 0, h, ex)
    top = [n for n in np.flatnonzero(before.shown) if before.node_group[n] == 0]
    boxes = [n for n in top if before.kind[n] == NODE_SCOPE]
    box = boxes[len(boxes) // 2]                 # one in the middle: nodes above and below
    g = int(before.ref[box])
    after = H.layout_hierarchy(model, 0, h, H.toggled(ex, g))
    assert g in after.frame_group.tolist() and not after.shown[box]
    others = [n for n in top if n != box]
    # same layers, same left-to-right order in each layer
    assert (after.layer[others] == before.layer[others]).all()
    for lyr in set(before.layer[others].tolist()):
        row = [n for n in others if before.layer[n] == lyr]
        assert sorted(row, key=lambda n: before.x[n]) == sorted(row, key=lambda n: after.x[n])
    # nothing above the opened box moved up or down; what is below moved down by its growth
    above = [n for n in others if before.layer[n] < before.layer[box]]
    below = [n for n in others if before.layer[n] > before.layer[box]]
    assert above and below
    assert np.allclose(after.y[above], before.y[above])
    grow = after.h[box] - before.h[box]
    assert grow > 0 and np.allclose(after.y[below] - before.y[below], grow)
    # closing it again gives the first layout back
    again = H.layout_hierarchy(model, 0, h, H.toggled(H.toggled(ex, g), g))
    assert np.allclose(again.x[top], before.x[top]) and np.allclose(again.y[top], before.y[top])


def test_revealing_an_op_opens_its_path(tmp_path):
    model = open_model(synthetic_chain(10_000).save(tmp_path / "c.tflite"))
    h = H.scope_hierarchy(model.subgraphs[0])
    ex = H.fit_expansion(h)
    lay = H.layout_hierarchy(model, 0, h, ex)
    op = 7777
    assert not lay.shown[op]
    shown = H.layout_hierarchy(model, 0, h, H.revealing(h, ex, op))
    assert shown.shown[op]
    crumbs = H.breadcrumb(shown, node=op)
    assert [g for g, _ in crumbs] == h.path_of_op(op)
    # the op's own scope is block1944 (op 7777 = 4 * 1944 + 1); its chunks lie above it
    assert crumbs[-1][1] == "block1944" and crumbs[0][1] == "main"


def test_box_colors_take_the_worst_and_count():
    owner = np.array([0, 10, 10, 10, 11, 11])      # ops 1-3 in box 10, ops 4-5 in box 11
    ranking = ["#00ff00", "#ffff00", "#ff0000"]      # good to bad
    colors = {0: "#ff0000", 1: "#00ff00", 2: "#ff0000", 3: "#ff0000", 4: "#ffff00",
              5: "#123456"}
    out = H.box_colors(owner, 6, colors, ranking)
    # op 0 is drawn itself: no box; box 10: two red of three; box 11: yellow beats unranked
    assert out == {10: ("#ff0000", 2, 3), 11: ("#ffff00", 1, 2)}
    assert H.hit_counts(owner, [0, 1, 3, 4], 6) == {10: 2, 11: 1}


@pytest.mark.parametrize("name", all_shared_models())
def test_shared_models(shared_model, name):
    model = open_model(shared_model(name))
    for sg in model.subgraphs:
        h = H.scope_hierarchy(sg)
        assert sum(len(g.direct_ops) for g in h.groups) == len(sg.operators)
        for g in h.groups[1:]:
            assert g.ops >= 2 and g.ops == len(h.ops_under(h.groups.index(g)))
        lay = H.layout_hierarchy(model, sg.index, h, H.fit_expansion(h))
        _check(model, lay, h)
        full = H.layout_hierarchy(model, sg.index, h, range(len(h.groups)))
        assert _edge_set(full) == _edge_set(layout_subgraph(model, sg.index))


def _fp16_model(build_model):
    """MediaPipe-style fp16 weights: a DEQUANTIZE of a float16 constant into each CONV_2D, and
    a DEQUANTIZE of an int8 constant; a CAST of a graph input is not constant-only."""
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.tensor("input", [1, 8, 8, 3])
    cur = x
    for i in range(2):
        w16 = sg.tensor(f"conv{i}/Kernel", [3, 3, 3, 3], "float16",
                        data=np.ones((3, 3, 3, 3), np.float16))
        w = sg.tensor(f"conv{i}/Kernel_dequantize", [3, 3, 3, 3])
        sg.op("DEQUANTIZE", [w16], [w])
        y = sg.tensor(f"conv{i}", [1, 8, 8, 3])
        sg.op("CONV_2D", [cur, w], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
        cur = y
    q = sg.tensor("table_q", [3], "int8", data=np.ones(3, np.int8),
                  quant={"scale": [0.5], "zero_point": [0]})
    t = sg.tensor("table", [3])
    sg.op("DEQUANTIZE", [q], [t])
    out = sg.tensor("out", [1, 8, 8, 3])
    sg.op("ADD", [cur, t], [out], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [out]
    return open_model(build_model(mb))


def test_constant_producers_fold_into_their_consumers_cards(build_model):
    from core.graph.fold import constant_producers
    m = _fp16_model(build_model)
    sg = m.subgraphs[0]
    folded = constant_producers(sg)
    assert {k: (f.consumer, f.note) for k, f in folded.items()} == {
        0: (1, "fp16 weights"), 2: (3, "fp16 weights"), 4: (5, "int8 weights")}
    for lay in (layout_subgraph(m, 0, fold_producers=True),
                H.layout_hierarchy(m, 0, h := H.scope_hierarchy(sg), range(len(h.groups)),
                                   fold_producers=True)):
        assert not lay.shown[[0, 2, 4]].any() and lay.shown[[1, 3, 5]].all()
        assert lay.owner[[0, 2, 4]].tolist() == [1, 3, 5]
        # the consumer's card names the folded weights; no edge from the DEQUANTIZEs
        # (tensors: 0 input, 2 / 5 the dequantized kernels, 3 / 6 the convs, 8 the table)
        assert ("filter · fp16 weights", "3×3×3×3", 2) in lay.rows[1]
        assert ("filter · fp16 weights", "3×3×3×3", 5) in lay.rows[3]
        assert any(r[0].endswith("· int8 weights") and r[2] == 8 for r in lay.rows[5])
        assert not np.isin(lay.edge_src, [0, 2, 4]).any()
        assert sorted(lay.edge_tensor.tolist()) == [0, 3, 6, 9]
    # off: the DEQUANTIZEs are nodes with edges, as before
    flat = layout_subgraph(m, 0)
    assert flat.shown is None and set(flat.edge_src.tolist()) >= {0, 2, 4}


@pytest.mark.parametrize("scoped", [False, True])
def test_left_to_right_is_the_top_to_bottom_layout_turned(shared_model, scoped):
    model = open_model(shared_model("face_landmark_with_attention"))
    h = H.scope_hierarchy(model.subgraphs[0])
    ex = H.fit_expansion(h)

    def lay_out(direction):
        if scoped:
            return H.layout_hierarchy(model, 0, h, ex, direction=direction)
        return layout_subgraph(model, 0, direction=direction)
    tb, lr = lay_out("TB"), lay_out("LR")
    assert lr.horizontal and not tb.horizontal
    # drawn nodes keep their own sizes (frames do not: their contents turned); each edge
    # leaves its source's right side and enters its consumer's left side
    shown = np.flatnonzero(lr.shown) if lr.shown is not None else np.arange(lr.n_nodes)
    assert np.allclose(lr.w[shown], tb.w[shown]) and np.allclose(lr.h[shown], tb.h[shown])
    for e in range(lr.n_edges):
        r = lr.route(e)
        s, d = int(lr.edge_src[e]), int(lr.edge_dst[e])
        assert r[0, 0] == pytest.approx(lr.x[s] + lr.w[s])
        assert r[-1, 0] == pytest.approx(lr.x[d])
        assert lr.y[s] <= r[0, 1] <= lr.y[s] + lr.h[s]
    # the layers run along x: a tall graph becomes a wide one
    assert tb.height > tb.width and lr.width > lr.height
    assert (lr.x[shown] + lr.w[shown] <= lr.width + 1e-6).all()
    if scoped:
        for g, (fx, fy, fw, fh) in zip(lr.frame_group.tolist(), lr.frame_rect.tolist(),
                                       strict=True):
            inside = [n for n in shown if lr.node_group[n] == g]
            for n in inside:    # under the frame's title, within its sides
                assert fy + H.FRAME_HEAD <= lr.y[n] and lr.y[n] + lr.h[n] <= fy + fh + 1e-6
                assert fx <= lr.x[n] and lr.x[n] + lr.w[n] <= fx + fw + 1e-6


def test_folded_producers_make_no_box(build_model):
    from core.graph.fold import constant_producers
    sg = _fp16_model(build_model).subgraphs[0]
    # conv0 and conv1 each hold a CONV_2D and the DEQUANTIZE of its fp16 kernel
    assert [g.name for g in H.scope_hierarchy(sg).groups[1:]] == ["conv0", "conv1"]
    # folded, each is one card: no box around it
    h = H.scope_hierarchy(sg, folded=constant_producers(sg))
    assert len(h.groups) == 1 and sorted(h.groups[0].direct_ops) == list(range(6))


def test_hierarchy_layout_reports_progress_times_its_phases_and_cancels(build_model):
    """The scope layout steps like the flat one: progress from 0 to 1 in order, each phase
    timed, and a cancel part-way raises LayoutCancelled."""
    m = _named_model(build_model, [f"model/block_{i}/conv/Conv2D" for i in range(6)])
    h = H.scope_hierarchy(m.subgraphs[0])
    seen: list[float] = []
    lay = H.layout_hierarchy(m, 0, h, range(len(h.groups)),
                             progress=lambda f, phase: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert {"graph", "levels", "routes", "total"} <= set(lay.timings)
    assert all(v >= 0 for v in lay.timings.values())
    calls: list[int] = []

    def cancel_later() -> bool:
        calls.append(1)
        return len(calls) > 2
    with pytest.raises(gl.LayoutCancelled):
        H.layout_hierarchy(m, 0, h, range(len(h.groups)), cancelled=cancel_later)
