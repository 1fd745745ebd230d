"""XNNPACK prediction vs the real delegate in ai-edge-litert: placement of every op and the number
of DELEGATE nodes must be equal, on every shared model and on models built for each numeric
flavour, custom/Flex ops, control flow and dynamic shapes."""
from __future__ import annotations

import pytest

from core.analysis.support.analyze import analyze_delegate
from core.analysis.support.runtime import compare
from core.model.reader import open_model
from tests.analysis.support_models import BUILT
from tests.conftest import all_shared_models, shared_model_path


def _check(path, placement):
    with open_model(path) as m:
        predicted = analyze_delegate(m, "xnnpack")
    v = compare(predicted, placement)
    assert v.disagree == [], v.disagree
    assert v.partitions_agree, (v.predicted_partitions, v.runtime_partitions)
    # the partitions themselves, not only the count
    assert sorted(map(sorted, predicted.subgraphs[0].partition_ops)) == \
        sorted(map(sorted, placement.partitions))
    return predicted, placement


@pytest.mark.parametrize("name", all_shared_models())
def test_shared_model_placement_equals_runtime(name, xnnpack_runtime):
    path = shared_model_path(name)
    _check(path, xnnpack_runtime[str(path)])


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_model_placement_equals_runtime(name, built_models, xnnpack_runtime):
    path = built_models[name]
    predicted, placement = _check(path, xnnpack_runtime[str(path)])
    sg = predicted.subgraphs[0]
    # each model was built to exercise something; check that it did
    expect = {"float": 2, "fp16_weights": 2, "dynamic_range": 1, "int8": 1, "uint8": 1,
              "int16x8": 0, "custom_op": 2, "flex_op": 2, "dependencies": 1,
              "dynamic_shapes": 1, "while": 2, "sparse_weights": 1,
              "sparse_fp16_weights": 1}[name]
    assert placement.delegate_nodes == expect
    assert sg.partitions == expect


def test_reasons_say_why(built_models):
    def reasons(name):
        with open_model(built_models[name]) as m:
            ops = analyze_delegate(m, "xnnpack").subgraphs[0].ops
        return {o.index: o.reason for o in ops if o.reason}
    assert reasons("float") == {1: "fused activation TANH not supported"}
    assert reasons("custom_op") == {1: "custom op MyCustomOp"}
    assert "Flex" in reasons("flex_op")[1]
    assert reasons("int16x8")[1] == "input 0 is int16"
    # fp16 weights behind DEQUANTIZE go with their conv, and stay on the CPU with it
    fp16 = reasons("fp16_weights")
    assert set(fp16) == {3, 4, 5} and "feeds op 5" in fp16[3]


def test_options_change_the_answer(built_models):
    with open_model(built_models["int8"]) as m:
        on = analyze_delegate(m, "xnnpack").subgraphs[0]
        off = analyze_delegate(m, "xnnpack", {"qs8": False}).subgraphs[0]
    assert on.delegated_ops == 5
    assert off.delegated_ops < on.delegated_ops
    assert any("qs8=false" in (o.reason or "") for o in off.ops)
    with open_model(built_models["dynamic_range"]) as m:
        dq = analyze_delegate(m, "xnnpack", {"disable_dynamically_quantized_ops": True})
    assert dq.subgraphs[0].ops[0].supported is False


def test_control_flow_bodies_are_their_own_subgraphs(built_models):
    with open_model(built_models["while"]) as m:
        r = analyze_delegate(m, "xnnpack")
    main, cond, body = r.subgraphs
    assert main.ops[1].reason == "WHILE has no XNNPACK kernel"
    assert cond.ops[0].supported is False            # LESS on int32
    assert body.ops[1].supported is True             # MUL in the body is delegated
    assert body.ops[0].supported is False            # int32 counter ADD stays on the CPU


@pytest.mark.parametrize("options", [{"clustering": False}, {"node_fusion": False},
                                     {"clustering": False, "node_fusion": False}])
@pytest.mark.parametrize("name", ["flex_ops_float32", "face_detection_short_range"])
def test_interpreter_partitioning_options_equal_runtime(name, options):
    from core.analysis.support.runtime import runtime_placement
    path = shared_model_path(name)
    placement = runtime_placement(path, options)
    assert placement.options == {"clustering": True, "node_fusion": True, **options}
    with open_model(path) as m:
        predicted = analyze_delegate(m, "xnnpack", options)
    v = compare(predicted, placement)
    assert v.disagree == [] and v.partitions_agree
    assert sorted(map(sorted, predicted.subgraphs[0].partition_ops)) == \
        sorted(map(sorted, placement.partitions))
    if options.get("node_fusion") is False:   # one DELEGATE node per delegated op
        assert placement.delegate_nodes == predicted.subgraphs[0].delegated_ops
