"""The app's command-line faces that the bundle check relies on, run from the source tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.model.samples import synthetic_chain

ROOT = Path(__file__).resolve().parents[2]


def _app(args, tmp_path, timeout=180):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run([sys.executable, "-m", "gui.app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_self_test_opens_a_model_and_runs_it_in_the_worker(tmp_path):
    model = synthetic_chain(12).save(tmp_path / "chain.tflite")
    p = _app(["--self-test", str(model)], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ran 1 inference(s) in the worker" in p.stdout


def test_self_test_fails_on_a_bad_model(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    p = _app(["--self-test", str(bad)], tmp_path)
    assert p.returncode == 1
    assert "FAILED: could not open the model" in p.stderr and str(bad) in p.stderr


def test_cli_face_of_the_app_binary(tmp_path):
    model = synthetic_chain(12).save(tmp_path / "chain.tflite")
    p = _app(["--cli", "report", str(model), "--json"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert sum(len(sg["operators"]) for sg in json.loads(p.stdout)["subgraphs"]) == 12
