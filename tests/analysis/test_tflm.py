"""TFLite Micro as a target, checked against tflite-micro itself (run in a worker process):
the refusals against what TFLM does with the model, the planned head and tail against what its
recording allocator reports, the total (the smallest arena_size) against TFLM loading and running
the model with that arena and failing with 16 bytes less (one process per try), the outputs
against LiteRT's."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.memory.tflm import plan_tflm
from core.analysis.memory.tflm_runtime import find_arena, measure, runs_in
from core.analysis.support.analyze import analyze_delegate
from core.model.reader import open_model
from core.model.samples import synthetic_chain
from tests.analysis import memory_models as M
from tests.analysis import tflm_models as T
from tests.conftest import shared_model_path

pytest.importorskip("tflite_micro", reason="tflite-micro not installed (LiteLens[micro])")

BUILT = {
    "int8_prelu_float": T.int8_prelu_float, "call_once_variables": T.call_once_variables,
    "if": M.if_model, "int8_convnet": M.int8_convnet, "float_convnet": M.float_convnet,
    "softmax_ok": lambda: T.int8_softmax(0.1), "while": M.while_model,
    # 1,000 ops: the planner's arrays make the smallest arena far larger than head + tail
    "chain_1k": lambda: synthetic_chain(1000),
    # its Prepare keeps transposed copies of the operands (one or both)
    "batch_matmul": T.batch_matmul, "batch_matmul_adj_x": lambda: T.batch_matmul(True, False),
    # refused
    "select": T.select_model, "fp16": M.fp16_model, "hybrid": M.hybrid_model,
    "softmax_abort": lambda: T.int8_softmax(1e-9), "transpose_6d": T.transpose_6d,
    "computed_pad": T.computed_pad,
}
SHARED = ["micro_wakeword_hey_jarvis", "sine_float", "hand_recrop", "multi_signature_float32",
          "mobilenet_v2_224_float32",
          "mobilenet_v2_224_int8", "face_detection_short_range", "lstm_gru_text_float32",
          "mobilenet_v2_224_int16x8", "transformer_encoder_dynint8"]


def _check(path: str) -> tuple[dict, dict]:
    with open_model(path) as m:
        plan = plan_tflm(m)
        refused = analyze_delegate(m, "tflm").refused
    real = measure(path, plan)
    ran = real["total_bytes"] is not None
    assert (refused is None) == ran, (refused, real["refused"], real["error"])
    if not ran:
        assert real["refused"] or real["error_kind"] == "crashed"
        if real["error_kind"] == "crashed":   # TFLM aborted: the prediction says it will
            assert "abort" in refused
        return {"refused": refused}, real
    assert plan.tail_exact, plan.unknown_ops
    assert (plan.head_bytes, plan.tail_bytes) == (real["head_bytes"], real["tail_bytes"])
    assert plan.reported_total_bytes == real["total_bytes"]
    assert real["head_diff"] == real["tail_diff"] == real["total_diff"] == 0
    # the total is the smallest arena_size: TFLM loads and runs the model with it, not with
    # one alignment step less
    assert plan.total_bytes % 16 == 0 and plan.total_bytes >= plan.reported_total_bytes
    assert runs_in(path, plan.total_bytes) == (True, None)
    ok, why = runs_in(path, plan.total_bytes - 16)
    assert not ok and why, plan.total_bound
    for o in real["outputs"]:   # TFLM's reference kernels vs LiteRT's builtin ones
        assert "error" not in o
        if o["dtype"].startswith(("int", "uint")):
            assert o["max_abs_diff"] <= 1, o        # one quantization step at most
        else:
            assert o["max_abs_diff_real"] <= 1e-4, o
    return {"plan": plan}, real


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_models_against_tflite_micro(name, build_model):
    path = build_model(BUILT[name](), f"{name}.tflite")
    _check(str(path))


@pytest.mark.parametrize("name", SHARED)
def test_shared_models_against_tflite_micro(name):
    _check(str(shared_model_path(name)))


def test_wake_word_figures_from_sources():
    """SOURCES.md: micro_wakeword_hey_jarvis runs on TFLM with head 3,424 B, tail 16,384 B."""
    path = str(shared_model_path("micro_wakeword_hey_jarvis"))
    with open_model(path) as m:
        plan = plan_tflm(m)
    real = measure(path, plan)
    assert (real["head_bytes"], real["tail_bytes"]) == (3424, 16384)
    assert plan.head_bytes == 3424


def test_find_arena_is_the_smallest_that_runs(build_model):
    """--find-arena: the plan's total and 16 B below settle it; started off the plan, the search
    still lands on the smallest arena that runs."""
    path = str(build_model(T.int8_prelu_float(channels=4, size=8), "small.tflite"))
    with open_model(path) as m:
        plan = plan_tflm(m)
    found = find_arena(path, plan.total_bytes)
    assert found["arena_size"] == plan.total_bytes and len(found["tries"]) == 2
    found = find_arena(path, plan.total_bytes + 4096)
    assert found["arena_size"] == plan.total_bytes
    assert [plan.total_bytes - 16, False] in found["tries"]


def test_cli_contracts():
    import json

    from tests.cli.test_report_cli import litelens
    path = str(shared_model_path("micro_wakeword_hey_jarvis"))
    proc = litelens("memory", path, "--json")
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)["memory"]["tflm"]
    assert {"head_bytes", "tail_bytes", "total_bytes", "refused", "runtime"} <= set(t)
    assert t["refused"] is None and t["runtime"] is None
    assert t["reported_total_bytes"] == t["head_bytes"] + t["tail_bytes"]
    # tflite-micro runs it with 20,320 B, not 20,304 (measured: one process per try), more than
    # head + tail: the greedy planner needs the room while it runs
    assert (t["total_bound"], t["total_bytes"]) == ("planning", 20320) and t["tail_exact"]
    proc = litelens("support", path, "--delegate", "tflm", "--json")
    assert proc.returncode == 0, proc.stderr
    block = json.loads(proc.stdout)["support"]["tflm"]
    assert [sg["index"] for sg in block["subgraphs"]] == [0, 1]
    assert block["refused"] is None
    assert all(o["supported"] for sg in block["subgraphs"] for o in sg["ops"])
    refused = str(shared_model_path("lstm_gru_text_float32"))
    proc = litelens("support", refused, "--delegate", "tflm")
    assert proc.returncode == 0, proc.stderr
    assert "will not run on TensorFlow Lite Micro: op 2 SELECT" in proc.stdout


@pytest.mark.parametrize(("name", "runs"), [("micro_wakeword_hey_jarvis", True),
                                            ("mobilenet_v2_224_int8", False)])
def test_support_verify_runs_tflite_micro(name, runs):
    """`support --delegate tflm --verify`: tflite-micro itself decides, the block says so."""
    import json

    from tests.cli.test_report_cli import litelens
    proc = litelens("support", str(shared_model_path(name)), "--delegate", "tflm", "--verify",
                    "--json")
    assert proc.returncode == 0, proc.stderr
    block = json.loads(proc.stdout)["support"]["tflm"]
    v = block["verified"]
    assert v["agree"] and (v["runtime_refused"] is None) == runs
    if not runs:    # MobileNetV2 int8 (random weights): the softmax check aborts TFLM
        assert v["runtime_error_kind"] == "crashed" and "SIGABRT" in v["runtime_refused"]
    assert block["provenance"]["kind"] == "tool"
    assert block["provenance"]["tool"] == "tflite-micro"


def test_a_kernel_outside_the_table_makes_the_plan_an_estimate_that_says_so(build_model):
    """SVDF's scratch buffers are not modelled: the block says the tail and total are estimates
    and names the op (no figure is passed off as exact)."""
    from core.analysis.memory import tflm_block
    from core.model.builder import ModelBuilder
    mb = ModelBuilder(description="SVDF")
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 16])
    wf = sg.tensor("wf", [8, 16], data=np.zeros((8, 16), np.float32))
    wt = sg.tensor("wt", [8, 10], data=np.zeros((8, 10), np.float32))
    state = sg.tensor("state", [1, 80], variable=True)
    y = sg.tensor("y", [1, 8])
    sg.op("SVDF", [x, wf, wt, -1, state], [y], {"rank": 1})
    sg.inputs, sg.outputs = [x], [y]
    with open_model(build_model(mb, "svdf.tflite")) as m:
        plan = plan_tflm(m)
        block = tflm_block(m, plan)
    assert not plan.tail_exact and plan.unknown_ops == ["SVDF"]
    assert "SVDF" in block.note and "estimates" in block.note
    assert block.to_json()["tail_exact"] is False
