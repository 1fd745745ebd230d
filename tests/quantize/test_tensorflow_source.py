"""The SavedModel / Keras path for real: a small Keras CNN made here with TensorFlow, saved as a
.keras file and exported as a SavedModel, then converted (TFLiteConverter, in its own process),
quantized and verified through the CLI; the written files are run with ai-edge-litert and
compared with TensorFlow's own outputs, computed when the model was made.

TensorFlow is the ``[tensorflow]`` extra (installed by ``make test``); importing it takes ~5 s,
so the models are made once per module, in a child process (as the converter itself runs), and
the test process never imports it."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                reason="TensorFlow is not installed (the [tensorflow] extra)")

_MAKE = r"""
import sys
from pathlib import Path
import numpy as np
import tensorflow as tf
out = Path(sys.argv[1])
tf.keras.utils.set_random_seed(7)
model = tf.keras.Sequential([
    tf.keras.Input((16, 16, 3), name="image"),
    tf.keras.layers.Conv2D(8, 3, activation="relu"),
    tf.keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
    tf.keras.layers.GlobalAveragePooling2D(),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(5),
])
x = np.random.default_rng(3).uniform(0, 1, (1, 16, 16, 3)).astype(np.float32)
model.save(out / "small.keras")
model.export(out / "small_savedmodel")
np.savez(out / "reference.npz", x=x, y=model(x).numpy())
"""


@pytest.fixture(scope="module")
def tf_models(tmp_path_factory):
    where = tmp_path_factory.mktemp("tf_models")
    p = subprocess.run([sys.executable, "-c", _MAKE, str(where)], capture_output=True,
                       text=True, timeout=600,
                       env={**__import__("os").environ, "TMPDIR": str(where)})
    assert p.returncode == 0, p.stderr[-2000:]
    with np.load(where / "reference.npz") as z:
        return where, z["x"], z["y"]


def _tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        h.update(str(f.relative_to(path.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    if scale:   # int8 input of a full-integer model
        x = np.clip(np.round(x / scale + zp), -128, 127)
    it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    o = it.get_output_details()[0]
    y = it.get_tensor(o["index"]).astype(np.float64)
    s, z = o["quantization"]
    return (y - z) * s if s else y


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1), b.reshape(-1)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("source,recipe", [("small.keras", "dynamic_int8"),
                                           ("small_savedmodel", "full_int8")])
def test_source_model_is_converted_quantized_and_verified(tf_models, tmp_path, source, recipe):
    where, x, y_tf = tf_models
    src = where / source
    before = _tree_hash(src)
    out = tmp_path / f"{recipe}.tflite"
    p = subprocess.run([sys.executable, "-m", "core.cli", "quantize", str(src), "--recipe",
                        recipe, "--samples", "4", "-o", str(out), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["failure"] is None and r["output"] == str(out) and r["input"] == str(src)
    assert r["loads"]["xnnpack"]["ok"] and r["error"]["cosine"] > 0.95
    assert r["per_layer"] and r["size_bytes"]["after"] < r["size_bytes"]["before"]
    # the written file, run by the runtime, computes what the Keras model computes
    assert _cosine(_run(out, x), y_tf) > 0.95
    if recipe == "full_int8":
        assert Interpreter(model_path=str(out)).get_input_details()[0]["dtype"] == np.int8
    assert _tree_hash(src) == before   # the source model is never touched
    assert sorted(q.name for q in tmp_path.iterdir()) == [out.name]


def test_a_broken_source_model_fails_with_the_converters_words(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    p = subprocess.run([sys.executable, "-m", "core.cli", "quantize", str(bad), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    r = json.loads(p.stdout)
    assert r["failure"].startswith(f"{bad}: TFLiteConverter failed")
    assert r["output"] is None and sorted(q.name for q in tmp_path.iterdir()) == [bad.name]


def test_a_folder_that_is_no_saved_model_is_refused(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.txt").write_text("not a model")
    p = subprocess.run([sys.executable, "-m", "core.cli", "quantize", str(folder), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    r = json.loads(p.stdout)
    assert r["failure"].startswith(f"{folder}: is a folder without saved_model.pb")
    assert r["output"] is None
    assert sorted(q.name for q in tmp_path.iterdir()) == [folder.name]
