"""Models built for the tool-run targets (Ethos-U through vela, LiteRT NPU plugins): an int8 net
with a PRELU kept in float (what the quantizer leaves), int8 control flow (IF with int8 branches),
an int8 op with a parameter the NPU refuses (a 4-wide stride), and a float CONV_2D whose kernel is
wider than its stored input (OpenVINO's compiler rejects the partition the plugin took)."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder

RNG = np.random.default_rng(5)


def _q(s: float, z: int = 0) -> dict:
    return {"scale": [s], "zero_point": [z]}


def _conv(sg, x, cin: int, cout: int, size: int, name: str, stride: int = 1):
    w = sg.tensor(f"{name}/w", [cout, 3, 3, cin], "int8",
                  data=RNG.integers(-100, 100, (cout, 3, 3, cin), dtype=np.int8),
                  quant={"scale": [0.01] * cout, "zero_point": [0] * cout,
                         "quantized_dimension": 0})
    b = sg.tensor(f"{name}/b", [cout], "int32", data=np.zeros(cout, np.int32),
                  quant={"scale": [0.0005] * cout, "zero_point": [0] * cout})
    out = sg.tensor(f"{name}/out", [1, size // stride, size // stride, cout], "int8",
                    quant=_q(0.1, 2))
    sg.op("CONV_2D", [x, w, b], [out], {"padding": "SAME", "stride_w": stride,
                                        "stride_h": stride, "fused_activation_function": "RELU"})
    return out


def int8_prelu_float() -> ModelBuilder:
    """int8 CONV, then DEQUANTIZE -> float PRELU -> QUANTIZE, then int8 CONV (twice)."""
    mb = ModelBuilder(description="int8 with PRELU kept in float")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16, 16, 4], "int8", quant=_q(0.05, -1))
    cur, cin = x, 4
    for i in range(2):
        c = _conv(sg, cur, cin, 8, 16, f"conv{i}")
        f = sg.tensor(f"prelu{i}/in", [1, 16, 16, 8])
        sg.op("DEQUANTIZE", [c], [f])
        alpha = sg.tensor(f"prelu{i}/alpha", [1, 1, 8], data=np.full((1, 1, 8), 0.2, np.float32))
        p = sg.tensor(f"prelu{i}/out", [1, 16, 16, 8])
        sg.op("PRELU", [f, alpha], [p])
        q = sg.tensor(f"prelu{i}/q", [1, 16, 16, 8], "int8", quant=_q(0.1, 0))
        sg.op("QUANTIZE", [p], [q])
        cur, cin = q, 8
    out = _conv(sg, cur, 8, 8, 16, "head")
    sg.inputs, sg.outputs = [x], [out]
    return mb


def int8_if() -> ModelBuilder:
    """int8 CONV, then IF choosing between two int8 branches (ADD / ADD+MUL)."""
    mb = ModelBuilder(description="int8 IF")
    main, then, other = mb.subgraph("main"), mb.subgraph("then"), mb.subgraph("else")
    c = main.tensor("cond", [1], "bool")
    x = main.tensor("x", [1, 8, 8, 4], "int8", quant=_q(0.05, 0))
    h = _conv(main, x, 4, 8, 8, "conv")
    y = main.tensor("y", [1, 8, 8, 8], "int8", quant=_q(0.1, 2))
    main.op("IF", [c, h], [y], {"then_subgraph_index": 1, "else_subgraph_index": 2})
    main.inputs, main.outputs = [c, x], [y]
    for sg, extra in ((then, False), (other, True)):
        a = sg.tensor("a", [1, 8, 8, 8], "int8", quant=_q(0.1, 2))
        o = sg.tensor("o", [1, 8, 8, 8], "int8", quant=_q(0.1, 2))
        sg.op("ADD", [a, a], [o], {"fused_activation_function": "NONE"})
        if extra:
            m = sg.tensor("m", [1, 8, 8, 8], "int8", quant=_q(0.1, 2))
            sg.op("MUL", [o, a], [m], {"fused_activation_function": "NONE"})
            o = m
        sg.inputs, sg.outputs = [a], [o]
    return mb


def int8_refused_stride() -> ModelBuilder:
    """int8 CONV, a DEPTHWISE_CONV_2D with stride 4 (Ethos-U55/U65 take depthwise strides up to
    3; vela's SUPPORTED_OPS.md), int8 CONV."""
    mb = ModelBuilder(description="int8 depthwise conv with a stride the NPU refuses")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16, 16, 4], "int8", quant=_q(0.05, -1))
    a = _conv(sg, x, 4, 8, 16, "first")
    w = sg.tensor("wide/w", [1, 3, 3, 8], "int8",
                  data=RNG.integers(-50, 50, (1, 3, 3, 8), dtype=np.int8),
                  quant={"scale": [0.01] * 8, "zero_point": [0] * 8, "quantized_dimension": 3})
    b = sg.tensor("wide/b", [8], "int32", data=np.zeros(8, np.int32),
                  quant={"scale": [0.0005] * 8, "zero_point": [0] * 8})
    d = sg.tensor("wide/out", [1, 4, 4, 8], "int8", quant=_q(0.1, 2))
    sg.op("DEPTHWISE_CONV_2D", [a, w, b], [d], {"padding": "SAME", "stride_w": 4, "stride_h": 4,
                                                "depth_multiplier": 1})
    out = _conv(sg, d, 8, 8, 4, "last")
    sg.inputs, sg.outputs = [x], [out]
    return mb


def conv_wider_than_input(width: int = 4) -> ModelBuilder:
    """CONV_2D (VALID, kernel 16 wide) -> MUL, SQUEEZE, then ADD -> MUL. The Intel plugin takes
    the ops on both sides of the SQUEEZE as two partitions. At a stored input ``width`` under
    16 (a dynamic input stored narrow, as openWakeWord's melspectrogram stores [1, 1] for its
    512-wide STFT convolutions) OpenVINO's shape inference rejects the convolution, so the first
    partition fails to compile as a whole; the second compiles."""
    mb = ModelBuilder(description="conv kernel wider than its stored input")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 1, width, 1], shape_signature=[1, 1, -1, 1])
    w = sg.tensor("w", [8, 1, 16, 1], data=RNG.standard_normal((8, 1, 16, 1)).astype(np.float32))
    b = sg.tensor("b", [8], data=np.zeros(8, np.float32))
    c = sg.tensor("conv", [1, 1, max(1, (width - 16) // 4 + 1), 8])
    sg.op("CONV_2D", [x, w, b], [c], {"padding": "VALID", "stride_w": 4, "stride_h": 1})
    scale = sg.tensor("scale", [1, 1, 1, 8], data=np.full((1, 1, 1, 8), 0.5, np.float32))
    m = sg.tensor("scaled", [1, 1, 1, 8])
    sg.op("MUL", [c, scale], [m], {})
    s = sg.tensor("squeezed", [1, 8])
    sg.op("SQUEEZE", [m], [s], {"squeeze_dims": [1, 2]})
    one = sg.tensor("one", [1, 8], data=np.ones((1, 8), np.float32))
    a = sg.tensor("shifted", [1, 8])
    sg.op("ADD", [s, one], [a], {})
    y = sg.tensor("y", [1, 8])
    sg.op("MUL", [a, a], [y], {})
    sg.inputs, sg.outputs = [x], [y]
    return mb
