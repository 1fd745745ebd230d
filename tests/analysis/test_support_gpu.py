"""GPU prediction vs TF 2.17.1's analyzer (gpu_compatibility=True), whose verdicts on the shared
models are stored in tests/data/gpu_analyzer/reference.json (regenerate.py makes it). Every op it
flags must be flagged by us too, except the analyzer's own artifacts, each checked here op by op."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.analysis.support.analyze import analyze_delegate
from core.model.reader import open_model
from tests.conftest import shared_model_path

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "data" / "gpu_analyzer" /
                        "reference.json").read_text())


def _fed_by_fp16_dequantize(sg, op) -> bool:
    """Artifact 1: the static checker counts DEQUANTIZE outputs of fp16 weights as runtime
    inputs ("node has 3 runtime inputs"); the delegate folds those DEQUANTIZE ops into constants."""
    producers = {t: o for o in sg.operators for t in o.outputs}
    fed = [t for t in op.inputs[1:] if t >= 0 and t in producers]
    return bool(fed) and all(
        producers[t].op == "DEQUANTIZE" and sg.tensors[producers[t].inputs[0]].dtype == "float16"
        and sg.tensors[producers[t].inputs[0]].constant for t in fed)


def _custom_options_not_read(sg, op) -> bool:
    """Artifact 2: reading the flatbuffer, the analyzer does not decode a MediaPipe custom op's
    options ("Unable to retrieve custom_initial_data"); the runtime hands them to the delegate."""
    return op.op == "CUSTOM" and op.custom_code == "Convolution2DTransposeBias"


ARTIFACTS = {"runtime inputs": _fed_by_fp16_dequantize,
             "Unable to retrieve custom_initial_data": _custom_options_not_read}


@pytest.mark.parametrize("name", sorted(REFERENCE["models"]))
def test_we_flag_every_op_the_analyzer_flags(name):
    flagged = REFERENCE["models"][name]
    with open_model(shared_model_path(name)) as m:
        ours = analyze_delegate(m, "gpu")
        missed = []
        for sg_index, ops in flagged.items():
            sg = m.subgraphs[int(sg_index)]
            for op_index, entry in ops.items():
                op = sg.operators[int(op_index)]
                assert op.label == entry["op"]
                if not ours.subgraphs[int(sg_index)].ops[int(op_index)].supported:
                    continue
                artifact = next((f for k, f in ARTIFACTS.items() if k in entry["warning"]), None)
                if artifact is None or not artifact(sg, op):
                    missed.append((sg_index, op_index, entry))
    assert missed == []


def test_reference_was_made_by_tf_2_17():
    assert REFERENCE["tensorflow"] == "2.17.1"
    # the analyzer really checked: the WHILE ops of the LSTM model are flagged
    lstm = REFERENCE["models"]["lstm_gru_text_float32"]["0"]
    assert {e["op"] for e in lstm.values()} >= {"WHILE", "GATHER"}
