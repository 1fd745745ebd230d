"""MACs counted from shapes by the catalogue's formulas (mac_formulas), against counts worked out
by hand for each kind of matrix op; and the control-flow set the memory planner and the delegate
rules use is the catalogue's."""
from __future__ import annotations

import numpy as np

from core.analysis.memory import kernels
from core.analysis.support import graph
from core.analysis.support.compute import op_compute
from core.model.builder import ModelBuilder
from core.model.ops import catalogue, mac_formula, runtime_control_flow
from core.model.reader import open_model


def _weights(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.float32)


def _model(tmp_path):
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 8, 8, 3])
    # CONV_2D 3x3, 3 -> 16 channels, stride 1 SAME: each of the 1*8*8*16 outputs sums 3*3*3
    conv_w = sg.tensor("conv_w", [16, 3, 3, 3], data=_weights(16, 3, 3, 3))
    conv_b = sg.tensor("conv_b", [16], data=_weights(16))
    c = sg.tensor("c", [1, 8, 8, 16])
    sg.op("CONV_2D", [x, conv_w, conv_b], [c], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    # DEPTHWISE_CONV_2D 5x5 on 16 channels, stride 2 VALID: 1*2*2*16 outputs, 5*5 each
    dw_w = sg.tensor("dw_w", [1, 5, 5, 16], data=_weights(1, 5, 5, 16))
    dw_b = sg.tensor("dw_b", [16], data=_weights(16))
    d = sg.tensor("d", [1, 2, 2, 16])
    sg.op("DEPTHWISE_CONV_2D", [c, dw_w, dw_b], [d],
          {"padding": "VALID", "stride_w": 2, "stride_h": 2, "depth_multiplier": 1})
    # FULLY_CONNECTED 64 -> 10: 10 outputs, 64 each
    flat = sg.tensor("flat", [1, 64])
    sg.op("RESHAPE", [d], [flat], {"new_shape": [1, 64]})
    fc_w = sg.tensor("fc_w", [10, 64], data=_weights(10, 64))
    f = sg.tensor("f", [1, 10])
    sg.op("FULLY_CONNECTED", [flat, fc_w], [f], {})
    # BATCH_MATMUL [2,3,4] x [2,4,5] -> [2,3,5]: 30 outputs, 4 each; with adj_x the left
    # operand is [2,4,3] (K=4 is its axis -2) for the same [2,3,5]
    a = sg.tensor("a", [2, 3, 4])
    b = sg.tensor("b", [2, 4, 5], data=_weights(2, 4, 5))
    mm = sg.tensor("mm", [2, 3, 5])
    sg.op("BATCH_MATMUL", [a, b], [mm], {"adj_x": False, "adj_y": False})
    at = sg.tensor("at", [2, 4, 3])
    mmt = sg.tensor("mmt", [2, 3, 5])
    sg.op("BATCH_MATMUL", [at, b], [mmt], {"adj_x": True, "adj_y": False})
    # TRANSPOSE_CONV 3x3, 16 -> 8 channels on a 1x4x4x16 input (to 1x8x8x8, stride 2): every
    # input element is multiplied into a 3x3 window of all 8 output channels
    shape = sg.tensor("shape", [4], "int32", data=np.array([1, 8, 8, 8], np.int32))
    tc_w = sg.tensor("tc_w", [8, 3, 3, 16], data=_weights(8, 3, 3, 16))
    tc_in = sg.tensor("tc_in", [1, 4, 4, 16])
    tc = sg.tensor("tc", [1, 8, 8, 8])
    sg.op("TRANSPOSE_CONV", [shape, tc_w, tc_in], [tc],
          {"padding": "SAME", "stride_w": 2, "stride_h": 2})
    # RESIZE_BILINEAR 1x4x4x3 -> 1x8x8x3: each output value is its 4 nearest inputs, each times a
    # weight, summed (LiteRT's reference kernel): 4 MACs per output element
    size = sg.tensor("size", [2], "int32", data=np.array([8, 8], np.int32))
    small = sg.tensor("small", [1, 4, 4, 3])
    big = sg.tensor("big", [1, 8, 8, 3])
    sg.op("RESIZE_BILINEAR", [small, size], [big], {"align_corners": False,
                                                    "half_pixel_centers": True})
    sg.inputs, sg.outputs = [x, a, at, tc_in, small], [f, mm, mmt, tc, big]
    return mb.save(tmp_path / "macs.tflite")


def test_macs_by_hand(tmp_path):
    with open_model(_model(tmp_path)) as m:
        sg = m.subgraphs[0]
        macs = {f"{op.op}{'_adj' if op.options.get('adj_x') else ''}": op_compute(op, sg).macs
                for op in sg.operators}
        flops = {op.op: op_compute(op, sg).flops for op in sg.operators}
    assert macs == {
        "CONV_2D": 8 * 8 * 16 * (3 * 3 * 3),         # 27,648
        "DEPTHWISE_CONV_2D": 2 * 2 * 16 * (5 * 5),    # 1,600
        "RESHAPE": 0,
        "FULLY_CONNECTED": 10 * 64,                   # 640
        "BATCH_MATMUL": 2 * 3 * 5 * 4,                # 120
        "BATCH_MATMUL_adj": 2 * 3 * 5 * 4,            # K from axis -2 of the adjoint operand
        "TRANSPOSE_CONV": 4 * 4 * 16 * (8 * 3 * 3),   # 18,432
        "RESIZE_BILINEAR": 8 * 8 * 3 * 4,             # 768
    }
    assert flops["CONV_2D"] == 2 * 27_648
    assert flops["RESIZE_BILINEAR"] == 2 * 768           # it showed "0 FLOPs"


def test_mac_formulas_are_catalogue_data():
    formulas = catalogue()["mac_formulas"]
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL",
            "TRANSPOSE_CONV"} <= set(formulas)
    for op, f in formulas.items():
        assert mac_formula(op) == f
        assert f["elements_of"][:5] in ("input", "outpu")
        assert f["dims_of"].startswith("input") if "dims_of" in f else f["taps"] > 0
    # an op with MACs is not also counted as a FLOP kind
    kinds = {op for ops in catalogue()["compute_kinds"].values() for op in ops}
    assert not kinds & set(formulas)


def test_control_flow_comes_from_the_catalogue():
    required = {op for op, facts in catalogue()["ops"].items()
                if facts.get("subgraphs") and facts.get("subgraphs_required")}
    assert runtime_control_flow() == required == {"WHILE", "IF", "CALL_ONCE"}
    assert kernels.CONTROL_FLOW is runtime_control_flow()
    assert graph.SIDE_EFFECT_OPS is runtime_control_flow()
