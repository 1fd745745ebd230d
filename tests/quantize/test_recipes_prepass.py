"""Recipes are accepted by ai-edge-quantizer as written; the pre-pass fixes the model shapes the
quantizer mishandles without changing what the model computes (checked with the runtime)."""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from ai_edge_quantizer import recipe_manager

from core.inference.error_metrics import cosine, output_error, snr_db
from core.model.builder import rewrite
from core.model.reader import open_bytes, open_model
from core.quantize import prepass, recipes


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_every_recipe_loads_in_the_quantizer(name):
    rm = recipe_manager.RecipeManager()
    rm.load_quantization_recipe(recipes.aeq_recipe(name, keep_float=["^head/"], float_io=True))
    assert rm.need_calibration() == recipes.RECIPES[name].static


def test_keep_float_and_float_io_entries():
    entries = recipes.aeq_recipe("full_int8", keep_float=["conv.*"], float_io=True)
    assert {"regex": "conv.*", "operation": "*", "algorithm_key": "no_quantize"} in entries
    assert {e["operation"] for e in entries if e["algorithm_key"] == "no_quantize"} >= \
        {"INPUT", "OUTPUT"}
    # float I/O means nothing for a weights-only recipe
    assert all(e["operation"] == "*" for e in recipes.aeq_recipe("dynamic_int8", float_io=True))
    with pytest.raises(ValueError, match="bad --keep-float regex"):
        recipes.aeq_recipe("dynamic_int8", keep_float=["(unclosed"])
    rx = recipes.keep_float_regex(["a/b", "x+y"])
    import re
    assert re.search(rx, recipes.op_scope(["a/b"])) and re.search(rx, recipes.op_scope(["x+y"]))
    assert not re.search(rx, recipes.op_scope(["a/bc"]))


def test_recipe_json_round_trip_and_errors(tmp_path):
    p = recipes.save_recipe(tmp_path / "r.json", recipes.aeq_recipe("int16x8"))
    assert recipes.load_recipe(p) == recipes.aeq_recipe("int16x8")
    assert recipes.is_static(recipes.load_recipe(p))
    (tmp_path / "bad.json").write_text("{\"regex\": 1}")
    with pytest.raises(ValueError, match="bad.json"):
        recipes.load_recipe(tmp_path / "bad.json")


def _run(content: bytes, x: np.ndarray) -> list[np.ndarray]:
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def test_prepass_on_mediapipe_fp16_model_is_exact(shared_model):
    path = shared_model("face_detection_short_range")
    data = path.read_bytes()
    with open_model(path) as m:
        plan = prepass.plan(m)
        n_dequant = sum(op.op == "DEQUANTIZE" for op in m.subgraphs[0].operators)
    # SOURCES.md: fp16 weights fed through DEQUANTIZE; no signature in MediaPipe graphs
    assert plan.fold_fp16 and plan.add_signature and "CONV_2D" in plan.deprecated_codes
    out = prepass.apply(data, plan)
    fixed = open_bytes(out, "fixed")
    assert sum(op.op == "DEQUANTIZE" for op in fixed.subgraphs[0].operators) == \
        n_dequant - len(plan.fold_fp16)
    assert not any(t.dtype == "float16" for t in fixed.subgraphs[0].tensors)
    assert [s.key for s in fixed.signatures] == [prepass.SIGNATURE_KEY]
    assert not prepass.plan(fixed).needed
    x = np.random.default_rng(1).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    for a, b in zip(_run(data, x), _run(out, x), strict=False):
        np.testing.assert_array_equal(a, b)


def test_prepass_copies_deprecated_codes(build_model):
    from core.model.samples import demo_model
    data = build_model(demo_model(), "demo.tflite").read_bytes()

    def old_style(m):   # what pre-2.3 converters wrote: only deprecated_builtin_code
        for oc in m.operatorCodes:
            oc.builtinCode = 0
    old = rewrite(data, old_style)
    plan = prepass.plan(open_bytes(old, "old"))
    assert "CONV_2D" in plan.deprecated_codes and "ADD" not in plan.deprecated_codes
    fixed = prepass.apply(old, plan)
    assert not prepass.plan(open_bytes(fixed, "fixed")).deprecated_codes


def test_static_warnings_name_while_and_flex(shared_model):
    with open_model(shared_model("lstm_gru_text_float32")) as m:
        assert any("WHILE" in w for w in prepass.plan(m).warnings)
    with open_model(shared_model("flex_ops_float32")) as m:
        assert any("FlexMatrixDeterminant" in w for w in prepass.plan(m).warnings)


def test_metrics_on_known_values():
    a = np.array([1.0, 0.0, 0.0])
    assert cosine(a, np.array([0.0, 1.0, 0.0])) == 0.0
    assert cosine(a, 3 * a) == pytest.approx(1.0)
    assert cosine(np.zeros(3), np.zeros(3)) == 1.0
    ref = np.ones(100)
    assert snr_db(ref, ref + 0.1) == pytest.approx(20.0)   # signal 100, noise 1 -> 20 dB
    e = output_error([[np.array([0.1, 0.9])], [np.array([0.8, 0.2])]],
                     [[np.array([0.2, 0.8])], [np.array([0.4, 0.6])]], ["probabilities"])
    assert e.top1_agreement == 0.5 and e.max_abs == pytest.approx(0.4)
    assert e.mean_abs == pytest.approx((0.1 + 0.1 + 0.4 + 0.4) / 4)
    json.dumps(asdict(e), allow_nan=False)


def test_metrics_with_inf_and_nan_stay_strict_json():
    from core.inference.error_metrics import layer_error
    masked = np.array([1.0, -np.inf, 3.0, np.nan])
    # the same -inf (a mask) and the same NaN on both sides agree; the rest is compared
    e = layer_error(masked, np.array([1.0, -np.inf, 2.0, np.nan]))
    assert asdict(e) == {"rmse": pytest.approx(np.sqrt(0.5)), "max_abs": 1.0,
                         "cosine": pytest.approx(7 / np.sqrt(10 * 5)), "nonfinite": 0}
    # inf or NaN on one side only: no number measures it, so it counts as unrelated
    broken = np.array([1.0, 2.0, np.nan, np.inf])
    e = layer_error(np.array([1.0, 2.0, 3.0, 4.0]), broken)
    assert e.cosine == 0.0 and e.nonfinite == 2 and e.max_abs == 0.0
    o = output_error([[np.array([1.0, 2.0, 3.0, 4.0])]], [[broken]])
    assert o.cosine == 0.0 and o.snr_db < 0 and o.nonfinite == 2
    json.dumps([asdict(e), asdict(o)], allow_nan=False)


def test_plan_skips_a_dequantize_without_output(build_model):
    """A malformed DEQUANTIZE (no output) is not a float16 weight to fold, not an IndexError."""
    from core.model.builder import ModelBuilder
    b = ModelBuilder()
    sg = b.subgraph()
    x, y = sg.tensor("x", [1, 4]), sg.tensor("y", [1, 4])
    w = sg.tensor("w16", [4, 4], "float16", data=np.ones((4, 4), np.float16))
    sg.op("DEQUANTIZE", [w], [])
    sg.op("ADD", [x, x], [y])
    sg.inputs, sg.outputs = [x], [y]
    with open_model(build_model(b, "dq.tflite")) as m:
        assert prepass.plan(m).fold_fp16 == []


def test_the_pinned_quantizer_and_runtime_are_the_ones_installed():
    """The recipes, the pre-pass and the delegate tables were measured with these exact
    versions; an install that drifted from the pins in pyproject.toml fails here, not in a
    user's report."""
    import re
    from importlib.metadata import version

    from tests.conftest import ROOT
    # the quoted "name==version" requirements (tomllib is Python 3.11+, LiteLens runs on 3.10)
    pins = dict(re.findall(r'"([\w.-]+)==([\w.]+)"', (ROOT / "pyproject.toml").read_text()))
    assert {"ai-edge-litert", "ai-edge-quantizer"} <= set(pins)
    for dist in ("ai-edge-litert", "ai-edge-quantizer"):
        assert version(dist) == pins[dist], dist


def test_top1_counts_only_a_single_highest_class():
    """An all-zero (tied) quantized argmax is never agreement; a tied float argmax is no
    evidence either way and is left out of the count."""
    scores = [np.array([0.1, 0.7, 0.2]), np.array([0.6, 0.3, 0.1])]
    stuck = [np.zeros(3), np.zeros(3)]
    e = output_error([[s] for s in scores], [[z] for z in stuck], activations=["SOFTMAX"])
    assert e.top1_agreement == 0.0 and e.outputs[0].top1_inputs == 2
    tied = [np.array([0.5, 0.5, 0.0]), np.array([0.2, 0.7, 0.1])]
    e = output_error([[s] for s in tied], [[np.array([0.5, 0.4, 0.1])],
                                           [np.array([0.1, 0.8, 0.1])]], activations=["SOFTMAX"])
    assert e.top1_agreement == 1.0 and e.outputs[0].top1_inputs == 1


def test_output_kinds_from_shapes_and_names():
    from core.inference.error_metrics import output_kinds
    # palm detection: boxes and scores share the anchor axis; no names needed
    assert output_kinds(["Identity", "Identity_1"], [(1, 2016, 18), (1, 2016, 1)]) == \
        ["boxes", "scores"]
    # SSD raw head: 91 class scores are wider than the 4 box numbers; the names tell
    assert output_kinds(["raw_outputs/box_encodings", "raw_outputs/class_predictions"],
                        [(1, 1917, 4), (1, 1917, 91)]) == ["boxes", "scores"]
    assert output_kinds(["logits"], [(1, 1000)]) == ["class_scores"]
    # a vector is class scores only where the model marks it so: the op behind it, or its name
    assert output_kinds(["Identity"], [(1, 1000)], ["SOFTMAX"]) == ["class_scores"]
    assert output_kinds(["Identity"], [(1, 1000)], ["FULLY_CONNECTED"]) == ["values"]
    assert output_kinds(["embedding"], [(1, 1, 1, 96)]) == ["values"]
    assert output_kinds(["output_crop"], [(1, 1, 1, 4)], ["CONV_2D"]) == ["values"]
    assert output_kinds(["mask"], [(1, 256, 256, 1)]) == ["values"]
    # two same-width outputs over one axis and nothing naming boxes: not a detector
    assert output_kinds(["a", "b"], [(1, 64, 8), (1, 64, 8)]) == ["values", "values"]


def test_verdict_on_outputs_that_cannot_score():
    """Inf/NaN on one side fails; a float output too small to measure is not scored (the old
    perfect cosine of two near-zero vectors is gone) and warns."""
    from core.inference.error_metrics import compare_output
    from core.quantize.verdict import THRESHOLDS, _output_reasons
    ref = [np.linspace(-1, 1, 8) * (k + 1) for k in range(8)]
    broken = [r.copy() for r in ref]
    broken[3][2] = np.inf
    c = compare_output("y", "values", ref, broken)
    assert c.nonfinite == 1 and c.cosine == 0.0
    assert [x.level for x in _output_reasons(c, 8, THRESHOLDS)] == ["fail"]
    tiny = [r * 1e-9 for r in ref]
    c = compare_output("y", "values", tiny, [t[::-1] for t in tiny])
    assert c.cosine is None and c.snr_db is None
    levels = [x.level for x in _output_reasons(c, 8, THRESHOLDS)]
    assert "warn" in levels and "fail" not in levels
    # stuck at one value while the float one moves fails, however small the float values
    c = compare_output("y", "values", tiny, [np.zeros(8) for _ in tiny])
    assert c.quantized_constant and _output_reasons(c, 8, THRESHOLDS)[0].level == "fail"
    # an int8 output with step 1/256: floats up to 8e-4 sit under one step, are not scored
    c = compare_output("y", "values", [r * 1e-4 for r in ref], tiny, step=1 / 256)
    assert c.cosine is None and "one step" in _output_reasons(c, 8, THRESHOLDS)[0].text
