"""Model totals (core/analysis/totals.py): parameters, MACs/FLOPs and weight bytes, against values
computed by hand on built models and against published numbers on MobileNetV2."""
from __future__ import annotations

import json

import numpy as np

from core.analysis.totals import model_totals
from core.cli import main
from core.model.builder import ModelBuilder
from core.model.reader import open_model

F32, F16 = np.float32, np.float16


def _q(scale: float, zp: int = 0) -> dict:
    return {"scale": [scale], "zero_point": [zp]}


def two_subgraphs() -> ModelBuilder:
    """Subgraph 0 (float): CONV_2D 3x3 3->4 on 8x8 (SAME) with a float32 bias, an ADD that reads
    the same bias again, RESHAPE to [1, 256] by an int32 shape constant, FULLY_CONNECTED 256->10
    whose weights are fp16 behind a DEQUANTIZE. Subgraph 1 (int8): FULLY_CONNECTED 16->8 with
    int8 weights and an int32 bias, and an ADD of a float constant that uses subgraph 0's bias
    buffer."""
    mb = ModelBuilder()
    sg = mb.subgraph("float")
    x = sg.tensor("x", [1, 8, 8, 3])
    w = sg.tensor("w", [4, 3, 3, 3], data=np.ones((4, 3, 3, 3), F32))
    b = sg.tensor("b", [4], data=np.arange(4, dtype=F32))
    c = sg.tensor("c", [1, 8, 8, 4])
    sg.op("CONV_2D", [x, w, b], [c], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    a = sg.tensor("a", [1, 8, 8, 4])
    sg.op("ADD", [c, b], [a])
    shape = sg.tensor("shape", [2], "int32", data=np.array([1, 256], np.int32))
    r = sg.tensor("r", [1, 256])
    sg.op("RESHAPE", [a, shape], [r])
    w16 = sg.tensor("w16", [10, 256], "float16", data=np.ones((10, 256), F16))
    wf = sg.tensor("wf", [10, 256])
    sg.op("DEQUANTIZE", [w16], [wf])
    y = sg.tensor("y", [1, 10])
    sg.op("FULLY_CONNECTED", [r, wf, -1], [y])
    sg.inputs, sg.outputs = [x], [y]

    sg1 = mb.subgraph("int8")
    xi = sg1.tensor("xi", [1, 16], "int8", quant=_q(0.1))
    wi = sg1.tensor("wi", [8, 16], "int8", data=np.ones((8, 16), np.int8), quant=_q(0.01))
    bi = sg1.tensor("bi", [8], "int32", data=np.zeros(8, np.int32), quant=_q(0.001))
    yi = sg1.tensor("yi", [1, 8], "int8", quant=_q(0.2))
    sg1.op("FULLY_CONNECTED", [xi, wi, bi], [yi])
    f = sg1.tensor("f", [1, 4])
    shared = sg1.tensor("shared_bias", [4], buffer=sg.tensors[b].buffer)
    g = sg1.tensor("g", [1, 4])
    sg1.op("ADD", [f, shared], [g])
    sg1.inputs, sg1.outputs = [xi, f], [yi, g]
    return mb


def test_totals_by_hand(build_model):
    with open_model(build_model(two_subgraphs())) as m:
        t = model_totals(m)
    s0, s1 = t.subgraphs
    # params: conv kernel 4*3*3*3 = 108, bias 4 (read twice, counted once), fp16 FC weights
    # 10*256 = 2560 (the DEQUANTIZE output is not stored); the int32 shape is not a weight
    assert (s0.params, s0.weight_tensors) == (108 + 4 + 2560, 3)
    assert s0.params_by_dtype == {"float16": 2560, "float32": 112}
    assert s0.weight_bytes == 108 * 4 + 4 * 4 + 2560 * 2
    # MACs: conv 8*8*4 outputs x 27, FC 10 outputs x 256; FLOPs 2 per MAC, plus one per
    # element for the elementwise ADD (256) and DEQUANTIZE (2560)
    assert s0.macs == 8 * 8 * 4 * 27 + 10 * 256
    assert s0.flops == 2 * s0.macs + 256 + 2560
    # int8 weights 8*16 one byte each, int32 bias 8 (4 bytes each), the shared float bias 4
    assert (s1.params, s1.weight_tensors) == (128 + 8 + 4, 3)
    assert s1.params_by_dtype == {"int8": 128, "int32": 8, "float32": 4}
    assert s1.weight_bytes == 128 + 32 + 16
    assert (s1.macs, s1.flops) == (128, 2 * 128 + 4)
    # the model: sums, but the buffer both subgraphs use is stored once
    assert t.model.params == s0.params + s1.params
    assert (t.model.macs, t.model.flops) == (s0.macs + s1.macs, s0.flops + s1.flops)
    assert t.model.weight_bytes == s0.weight_bytes + s1.weight_bytes - 16
    assert t.model.weight_tensors == 6


def test_report_json_and_text_carry_totals(build_model, capsys):
    path = str(build_model(two_subgraphs()))
    assert main(["report", path, "--json", "--compact"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report)[-1] == "totals"
    assert report["totals"] == {"params": 2812, "macs": 9600, "flops": 22020,
                                "weight_bytes": 5728, "weight_tensors": 6,
                                "params_by_dtype": {"float16": 2560, "int8": 128,
                                                    "float32": 116, "int32": 8}}
    assert report["subgraphs"][1]["totals"]["params"] == 140
    assert list(report["subgraphs"][0])[:6] == ["index", "name", "inputs", "outputs",
                                                "operators", "tensors"]
    assert main(["report", path]) == 0
    text = capsys.readouterr().out
    assert "  totals      2,812 params (float16, int8, float32, int32), 9.6k MACs" in text
    assert "      totals 140 params (int8, int32, float32), 128 MACs" in text


# Keras MobileNetV2 (alpha 1.0, 224, 1000 classes), from its published model summary: 3,538,984
# parameters, of which 34,112 non-trainable (the BatchNorm moving means and variances: 17,056
# channels over the BatchNorm layers). The dense layer's bias is 1,000 of them.
KERAS_TOTAL, KERAS_NON_TRAINABLE, DENSE_BIAS = 3_538_984, 34_112, 1000
BN_CHANNELS = KERAS_NON_TRAINABLE // 2
KERNELS = KERAS_TOTAL - 4 * BN_CHANNELS - DENSE_BIAS   # conv + dense kernels: 3,469,760
# The distinct BatchNorm widths of the architecture (Conv1 32, expanded_conv project 16, the
# bottleneck widths 24/32/64/96/160/320 and expansions 96/144/192/384/576/960, Conv_1 1280)
DISTINCT_WIDTHS = [32, 16, 96, 24, 144, 192, 64, 384, 576, 160, 960, 320, 1280]


def test_mobilenet_v2_params_against_keras(shared_model):
    # The converter folds each BatchNorm into the conv before it: 4 numbers per channel (gamma,
    # beta, mean, variance) become 1 (the conv's bias). The shared file has random (untrained)
    # weights, so the dense bias is all zeros and the converter drops it (FULLY_CONNECTED's
    # bias input is -1), and every folded bias is zero as well.
    with open_model(shared_model("mobilenet_v2_224_int8")) as m:
        t = model_totals(m).model
    # int8: every conv has its own int32 bias tensor (own scales) -> folded Keras count exactly
    assert t.params == KERAS_TOTAL - 3 * BN_CHANNELS - DENSE_BIAS
    assert t.params_by_dtype == {"int8": KERNELS, "int32": BN_CHANNELS}
    # ... but equal (all-zero) bias buffers are stored once, one per distinct width
    assert t.weight_bytes == KERNELS + 4 * sum(DISTINCT_WIDTHS)
    # float32: the converter also merges equal constant tensors, so the zero biases of one
    # width are one tensor: kernels plus one bias per distinct width
    with open_model(shared_model("mobilenet_v2_224_float32")) as m:
        f = model_totals(m).model
    assert f.params == KERNELS + sum(DISTINCT_WIDTHS)
    assert f.weight_tensors == 52 + 1 + len(DISTINCT_WIDTHS)   # 52 convs, 1 dense
    assert f.weight_bytes == 4 * f.params
    # the MobileNetV2 paper's 300M multiply-adds at 224x224
    assert abs(f.macs - 300e6) / 300e6 < 0.01 and t.macs == f.macs


def test_sine_params_against_its_keras_model(shared_model):
    # tflite-micro's hello_world sine model: Dense(16) on 1 input, Dense(16), Dense(1):
    # (1*16 + 16) + (16*16 + 16) + (16*1 + 1) parameters, 16 + 256 + 16 multiply-adds
    with open_model(shared_model("sine_float")) as m:
        t = model_totals(m).model
    assert (t.params, t.macs) == (32 + 272 + 17, 16 + 256 + 16)


def test_fp16_weights_count_once_behind_dequantize(shared_model):
    # face detection stores every weight as float16 behind a DEQUANTIZE: the params are those
    # float16 constants, each DEQUANTIZE output being the same numbers computed at run time
    with open_model(shared_model("face_detection_short_range")) as m:
        t = model_totals(m).model
        sg = m.subgraphs[0]
        fp16 = [sg.tensors[op.inputs[0]] for op in sg.operators if op.op == "DEQUANTIZE"
                and sg.tensors[op.inputs[0]].constant]
    assert t.params_by_dtype == {"float16": sum(int(np.prod(x.shape)) for x in fp16)}
    assert t.weight_bytes == 2 * t.params
