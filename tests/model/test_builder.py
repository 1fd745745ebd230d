"""The core builder writes models LiteLens reads back exactly and LiteRT loads and runs."""
from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from core.model.builder import ModelBuilder
from core.model.reader import open_model
from core.model.samples import demo_model, synthetic_chain, weight_heavy


def _run(path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs, strict=False):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def test_committed_demo_model_is_what_the_builder_writes(demo_model_path):
    assert demo_model_path.read_bytes() == demo_model().to_bytes(), \
        "resources/demo_model.tflite is stale: run `make demo-model`"


def test_demo_model_runs_and_is_a_softmax_classifier(demo_model_path):
    x = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)
    (probs,) = _run(demo_model_path, [x])
    assert probs.shape == (1, 10)
    assert probs.min() >= 0 and abs(float(probs.sum()) - 1) < 1e-5
    # a different image gives a different answer: the weights are real, not zeros
    (other,) = _run(demo_model_path, [np.zeros((1, 32, 32, 3), np.float32)])
    assert not np.allclose(probs, other)


def test_small_model_computes_what_its_ops_say(build_model):
    mb = ModelBuilder(description="add then relu")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 4])
    c = sg.tensor("c", [4], data=np.array([1, -2, 3, -4], np.float32))
    y = sg.tensor("y", [1, 4])
    sg.op("ADD", [x, c], [y], {"fused_activation_function": "RELU"})
    sg.inputs, sg.outputs = [x], [y]
    path = build_model(mb)
    (y_val,) = _run(path, [np.array([[0.5, 0.5, 0.5, 0.5]], np.float32)])
    np.testing.assert_allclose(y_val, [[1.5, 0, 3.5, 0]])


def test_round_trip_of_every_feature(build_model):
    mb = ModelBuilder(description="round trip")
    sg = mb.subgraph("first")
    x = sg.tensor("in", [1, 8, 8, 3], "int8", shape_signature=[-1, 8, 8, 3],
                  quant={"scale": [0.5], "zero_point": [-3]})
    w = sg.tensor("w", [4, 3, 3, 3], "int8", data=np.arange(108, dtype=np.int8),
                  quant={"scale": [0.1, 0.2, 0.3, 0.4], "zero_point": [0, 0, 0, 0],
                         "quantized_dimension": 0})
    b = sg.tensor("b", [4], "int32", data=np.zeros(4, np.int32))
    y = sg.tensor("out", [1, 8, 8, 4], "int8", quant={"scale": [0.25], "zero_point": [1]})
    v = sg.tensor("state", [1, 4], "float32", variable=True)
    z = sg.tensor("custom_out", [1, 8, 8, 4], "int8")
    sg.op("CONV_2D", [x, w, b], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                       "fused_activation_function": "RELU6"}, version=3)
    sg.op("CUSTOM", [y, -1], [z], custom_code="MyOp", custom_options=b"\x01\x02\x03")
    sg.inputs, sg.outputs = [x], [z]
    sg2 = mb.subgraph("second")
    a = sg2.tensor("a", [2])
    r = sg2.tensor("r", [2])
    sg2.op("RESHAPE", [a], [r], {"new_shape": [2]})
    sg2.inputs, sg2.outputs = [a], [r]
    mb.signature("run", 0, {"image": x}, {"result": z})
    mb.add_metadata("labels", b"cat\ndog\n")
    mb.min_runtime_version("2.3.0")
    m = open_model(build_model(mb))

    assert m.description == "round trip" and m.schema_version == 3
    assert [s.name for s in m.subgraphs] == ["first", "second"]
    s0 = m.subgraphs[0]
    assert s0.inputs == (x,) and s0.outputs == (z,)
    tx = s0.tensors[x]
    assert (tx.name, tx.shape, tx.shape_signature, tx.dtype) == ("in", (1, 8, 8, 3),
                                                                  (-1, 8, 8, 3), "int8")
    assert tx.quantization.scale == (0.5,) and tx.quantization.zero_point == (-3,)
    tw = s0.tensors[w]
    assert tw.constant and tw.bytes == 108 and tw.quantization.per_channel
    np.testing.assert_allclose(tw.quantization.scale, [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(m.tensor_data(0, w).reshape(-1), np.arange(108, dtype=np.int8))
    assert s0.tensors[v].variable and not s0.tensors[v].constant
    conv, custom = s0.operators
    assert (conv.op, conv.version, conv.inputs, conv.outputs) == ("CONV_2D", 3, (x, w, b), (y,))
    assert conv.options["padding"] == "SAME"
    assert conv.options["fused_activation_function"] == "RELU6"
    assert (custom.op, custom.custom_code, custom.inputs) == ("CUSTOM", "MyOp", (y, -1))
    assert custom.options["custom_options_bytes"] == 3
    assert m.subgraphs[1].operators[0].options["new_shape"] == [2]
    (sig,) = m.signatures
    assert (sig.key, sig.subgraph, sig.inputs, sig.outputs) == ("run", 0, {"image": x},
                                                                 {"result": z})
    assert m.metadata_bytes("labels") == b"cat\ndog\n"
    assert m.min_runtime_version == "2.3.0"


def test_external_buffers_read_and_run_like_inline_ones(build_model):
    mb = weight_heavy(4 * 64 * 64 * 3, layers=3)
    inline = open_model(build_model(mb, "inline.tflite"))
    ext_path = build_model(mb, "external.tflite", external_buffers=True)
    ext = open_model(ext_path)
    weights = [b for b in ext.buffers if b.size]
    assert weights and all(b.external for b in weights)
    assert all(b.offset % 16 == 0 for b in weights)
    for t_in, t_ex in zip(inline.subgraphs[0].tensors, ext.subgraphs[0].tensors, strict=False):
        if t_in.constant:
            np.testing.assert_array_equal(inline.tensor_data(0, t_in.index),
                                          ext.tensor_data(0, t_ex.index))
    n = inline.subgraphs[0].tensors[0].shape[1]
    x = np.random.default_rng(1).random((1, n), dtype=np.float32)
    np.testing.assert_allclose(_run(inline.path, [x])[0], _run(ext_path, [x])[0], rtol=1e-6)


@pytest.mark.parametrize("n_ops", [10, 200])
def test_synthetic_chain_runs_in_litert(build_model, n_ops):
    path = build_model(synthetic_chain(n_ops))
    m = open_model(path)
    assert m.op_count == n_ops
    ops = {op.op for op in m.subgraphs[0].operators}
    assert ops <= {"ADD", "MUL", "TANH"} and "ADD" in ops
    (y,) = _run(path, [np.ones((1, 8), np.float32)])
    assert y.shape == (1, 8) and np.isfinite(y).all()


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"previous content")
    mb = demo_model()
    mb.save(target)
    assert open_model(target).op_count == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


def test_exports_never_replace_a_model(tmp_path, demo_model_path):
    from core.fileio import write_text
    from core.inference.export import export_results
    model = tmp_path / "mine.tflite"
    model.write_bytes(demo_model_path.read_bytes())
    with pytest.raises(OSError, match="is a TFLite model, which LiteLens never overwrites"):
        export_results([], model, overwrite=True)
    with pytest.raises(OSError, match="already exists"):
        export_results([], model)
    assert model.read_bytes() == demo_model_path.read_bytes()
    out = write_text(tmp_path / "notes.json", "[]")
    assert out.read_text() == "[]" and sorted(p.name for p in tmp_path.iterdir()) == [
        "mine.tflite", "notes.json"]  # no temp files left behind


def test_sparse_tensor_densifies_to_its_values(tmp_path):
    from ai_edge_litert.interpreter import OpResolverType
    w = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mb = ModelBuilder()
    sg = mb.subgraph()
    ws = sg.tensor("w_sparse", w.shape, data=w, sparse=True)
    x, dense, y = sg.tensor("x", w.shape), sg.tensor("dense", w.shape), sg.tensor("y", w.shape)
    sg.op("DENSIFY", [ws], [dense])
    sg.op("ADD", [x, dense], [y], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [y]
    path = mb.save(tmp_path / "sparse.tflite")
    with open_model(path) as m:
        assert [t.sparse for t in m.subgraphs[0].tensors] == [True, False, False, False]
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros_like(w))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), w)
