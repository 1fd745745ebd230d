"""core.graph.layout on real models (shared + built): structure, geometry, routes, search."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.weight_stats import weight_stats
from core.graph import layout as gl
from core.graph.layout import NODE_INPUT, NODE_OP, NODE_OUTPUT, STATE_ROW, layout_subgraph
from core.graph.search import search, search_other_subgraphs
from core.model import ops as op_facts
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from core.model.samples import synthetic_chain
from tests.conftest import RUNNABLE, all_shared_models


def _check_geometry(model, lay):
    """Invariants any correct layered layout has, checked against the reader's data."""
    sg = model.subgraphs[lay.subgraph]
    assert (lay.kind == NODE_OP).sum() == len(sg.operators)
    assert sorted(lay.ref[lay.kind == NODE_INPUT].tolist()) == sorted(t for t in sg.inputs
                                                                      if t >= 0)
    assert sorted(lay.ref[lay.kind == NODE_OUTPUT].tolist()) == sorted(t for t in sg.outputs
                                                                       if t >= 0)
    producers = sg.producers()
    graph_inputs = set(sg.inputs)
    for op in sg.operators:
        # every input is either an edge from the node writing it, or a folded row
        linked = {int(t) for t in lay.edge_tensor[lay.edge_dst == op.index]}
        # a variable op's state row names the variable of the handle it reads or writes
        # through (that resource tensor is linked by the state edge as well)
        state = {t for slot, _, t in lay.rows[op.index] if slot in STATE_ROW.values()
                 and sg.tensors[t].dtype == "resource" and t in linked}
        folded = {t for _, _, t in lay.rows[op.index]} - state
        wanted = {t for t in op.inputs if t >= 0}
        assert linked | folded == wanted
        assert linked == {t for t in wanted if t in producers or t in graph_inputs}
        for t in folded:  # folded rows: weights, biases, variables, nothing written by a node
            assert t not in producers and t not in graph_inputs
    # edges run downwards, from the producer's bottom to the consumer's top
    for e in range(lay.n_edges):
        s, d = int(lay.edge_src[e]), int(lay.edge_dst[e])
        r = lay.route(e)
        assert lay.y[d] > lay.y[s] + lay.h[s] - 1e-6
        assert r[0, 1] == pytest.approx(lay.y[s] + lay.h[s])
        assert r[-1, 1] == pytest.approx(lay.y[d])
        assert lay.x[s] - 1e-6 <= r[0, 0] <= lay.x[s] + lay.w[s] + 1e-6
        assert lay.x[d] - 1e-6 <= r[-1, 0] <= lay.x[d] + lay.w[d] + 1e-6
        assert np.all(np.diff(r[:, 1]) >= -1e-6)
    # no two nodes overlap
    order = np.lexsort((lay.x, lay.layer))
    same = lay.layer[order][1:] == lay.layer[order][:-1]
    right = (lay.x + lay.w)[order][:-1]
    assert np.all(lay.x[order][1:][same] >= right[same] - 1e-6)
    assert np.all(lay.x >= 0) and np.all(lay.x + lay.w <= lay.width)
    assert np.all(lay.y >= 0) and np.all(lay.y + lay.h <= lay.height)


@pytest.mark.parametrize("name", all_shared_models())
def test_shared_models_every_subgraph(shared_model, name):
    model = open_model(shared_model(name))
    for i in range(len(model.subgraphs)):
        lay = layout_subgraph(model, i)
        _check_geometry(model, lay)


@pytest.mark.parametrize("name", ["mobilenet_v2_224_int8", "face_detection_short_range",
                                  "transformer_encoder_dynint8"])
def test_node_count_matches_the_interpreter(shared_model, name):
    """Operator nodes of subgraph 0 == the operators LiteRT's own interpreter reports."""
    assert name in RUNNABLE
    path = shared_model(name)
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(path))
    ops = interp._get_ops_details()
    lay = layout_subgraph(open_model(path), 0)
    assert (lay.kind == NODE_OP).sum() == len(ops)
    assert [lay.labels[i].split(" · ")[0] for i in range(lay.n_ops)] == \
        [o["op_name"] for o in ops]


def test_demo_model_structure(demo_model_path):
    """The demo CNN (see core/samples.demo_model): residual ADD reads the project conv
    directly and through the expand conv; weights folded; FC's omitted bias not shown."""
    model = open_model(demo_model_path)
    lay = layout_subgraph(model, 0)
    _check_geometry(model, lay)
    ops = [op.op for op in model.subgraphs[0].operators]
    add = ops.index("ADD")
    project = 2   # CONV_2D 1x1 "block/project"
    assert sorted(lay.edge_src[lay.edge_dst == add].tolist()) == [project, project + 1]
    assert lay.layer[add] == lay.layer[project] + 2          # the skip spans two layers...
    skip = [e for e in range(lay.n_edges) if lay.edge_src[e] == project
            and lay.edge_dst[e] == add][0]
    assert len(lay.route(skip)) == 4                         # ...so it runs through a lane
    assert [r[0] for r in lay.rows[0]] == ["filter", "bias"]
    fc = ops.index("FULLY_CONNECTED")
    assert [r[0] for r in lay.rows[fc]] == ["weights"]        # -1 bias is omitted
    assert lay.labels[0] == "CONV_2D · RELU6"
    # inputs at the top, outputs at the bottom
    assert lay.y[lay.kind == NODE_INPUT].max() < lay.y[:lay.n_ops].min()
    assert lay.y[lay.kind == NODE_OUTPUT].min() > lay.y[:lay.n_ops].max()


def test_residual_chain_lanes_stay_clear_of_nodes(tmp_path):
    model = open_model(synthetic_chain(400).save(tmp_path / "c.tflite"))
    lay = layout_subgraph(model, 0)
    _check_geometry(model, lay)
    assert lay.n_ops == 400
    long_edges = [e for e in range(lay.n_edges) if len(lay.route(e)) > 2]
    assert len(long_edges) == 100       # one residual ADD per block of 4
    for e in long_edges:
        inner = lay.route(e)[1:-1]
        for px, py in inner:
            hit = lay.visible_nodes(px, py, px, py)
            assert len(hit) == 0, f"edge {e} passes through node {hit}"
    # the main path is straight: ops in blocks are aligned
    mul = [i for i, op in enumerate(model.subgraphs[0].operators) if op.op == "MUL"]
    centres = lay.x[mul] + lay.w[mul] / 2
    assert np.ptp(centres[5:-5]) < 1.0


def _while_model() -> ModelBuilder:
    mb = ModelBuilder(description="while loop")
    main = mb.subgraph("main")
    i0 = main.tensor("i", [], "int32")
    x0 = main.tensor("x", [1, 4])
    i1 = main.tensor("i_out", [], "int32")
    x1 = main.tensor("x_out", [1, 4])
    y = main.tensor("y", [1, 4])
    main.op("WHILE", [i0, x0], [i1, x1], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    main.op("RELU", [x1], [y])
    main.inputs, main.outputs = [i0, x0], [y]
    cond = mb.subgraph("cond")
    ci, cx = cond.tensor("i", [], "int32"), cond.tensor("x", [1, 4])
    lim = cond.tensor("limit", [], "int32", data=np.array(3, np.int32))
    cb = cond.tensor("less", [], "bool")
    cond.op("LESS", [ci, lim], [cb])
    cond.inputs, cond.outputs = [ci, cx], [cb]
    body = mb.subgraph("body")
    bi, bx = body.tensor("i", [], "int32"), body.tensor("x", [1, 4])
    one = body.tensor("one", [], "int32", data=np.array(1, np.int32))
    w = body.tensor("w", [1, 4], data=np.full((1, 4), 0.5, np.float32))
    bi2, bx2 = body.tensor("i2", [], "int32"), body.tensor("x2", [1, 4])
    body.op("ADD", [bi, one], [bi2], {"fused_activation_function": "NONE"})
    body.op("MUL", [bx, w], [bx2], {"fused_activation_function": "NONE"})
    body.inputs, body.outputs = [bi, bx], [bi2, bx2]
    return mb


def test_control_flow_links(build_model):
    model = open_model(build_model(_while_model(), "while.tflite"))
    lay = layout_subgraph(model, 0)
    _check_geometry(model, lay)
    wop = model.subgraphs[0].operators[0]
    assert dict(op_facts.subgraph_links(wop)) == {"cond": 1, "body": 2}
    for i in (1, 2):
        _check_geometry(model, layout_subgraph(model, i))


def test_search(shared_model):
    model = open_model(shared_model("mobilenet_v2_224_int8"))
    sg = model.subgraphs[0]
    lay = layout_subgraph(model, 0)
    hits = search(model, lay, "depthwise")
    want = [op.index for op in sg.operators if op.op == "DEPTHWISE_CONV_2D"]
    assert [h.node for h in hits if h.kind == "op"] == want and len(want) == 17
    assert [h.node for h in search(model, lay, "#7")] == [7]
    # tensor by index: the node that writes it
    t = sg.operators[10].outputs[0]
    hit = [h for h in search(model, lay, f"t:{t}")]
    assert len(hit) == 1 and hit[0].tensor == t and hit[0].node == 10
    # tensor by name (a weight: shown on its consumer, where it is folded)
    w = sg.operators[3].inputs[1]
    hit = [h for h in search(model, lay, sg.tensors[w].name) if h.tensor == w]
    assert hit and hit[0].node == 3
    # graph input by name
    name = sg.tensors[sg.inputs[0]].name
    assert any(h.kind == "input" for h in search(model, lay, name[:12].upper()))
    assert search(model, lay, "no-such-thing-anywhere") == []


def test_search_other_subgraphs_finds_ops_and_escapes_their_names(build_model):
    mb = ModelBuilder()
    main = mb.subgraph("main\x1b[2J")
    a, b = main.tensor("a", [1, 4]), main.tensor("b", [1, 4])
    main.op("RELU", [a], [b])
    main.inputs, main.outputs = [a], [b]
    other = mb.subgraph("other\nFAKE")
    x, y = other.tensor("x", [1, 4]), other.tensor("y", [1, 4])
    other.op("CUSTOM", [x], [y], custom_code="Evil\x1b[31m\nOp")
    other.inputs, other.outputs = [x], [y]
    model = open_model(build_model(mb, "two.tflite"))
    (hit,) = search_other_subgraphs(model, 0, "evil")
    assert (hit.kind, hit.node, hit.subgraph) == ("op", 0, 1)
    assert hit.text.isprintable() and "Evil\\x1b[31m\\nOp" in hit.text, hit.text
    assert search_other_subgraphs(model, 1, "relu")[0].text.startswith("[main\\x1b[2J] #0")
    assert search_other_subgraphs(model, 0, "relu") == []  # the current subgraph is skipped


def test_hit_tests(demo_model_path):
    model = open_model(demo_model_path)
    lay = layout_subgraph(model, 0)
    for n in range(lay.n_nodes):
        x, y, w, h = lay.node_rect(n)
        assert lay.node_at(x + w / 2, y + h / 2) == n
    for e in range(lay.n_edges):
        pts = gl.route_curve(lay.route(e))
        mid = pts[len(pts) // 2]
        got = lay.edge_at(*mid, tol=2)
        assert got is not None and lay.edge_tensor[got] == lay.edge_tensor[e]
    assert lay.node_at(-50, -50) is None and lay.edge_at(-50, -50) is None


def test_progress_and_cancel(tmp_path):
    model = open_model(synthetic_chain(200).save(tmp_path / "c.tflite"))
    seen = []
    layout_subgraph(model, 0, progress=lambda f, phase: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    calls = []

    def cancel_later():
        calls.append(1)
        return len(calls) > 3
    with pytest.raises(gl.LayoutCancelled):
        layout_subgraph(model, 0, cancelled=cancel_later)


def test_weight_stats():
    st = weight_stats(np.array([[0, 1], [2, 3], [0, 0]], np.int8))
    assert (st.min, st.max, st.count) == (0, 3, 6)
    assert st.mean == pytest.approx(1.0) and st.zeros_pct == pytest.approx(50.0)
    assert st.std == pytest.approx(np.sqrt((1 + 0 + 1 + 4 + 1 + 1) / 6))
    assert st.hist_counts.tolist() == [3, 1, 1, 1]          # one bin per integer value
    assert st.first == [0, 1, 2, 3, 0, 0]
    from core.model.types import Quantization
    q = Quantization(scale=(0.5, 2.0), zero_point=(0, 1), quantized_dimension=1)
    st = weight_stats(np.array([[4, 3], [-2, 1]], np.int8), q)
    # channel 0: 4*0.5, -2*0.5 -> 2, -1; channel 1: (3-1)*2, (1-1)*2 -> 4, 0
    assert st.dequantized == (-1.0, 4.0)
    big = np.arange(5_000_000, dtype=np.float32)
    st = weight_stats(big)
    assert st.sampled and st.min == 0 and st.count == 5_000_000


def test_weight_stats_of_damaged_quantization_gives_no_dequantized_range():
    """quantized_dimension and zero_point come from the file unchecked: out of range or of the
    wrong length they leave the range unknown instead of raising in the inspector."""
    from core.model.types import Quantization
    a = np.array([[4, 3], [-2, 1]], np.int8)
    for dim in (-100, -1, 2, 7):
        q = Quantization(scale=(0.5, 2.0), zero_point=(0, 1), quantized_dimension=dim)
        assert weight_stats(a, q).dequantized is None, dim
    q = Quantization(scale=(0.5, 2.0, 1.0), zero_point=(0, 1), quantized_dimension=0)
    assert weight_stats(np.zeros((3, 2), np.int8), q).dequantized is None
    # one zero point shared by every channel is read as such: (q - 1) * scale
    q = Quantization(scale=(0.5, 2.0), zero_point=(1,), quantized_dimension=1)
    assert weight_stats(a, q).dequantized == (-1.5, 4.0)


def test_progress_moves_through_the_graph_building_phase(tmp_path):
    """A 100k-op layout spent ~40% of its time before the first report: the bar sat at 0 %."""
    from core.graph.layout import GRAPH_PROGRESS_EVERY, P_LAYERING, layout_subgraph
    from core.model.reader import open_model
    from core.model.samples import synthetic_chain
    n = 5 * GRAPH_PROGRESS_EVERY
    path = synthetic_chain(n).save(tmp_path / "chain.tflite")
    seen: list[tuple[float, str]] = []
    with open_model(path) as m:
        layout_subgraph(m, 0, progress=lambda f, phase: seen.append((f, phase)))
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[0] == 0.0 and fracs[-1] == 1.0
    building = [f for f, phase in seen if phase == "building graph"]
    assert len(building) >= 5 and 0 < building[-1] < P_LAYERING


def test_svg_warning_names_the_size_in_the_shared_units():
    from core.graph import export_plan
    assert export_plan.svg_warning(100) is None
    # 100k nodes at about 2.6 kB each is a quarter gigabyte: said in MiB like every other size
    text = export_plan.svg_warning(100_000)
    assert "100,000 nodes" in text and " MiB" in text and " MB" not in text
