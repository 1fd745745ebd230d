"""`litelens report`: the JSON contract and the exit codes, through the real entry point."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tests.conftest import ROOT, all_shared_models, shared_model_path

TOP_KEYS = {"litelens_version", "model", "subgraphs"}
MODEL_KEYS = {"path", "size_bytes", "sha256", "schema_version", "description",
              "min_runtime_version", "metadata", "signatures"}
OP_KEYS = {"index", "op", "custom_code", "version", "inputs", "outputs", "options"}
TENSOR_KEYS = {"index", "name", "shape", "shape_signature", "dtype", "bytes", "buffer", "constant",
               "variable", "quantization"}


def litelens(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def _check_shape(report: dict) -> None:
    assert TOP_KEYS <= set(report)
    assert MODEL_KEYS <= set(report["model"])
    for sig in report["model"]["signatures"]:
        assert {"key", "subgraph", "inputs", "outputs"} <= set(sig)
        for t in list(sig["inputs"].values()) + list(sig["outputs"].values()):
            assert TENSOR_KEYS <= set(t)
    for i, sg in enumerate(report["subgraphs"]):
        assert sg["index"] == i and {"name", "inputs", "outputs", "operators", "tensors"} <= set(sg)
        for j, op in enumerate(sg["operators"]):
            assert OP_KEYS <= set(op) and op["index"] == j and isinstance(op["options"], dict)
        for j, t in enumerate(sg["tensors"]):
            assert TENSOR_KEYS <= set(t) and t["index"] == j
            q = t["quantization"]
            assert q is None or {"scale", "zero_point", "quantized_dimension"} <= set(q)


def test_report_json_on_demo_model(demo_model_path):
    r = litelens("report", str(demo_model_path), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    _check_shape(report)
    import hashlib
    assert report["model"]["sha256"] == hashlib.sha256(demo_model_path.read_bytes()).hexdigest()
    assert report["model"]["size_bytes"] == demo_model_path.stat().st_size
    # what the runtime says about the same file
    it = Interpreter(model_path=str(demo_model_path))
    (inp,) = it.get_input_details()
    t = report["subgraphs"][0]["tensors"][inp["index"]]
    assert t["name"] == inp["name"] and t["shape"] == inp["shape"].tolist()
    assert t["dtype"] == np.dtype(inp["dtype"]).name
    assert report["model"]["signatures"][0]["inputs"]["image"]["index"] == inp["index"]


@pytest.mark.parametrize("name", all_shared_models())
def test_report_json_on_shared_models(name):
    path = shared_model_path(name)
    r = litelens("report", str(path), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    _check_shape(report)
    # the reported op count equals the runtime's op count for the primary subgraph
    it = Interpreter(model_path=str(path))
    assert len(report["subgraphs"][0]["operators"]) == len(it._get_ops_details())


def test_human_summary(demo_model_path):
    r = litelens("report", str(demo_model_path))
    assert r.returncode == 0
    assert "operators 9" in r.stdout and "serving_default" in r.stdout


def test_bad_file_exit_code_and_message(tmp_path):
    bad = tmp_path / "notes.tflite"
    bad.write_text("hello, this is not a model")
    r = litelens("report", str(bad), "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    assert str(bad) in r.stderr and "not a TFLite model" in r.stderr
    assert "Traceback" not in r.stderr
    r = litelens("report", str(tmp_path / "missing.tflite"))
    assert r.returncode == 2 and "no such file" in r.stderr


@pytest.mark.parametrize("name", ["sine_float", "micro_wakeword_hey_jarvis", "mobilenet_v2_224_int8"])
def test_summary_gives_io_shapes_dtypes_and_quantization_as_the_runtime_sees_them(name):
    path = shared_model_path(name)
    text = litelens("report", str(path))
    assert text.returncode == 0, text.stderr
    it = Interpreter(model_path=str(path))
    lines = text.stdout.splitlines()
    for kind, details in (("in ", it.get_input_details()), ("out", it.get_output_details())):
        for d in details:
            line = next(x for x in lines if x.strip().startswith(f"{kind} {d['name']} "))
            stored = "[" + ", ".join(str(int(x)) for x in d["shape"]) + "]"
            sig = "[" + ", ".join(str(int(x)) for x in d["shape_signature"]) + "]"
            if (d["shape_signature"] < 0).any():   # -1 shown next to the stored shape
                assert f"{sig} (stored {stored})" in line
            else:
                assert f" {stored} " in line
            assert f" {np.dtype(d['dtype']).name}" in line
            scale, zp = d["quantization"]
            if scale:
                assert f"scale={scale:.6g} zp={zp}" in line
            else:
                assert line.endswith("not quantized")
