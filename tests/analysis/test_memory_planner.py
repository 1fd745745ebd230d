"""The planners' own guarantees: no two tensors alive at the same step share bytes (any planner,
random lifetimes and sizes), the lower bound never exceeds a plan, libstdc++'s orders, chunking
and temporaries numbering."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analysis.memory import live_profile, memory_report, plan_litert
from core.analysis.memory.arena import BestFitArena, live_bytes
from core.analysis.memory.libstdcxx import std_sort, unordered_set_order
from core.analysis.memory.tflm import greedy_offsets
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from tests.analysis.memory_models import BUILT

buffers = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 40), st.integers(0, 40)),
                   min_size=1, max_size=60)


def _no_overlap(sizes, firsts, lasts, offsets):
    n = len(sizes)
    for i in range(n):
        for j in range(i + 1, n):
            if not sizes[i] or not sizes[j]:
                continue
            if firsts[i] <= lasts[j] and firsts[j] <= lasts[i]:
                assert (offsets[i] + sizes[i] <= offsets[j]
                        or offsets[j] + sizes[j] <= offsets[i]), (i, j)


def _lifetimes(bufs):
    """(size, a, b) triples -> sizes, first steps, last steps (a lifetime is [min, max])."""
    return ([s for s, _, _ in bufs], [min(a, b) for _, a, b in bufs],
            [max(a, b) for _, a, b in bufs])


@settings(max_examples=150, deadline=None)
@given(buffers)
def test_best_fit_never_overlaps_live_tensors(bufs):
    sizes, firsts, lasts = _lifetimes(bufs)
    arena = BestFitArena(max(lasts) + 1, 64)
    offsets = [arena.allocate(s, f, last) for s, f, last in zip(sizes, firsts, lasts, strict=False)]
    _no_overlap(sizes, firsts, lasts, offsets)
    assert all(o % 64 == 0 for o, s in zip(offsets, sizes, strict=False) if s)
    assert arena.high_water_mark == max((o + s for o, s in zip(offsets, sizes, strict=False)), default=0)
    steps = max(lasts) + 1
    assert live_bytes(sizes, firsts, lasts, steps).max() <= arena.high_water_mark


@settings(max_examples=150, deadline=None)
@given(buffers)
def test_greedy_first_fit_never_overlaps_live_tensors(bufs):
    sizes, firsts, lasts = _lifetimes(bufs)
    rounded = [-(-s // 16) * 16 for s in sizes]
    offsets, arena = greedy_offsets(rounded, firsts, lasts, {})
    _no_overlap(rounded, firsts, lasts, offsets)
    assert live_bytes(sizes, firsts, lasts, max(lasts) + 1).max() <= arena


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=80))
def test_std_sort_sorts_like_any_sort(values):
    items = list(values)
    std_sort(items, lambda a, b: a < b)
    assert items == sorted(values)


def test_std_sort_leaves_ties_where_introsort_does():
    # (key, tag): 20 equal keys take the introsort path; libstdc++'s result is not the stable
    # order, which a plain sorted() would give
    items = [(0, i) for i in range(20)]
    std_sort(items, lambda a, b: a[0] < b[0])
    assert sorted(items) == [(0, i) for i in range(20)]
    assert items != [(0, i) for i in range(20)]


def test_unordered_set_iterates_like_libstdcxx():
    # std::unordered_set<int>{1, 2, 3} iterates 3 2 1 with libstdc++
    assert unordered_set_order([1, 2, 3]) == [3, 2, 1]
    assert unordered_set_order([5, 5, 18]) == [18, 5]  # same bucket of 13: front of its run
    assert sorted(unordered_set_order(list(range(40)))) == list(range(40))


def test_model_plans_have_no_overlaps_and_respect_the_lower_bound(build_model):
    for name, make in BUILT.items():
        path = build_model(make(), f"{name}.tflite")
        with open_model(path) as model:
            report = memory_report(model, 1)
            plans = plan_litert(model, 1)
        for sg in report.subgraphs:
            lt = sg.tflite_arena
            assert sg.lower_bound_bytes <= lt.arena_bytes, name
            main = [t for t in lt.tensors if t.arena == "main" and t.shares is None]
            _no_overlap([t.bytes for t in main], [t.first_op for t in main],
                        [t.last_op for t in main], [t.offset for t in main])
            tg = sg.tflm_greedy
            assert all(t.offset + t.bytes <= tg.arena_bytes for t in tg.tensors)
            live = live_profile(plans[sg.index])
            assert sg.live_bytes == [int(x) for x in live]


def test_temporaries_follow_the_model_tensors_and_chunking_stops_at_dynamic(build_model):
    path = build_model(BUILT["ties_and_chunks"](), "ties.tflite")
    with open_model(path) as model:
        plan = plan_litert(model, 1)[0]
        n_model = len(model.subgraphs[0].tensors)
        ops = model.subgraphs[0].operators
    # PAD's paddings are computed: its output size is unknown, so allocate_tensors() plans up
    # to and including the PAD and leaves the last op for the first run
    pad = next(op.index for op in ops if op.op == "PAD")
    assert plan.planned_ops == pad + 1 < len(ops)
    temps = [s for s in plan.slots if s.temporary_of is not None]
    assert temps and all(s.index >= n_model for s in temps)
    owners = [s.temporary_of for s in temps]
    assert owners == sorted(owners)  # numbered in preparation order
    shape_out = next(op.outputs[0] for op in ops if op.op == "SHAPE")
    assert plan.slots[shape_out].kind == "persistent_ro"  # folded at Prepare, not in the arena


def test_tflm_honours_offline_offsets(build_model):
    """TFLM's OfflineMemoryAllocation metadata ([version, subgraph, count, offsets...], -1 =
    plan online) pins tensors; the rest are placed around them."""
    import struct

    mb = BUILT["float_convnet"]()
    n = len(mb.subgraphs[0].tensors)
    image = mb.subgraphs[0].tensors.index(next(t for t in mb.subgraphs[0].tensors
                                               if t.name == "image"))
    offsets = [-1] * n
    offsets[image] = 4096
    mb.add_metadata("OfflineMemoryAllocation", struct.pack(f"<{3 + n}i", 1, 0, n, *offsets))
    path = build_model(mb, "offline.tflite")
    with open_model(path) as model:
        tg = memory_report(model, 1, planners=("tflm",)).subgraphs[0].tflm_greedy
    placed = {t.index: t for t in tg.tensors}
    assert placed[image].offset == 4096
    _no_overlap([t.bytes for t in tg.tensors], [t.first_op for t in tg.tensors],
                [t.last_op for t in tg.tensors], [t.offset for t in tg.tensors])


def test_control_flow_cycle_is_flagged_not_followed(build_model):
    """A WHILE whose body calls back into a subgraph being prepared: the runtime would reject
    it; the planner must finish and say so."""
    mb = ModelBuilder()
    a, b, c = mb.subgraph("a"), mb.subgraph("cond"), mb.subgraph("body")
    x, y = a.tensor("x", [1], "int32"), a.tensor("y", [1], "int32")
    a.op("WHILE", [x], [y], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    a.inputs, a.outputs = [x], [y]
    i, ok = b.tensor("i", [1], "int32"), b.tensor("ok", [1], "bool")
    lim = b.tensor("limit", [1], "int32", data=np.array([3], np.int32))
    b.op("LESS", [i, lim], [ok])
    b.inputs, b.outputs = [i], [ok]
    ci, co = c.tensor("i", [1], "int32"), c.tensor("o", [1], "int32")
    c.op("WHILE", [ci], [co], {"cond_subgraph_index": 1, "body_subgraph_index": 0})
    c.inputs, c.outputs = [ci], [co]
    with open_model(build_model(mb, "cycle.tflite")) as model:
        report = memory_report(model, 1)
    assert any("cycle" in n for n in report.subgraphs[2].notes)


# ops that only re-label their input's data (the in-place "views"): the one case where
# an output may share a buffer whose older tenant is still read later
VIEW_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "BITCAST"}
graph_steps = st.lists(st.tuples(
    st.sampled_from(["ADD", "MUL", "SUB", "TANH", "RELU", "SOFTMAX", "RESHAPE",
                     "CONCATENATION"]),
    st.integers(0, 10**6), st.integers(0, 10**6), st.booleans()), min_size=1, max_size=24)


def _random_graph(steps) -> ModelBuilder:
    """A random DAG of float tensors: binary ops pair tensors of one size (or a tensor with
    itself), CONCATENATION makes new sizes, some intermediates are also graph outputs."""
    mb = ModelBuilder(description="random graph")
    sg = mb.subgraph()
    pool = [(sg.tensor("x", [1, 48]), 48)]
    extra_outputs = []
    for k, (op, a, b, also_output) in enumerate(steps):
        src, n = pool[a % len(pool)]
        same = [t for t, m in pool if m == n]
        other = same[b % len(same)]
        if op == "CONCATENATION":
            other, m = pool[b % len(pool)]
            out = sg.tensor(f"t{k}", [1, n + m])
            sg.op(op, [src, other], [out], {"axis": 1})
            pool.append((out, n + m))
            continue
        out = sg.tensor(f"t{k}", [n] if op == "RESHAPE" else [1, n])
        if op in ("ADD", "MUL", "SUB"):
            sg.op(op, [src, other], [out], {"fused_activation_function": "NONE"})
        elif op == "RESHAPE":
            sg.op(op, [src], [out], {"new_shape": [n]})
        elif op == "SOFTMAX":
            sg.op(op, [src], [out], {"beta": 1.0})
        else:
            sg.op(op, [src], [out])
        pool.append((out, n))
        if also_output:
            extra_outputs.append(out)
    consumed = {t for op in sg.ops for t in op.inputs}
    outs = [t for t, _ in pool[1:] if t not in consumed] + extra_outputs
    sg.inputs, sg.outputs = [pool[0][0]], list(dict.fromkeys(outs)) or [pool[-1][0]]
    return mb


@settings(max_examples=60, deadline=None)
@given(graph_steps)
def test_planned_graphs_never_overlap_tensors_the_graph_keeps_alive(steps):
    """The whole LiteRT planner (lifetimes, in-place sharing, ordering, best fit) on random
    graphs, checked against lifetimes read from the graph itself, not from the plan: two
    tensors alive at the same op share bytes only when one reuses the other's buffer, and an
    op that writes its output over an input's buffer does so only when no older tenant of that
    buffer is read later (views excepted)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = _random_graph(steps).save(Path(d) / "random.tflite")
        with open_model(path) as model:
            sg = model.subgraphs[0]
            tensors = memory_report(model, 1, planners=("tflite",)).subgraphs[0] \
                .tflite_arena.tensors
    n_ops = len(sg.operators)
    start = {t: 0 for t in sg.inputs}
    end = {t: n_ops - 1 for t in list(sg.inputs) + list(sg.outputs)}
    producer = {}
    for i, op in enumerate(sg.operators):
        for t in op.outputs:
            start.setdefault(t, i)
            producer[t] = i
        for t in op.inputs:
            end[t] = max(end.get(t, i), i)
    main = [t for t in tensors if t.arena == "main" and t.bytes]
    family = {t.index: t.shares if t.shares is not None else t.index for t in main}
    for x in main:
        for y in main:
            a, b = x.index, y.index
            if a >= b or family[a] == family[b]:
                continue
            alive_together = (start[a] <= end.get(b, start[b])
                              and start[b] <= end.get(a, start[a]))
            if alive_together:
                assert (x.offset + x.bytes <= y.offset
                        or y.offset + y.bytes <= x.offset), (a, b, steps)
    for t in main:
        if t.shares is None or sg.operators[producer[t.index]].op in VIEW_OPS:
            continue
        i = producer[t.index]
        for m in family:
            if family[m] == family[t.index] and m != t.index and start[m] <= i:
                assert end.get(m, start[m]) <= i, (t.index, m, steps)
