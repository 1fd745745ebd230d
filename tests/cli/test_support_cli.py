"""`litelens support` and the `support` key of `litelens report --json`, through the entry point."""
from __future__ import annotations

import json

import pytest

from tests.cli.test_report_cli import litelens
from tests.conftest import shared_model_path

DELEGATES = ["xnnpack", "gpu", "nnapi", "edgetpu", "hexagon", "coreml", "tflm"]


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_report_json_has_the_support_key():
    path = shared_model_path("transformer_encoder_dynint8")
    report = _json(litelens("report", str(path), "--json"))
    support = report["support"]
    assert list(support) == DELEGATES
    for d in DELEGATES:
        entry = support[d]
        assert isinstance(entry["runtime_reference"], str) and isinstance(entry["options"], dict)
        for sg, src in zip(entry["subgraphs"], report["subgraphs"], strict=False):
            assert {"index", "partitions", "delegated_ops", "delegated_macs_share",
                    "ops"} <= set(sg)
            assert isinstance(sg["partitions"], int)
            assert isinstance(sg["delegated_macs_share"], float)
            assert len(sg["ops"]) == len(src["operators"])
            for o in sg["ops"]:
                assert set(o) >= {"index", "supported", "reason"}
                assert o["reason"] is None or isinstance(o["reason"], str)


def test_support_verify_agrees_with_the_runtime():
    path = shared_model_path("lstm_gru_text_float32")
    out = _json(litelens("support", str(path), "--delegate", "xnnpack", "--verify", "--json"))
    v = out["support"]["xnnpack"]["verified"]
    assert v["runtime"].startswith("LiteRT ")
    # every subgraph the runtime delegated is checked (the LSTM/GRU bodies too), not only the 11
    # ops of the primary one
    sgs = out["support"]["xnnpack"]["subgraphs"]
    assert v["subgraphs"] == list(range(len(sgs))) and len(sgs) == 5
    assert v["agree"] == v["total"] == sum(s["total_ops"] for s in sgs) > 11
    assert v["disagree"] == [] and v["partitions_agree"]
    assert v["runtime_partitions"] == out["support"]["xnnpack"]["subgraphs"][0]["partitions"] == 2


def test_support_table_and_options():
    path = shared_model_path("mobilenet_v2_224_int8")
    text = litelens("support", str(path))
    assert text.returncode == 0, text.stderr
    assert "XNNPACK (CPU): 64/65 ops, 1 partition" in text.stdout
    assert "why ops stay off, by cause" in text.stdout
    off = _json(litelens("support", str(path), "--delegate", "xnnpack", "--option", "qs8=false",
                         "--json"))
    assert off["support"]["xnnpack"]["options"]["qs8"] is False
    assert off["support"]["xnnpack"]["subgraphs"][0]["delegated_ops"] < 64


@pytest.mark.parametrize("args, needle", [
    (["--option", "bogus=1"], "unknown option"),
    (["--option", "qs8"], "not K=V"),
    (["--option", "qs8=maybe"], "wants true/false"),
    (["--option", "android_sdk_version=new"], "wants an integer"),
    (["--delegate", "tpu"], "unknown delegate"),
])
def test_bad_arguments_exit_2(args, needle):
    proc = litelens("support", str(shared_model_path("sine_float")), *args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    if args[0] == "--option":   # argparse's own errors print the usage first
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("litelens: error: ")


def test_text_escapes_what_the_file_says(tmp_path):
    # a custom op code is text from the file: it reaches the table, the reasons and the summary
    from tests.analysis.support_models import with_custom
    path = with_custom("Evil\x1b[2J\nop").save(tmp_path / "evil.tflite")
    proc = litelens("support", str(path), "--delegate", "xnnpack")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "Evil\\x1b[2J\\nop" in proc.stdout
    assert "custom op Evil\\x1b[2J\\nop" in proc.stdout


def test_text_gives_the_summary_first_then_causes_with_counts():
    """hand_recrop has 13 PRELU ops, none a Core ML op: one line with the count and the op
    numbers, after every delegate's summary; the matrix only with --ops; JSON unchanged."""
    path = str(shared_model_path("hand_recrop"))
    out = litelens("support", path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    summary = next(i for i, x in enumerate(lines) if x.startswith("XNNPACK (CPU): "))
    causes = lines.index(next(x for x in lines if x.startswith("why ops stay off, by cause")))
    assert summary < causes
    prelu = [x for x in lines[causes:] if "PRELU is not a Core ML op" in x]
    assert len(prelu) == 1
    assert prelu[0].split()[0] == "13" and "PRELU ×13" in prelu[0]
    assert "1, 3, 6, 13, 16, 23" in prelu[0]
    # no per-op rows without --ops (a row is the op number, its label and one mark per delegate)
    assert not any(x.split()[:2] == ["1", "PRELU"] for x in lines)
    assert "--ops prints the per-op matrix" in out.stdout
    full = litelens("support", path, "--ops")
    text = full.stdout
    # the matrix follows the summary and the causes: a header, a rule, one row per op
    matrix = text[text.index("why ops stay off"):].split("\n-")[1].splitlines()[1:]
    assert [r.split()[0] for r in matrix] == [str(i) for i in range(63)]
    assert matrix[1].split()[1] == "PRELU"
    # the JSON is the same with and without --ops
    assert _json(litelens("support", path, "--json")) == \
        _json(litelens("support", path, "--json", "--ops"))


def test_reasons_differing_only_in_numbers_are_one_cause():
    """The LSTM/GRU model's WHILE ops are refused by the Edge TPU for "input 5 is float32" and
    "input 4 is float32", other ops for "input 0 ...": one cause, its other wordings counted."""
    out = litelens("support", str(shared_model_path("lstm_gru_text_float32")),
                   "--delegate", "edgetpu")
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stdout.splitlines() if "is float32 (not 8-bit quantized)" in x
             and x.startswith("    ")]
    assert len(lines) == 1
    assert lines[0].split()[0] == "7" and "(and 2 similar)" in lines[0]
    assert "WHILE ×2" in lines[0]


def test_bad_model_exits_2(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    proc = litelens("support", str(bad))
    assert proc.returncode == 2 and str(bad) in proc.stderr


def test_verify_refuses_flags_the_runtime_does_not_use_and_applies_interpreter_options():
    path = str(shared_model_path("flex_ops_float32"))
    proc = litelens("support", path, "--delegate", "xnnpack", "--verify", "--option", "qs8=false")
    assert proc.returncode == 2 and "qs8" in proc.stderr
    out = _json(litelens("support", path, "--delegate", "xnnpack", "--verify", "--json",
                         "--option", "clustering=false"))
    v = out["support"]["xnnpack"]["verified"]
    assert v["disagree"] == [] and v["runtime_partitions"] == 5
