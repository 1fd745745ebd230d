"""`litelens quantize` end to end: real quantizer, real runtime, results checked against what
ai-edge-litert computes on the written file, the input never touched."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from core.quantize.run import QuantizeJob, QuantizeRequest, quantize
from tests.conftest import ROOT

TOP_KEYS = {"input", "output", "recipe", "quantizer", "prepass", "size_bytes", "loads",
            "latency_ms", "error", "per_layer", "kept_float", "verdict", "verdict_reasons",
            "calibration", "evaluation", "coverage", "input_loads", "thresholds", "withheld"}
ERROR_KEYS = {"max_abs", "mean_abs", "cosine", "snr_db", "top1_agreement"}
LAYER_KEYS = {"op", "tensor", "rmse", "max_abs", "cosine", "scale", "zero_point"}


def litelens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "quantize", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def strict_json(text: str) -> dict:
    def no_constant(name):
        raise ValueError(f"non-finite number {name} in JSON")
    return json.loads(text, parse_constant=no_constant)


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def demo(tmp_path, build_model):
    from core.model.samples import demo_model
    return build_model(demo_model(), "demo.tflite")


def _outputs(path, x, delegate=OpResolverType.AUTO):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=delegate)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    if scale:
        x = np.clip(np.round(x / scale + zp), -128, 127).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    o = it.get_output_details()[0]
    y = it.get_tensor(o["index"]).astype(np.float64)
    s, z = o["quantization"]
    return (y - z) * s if s else y


def test_dynamic_int8_on_built_model(demo, tmp_path):
    before = sha(demo)
    p = litelens(str(demo), "--recipe", "dynamic_int8", "--json")
    assert p.returncode == 0, p.stderr
    r = strict_json(p.stdout)
    assert TOP_KEYS <= set(r) and ERROR_KEYS <= set(r["error"])
    out = tmp_path / "demo.dynamic_int8.tflite"
    assert r["output"] == str(out) and out.is_file()
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert sha(demo) == before
    assert r["size_bytes"] == {"before": demo.stat().st_size, "after": out.stat().st_size}
    assert out.stat().st_size < demo.stat().st_size
    assert r["loads"]["xnnpack"] == {"ok": True, "error": None}
    assert r["prepass"] == []   # a model the quantizer takes as it is
    # the reported error agrees with what the runtime computes on the written file
    from core.inference.inputs import input_specs, make_inputs
    from core.model.reader import open_model
    from core.quantize.calibration import EVAL_SEED_OFFSET
    with open_model(demo) as m:
        specs = input_specs(m)
    diffs = []
    assert r["evaluation"] == {"source": "random", "samples": 16}   # the default, stated
    for k in range(16):
        x = make_inputs(specs, "random", seed=EVAL_SEED_OFFSET + k)[0]
        diffs.append(np.abs(_outputs(demo, x) - _outputs(out, x)).max())
    assert r["error"]["max_abs"] == pytest.approx(max(diffs), rel=1e-4, abs=1e-7)
    assert 0 < r["error"]["max_abs"] and r["error"]["cosine"] > 0.9
    assert r["per_layer"] and LAYER_KEYS <= set(r["per_layer"][0])
    cos = [row["cosine"] for row in r["per_layer"]]
    assert cos == sorted(cos)
    assert r["latency_ms"]["before"] > 0 and r["latency_ms"]["after"] > 0
    assert not any("same outputs" in w for w in r["warnings"])   # its outputs follow the input
    # a second run never overwrites the first: the next free name
    r2 = quantize(QuantizeRequest(str(demo), "dynamic_int8"))
    assert r2.output == str(tmp_path / "demo.dynamic_int8.2.tflite")


def test_refusals_exit_2(demo, tmp_path):
    before = sha(demo)
    p = litelens(str(demo), "-o", str(demo))
    assert p.returncode == 2 and "the output is the input model" in p.stderr
    other = tmp_path / "taken.tflite"
    other.write_bytes(demo.read_bytes())
    p = litelens(str(demo), "-o", str(other))
    assert p.returncode == 2 and "already exists" in p.stderr
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    p = litelens(str(bad))
    assert p.returncode == 2 and str(bad) in p.stderr and "Traceback" not in p.stderr
    for args, said in ((["--calibration", str(tmp_path / "nope")], "no such calibration"),
                       (["--calibration", str(demo)], "must be 'random'"),
                       (["--eval-samples", "0"], "--eval-samples"),
                       (["--timeout", "-1"], "--timeout")):
        p = litelens(str(demo), "--recipe", "full_int8", *args, "-o", str(tmp_path / "n.tflite"))
        assert p.returncode == 2 and said in p.stderr and "internal error" not in p.stderr, args
        assert not (tmp_path / "n.tflite").exists()
    assert sha(demo) == before


# The CLI in a Python where TensorFlow cannot be imported: make test installs the extra, so the
# package is blocked the way the import system documents (a None entry in sys.modules: find_spec
# gives None and `import tensorflow` raises ModuleNotFoundError, as in a venv without it)
_WITHOUT_TF = """
import sys
sys.modules["tensorflow"] = None
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_source_model_without_tensorflow(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    for src in (saved, tmp_path / "m.keras"):
        if src.suffix:
            src.write_bytes(b"PK")
        p = subprocess.run([sys.executable, "-c", _WITHOUT_TF, "quantize", str(src), "--json"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert p.returncode == 2, p.stderr
        assert "pip install 'LiteLens[tensorflow]'" in p.stderr and str(src) in p.stderr
        assert "pip install 'LiteLens[tensorflow]'" in strict_json(p.stdout)["failure"]


def test_static_int8_with_image_folder_and_keep_float(demo, tmp_path):
    from PIL import Image
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            images / f"{k}.png")
    r = quantize(QuantizeRequest(str(demo), "full_int8", calibration=str(images), samples=3,
                                 output=str(tmp_path / "q8.tflite")))
    assert r.failure is None and r.output
    it = Interpreter(model_path=r.output)
    assert it.get_input_details()[0]["dtype"] == np.int8   # int8 I/O by default
    worst = r.per_layer[0]
    assert worst.dtype == "int8" and worst.scale > 0
    # "keep these ops float": the worst layer's op is reported as kept float, I/O stays float
    from core.quantize.recipes import keep_float_regex
    r2 = quantize(QuantizeRequest(str(demo), "full_int8", calibration=str(images), samples=3,
                                  keep_float=[keep_float_regex([worst.tensor])],
                                  float_io=True, output=str(tmp_path / "q8f.tflite")))
    assert r2.failure is None
    kept = {k.tensor: k.reason for k in r2.kept_float}
    assert "kept float as asked" in kept[worst.tensor]
    assert Interpreter(model_path=r2.output).get_input_details()[0]["dtype"] == np.float32


def test_calibration_from_npz_stack(demo, tmp_path):
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 32, 32, 3)).astype(np.float32)
    np.savez(tmp_path / "cal.npz", image=x)
    r = quantize(QuantizeRequest(str(demo), "int16x8", calibration=str(tmp_path / "cal.npz"),
                                 samples=5, output=str(tmp_path / "q16.tflite")))
    assert r.failure is None, r.failure
    np.savez(tmp_path / "wrong.npz", image=np.zeros((2, 9), np.float32))
    r = quantize(QuantizeRequest(str(demo), "int16x8", calibration=str(tmp_path / "wrong.npz"),
                                 output=str(tmp_path / "never.tflite")))
    assert "wrong.npz" in r.failure and not (tmp_path / "never.tflite").exists()


def _wait_for_stage(job: QuantizeJob, stage: str) -> None:
    deadline = time.monotonic() + 60
    while job.stage != stage and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.005)
    assert job.stage == stage and job.progress[1] > 1


def test_cancel_kills_the_job_and_writes_nothing(demo, tmp_path):
    job = QuantizeJob(QuantizeRequest(str(demo), "full_int8", samples=8,
                                      output=str(tmp_path / "c.tflite")))
    _wait_for_stage(job, "calibrate")
    job.cancel()
    r = job.wait()
    assert r.failure == "cancelled" and job.session.proc.returncode is not None
    assert not (tmp_path / "c.tflite").exists()


# -- the quantizer's own defects, on the shared real models ---------------------------------
def test_nothing_to_quantize_is_reported(shared_model, tmp_path):
    src = shared_model("face_detection_short_range")   # float16 weights already
    out = tmp_path / "fd16.tflite"
    p = litelens(str(src), "--recipe", "float16", "-o", str(out), "--json")
    assert p.returncode == 1
    r = strict_json(p.stdout)
    assert r["failure"].startswith("nothing to quantize:") and "float16" in r["failure"]
    assert r["output"] is None and not out.exists()


def test_mediapipe_fp16_model_really_shrinks(shared_model, tmp_path):
    src = shared_model("face_detection_short_range")
    before = sha(src)
    r = quantize(QuantizeRequest(str(src), "dynamic_int8", output=str(tmp_path / "fd8.tflite")))
    assert r.failure is None
    assert r.size_bytes.after < 0.8 * r.size_bytes.before
    assert any("float16" in s for s in r.prepass)
    assert r.loads["xnnpack"].ok and r.error.cosine > 0.9
    assert sha(src) == before


def test_static_int8_mobilenet_fails_under_builtin_kernels(shared_model, tmp_path):
    src = shared_model("mobilenet_v2_224_float32")
    p = litelens(str(src), "--recipe", "full_int8", "--samples", "2", "--eval-samples", "1",
                 "-o", str(tmp_path / "mb8.tflite"), "--json")
    assert p.returncode == 0, p.stderr
    r = strict_json(p.stdout)
    assert r["loads"]["xnnpack"]["ok"]
    assert not r["loads"]["builtin"]["ok"]
    assert "no_integer_overflow_from_quantization" in r["loads"]["builtin"]["error"]
    assert r["size_bytes"]["after"] <= 0.3 * r["size_bytes"]["before"]
    # the runtime agrees: builtin kernels refuse the written file
    it = Interpreter(model_path=str(tmp_path / "mb8.tflite"),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with pytest.raises(RuntimeError, match="no_integer_overflow"):
        it.allocate_tensors()


def test_calibration_on_while_model_fails_cleanly(shared_model, tmp_path):
    src = shared_model("lstm_gru_text_float32")
    p = litelens(str(src), "--recipe", "full_int8", "-o", str(tmp_path / "l.tflite"))
    assert p.returncode == 1 and "Traceback" not in p.stdout + p.stderr
    assert "WHILE" in p.stdout and not (tmp_path / "l.tflite").exists()


@pytest.mark.parametrize("recipe,most", [("dynamic_int8", 0.3), ("float16", 0.55)])
def test_float_cnn_shrinks_as_expected(shared_model, tmp_path, recipe, most):
    src = shared_model("mobilenet_v2_224_float32")
    r = quantize(QuantizeRequest(str(src), recipe, eval_samples=1, latency_runs=2,
                                 output=str(tmp_path / f"{recipe}.tflite")))
    assert r.failure is None and r.loads["xnnpack"].ok and r.loads["builtin"].ok
    assert (tmp_path / f"{recipe}.tflite").stat().st_size <= most * src.stat().st_size
    assert all(np.isfinite(v) for v in (r.error.max_abs, r.error.snr_db))


def test_compare_delegate_and_arena_agree_with_the_runtime(shared_model, tmp_path):
    """The compare view's XNNPACK column and arena bytes, for a float CNN and its dynamic-int8
    version (hybrid convolutions fall off XNNPACK and need scratch), against what ai-edge-litert
    really places and allocates."""
    from core.analysis.compare import compare_models
    from core.analysis.memory import plan_litert, runtime_check
    from core.analysis.support.runtime import runtime_placement
    from core.model.reader import open_model
    src = shared_model("mobilenet_v2_224_float32")
    r = quantize(QuantizeRequest(str(src), "dynamic_int8", eval_samples=2, latency_runs=1,
                                 output=str(tmp_path / "d8.tflite")))
    assert r.failure is None, r.failure
    # random weights: the runtime's softmax is the same for any two inputs, and the report says
    # its output error cannot tell anything then
    rng = np.random.default_rng(5)
    x1, x2 = (rng.random((1, 224, 224, 3), dtype=np.float32) for _ in range(2))
    assert np.array_equal(_outputs(src, x1), _outputs(src, x2))
    assert any("same output for all 2 inputs" in x.text for x in r.verdict_reasons)
    with open_model(src) as a, open_model(r.output) as b:
        diff = compare_models(a, b)
        plans = {"a": plan_litert(a), "b": plan_litert(b)}
    for side, path in (("a", src), ("b", r.output)):
        placement = runtime_placement(path)
        real = {i for p in placement.partitions for i in p}
        sides = [getattr(row, side) for row in diff.ops]
        assert {s.index for s in sides if s is not None and s.xnnpack} == real
        summary = diff.a if side == "a" else diff.b
        assert summary.xnnpack.partitions == placement.delegate_nodes
        # the verdict's coverage before/after is what the runtime places too
        cov = r.coverage.before if side == "a" else r.coverage.after
        assert (cov.delegated_ops, cov.partitions) == (len(real), placement.delegate_nodes)
        # the main arena's real span: the runtime's addresses of the tensors it holds
        real_arena = runtime_check(str(path), plans[side], 1).subgraphs[0].main_arena
        assert summary.arena_bytes == real_arena.runtime_bytes
    # the quantized model really loses delegated ops here: the diff must show it
    assert diff.b.xnnpack.delegated_ops < diff.a.xnnpack.delegated_ops
    assert any(row.a and row.b and row.a.xnnpack and not row.b.xnnpack for row in diff.ops
               if row.status == "changed")


@pytest.mark.parametrize("name", ["multi_signature_float32", "transformer_encoder_dynint8"])
def test_static_int8_on_multi_signature_and_token_models(shared_model, tmp_path, name):
    """Every signature is calibrated (the quantizer refuses missing ranges for any of them);
    integer token inputs get small ids, not the random int32 that crashes GATHER."""
    r = quantize(QuantizeRequest(str(shared_model(name)), "full_int8", samples=2,
                                 eval_samples=2, output=str(tmp_path / "q.tflite")))
    assert r.failure is None, r.failure
    assert r.loads["xnnpack"].ok and r.error.cosine > 0.9


def test_crashed_worker_is_attributed_and_nothing_written(demo, tmp_path):
    import signal
    job = QuantizeJob(QuantizeRequest(str(demo), "dynamic_int8", latency_runs=10_000_000,
                                      output=str(tmp_path / "x.tflite")))
    _wait_for_stage(job, "latency")
    os.kill(job.session.pid, signal.SIGSEGV)
    r = job.wait()
    assert "crashed while timing both models" in r.failure and "SIGSEGV" in r.failure
    assert not (tmp_path / "x.tflite").exists()


def test_timeout_stops_a_job_that_runs_too_long(demo, tmp_path):
    """The timeout counts from the start, and a loaded machine may take seconds to import the
    quantizer, so no fixed number of seconds is sure to fall inside the latency stage. The job
    starts with one it cannot reach by accident; once it is timing (10 million runs), the bound
    is lowered to the time already spent: the next check must kill it there."""
    job = QuantizeJob(QuantizeRequest(str(demo), "dynamic_int8", latency_runs=10_000_000,
                                      timeout_s=3600, output=str(tmp_path / "t.tflite")))
    _wait_for_stage(job, "latency")
    job.session.cfg.timeout_s = time.monotonic() - job.session.started_at
    r = job.wait()
    assert re.fullmatch(r"timed out after [0-9.]+ s while timing both models; the worker was "
                        r"killed", r.failure), r.failure
    assert job.session.proc.returncode is not None
    assert not (tmp_path / "t.tflite").exists()


def test_result_that_does_not_load_is_not_written(shared_model, tmp_path):
    """16x8 MobileNetV2 from the quantizer is rejected by the runtime's kernels: exit 1 with the
    runtime's words, no file at the output path, the input untouched."""
    src = shared_model("mobilenet_v2_224_float32")
    before, out = sha(src), tmp_path / "q16.tflite"
    p = litelens(str(src), "--recipe", "int16x8", "--samples", "2", "--eval-samples", "1",
                 "-o", str(out), "--json")
    assert p.returncode == 1, p.stderr
    r = strict_json(p.stdout)
    assert r["failure"].startswith("the quantized model does not load under xnnpack:")
    assert r["loads"]["xnnpack"]["ok"] is False and r["loads"]["xnnpack"]["error"] in r["failure"]
    assert r["output"] is None and not out.exists() and list(tmp_path.iterdir()) == []
    assert sha(src) == before


# -- the audit's defects ----------------------------------------------------------------------
def _model_with_an_operatorless_subgraph(path):
    """Subgraph 0 a FULLY_CONNECTED with float weights; subgraph 1 passes its input through and
    has no operators vector at all (absent, not empty: valid, and the runtime runs the model)."""
    from core.model.builder import ModelBuilder, rewrite
    from core.model.schema import fb
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 8])
    w = sg.tensor("w", [16, 8], data=np.random.default_rng(0).standard_normal(
        (16, 8)).astype(np.float32))
    b = sg.tensor("b", [16], data=np.zeros(16, np.float32))
    y = sg.tensor("y", [1, 16])
    sg.op("FULLY_CONNECTED", [x, w, b], [y], {})
    sg.inputs, sg.outputs = [x], [y]
    empty = mb.subgraph("passthrough")
    a = empty.tensor("a", [1, 4])
    empty.inputs, empty.outputs = [a], [a]

    def drop_operators(m) -> None:
        m.subgraphs[1].operators = None
    data = rewrite(mb.to_bytes(), drop_operators)
    assert fb.Model.GetRootAs(data, 0).Subgraphs(1).OperatorsIsNone()
    path.write_bytes(data)
    return path


def test_subgraph_without_operators_vector_is_quantized(tmp_path):
    src = _model_with_an_operatorless_subgraph(tmp_path / "noops.tflite")
    x = np.ones((1, 8), np.float32)
    float_y = _outputs(src, x)   # the runtime runs it as it is
    out = tmp_path / "noops.q.tflite"
    p = litelens(str(src), "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    r = strict_json(p.stdout)
    assert r["failure"] is None and r["output"] == str(out)
    assert any("empty operators vector into subgraph(s) 1" in s for s in r["prepass"])
    assert r["loads"]["xnnpack"]["ok"] and r["error"]["cosine"] > 0.99
    it = Interpreter(model_path=str(out))
    assert it.get_tensor_details()[1]["dtype"] == np.int8   # the weights really are int8
    assert np.abs(_outputs(out, x) - float_y).max() == pytest.approx(
        r["error"]["max_abs"], abs=0.05)


@pytest.mark.parametrize("args,said", [
    (["--eval-samples", "0"], "--eval-samples must be at least 1"),
    (["--threads", "0"], "--threads must be an integer from 1 to"),
    (["--recipe-file", "missing.json"], "missing.json: cannot read the recipe"),
    (["--target", "ftp://nowhere"], "ftp://nowhere: not a target address"),
])
def test_refused_input_still_prints_one_json_object(demo, tmp_path, args, said):
    p = litelens(str(demo), *args, "-o", str(tmp_path / "n.tflite"), "--json")
    assert p.returncode == 2
    assert said in p.stderr and len(p.stderr.strip().splitlines()) == 1
    r = strict_json(p.stdout)
    assert TOP_KEYS | {"failure", "warnings", "per_layer_note"} == set(r)
    assert said in r["failure"] and r["output"] is None
    assert r["verdict"] == "fail" and said in r["verdict_reasons"][0]["text"]
    assert not (tmp_path / "n.tflite").exists()


def test_a_file_that_takes_the_output_during_the_run_survives(demo, tmp_path):
    """The output path is free when the run starts (so it is not refused) and taken before the
    result is written: the run fails naming the file, which is left byte-identical. The file is
    made once the worker has finished (the parent writes only in ``finish()``), so the order is
    certain, not a race the test may lose."""
    out = tmp_path / "q.tflite"
    job = QuantizeJob(QuantizeRequest(str(demo), "dynamic_int8", output=str(out)))
    _wait_for_stage(job, "per_layer")
    while not job.finished:
        job.poll()
        job.session.wait(0.1)
    theirs = os.urandom(4096)
    out.write_bytes(theirs)
    r = job.finish()
    assert r.output is None
    assert r.failure == (f"{out}: a file appeared at the output path during the run; it was "
                         "left as it is and nothing was written")
    assert out.read_bytes() == theirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.tflite", "q.tflite"]


def test_two_runs_to_the_same_output_one_wins_the_other_says_so(demo, tmp_path):
    """Both pass the start-of-run check; the first to write wins, the other fails with words
    that are true (not "a TFLite model with an export"); with the default name the loser takes
    the next free name instead."""
    out = tmp_path / "same.tflite"
    a, b = (QuantizeJob(QuantizeRequest(str(demo), "dynamic_int8", output=str(out)))
            for _ in range(2))
    for job in (a, b):
        while not job.finished:
            job.session.wait(0.1)
    ra = a.finish()
    won = out.read_bytes()
    rb = b.finish()
    assert ra.failure is None and ra.output == str(out)
    assert rb.output is None and "appeared at the output path during the run" in rb.failure
    assert "export" not in rb.failure and str(out) in rb.failure
    assert out.read_bytes() == won
    a, b = (QuantizeJob(QuantizeRequest(str(demo), "weight_only_int8")) for _ in range(2))
    for job in (a, b):
        while not job.finished:
            job.session.wait(0.1)
    ra, rb = a.finish(), b.finish()
    assert ra.failure is None and rb.failure is None
    assert {ra.output, rb.output} == {str(tmp_path / "demo.weight_only_int8.tflite"),
                                      str(tmp_path / "demo.weight_only_int8.2.tflite")}



@pytest.mark.parametrize("recipe", ["full_int8", "dynamic_int8"])
def test_dynamic_shape_model_quantized_at_shape_verified_and_written(tmp_path, recipe):
    from tests.analysis.dynamic_models import framed_audio
    src = framed_audio().save(tmp_path / "framed.tflite")
    # at the stored [1, 1] the model cannot run: the failure names the dynamic input and --shape
    out = tmp_path / f"framed.{recipe}.tflite"
    failed = litelens(str(src), "--recipe", recipe, "-o", str(out), "--json")
    assert failed.returncode == 1 and not out.exists()
    assert "'samples'" in strict_json(failed.stdout)["failure"]
    assert "--shape samples=1,D" in strict_json(failed.stdout)["failure"]
    # at the real shape: calibrated, verified and written
    ok = litelens(str(src), "--recipe", recipe, "-o", str(out), "--shape", "samples=1,1600",
                  "--json")
    assert ok.returncode == 0, ok.stderr
    report = strict_json(ok.stdout)
    assert report["output"] == str(out) and report["loads"]["xnnpack"]["ok"]
    assert not any("dynamic" in w for w in report.get("warnings", []))
    # the written file runs on the runtime at that shape: 4 frames of 400 samples
    it = Interpreter(model_path=str(out))
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], [1, 1600])
    it.allocate_tensors()
    x = np.zeros([1, 1600], d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == (4, 8)
    if recipe == "full_int8":
        assert d["dtype"] == np.int8


def test_threads_are_bounded_like_every_run(demo, tmp_path):
    """quantize --threads takes the bound every run has (RunConfig): a million pool threads
    are refused before anything starts, with the same words bench uses."""
    from core.inference.config import MAX_THREADS, ConfigError, RunConfig
    with pytest.raises(ConfigError) as bound:
        RunConfig(model=str(demo), threads=MAX_THREADS + 1).validate()
    p = litelens(str(demo), "--threads", str(MAX_THREADS + 1), "-o", str(tmp_path / "t.tflite"),
                 "--json")
    assert p.returncode == 2 and f"--{bound.value}" in p.stderr
    assert strict_json(p.stdout)["failure"] == f"--{bound.value}"
    assert not (tmp_path / "t.tflite").exists()
