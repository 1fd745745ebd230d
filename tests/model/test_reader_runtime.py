"""The reader against LiteRT's own view of the same files (tensor details, ops, signatures)."""
from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from core.analysis.report import model_report
from core.model.reader import open_model
from tests.conftest import all_shared_models, shared_model_path


def _interpreter(path) -> Interpreter:
    # no default delegates: the op list stays the model's own (XNNPACK would fuse nodes)
    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _compare(path) -> None:
    it = _interpreter(path)
    report = model_report(open_model(path)).to_json()
    subgraphs = report["subgraphs"]
    # operators of the primary subgraph: name, inputs, outputs
    ops = it._get_ops_details()
    assert len(ops) == len(subgraphs[0]["operators"])
    for mine, theirs in zip(subgraphs[0]["operators"], ops, strict=False):
        assert theirs["op_name"] in (mine["op"], mine["custom_code"])
        assert mine["inputs"] == theirs["inputs"].tolist()
        assert mine["outputs"] == theirs["outputs"].tolist()
    # tensors of every subgraph
    for si, sg in enumerate(subgraphs):
        details = it.get_tensor_details(subgraph_index=si)
        assert len(details) == len(sg["tensors"])
        for d in details:
            t = sg["tensors"][d["index"]]
            assert t["name"] == d["name"]
            assert t["shape"] == d["shape"].tolist()
            assert t["shape_signature"] == d["shape_signature"].tolist()
            theirs = np.dtype(d["dtype"]).name
            if theirs == "object":   # the Python API maps kTfLiteResource/kTfLiteVariant to object
                assert t["dtype"] in ("resource", "variant")
            else:
                assert t["dtype"] == theirs
            q = d["quantization_parameters"]
            if t["quantization"] is None:
                assert q["scales"].size == 0
            else:
                np.testing.assert_allclose(t["quantization"]["scale"], q["scales"], rtol=1e-6)
                assert t["quantization"]["zero_point"] == q["zero_points"].tolist()
                assert t["quantization"]["quantized_dimension"] == q["quantized_dimension"]
    assert subgraphs[0]["inputs"] == [d["index"] for d in it.get_input_details()]
    assert subgraphs[0]["outputs"] == [d["index"] for d in it.get_output_details()]
    # signatures
    runtime_sigs = it._get_full_signature_list()
    assert {s["key"] for s in report["model"]["signatures"]} == set(runtime_sigs)
    for s in report["model"]["signatures"]:
        theirs = runtime_sigs[s["key"]]
        assert s["subgraph"] == theirs.get("subgraph_index", s["subgraph"])
        assert {k: v["index"] for k, v in s["inputs"].items()} == theirs["inputs"]
        assert {k: v["index"] for k, v in s["outputs"].items()} == theirs["outputs"]


@pytest.mark.parametrize("name", all_shared_models())
def test_report_matches_runtime_on_shared_models(name):
    _compare(shared_model_path(name))


def test_report_matches_runtime_on_demo_model(demo_model_path):
    _compare(demo_model_path)


def test_op_counts_of_shared_models_match_sources(shared_model):
    # counts stated in shared/models/SOURCES.md
    assert open_model(shared_model("face_detection_short_range")).op_count == 164
    assert open_model(shared_model("face_landmark_with_attention")).op_count == 712
    m = open_model(shared_model("lstm_gru_text_float32"))
    assert len(m.subgraphs) == 5
    assert sum(op.op == "WHILE" for op in m.subgraphs[0].operators) >= 1
    m = open_model(shared_model("multi_signature_float32"))
    assert len(m.signatures) == 2


def test_custom_and_flex_ops_are_named(shared_model):
    m = open_model(shared_model("selfie_segmentation"))
    customs = {op.custom_code for op in m.subgraphs[0].operators if op.op == "CUSTOM"}
    assert "Convolution2DTransposeBias" in customs
    m = open_model(shared_model("flex_ops_float32"))
    customs = {op.custom_code for op in m.subgraphs[0].operators if op.op == "CUSTOM"}
    assert "FlexMatrixDeterminant" in customs


def test_decoded_options_use_enum_names(shared_model):
    m = open_model(shared_model("mobilenet_v2_224_float32"))
    conv = next(op for op in m.subgraphs[0].operators if op.op == "CONV_2D")
    assert conv.options["padding"] in ("SAME", "VALID")
    assert conv.options["fused_activation_function"] in ("NONE", "RELU", "RELU6")
    assert isinstance(conv.options["stride_w"], int)
    m = open_model(shared_model("lstm_gru_text_float32"))
    loop = next(op for op in m.subgraphs[0].operators if op.op == "WHILE")
    assert {"cond_subgraph_index", "body_subgraph_index"} <= set(loop.options)
    assert 0 < loop.options["body_subgraph_index"] < len(m.subgraphs)


def test_weights_are_zero_copy_views_matching_runtime(shared_model):
    path = shared_model("mobilenet_v2_224_float32")
    m = open_model(path)
    it = _interpreter(path)
    it.allocate_tensors()
    checked = 0
    for t in m.subgraphs[0].tensors:
        if t.constant and t.dtype == "float32" and len(t.shape) == 4:
            mine = m.tensor_data(0, t.index)
            assert not mine.flags.writeable and not mine.flags.owndata
            np.testing.assert_array_equal(mine, it.get_tensor(t.index))
            checked += 1
    assert checked > 10


def test_metadata_and_min_runtime_version(shared_model):
    m = open_model(shared_model("mobilenet_v2_224_int8"))
    assert "min_runtime_version" in [x.name for x in m.metadata]
    raw = m.metadata_bytes("min_runtime_version").rstrip(b"\0").decode()
    assert m.min_runtime_version == raw and raw.count(".") == 2


def _quantized_built_model():
    import numpy as np

    from core.model.builder import ModelBuilder
    mb = ModelBuilder(description="int8 dense + custom op")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16], "int8", shape_signature=[-1, 16],
                  quant={"scale": [0.05], "zero_point": [-1]})
    w = sg.tensor("w", [4, 16], "int8", data=np.arange(64, dtype=np.int8) - 32,
                  quant={"scale": [0.01, 0.02, 0.03, 0.04], "zero_point": [0, 0, 0, 0]})
    y = sg.tensor("y", [1, 4], "int8", quant={"scale": [0.1], "zero_point": [3]})
    z = sg.tensor("z", [1, 4], "int8")
    sg.op("FULLY_CONNECTED", [x, w, -1], [y], {"fused_activation_function": "RELU"})
    sg.op("CUSTOM", [y], [z], custom_code="NotRegistered")
    sg.inputs, sg.outputs = [x], [z]
    mb.signature("serving_default", 0, {"x": x}, {"z": z})
    return mb


@pytest.mark.parametrize("which", ["chain", "heavy_external", "quantized_custom"])
def test_report_matches_runtime_on_built_models(build_model, which):
    from core.model.samples import synthetic_chain, weight_heavy
    if which == "chain":
        path = build_model(synthetic_chain(120))
    elif which == "heavy_external":
        path = build_model(weight_heavy(4 * 48 * 48 * 2, layers=2), external_buffers=True)
    else:
        path = build_model(_quantized_built_model())
    _compare(path)
