"""Models built for the TFLite Micro tests: each exercises one thing TFLM plans or refuses
(PRELU left in float inside an int8 model, CALL_ONCE with resource variables, reduce scratch
buffers, a kernel TFLM lacks, a softmax whose scale makes TFLM abort)."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder

RNG = np.random.default_rng(16)


def _q(scale, zp=0, dim=0):
    scale = np.atleast_1d(np.asarray(scale, np.float64)).tolist()
    zp = np.atleast_1d(np.asarray(zp, np.int64)).tolist()
    return {"scale": scale, "zero_point": zp, "quantized_dimension": dim}


def int8_prelu_float(channels: int = 8, size: int = 16) -> ModelBuilder:
    """An int8 conv net whose PRELU the quantizer left in float: conv (int8) → DEQUANTIZE →
    PRELU (float) → QUANTIZE → conv (int8) → MEAN (int8, scratch buffers)."""
    mb = ModelBuilder(description="int8 with PRELU kept float")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, size, size, 3], "int8", quant=_q(0.02, -3))
    cur, cin = x, 3
    for i in range(2):
        w = t(f"w{i}", [channels, 3, 3, cin], "int8",
              data=RNG.integers(-90, 90, (channels, 3, 3, cin), dtype=np.int8),
              quant=_q(np.linspace(0.004, 0.01, channels), np.zeros(channels), 0))
        b = t(f"b{i}", [channels], "int32", data=RNG.integers(-50, 50, channels, dtype=np.int32),
              quant=_q(np.linspace(0.004, 0.01, channels) * 0.02, np.zeros(channels), 0))
        c = t(f"conv{i}", [1, size, size, channels], "int8", quant=_q(0.05, 1))
        sg.op("CONV_2D", [cur, w, b], [c], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                            "fused_activation_function": "NONE"})
        if i == 0:
            f = t("conv0/float", [1, size, size, channels])
            sg.op("DEQUANTIZE", [c], [f])
            alpha = t("alpha", [1, 1, channels], data=np.full((1, 1, channels), 0.2, np.float32))
            p = t("prelu", [1, size, size, channels])
            sg.op("PRELU", [f, alpha], [p])
            cur = t("prelu/q", [1, size, size, channels], "int8", quant=_q(0.05, 1))
            sg.op("QUANTIZE", [p], [cur])
            cin = channels
        else:
            cur = c
    axes = t("axes", [2], "int32", data=np.array([1, 2], np.int32))
    m = t("mean", [1, channels], "int8", quant=_q(0.05, 1))
    sg.op("MEAN", [cur, axes], [m], {"keep_dims": False})
    sg.inputs, sg.outputs = [x], [m]
    return mb


def call_once_variables(frames: int = 4, width: int = 16) -> ModelBuilder:
    """A streaming state: CALL_ONCE initialises a resource variable (VAR_HANDLE +
    ASSIGN_VARIABLE in its subgraph); the main graph reads it, concatenates the new frame, keeps
    the newest frames and assigns them back."""
    mb = ModelBuilder(description="CALL_ONCE with resource variables")
    main, init = mb.subgraph("main"), mb.subgraph("init")
    h = init.tensor("h", [], "resource")
    init.op("VAR_HANDLE", [], [h], {"container": "", "shared_name": "state"})
    zeros = init.tensor("zeros", [1, frames, width],
                        data=np.zeros((1, frames, width), np.float32))
    init.op("ASSIGN_VARIABLE", [h, zeros], [])
    init.inputs, init.outputs = [], []
    t = main.tensor
    x = t("x", [1, 1, width])
    main.op("CALL_ONCE", [], [], {"init_subgraph_index": 1})
    hm = t("h", [], "resource")
    main.op("VAR_HANDLE", [], [hm], {"container": "", "shared_name": "state"})
    s = t("state", [1, frames, width])
    main.op("READ_VARIABLE", [hm], [s])
    cat = t("cat", [1, frames + 1, width])
    main.op("CONCATENATION", [s, x], [cat], {"axis": 1, "fused_activation_function": "NONE"})
    begin = t("begin", [3], "int32", data=np.array([0, 1, 0], np.int32))
    size = t("size", [3], "int32", data=np.array([1, frames, width], np.int32))
    new = t("new", [1, frames, width])
    main.op("SLICE", [cat, begin, size], [new])
    main.op("ASSIGN_VARIABLE", [hm, new], [])
    axes = t("axes", [1], "int32", data=np.array([1], np.int32))
    y = t("y", [1, width])
    main.op("SUM", [new, axes], [y], {"keep_dims": False})
    main.inputs, main.outputs = [x], [y]
    return mb


def select_model() -> ModelBuilder:
    """SELECT (v1): TFLM registers SELECT_V2 only."""
    mb = ModelBuilder(description="SELECT")
    sg = mb.subgraph()
    c = sg.tensor("c", [1, 8], "bool")
    a = sg.tensor("a", [1, 8])
    b = sg.tensor("b", [1, 8])
    y = sg.tensor("y", [1, 8])
    sg.op("SELECT", [c, a, b], [y])
    sg.inputs, sg.outputs = [c, a, b], [y]
    return mb


def int8_softmax(input_scale: float) -> ModelBuilder:
    """int8 FULLY_CONNECTED → SOFTMAX; a tiny ``input_scale`` makes TFLM abort in Prepare."""
    mb = ModelBuilder(description="int8 softmax")
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 16], "int8", quant=_q(0.05, 0))
    w = sg.tensor("w", [10, 16], "int8", data=RNG.integers(-100, 100, (10, 16), dtype=np.int8),
                  quant=_q(0.01))
    logits = sg.tensor("logits", [1, 10], "int8", quant=_q(input_scale, 0))
    sg.op("FULLY_CONNECTED", [x, w, -1], [logits], {"fused_activation_function": "NONE"})
    y = sg.tensor("y", [1, 10], "int8", quant=_q(1 / 256, -128))
    sg.op("SOFTMAX", [logits], [y], {"beta": 1.0})
    sg.inputs, sg.outputs = [x], [y]
    return mb


def transpose_6d() -> ModelBuilder:
    """TRANSPOSE of a rank-6 tensor: TFLM's transpose takes at most 5 dimensions."""
    mb = ModelBuilder(description="6-D transpose")
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 2, 1, 2, 1, 2])
    perm = sg.tensor("perm", [6], "int32", data=np.array([0, 1, 2, 3, 5, 4], np.int32))
    y = sg.tensor("y", [1, 2, 1, 2, 2, 1])
    sg.op("TRANSPOSE", [x, perm], [y])
    sg.inputs, sg.outputs = [x], [y]
    return mb


def computed_pad() -> ModelBuilder:
    """PAD whose paddings come from a graph input: TFLM's PAD needs them constant."""
    mb = ModelBuilder(description="PAD with runtime paddings")
    sg = mb.subgraph()
    x = sg.tensor("x", [1, 4, 4, 2])
    pads = sg.tensor("pads", [4, 2], "int32")
    y = sg.tensor("y", [1, 6, 6, 2])
    sg.op("PAD", [x, pads], [y])
    sg.inputs, sg.outputs = [x, pads], [y]
    return mb


def batch_matmul(adj_x: bool = False, adj_y: bool = False) -> ModelBuilder:
    """A float BATCH_MATMUL of two inputs (its Prepare keeps transposed copies of them)."""
    mb = ModelBuilder(description="BATCH_MATMUL")
    sg = mb.subgraph()
    a = sg.tensor("a", [1, 8, 4] if adj_x else [1, 4, 8])
    b = sg.tensor("b", [1, 4, 8] if adj_y else [1, 8, 4])
    y = sg.tensor("y", [1, 4, 4])
    sg.op("BATCH_MATMUL", [a, b], [y], {"adj_x": adj_x, "adj_y": adj_y})
    sg.inputs, sg.outputs = [a, b], [y]
    return mb
