"""Core of issue 4 without the worker: statistics, input generation, model metadata."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.inference.inputs import InputError, input_specs, make_inputs
from core.inference.stats import summarize
from core.model.metadata import model_metadata
from core.model.reader import open_model


def test_summarize_matches_hand_computed_values():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert s.runs == 4 and s.min == 1.0
    assert s.median == pytest.approx(2.5) and s.mean == pytest.approx(2.5)
    assert s.std == pytest.approx(math.sqrt(1.25))        # population std, as benchmark_model
    assert s.p90 == pytest.approx(3.7)                    # rank 0.9*3 = 2.7 -> 3 + 0.7
    assert s.p99 == pytest.approx(3.97)
    assert s.max == 4.0


def test_summarize_empty_has_no_numbers():
    assert summarize([]).to_json() == {"runs": 0, "min": None, "median": None, "mean": None,
                                       "std": None, "p90": None, "p99": None, "max": None}


def test_random_inputs_respect_int8_quantization_range(shared_model):
    from ai_edge_litert.interpreter import Interpreter
    path = shared_model("mobilenet_v2_224_int8")
    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    with open_model(path) as m:
        specs = input_specs(m)
    (a,) = make_inputs(specs, "random")
    assert a.dtype == detail["dtype"] == np.int8
    assert tuple(a.shape) == tuple(detail["shape"])
    assert a.min() < -100 and a.max() > 100   # spans the int8 range, not just [0, 1]
    (z,) = make_inputs(specs, "zeros")
    assert np.all(z == detail["quantization"][1])  # real 0.0 is the zero point


def test_metadata_normalization_and_labels(shared_model):
    with open_model(shared_model("face_detection_short_range")) as m:
        meta = model_metadata(m)
        specs = input_specs(m)
    assert meta.inputs[0].mean == [127.5] and meta.inputs[0].std == [127.5]
    (a,) = make_inputs(specs, "random")          # a normalized 8-bit image lies in [-1, 1]
    assert a.min() >= -1.0 and a.max() <= 1.0 and a.min() < -0.9 and a.max() > 0.9
    with open_model(shared_model("selfie_segmentation")) as m:
        assert model_metadata(m).outputs[0].labels == ["selfie"]


def _png(path, color, size=(40, 30)):
    Image = pytest.importorskip("PIL.Image")
    Image.new("RGB", size, color).save(path)
    return path


def test_image_input_normalized_by_metadata(shared_model, tmp_path):
    img = _png(tmp_path / "red.png", (255, 0, 0))
    with open_model(shared_model("face_detection_short_range")) as m:
        (a,) = make_inputs(input_specs(m), str(img))
    assert a.shape == (1, 128, 128, 3) and a.dtype == np.float32
    assert np.allclose(a[..., 0], 1.0) and np.allclose(a[..., 1:], -1.0)   # (x-127.5)/127.5


def test_image_input_without_metadata_is_unit_range(demo_model_path, tmp_path):
    img = _png(tmp_path / "grey.png", (51, 102, 255))
    with open_model(demo_model_path) as m:
        (a,) = make_inputs(input_specs(m), str(img))
    assert a.shape == (1, 32, 32, 3)
    assert np.allclose(a[0, 5, 5], [0.2, 0.4, 1.0])


def test_npy_input_with_wrong_shape_names_file_and_problem(demo_model_path, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((1, 8, 8, 3), np.float32))
    with open_model(demo_model_path) as m:
        specs = input_specs(m)
    with pytest.raises(InputError, match=r"bad\.npy.*shape \[1, 8, 8, 3\].*\[1, 32, 32, 3\]"):
        make_inputs(specs, str(bad))
    good = tmp_path / "good.npz"
    x = np.full((1, 32, 32, 3), 0.25, np.float32)
    np.savez(good, image=x)
    (a,) = make_inputs(specs, str(good))
    assert np.array_equal(a, x)
    with pytest.raises(InputError, match="not found"):
        make_inputs(specs, str(tmp_path / "missing.png"))


def test_dynamic_input_takes_requested_shape(shared_model):
    with open_model(shared_model("sine_float")) as m:
        name = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]].name
        assert input_specs(m)[0].shape == (1, 1)                 # -1 defaults to 1
        assert input_specs(m, {name: [7, 1]})[0].shape == (7, 1)
        with pytest.raises(InputError, match="cannot resize"):
            input_specs(m, {name: [7, 2]})
        with pytest.raises(InputError, match="no input named 'nope'"):
            input_specs(m, {"nope": [7, 1]})


def test_parse_shapes():
    from core.inference.inputs import parse_shapes
    assert parse_shapes(["a=1,224,224,3", " b = 2,3 ", ""]) == {"a": [1, 224, 224, 3],
                                                                "b": [2, 3]}
    assert parse_shapes(["serving:0=4"]) == {"serving:0": [4]}
    for bad in ["a", "=1,2", "a=", "a=1,-2", "a=1,x"]:
        with pytest.raises(InputError, match="bad input shape"):
            parse_shapes([bad])


def _dynamic_relu(tmp_path):
    from core.model.builder import ModelBuilder
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 4], shape_signature=[-1, 4])
    y = sg.tensor("y", [1, 4], shape_signature=[-1, 4])
    sg.op("RELU", [x], [y])
    sg.inputs, sg.outputs = [x], [y]
    return mb.save(tmp_path / "dyn.tflite")


def test_npy_input_respects_given_shapes_and_names_a_mismatch(tmp_path):
    from core.inference.inputs import InputError, make_inputs
    path = _dynamic_relu(tmp_path)
    npy = tmp_path / "x.npy"
    np.save(npy, np.ones((3, 4), np.float32))
    with open_model(path) as m:
        free, given = input_specs(m), input_specs(m, {"x": [2, 4]})
    (a,) = make_inputs(free, str(npy))     # no shape given: the array's batch of 3 is used
    assert a.shape == (3, 4)
    with pytest.raises(InputError, match=r"input shape mismatch: .* has shape \[3, 4\], the "
                                         r"input shapes given say \[2, 4\]"):
        make_inputs(given, str(npy))       # a shape was given: the array may not override it
    np.save(npy, np.ones((3, 5), np.float32))
    with pytest.raises(InputError, match=r"input shape mismatch: .* the model expects \[-1, 4\]"):
        make_inputs(free, str(npy))


def test_op_type_summary_sums_per_type():
    from core.inference.results import OpTime
    from core.inference.stats import op_type_summary
    ops = [OpTime(0, "CONV_2D", 2.0), OpTime(1, "ADD", 0.5), OpTime(2, "CONV_2D", 4.0),
           OpTime(3, "CUSTOM_X", None)]
    rows = op_type_summary(ops)
    assert [r.op for r in rows] == ["CONV_2D", "ADD"]      # untimed ops are left out
    conv = rows[0]
    assert (conv.count, conv.total_ms, conv.avg_ms) == (2, 6.0, 3.0)
    assert conv.percent == pytest.approx(100 * 6.0 / 6.5)
    assert sum(r.percent for r in rows) == pytest.approx(100.0)
