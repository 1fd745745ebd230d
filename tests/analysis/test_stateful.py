"""Streaming models (CALL_ONCE init, resource variables, STRIDED_SLICE ring buffers), built with the
core builder and the shared micro-wakeword model, against ai-edge-litert: XNNPACK placement and
partitions in every subgraph, and the memory plan against the runtime's arena, with no crash."""
from __future__ import annotations

import pytest

from core.analysis.memory import memory_report
from core.analysis.support.analyze import analyze_delegate
from core.analysis.support.runtime import compare
from core.model.reader import open_model
from tests.analysis.stateful_models import STATEFUL
from tests.analysis.test_memory_runtime import _check as check_arena
from tests.conftest import shared_model_path


@pytest.fixture(scope="module")
def stateful_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("stateful")
    return {name: make().save(d / f"{name}.tflite") for name, make in STATEFUL.items()}


def _placement(path, xnnpack_runtime):
    with open_model(path) as m:
        predicted = analyze_delegate(m, "xnnpack")
        n_subgraphs = len(m.subgraphs)
    placement = xnnpack_runtime[str(path)]
    v = compare(predicted, placement)
    assert v.disagree == [], v.disagree
    assert v.partitions_agree
    # the init subgraph is checked too, and the partitions are the runtime's, not just counted
    assert v.subgraphs == list(range(n_subgraphs))
    for seen in placement.subgraphs:
        mine = predicted.subgraphs[seen.subgraph].partition_ops
        assert sorted(map(sorted, mine)) == sorted(map(sorted, seen.partitions))
    return predicted


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_built_stateful_placement_equals_runtime(name, stateful_models, xnnpack_runtime):
    predicted = _placement(stateful_models[name], xnnpack_runtime)
    main = predicted.subgraphs[0]
    kinds = {o.index: o for o in main.ops}
    # op 1 is the first VAR_HANDLE: taken exactly when a read or write of its variable is
    handle_taken = kinds[1].partition is not None
    assert handle_taken == (name != "int32_state")
    if name in ("stride2", "shrink"):
        assert kinds[4].partition is None      # the STRIDED_SLICE stays on the CPU


def test_micro_wakeword_placement_equals_runtime_in_every_subgraph(xnnpack_runtime):
    predicted = _placement(shared_model_path("micro_wakeword_hey_jarvis"), xnnpack_runtime)
    # the ring-buffer slices and the variable writes go with the rest: one partition each
    assert [s.partitions for s in predicted.subgraphs] == [1, 1]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_built_stateful_arena_is_exact(name, threads, stateful_models):
    plans, _ = check_arena(stateful_models[name], threads)
    # the whole run is planned at allocation (a VAR_HANDLE's handle is a 4-byte id in the
    # persistent arena, not a dynamic tensor), the init subgraph too
    assert all(p.planned_ops == p.ops for p in plans.values())
    assert plans[0].persistent_bytes > 0 and plans[1].persistent_bytes > 0


def test_micro_wakeword_plan_covers_every_op_and_subgraph():
    path = shared_model_path("micro_wakeword_hey_jarvis")
    with open_model(path) as model:
        report = memory_report(model, 1, ("tflite",), runtime=True)
    assert [(s.planned_ops, s.ops) for s in report.subgraphs] == [(45, 45), (12, 12)]
    rt = report.runtime
    assert rt is not None and rt.xnnpack is not None
    assert rt.error is None and rt.xnnpack.error is None
    main = rt.subgraphs[0].main_arena
    assert main.tensors == main.offsets_agree > 30
    assert main.runtime_bytes == main.planned_bytes
