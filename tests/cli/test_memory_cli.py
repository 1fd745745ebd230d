"""``litelens memory``: the JSON contract, the runtime comparison, report --json's memory key,
bad input."""
from __future__ import annotations

import json
import subprocess
import sys

from core.cli import main

TENSOR_KEYS = {"index", "name", "arena", "offset", "bytes", "first_op", "last_op", "temporary",
               "shares"}


def test_memory_json_contract(demo_model_path, capsys):
    assert main(["memory", str(demo_model_path), "--threads", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    mem = out["memory"]
    assert mem["config"]["threads"] == 2 and mem["config"]["delegates"] == "none"
    sg = mem["subgraphs"][0]
    assert {"index", "planned_ops", "lower_bound_bytes", "weights_bytes", "planners"} <= set(sg)
    lt = sg["planners"]["tflite_arena"]
    assert {"arena_bytes", "persistent_bytes", "peak_op", "tensors"} <= set(lt)
    assert lt["tensors"] and all(set(t) == TENSOR_KEYS for t in lt["tensors"])
    assert {t["arena"] for t in lt["tensors"]} == {"main", "persistent"}  # HWCN at 2 threads
    assert any(t["temporary"] for t in lt["tensors"])
    tg = sg["planners"]["tflm_greedy"]
    assert tg["arena_bytes"] > 0 and all(set(t) == TENSOR_KEYS for t in tg["tensors"])
    assert mem["runtime"] is None  # measured only with --runtime


def test_memory_runtime_through_the_entry_point(shared_model):
    path = shared_model("hand_recrop")
    p = subprocess.run([sys.executable, "-m", "core.cli", "memory", str(path), "--threads", "2",
                        "--planner", "tflite", "--runtime", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    mem = json.loads(p.stdout)["memory"]  # strict JSON: json.loads rejects NaN by default too
    assert set(mem["subgraphs"][0]["planners"]) == {"tflite_arena"}
    rt = mem["runtime"]["subgraphs"][0]
    lt = mem["subgraphs"][0]["planners"]["tflite_arena"]
    assert rt["main_arena"]["runtime_bytes"] == lt["arena_bytes"]
    assert rt["persistent_arena"]["runtime_bytes"] == lt["persistent_bytes"] > 0
    assert rt["mismatches"] == []
    assert mem["runtime"]["xnnpack"]["subgraphs"][0]["tensors_out_of_arena"]
    # XNNPACK's real footprint, as the OS counts the worker's heap (packed weights at least)
    foot = mem["runtime"]["xnnpack"]["footprint"]
    assert foot["xnnpack_extra_bytes"] == foot["xnnpack_bytes"] - foot["builtin_bytes"]
    assert foot["xnnpack_bytes"] > foot["builtin_bytes"]
    p = subprocess.run([sys.executable, "-m", "core.cli", "memory", str(path), "--runtime"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "not XNNPACK's memory use" in p.stdout and "XNNPACK's real footprint" in p.stdout


def test_memory_text_and_report_key(demo_model_path, capsys):
    assert main(["memory", str(demo_model_path)]) == 0
    text = capsys.readouterr().out
    assert "LiteRT arena" in text and "lower bound" in text
    # each planner's arena with its own bound right under it, labelled by what it counts
    lines = text.splitlines()
    for head, rules in (("  LiteRT arena ", "LiteRT's lifetimes"),
                        ("  TFLM head ", "TFLM's lifetimes")):
        i = next(k for k, x in enumerate(lines) if x.startswith(head))
        assert lines[i + 1].strip().startswith("lower bound") and rules in lines[i + 1]
    assert "e+" not in text
    assert main(["report", str(demo_model_path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["memory"]["subgraphs"][0]["planners"]["tflite_arena"]["arena_bytes"] > 0


def test_memory_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    assert main(["memory", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.tflite" in err and err.count("\n") == 1


def test_memory_bad_threads_is_refused_with_one_clear_line(demo_model_path):
    # an out-of-range count must not reach the runtime's binding (a raw pybind type error)
    for bad, why in (("0", "between 1 and"), ("99999999999", "between 1 and"),
                     ("two", "not a number")):
        p = subprocess.run([sys.executable, "-m", "core.cli", "memory", str(demo_model_path),
                            "--threads", bad, "--runtime"], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 2 and p.stdout == ""
        last = p.stderr.strip().splitlines()[-1]
        assert "--threads" in last and why in last and bad in last, p.stderr


def test_memory_runtime_failure_is_an_exit_code_and_one_line(shared_model):
    # Flex ops: the stock runtime cannot allocate the model, so the check gives no answer; the
    # plan is still printed, but the exit code and stderr must say the check failed
    path = shared_model("flex_ops_float32")
    p = subprocess.run([sys.executable, "-m", "core.cli", "memory", str(path), "--planner",
                        "tflite", "--runtime", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "runtime check failed" in lines[0] and str(path) in lines[0]
    mem = json.loads(p.stdout)["memory"]
    assert mem["runtime"]["error"] and mem["subgraphs"][0]["planners"]["tflite_arena"]
    text = subprocess.run([sys.executable, "-m", "core.cli", "memory", str(path), "--runtime"],
                          capture_output=True, text=True, timeout=300)
    assert text.returncode == 1 and len(text.stderr.strip().splitlines()) == 1
    assert "LiteRT arena" in text.stdout


def test_memory_runtime_fails_when_tflite_micro_measures_no_arena(shared_model):
    """tflite-micro's own refusal of the LSTM/GRU model: where the plan predicted it, that is the
    answer (exit 0); on a block whose plan gave an arena, the check has no answer (exit 1)."""
    import pytest
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed (LiteLens[micro])")
    from core.analysis.memory import memory_report
    from core.cli.memory import runtime_failure
    from core.model.reader import open_model
    with open_model(shared_model("lstm_gru_text_float32")) as m:
        refused = memory_report(m, 1, ("tflm",), runtime=True)
    assert refused.tflm is not None and refused.tflm.refused
    said = refused.tflm.runtime
    assert said is not None and said["total_bytes"] is None and (said["refused"] or said["error"])
    assert runtime_failure(refused) is None          # predicted, and tflite-micro agrees
    from core.cli.memory import tflm_lines
    lines = tflm_lines(refused.tflm)                  # the text shows both refusals
    assert len(lines) == 2 and said["tool"] in lines[1], lines
    with open_model(shared_model("sine_float")) as m:
        runs = memory_report(m, 1, ("tflm",))
    assert runs.tflm is not None and runs.tflm.refused is None and runtime_failure(runs) is None
    runs.tflm.runtime = said                          # the plan's arena, measured as nothing
    why = runtime_failure(runs)
    assert why and (said["refused"] or said["error"])[:40] in why
