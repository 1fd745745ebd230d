"""The other delegates answer with reasons, options change the answers, partitions follow each
delegate's policy (largest N, min nodes, Edge TPU's single segment), and MACs come from shapes."""
from __future__ import annotations

import json
import math

import pytest

from core.analysis.support.analyze import (
    DELEGATES,
    analyze,
    analyze_delegate,
    parse_options,
    summary_line,
)
from core.analysis.support.compute import op_compute
from core.analysis.support.partition import partition, prefix, select
from core.model.reader import open_model
from tests.conftest import shared_model_path


def _ops(path, delegate, options=None, subgraph=0):
    with open_model(path) as m:
        return analyze_delegate(m, delegate, options).subgraphs[subgraph]


def test_every_delegate_answers_every_op_with_a_reason(built_models):
    for name, path in built_models.items():
        with open_model(path) as m:
            result = analyze(m)
            json.dumps(result.to_json(), allow_nan=False)
        assert set(result.delegates) == set(DELEGATES)
        for d, r in result.delegates.items():
            assert r.runtime_reference
            for sg in r.subgraphs:
                for o in sg.ops:
                    assert o.supported == (o.reason is None), (name, d, o)
                    assert o.partition is None or o.supported
                assert 0.0 <= sg.delegated_macs_share <= 1.0


def test_quantized_only_delegates(built_models):
    # Hexagon and Edge TPU take the int8 graph, not the float one; Core ML the reverse
    assert _ops(built_models["int8"], "hexagon").ops[1].supported
    assert not _ops(built_models["float"], "hexagon").ops[0].supported
    assert "float32" in _ops(built_models["float"], "edgetpu").ops[0].reason
    assert _ops(built_models["float"], "coreml").ops[0].supported
    assert "float32 models only" in _ops(built_models["int8"], "coreml").ops[1].reason


def test_edgetpu_maps_one_segment():
    assert prefix([False, True, True, False, True]) == [[1, 2]]
    assert prefix([False, False]) == []


def test_nnapi_api_level_changes_the_answer(built_models):
    new = _ops(built_models["int8"], "nnapi", {"android_sdk_version": 30})
    old = _ops(built_models["int8"], "nnapi", {"android_sdk_version": 28})
    assert new.delegated_ops > old.delegated_ops
    assert any("API" in (o.reason or "") for o in old.ops)


def test_gpu_dynamic_batch_and_partition_limit(built_models):
    # a -1 batch in the signature is allocated as 1: the GPU delegate takes the float ops
    dyn = _ops(built_models["dynamic_shapes"], "gpu")
    assert dyn.ops[0].supported and dyn.ops[2].supported
    # custom op splits the graph in two; the GPU keeps only the largest partition by default
    one = _ops(built_models["custom_op"], "gpu")
    two = _ops(built_models["custom_op"], "gpu", {"max_delegated_partitions": 2})
    assert one.partitions == 1 and two.partitions == 2
    assert [o.partition for o in one.ops].count(None) == 2   # custom op + dropped ADD


def test_coreml_min_nodes_and_reshape_option(built_models):
    r = _ops(built_models["dynamic_shapes"], "coreml", {"coreml_version": 2})
    assert "RESHAPE" not in (r.ops[1].reason or "")
    r3 = _ops(built_models["dynamic_shapes"], "coreml")
    assert "coreml_version=2" in r3.ops[1].reason


def test_partitioning_follows_dependencies_not_order():
    # ops 0,2,3 delegated; 1 is not and nothing delegated depends on it -> one partition
    deps = [[], [0], [], [2]]
    assert partition(deps, [True, False, True, True]) == [[0, 2, 3]]
    # op 3 depends on the CPU op 1 -> it must wait: two partitions
    deps = [[], [0], [], [1, 2]]
    assert partition(deps, [True, False, True, True]) == [[0, 2], [3]]
    assert select([[0], [1, 2, 3], [4, 5]], 1, 1) == [[1, 2, 3]]
    assert select([[0], [1, 2, 3], [4, 5]], 0, 2) == [[1, 2, 3], [4, 5]]


def test_blockers_rank_unsupported_ops(built_models):
    sg = _ops(built_models["custom_op"], "xnnpack")
    assert sg.blockers[0].op == 1 and sg.blockers[0].partitions_saved == 1
    with open_model(built_models["custom_op"]) as m:
        line = summary_line(analyze_delegate(m, "xnnpack"))
    # op 1 is both the first unsupported op and the costliest blocker: named once
    assert "3/4 ops, 2 partitions; first unsupported: op 1 MyCustomOp (" in line
    assert "blocker" not in line


def test_options_parse_and_reject():
    assert parse_options(["qs8=false", "max_delegated_partitions=2"], ("xnnpack", "gpu")) == {
        "xnnpack": {"qs8": False, "max_delegated_partitions": 2},
        "gpu": {"max_delegated_partitions": 2}}
    with pytest.raises(ValueError, match="unknown option"):
        parse_options(["nope=1"], ("xnnpack",))
    with pytest.raises(ValueError, match="integer"):
        parse_options(["android_sdk_version=new"], ("nnapi",))


def test_macs_from_shapes():
    with open_model(shared_model_path("mobilenet_v2_224_float32")) as m:
        sg = m.subgraphs[0]
        conv = next(op for op in sg.operators if op.op == "CONV_2D")
        w = sg.tensors[conv.inputs[1]].shape
        out = sg.tensors[conv.outputs[0]].shape
        assert op_compute(conv, sg).macs == math.prod(out) * w[1] * w[2] * w[3]
        dw = next(op for op in sg.operators if op.op == "DEPTHWISE_CONV_2D")
        w = sg.tensors[dw.inputs[1]].shape
        assert op_compute(dw, sg).macs == math.prod(sg.tensors[dw.outputs[0]].shape) * w[1] * w[2]
        total = sum(op_compute(op, sg).macs for op in sg.operators)
    # MobileNetV2 1.0 at 224x224 is ~300M MACs (published figure)
    assert 280e6 < total < 320e6


def test_flops_of_ops_without_macs_follow_their_kind():
    from core.model.ops import section
    from core.model.schema import fb
    kinds = section("compute_kinds")
    assert set(kinds) == {"elementwise", "reduce", "pool"}
    assert all(hasattr(fb.BuiltinOperator, op) for ops in kinds.values() for op in ops)
    with open_model(shared_model_path("mobilenet_v2_224_float32")) as m:
        sg = m.subgraphs[0]
        add = next(op for op in sg.operators if op.op == "ADD")
        assert op_compute(add, sg).flops == math.prod(sg.tensors[add.outputs[0]].shape)
        mean = next(op for op in sg.operators if op.op == "MEAN")
        # the global average over the last 7x7x1280 feature map of MobileNetV2 at 224x224
        assert op_compute(mean, sg).flops == 7 * 7 * 1280
    with open_model(shared_model_path("face_detection_short_range")) as m:
        sg = m.subgraphs[0]
        pool = next(op for op in sg.operators if op.op == "MAX_POOL_2D")
        window = pool.options["filter_width"] * pool.options["filter_height"]
        assert op_compute(pool, sg).flops == math.prod(sg.tensors[pool.outputs[0]].shape) * window
        reshape = next(op for op in sg.operators if op.op == "RESHAPE")
        assert op_compute(reshape, sg).flops == 0 == op_compute(reshape, sg).macs


def test_ops_missing_inputs_get_a_reason_not_a_crash(tmp_path):
    from core.model.builder import ModelBuilder
    mb = ModelBuilder()
    sg = mb.subgraph()
    x, y = sg.tensor("x", [1, 4]), sg.tensor("y", [1, 4])
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "PAD", "STRIDED_SLICE",
               "BATCH_MATMUL", "MEAN", "SPLIT"):
        sg.op(op, [x], [y], {})
    sg.inputs, sg.outputs = [x], [y]
    with open_model(mb.save(tmp_path / "odd.tflite")) as m:
        result = analyze(m)
    for d, r in result.delegates.items():
        for o in r.subgraphs[0].ops:
            assert o.supported or isinstance(o.reason, str), (d, o)
    assert not result.delegates["xnnpack"].subgraphs[0].ops[0].supported


def test_summary_names_the_first_unsupported_op_in_op_order(build_model):
    """A custom op at the head and one in the middle: the middle one is the costliest blocker
    (it splits XNNPACK's ops in two partitions), but op 0 is the first the delegate cannot
    take; the line said 'first blocker: op 2' while op 0 was already unsupported."""
    import numpy as np

    from core.model.builder import ModelBuilder
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16])
    c = sg.tensor("c", [16], data=np.ones(16, np.float32))
    head, a, mid, m, t = (sg.tensor(n, [1, 16]) for n in ("head", "a", "mid", "m", "t"))
    sg.op("CUSTOM", [x], [head], custom_code="HeadOp")
    sg.op("ADD", [head, c], [a], {"fused_activation_function": "NONE"})
    sg.op("CUSTOM", [a], [mid], custom_code="MidOp")
    sg.op("MUL", [mid, c], [m], {"fused_activation_function": "NONE"})
    sg.op("TANH", [m], [t])
    sg.inputs, sg.outputs = [x], [t]
    with open_model(build_model(mb)) as model:
        result = analyze_delegate(model, "xnnpack")
    ops = result.subgraphs[0]
    assert [o.supported for o in ops.ops] == [False, True, False, True, True]
    assert ops.blockers[0].op == 2 and ops.partitions == 2
    line = summary_line(result)
    assert "first unsupported: op 0 (" in line
    assert "costliest blocker: op 2 MidOp (supporting it: 1 partition fewer" in line
    assert line.index("op 0") < line.index("op 2")
