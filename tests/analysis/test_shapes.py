"""``--shape``: plans and delegate placement made at a chosen input shape (inputs resized, then
allocated), against ai-edge-litert resized the same way, on built dynamic-shape models, a
streaming model with a dynamic frame count and the shared sine model ([-1, 1])."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.analysis.memory import memory_report
from core.analysis.support.analyze import analyze_delegate
from core.analysis.support.runtime import compare, runtime_placement
from core.inference.resize import resized_model
from core.model.reader import open_model
from tests.analysis.dynamic_models import DYNAMIC
from tests.analysis.stateful_models import streaming_dynamic
from tests.conftest import ROOT, shared_model_path

CASES = {**DYNAMIC, "streaming_dynamic": (streaming_dynamic, {"frame": [1, 6, 4]})}


@pytest.fixture(scope="module")
def dynamic_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("dynamic")
    out = {name: (make().save(d / f"{name}.tflite"), shapes)
           for name, (make, shapes) in CASES.items()}
    out["sine_float"] = (shared_model_path("sine_float"),
                         {"serving_default_dense_input:0": [9, 1]})
    return out


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", [*sorted(CASES), "sine_float"])
def test_plan_at_shape_equals_runtime_arena(name, threads, dynamic_models):
    path, shapes = dynamic_models[name]
    with open_model(path) as model:
        stored = memory_report(model, threads, ("tflite",))
        report = memory_report(model, threads, ("tflite",), runtime=True, shapes=shapes)
    assert report.config.shapes == shapes and not report.config.dynamic_note
    # unset, the dynamic input is named with the option to use
    name_in = next(iter(shapes))
    assert f"--shape {name_in}=" in (stored.config.dynamic_note or "")
    rt = report.runtime
    assert rt is not None and rt.error is None
    main = rt.subgraphs[0].main_arena
    arena, stored_arena = report.subgraphs[0].tflite_arena, stored.subgraphs[0].tflite_arena
    assert arena is not None and stored_arena is not None
    planned = arena.arena_bytes
    assert main.runtime_bytes == main.planned_bytes == planned
    assert main.offsets_agree == main.tensors > 0 and rt.subgraphs[0].mismatches == []
    # the shape mattered: the plan at the stored shape is smaller
    assert planned > stored_arena.arena_bytes


@pytest.mark.parametrize("name", [*sorted(CASES), "sine_float"])
def test_xnnpack_placement_at_shape_equals_runtime(name, dynamic_models):
    path, shapes = dynamic_models[name]
    with open_model(path) as model:
        at = resized_model(model, shapes)
        sg = at.subgraphs[0]
        # the runtime's shapes: the input has the given one
        assert [list(sg.tensors[i].shape) for i in sg.inputs] == list(shapes.values())
        predicted = analyze_delegate(at, "xnnpack")
    v = compare(predicted, runtime_placement(str(path), shapes=shapes))
    assert v.disagree == [] and v.partitions_agree


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_every_command_takes_shape_with_one_meaning(dynamic_models):
    path, shapes = dynamic_models["audio_2d"]
    opt = ["--shape", "samples=3,400"]
    mem = _cli("memory", str(path), *opt, "--runtime", "--json")
    assert mem.returncode == 0, mem.stderr
    assert json.loads(mem.stdout)["memory"]["config"]["shapes"] == shapes
    sup = _cli("support", str(path), "--delegate", "xnnpack", "--verify", *opt, "--json")
    assert sup.returncode == 0, sup.stderr
    out = json.loads(sup.stdout)
    assert out["shapes"] == shapes and out["support"]["xnnpack"]["verified"]["disagree"] == []
    bench = _cli("bench", str(path), *opt, "--runs", "2", "--json")
    assert bench.returncode == 0, bench.stderr
    # a bad shape: one line naming the model, the input and the option, exit 2, on each command
    for cmd in (["memory"], ["support", "--delegate", "xnnpack"], ["quantize"]):
        bad = _cli(*cmd[:1], str(path), *cmd[1:], "--shape", "samples=3,400,2")
        assert bad.returncode == 2, (cmd, bad.stderr)
        line = bad.stderr.strip()
        assert len(line.splitlines()) == 1 and str(path) in line and "'samples'" in line, line


def test_memory_runtime_failure_at_a_guessed_shape_names_the_input_and_option(tmp_path):
    from tests.analysis.dynamic_models import framed_audio
    path = framed_audio().save(tmp_path / "framed.tflite")   # cannot run at its stored [1, 1]
    p = _cli("memory", str(path), "--planner", "tflite", "--runtime")
    assert p.returncode == 1
    line = p.stderr.strip()
    assert len(line.splitlines()) == 1 and "'samples'" in line and "--shape samples=1,D" in line
    ok = _cli("memory", str(path), "--planner", "tflite", "--runtime", "--shape",
              "samples=1,800")
    assert ok.returncode == 0, ok.stderr
