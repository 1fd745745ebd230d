"""``litelens bench``: the JSON contract and the exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.cli import main
from core.model.reader import open_model

CONTRACT = {"backend", "delegate", "threads", "init_ms", "first_ms", "latency_ms", "rss_bytes",
            "ops"}


def test_bench_json_contract_with_profile(demo_model_path, capsys):
    code = main(["bench", str(demo_model_path), "--threads", "2", "--runs", "7", "--warmup", "2",
                 "--profile", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    r = json.loads(out)
    assert CONTRACT <= set(r)
    assert r["backend"].startswith("ai-edge-litert 2.") and r["delegate"] == "xnnpack"
    assert r["threads"] == 2
    assert set(r["latency_ms"]) == {"runs", "min", "median", "mean", "std", "p90", "p99",
                                    "max"}
    assert r["latency_ms"]["runs"] == 7
    assert {"before_load", "after_init", "peak"} <= set(r["rss_bytes"])
    assert all(isinstance(r["rss_bytes"][k], int) and r["rss_bytes"][k] > 0
               for k in ("before_load", "after_init", "peak"))
    with open_model(demo_model_path) as m:
        ops = [(op.index, op.op) for op in m.subgraphs[0].operators]
    assert [(o["index"], o["op"]) for o in r["ops"]] == ops
    # every op timed; the runtime profiler counts whole µs, so a sub-µs op may read 0 (which
    # method ran depends on the machine's load: it falls back when coverage is low)
    assert all(o["avg_ms"] is not None and o["avg_ms"] >= 0 for o in r["ops"])
    assert sum(o["avg_ms"] for o in r["ops"]) > 0


def test_bench_text_output_through_the_entry_point(demo_model_path):
    p = subprocess.run([sys.executable, "-m", "core.cli", "bench", str(demo_model_path),
                        "--runs", "5", "--delegate", "reference"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "delegate reference" in p.stdout and "latency   5 runs" in p.stdout


def test_bench_bad_inputs_exit_2_with_one_clear_line(demo_model_path, tmp_path, capsys):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    cases = [([str(junk)], str(junk)),
             ([str(demo_model_path), "--delegate", "npu"], "unknown delegate 'npu'"),
             ([str(demo_model_path), "--threads", "0"], "threads must be an integer from 1 to 1024"),
             ([str(demo_model_path), "--delegate", "external:/no/such/libdelegate.so"],
              "/no/such/libdelegate.so: external delegate library not found"),
             ([str(demo_model_path), "--input", str(tmp_path / "x.npy")], "x.npy: input file "
                                                                          "not found")]
    for argv, needle in cases:
        assert main(["bench", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("litelens: error: ") and needle in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bench_runtime_failure_exit_1_with_json_error(demo_model_path, capsys):
    assert main(["bench", str(demo_model_path), "--delegate", "gpu", "--json"]) == 1
    r = json.loads(capsys.readouterr().out)
    assert r["status"] == "error" and "No adapters found" in r["error"]


def test_bench_signature_flag(shared_model, capsys):
    path = str(shared_model("multi_signature_float32"))
    assert main(["bench", path, "--signature", "encode", "--runs", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["outputs"][0]["shape"] == [1, 8] and r["latency_ms"]["runs"] == 2
    assert main(["bench", path, "--signature", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and path in err and "no signature 'nope'" in err


def _runtime_means(path, x, runs, reset):
    """What ai-edge-litert itself gives after ``runs`` invocations on ``x`` (means of output 0),
    resetting the state before each the way its API allows (variables + the init subgraph)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    means = []
    for _ in range(runs):
        if reset and means:
            it.reset_all_variables()
            it._interpreter.AllocateTensors(1)
            it._interpreter.Invoke(1)
        it.set_tensor(d["index"], x)
        it.invoke()
        means.append(float(np.mean(it.get_tensor(o["index"]))))
    return means


def test_bench_keeps_streaming_state_and_resets_it_on_request(tmp_path):
    import numpy as np

    from tests.analysis.stateful_models import streaming
    path = streaming("float32").save(tmp_path / "stream.tflite")
    x = np.ones((1, 3, 4), np.float32)
    np.save(tmp_path / "ones.npy", x)
    runs = 6   # + 1 first run + 1 warmup
    seen = {}
    for reset in (False, True):
        p = subprocess.run([sys.executable, "-m", "core.cli", "bench", str(path), "--input",
                            str(tmp_path / "ones.npy"), "--runs", str(runs), "--json",
                            *(["--reset-variables"] if reset else [])],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["reset_variables"] is reset and out["latency_ms"]["runs"] == runs
        seen[reset] = (out["outputs"][0]["mean"], out["last_outputs"][0]["mean"])
        theirs = _runtime_means(path, x, runs + 2, reset)
        assert seen[reset] == (theirs[0], theirs[-1])
    # the state carried through the runs changed the output; reset, the last run is the first
    assert seen[False][1] != seen[False][0] and seen[True][1] == seen[True][0]


def test_another_runtime_gets_a_visible_note(demo_model_path, capsys):
    """The tables follow LiteRT 2.3.0; a run on another runtime (here TensorFlow's own TFLite
    interpreter, installed beside LiteLens) says so in the JSON and the text, and a run on
    LiteRT 2.3.0 carries no note (and no key: the JSON contract of such runs is unchanged)."""
    from importlib import metadata
    try:
        tf_version = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        pytest.skip("tensorflow is not installed here: no second runtime to run on")
    note = f"tables follow LiteRT 2.3.0; this runtime is tensorflow {tf_version}"
    assert main(["bench", str(demo_model_path), "--backend", "tensorflow", "--runs", "2",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["status"] == "ok", r["error"]
    assert r["runtime_note"] == note
    assert main(["bench", str(demo_model_path), "--backend", "tensorflow", "--runs", "2"]) == 0
    assert f"note      {note}" in capsys.readouterr().out.splitlines()
    assert main(["bench", str(demo_model_path), "--runs", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["backend"] == "ai-edge-litert 2.3.0" and "runtime_note" not in r
