"""Each planner's own lower bound (``planners.<name>.lower_bound_bytes``): never above that
planner's arena, planned or as the real runtime lays it out (ai-edge-litert's main arena,
tflite-micro's head), on every shared and built model; worked out by hand on a chain where the two
planners' lifetimes differ; and the live-memory overlay in readable units."""
from __future__ import annotations

import pytest

from core.analysis.memory import live_memory_overlay, memory_report, plan_litert
from core.analysis.memory import runtime as rt
from core.analysis.memory.bounds import tflm_lower_bound
from core.analysis.memory.tflm import plan_tflm
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from tests.analysis import memory_models as M
from tests.analysis import tflm_models as T
from tests.conftest import RUNNABLE, all_shared_models, shared_model_path

BUILT = {**M.BUILT, "int8_prelu_float": T.int8_prelu_float,
         "call_once_variables": T.call_once_variables, "select": T.select_model,
         "transpose_6d": T.transpose_6d, "computed_pad": T.computed_pad}


def _chain() -> ModelBuilder:
    """x [1,1000] -> CONCATENATION(x, x) -> a [1,2000] -> CONCATENATION(a, a) -> b [1,4000]:
    float32, so 4,000, 8,000 and 16,000 bytes; no kernel temporaries, nothing in place."""
    mb = ModelBuilder(description="concat chain")
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 1000])
    a = sg.tensor("a", [1, 2000])
    b = sg.tensor("b", [1, 4000])
    sg.op("CONCATENATION", [x, x], [a], {"axis": 1})
    sg.op("CONCATENATION", [a, a], [b], {"axis": 1})
    sg.inputs, sg.outputs = [x], [b]
    return mb


def _assert_within(path) -> None:
    with open_model(path) as model:
        report = memory_report(model, 1)
    for sg in report.subgraphs:
        lt, tg = sg.tflite_arena, sg.tflm_greedy
        assert 0 <= lt.lower_bound_bytes <= lt.arena_bytes, (path, sg.index)
        assert lt.lower_bound_bytes == sg.lower_bound_bytes
        assert 0 <= tg.lower_bound_bytes <= tg.arena_bytes, (path, sg.index)
        # a bound at least as large as any one buffer its planner places
        assert lt.lower_bound_bytes >= max((t.bytes for t in lt.tensors if t.arena == "main"
                                            and t.shares is None), default=0)
        assert tg.lower_bound_bytes >= max((t.bytes for t in tg.tensors), default=0)


@pytest.mark.parametrize("name", all_shared_models())
def test_shared_models_bounds_within_their_own_arenas(name):
    _assert_within(shared_model_path(name))


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_models_bounds_within_their_own_arenas(name, build_model):
    _assert_within(build_model(BUILT[name](), f"{name}.tflite"))


def test_chain_bounds_by_hand(build_model):
    """LiteRT never frees a graph input (the arena planner holds a reference to it), so x is
    alive beside a and b at op 1: 4,000 + 8,000 + 16,000. TFLM frees x after its last use (op 0):
    at op 1 only a and b, 24,000. Each planner's arena is at least its own bound, and TFLM's head
    is below LiteRT's bound: the two count different lifetimes."""
    path = build_model(_chain(), "chain.tflite")
    with open_model(path) as model:
        sg = memory_report(model, 1).subgraphs[0]
    assert sg.tflite_arena.lower_bound_bytes == 28_000
    assert sg.tflm_greedy.lower_bound_bytes == 24_000
    assert sg.tflm_greedy.arena_bytes < sg.tflite_arena.lower_bound_bytes
    measured = rt.compare(plan_litert(open_model(path), 1), rt.measure(str(path), 1))
    assert measured.subgraphs[0].main_arena.runtime_bytes >= 28_000


def test_offline_planned_buffers_count_by_the_bytes_they_cover(build_model):
    """Two offline-pinned tensors at the same offset (the metadata may overlap them) count once
    where they are alive together: the bound stays under the head TFLM lays out."""
    import struct
    mb = _chain()
    n = len(mb.subgraphs[0].tensors)
    mb.add_metadata("OfflineMemoryAllocation", struct.pack(f"<{3 + n}i", 1, 0, n, 0, 0, -1))
    path = build_model(mb, "offline_chain.tflite")
    with open_model(path) as model:
        plan = plan_tflm(model)
        bound = tflm_lower_bound(model, plan)
    # x and a both at offset 0 (they overlap: the first 4,000 bytes), b placed after a
    assert bound == 8_000 + 16_000 <= plan.head_bytes


def _assert_under_runtime(path) -> bool:
    """The real arena ai-edge-litert allocates (delegates off) is never below the bound; False
    when the runtime cannot allocate the model."""
    with open_model(path) as model:
        report = memory_report(model, 1, planners=("tflite",))
        plans = plan_litert(model, 1)
    check = rt.compare(plans, rt.measure(str(path), 1))
    if check.error is not None:
        return False
    for sg in report.subgraphs:
        real = check.subgraph(sg.index)
        if real is None or real.main_arena.runtime_bytes is None:
            continue   # not allocated by allocate_tensors(), or only 0-d tensors
        main = real.main_arena
        # the runtime's span ends at its last readable tensor (a 0-d tensor, read back only as
        # a copy, may end the arena): then its end is the planned one
        assert main.runtime_bytes in (main.planned_bytes, main.planned_readable_bytes)
        assert sg.tflite_arena.lower_bound_bytes <= main.planned_bytes
        if main.runtime_bytes == main.planned_bytes:
            assert sg.tflite_arena.lower_bound_bytes <= main.runtime_bytes
    return True


# selfie_segmentation allocates only with XNNPACK on (its custom op)
@pytest.mark.parametrize("name", [n for n in RUNNABLE if n != "selfie_segmentation"])
def test_litert_bound_under_the_runtimes_arena(name):
    assert _assert_under_runtime(shared_model_path(name))


def test_litert_bound_under_the_runtimes_arena_on_built_models(build_model):
    ran = [name for name, make in sorted(BUILT.items())
           if _assert_under_runtime(build_model(make(), f"{name}.tflite"))]
    assert len(ran) >= 10, ran


def _assert_under_tflite_micro(path) -> None:
    """tflite-micro's recording allocator reports the head it really used: the bound is below."""
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed (LiteLens[micro])")
    from core.analysis.memory.tflm_runtime import measure
    with open_model(path) as model:
        plan = plan_tflm(model)
        bound = tflm_lower_bound(model, plan)
    real = measure(str(path), plan)
    assert real["head_bytes"] is not None, real
    assert 0 < bound <= real["head_bytes"]


# the shared models TFLite Micro runs (the others it refuses, or aborts on: int8 MobileNetV2's
# SOFTMAX)
@pytest.mark.parametrize("name", ["micro_wakeword_hey_jarvis", "sine_float", "hand_recrop",
                                  "multi_signature_float32"])
def test_tflm_bound_under_tflite_micros_head(name):
    _assert_under_tflite_micro(shared_model_path(name))


@pytest.mark.parametrize("make", [T.int8_prelu_float, T.call_once_variables, M.if_model,
                                  M.int8_convnet, M.float_convnet])
def test_tflm_bound_under_tflite_micros_head_on_built_models(make, build_model):
    _assert_under_tflite_micro(build_model(make(), "built.tflite"))


def test_live_memory_legend_in_adaptive_units(shared_model):
    with open_model(shared_model("mobilenet_v2_224_float32")) as model:
        sg = memory_report(model, 1, planners=("tflite",)).subgraphs[0]
    overlay = live_memory_overlay(sg)
    texts = [label for label, _ in overlay.legend] + list(overlay.badges.values()) + \
        [overlay.summary]
    assert all("e+" not in t and "e-" not in t for t in texts), texts
    # the top step of the legend ends at the peak, in MiB (6.3 MiB on this model)
    assert overlay.legend[-1][0].endswith(" MiB")
    assert "MiB" in overlay.summary
