"""The plan against the real runtime: on every shared model and every model the tests build,
at 1 and 2 threads, LiteRT's main and persistent arenas measured after allocate_tensors() (delegates
off) have exactly the planned size and every readable tensor sits at its planned offset."""
from __future__ import annotations

import pytest

from core.analysis.memory import memory_report, plan_litert, runtime
from core.model.reader import open_model
from tests.analysis.memory_models import BUILT
from tests.conftest import NOT_ALLOCATABLE, all_shared_models, shared_model_path


def _check(path, threads):
    with open_model(path) as model:
        plans = plan_litert(model, threads)
    measured = runtime.measure(str(path), threads)
    assert measured.error is None, measured.error
    result = runtime.compare(plans, measured)
    checked = 0
    for sg in result.subgraphs:
        plan = plans[sg.index]
        for arena, a in (("main_arena", sg.main_arena), ("persistent_arena", sg.persistent_arena)):
            if a.runtime_bytes is None:
                # nothing readable: only 0-d tensors, or a subgraph allocated on first run
                assert a.tensors == 0
                continue
            checked += 1
            assert a.offsets_agree == a.tensors, sg.mismatches
            # offsets are read against a base that agrees with the plan, so a plan shifted as a
            # whole would agree too: the runtime's lowest tensor must start the arena (offset 0)
            # unless a 0-d tensor, which the runtime only shows as a copy, is there
            kind = arena.split("_")[0]
            seen = measured.subgraphs[sg.index]
            mine = {t: p for t, p in plan.placements.items() if p.arena == kind and p.bytes}
            lowest = min((t for t in mine if t in seen), key=lambda t: seen[t][0])
            assert mine[lowest].offset == 0 or any(
                p.offset == 0 and not plan.slots[t].shape for t, p in mine.items())
            assert a.missing_at_runtime == []
            assert a.base_aligned_64
            # the runtime shows every tensor but 0-d ones; when one of those ends the arena
            # the measured span stops at the last readable byte
            assert a.runtime_bytes == a.planned_readable_bytes
            if a.planned_bytes != a.planned_readable_bytes:
                end = a.planned_bytes
                assert any(not plan.slots[p.index].shape and p.offset + p.bytes == end
                           for p in plan.placements.values())
        assert sg.unplanned_in_arena == []
    assert checked >= 1
    return plans, result


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", [n for n in all_shared_models() if n not in NOT_ALLOCATABLE
                                  and n != "selfie_segmentation"])
def test_shared_model_arena_is_exact(name, threads):
    _check(shared_model_path(name), threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_model_arena_is_exact(name, threads, build_model):
    _check(build_model(BUILT[name](), f"{name}.tflite"), threads)


@pytest.mark.parametrize("name", NOT_ALLOCATABLE + ["selfie_segmentation"])
def test_models_the_runtime_rejects_still_get_a_flagged_plan(name):
    path = shared_model_path(name)
    with open_model(path) as model:
        plans = plan_litert(model, 1)
    assert plans[0].arena_bytes > 0 and plans[0].placements
    measured = runtime.measure(str(path), 1)
    assert measured.error  # the runtime refuses it (unresolved custom op, Flex, int16x8)
    with open_model(path) as model:
        report = memory_report(model, 1)
        custom = [op for op in model.subgraphs[0].operators if op.op == "CUSTOM"]
    if custom:  # flagged: each custom op is named
        assert all(any(op.custom_code in n for n in report.runtime_may_reject)
                   for op in custom)


def test_threads_change_the_plan_as_the_runtime_does(build_model):
    path = build_model(BUILT["fp16_weights"](), "fp16.tflite")
    one, _ = _check(path, 1)
    two, _ = _check(path, 2)
    # at 2 threads the float conv keeps transposed (HWCN) weights in the persistent arena
    # instead of an im2col buffer in the main arena
    assert two[0].persistent_bytes > one[0].persistent_bytes
    assert two[0].arena_bytes < one[0].arena_bytes
    names = {s.name for s in two[0].slots if s.temporary_of is not None and s.kind != "none"}
    assert "Conv_hwcn_weights" in names


def test_xnnpack_takes_delegated_tensors_out_of_the_arena(build_model):
    path = build_model(BUILT["float_convnet"](), "convnet.tflite")
    plain = runtime.measure(str(path), 1)
    xnn = runtime.measure(str(path), 1, xnnpack=True)
    effect = runtime.delegate_effect(plain, xnn)
    gone = effect.subgraphs[0].tensors_out_of_arena
    with open_model(path) as model:
        sg = model.subgraphs[0]
        # XNNPACK runs the whole net as one node: inner activations leave the arena, the graph
        # inputs and outputs stay
        assert gone and not set(gone) & (set(sg.inputs) | set(sg.outputs))
