"""Small models that exercise the delegate rules, built with core.model.builder: every numeric
flavour (float, fp16 weights, dynamic-range, int8, uint8, int16x8, sparse), custom and Flex ops,
control flow, dynamic shapes, and graphs whose partitions differ from runs in execution order."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder

RNG = np.random.default_rng(11)


def _q(scale, zp=0, dim=0):
    scale = list(np.atleast_1d(scale).astype(float))
    zp = list(np.atleast_1d(zp).astype(int)) if np.ndim(zp) else [int(zp)] * len(scale)
    return {"scale": scale, "zero_point": zp, "quantized_dimension": dim}


def _conv_block(sg, x, cin, cout, name, dtype="float32", fp16=False, act="RELU6"):
    """CONV 3x3 (+ bias), optionally with fp16 weights behind DEQUANTIZE."""
    w = (RNG.standard_normal((cout, 3, 3, cin)) * 0.1).astype(np.float32)
    b = np.zeros(cout, np.float32)
    if fp16:
        w16 = sg.tensor(f"{name}/w16", w.shape, "float16", data=w.astype(np.float16))
        b16 = sg.tensor(f"{name}/b16", b.shape, "float16", data=b.astype(np.float16))
        wt = sg.tensor(f"{name}/w", w.shape)
        bt = sg.tensor(f"{name}/b", b.shape)
        sg.op("DEQUANTIZE", [w16], [wt], version=3)
        sg.op("DEQUANTIZE", [b16], [bt], version=3)
    else:
        wt = sg.tensor(f"{name}/w", w.shape, data=w)
        bt = sg.tensor(f"{name}/b", b.shape, data=b)
    y = sg.tensor(f"{name}/out", [1, 8, 8, cout])
    sg.op("CONV_2D", [x, wt, bt], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                        "fused_activation_function": act})
    return y


def float_cnn(fp16: bool = False) -> ModelBuilder:
    mb = ModelBuilder(description="float cnn" + (" fp16 weights" if fp16 else ""))
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 8, 8, 3])
    a = _conv_block(sg, x, 3, 8, "c1", fp16=fp16)
    b = _conv_block(sg, a, 8, 8, "c2", fp16=fp16, act="TANH")   # TANH: not for XNNPACK
    c = _conv_block(sg, b, 8, 8, "c3", fp16=fp16)
    s = sg.tensor("sum", [1, 8, 8, 8])
    sg.op("ADD", [a, c], [s], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [s]
    return mb


def hybrid_fc() -> ModelBuilder:
    """Dynamic-range: float activations x int8 per-channel weights."""
    mb = ModelBuilder(description="dynamic-range FC")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16])
    w = RNG.integers(-127, 127, (8, 16)).astype(np.int8)
    wt = sg.tensor("w", [8, 16], "int8", data=w, quant=_q(np.full(8, 0.01), np.zeros(8)))
    y = sg.tensor("y", [1, 8])
    sg.op("FULLY_CONNECTED", [x, wt, -1], [y], {"fused_activation_function": "RELU",
                                               "asymmetric_quantize_inputs": True}, version=9)
    z = sg.tensor("z", [1, 8])
    sg.op("TANH", [y], [z])
    sg.inputs, sg.outputs = [x], [z]
    return mb


def quantized(dtype: str) -> ModelBuilder:
    """QUANTIZE float -> dtype, CONV (int8 only) / ADD / LOGISTIC in dtype, DEQUANTIZE."""
    mb = ModelBuilder(description=f"{dtype} quantized")
    sg = mb.subgraph("main")
    zp = {"int8": -1, "uint8": 128, "int16": 0}[dtype]
    x = sg.tensor("x", [1, 8, 8, 4])
    xq = sg.tensor("xq", [1, 8, 8, 4], dtype, quant=_q(0.02, zp))
    sg.op("QUANTIZE", [x], [xq])
    cur = xq
    if dtype == "int8":
        w = RNG.integers(-127, 127, (4, 3, 3, 4)).astype(np.int8)
        wt = sg.tensor("w", w.shape, "int8", data=w, quant=_q(np.full(4, 0.005), np.zeros(4)))
        bt = sg.tensor("b", [4], "int32", data=np.zeros(4, np.int32),
                       quant=_q(np.full(4, 0.0001), np.zeros(4)))
        y = sg.tensor("conv", [1, 8, 8, 4], dtype, quant=_q(0.03, zp))
        sg.op("CONV_2D", [cur, wt, bt], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                              "fused_activation_function": "RELU"}, version=3)
        cur = y
    s = sg.tensor("add", [1, 8, 8, 4], dtype, quant=_q(0.04, zp))
    sg.op("ADD", [cur, xq], [s], {"fused_activation_function": "NONE"},
          version=3 if dtype == "int16" else 2)
    lg = sg.tensor("sig", [1, 8, 8, 4], dtype, quant=_q(1 / 256 if dtype != "int16" else
                                                       1 / 32768, -128 if dtype == "int8"
                                                       else 0))
    sg.op("LOGISTIC", [s], [lg], version=3 if dtype == "int16" else 2)
    out = sg.tensor("out", [1, 8, 8, 4])
    sg.op("DEQUANTIZE", [lg], [out], version=2)
    sg.inputs, sg.outputs = [x], [out]
    return mb


def with_custom(code: str) -> ModelBuilder:
    """ADD -> custom op -> MUL -> TANH: the custom op splits two XNNPACK partitions."""
    mb = ModelBuilder(description=f"custom op {code}")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16])
    c = sg.tensor("c", [16], data=np.ones(16, np.float32))
    a = sg.tensor("a", [1, 16])
    sg.op("ADD", [x, c], [a], {"fused_activation_function": "NONE"})
    b = sg.tensor("b", [1, 16])
    sg.op("CUSTOM", [a], [b], custom_code=code)
    m = sg.tensor("m", [1, 16])
    sg.op("MUL", [b, c], [m], {"fused_activation_function": "NONE"})
    t = sg.tensor("t", [1, 16])
    sg.op("TANH", [m], [t])
    sg.inputs, sg.outputs = [x], [t]
    return mb


def dependency_not_adjacency() -> ModelBuilder:
    """ops in order: ADD(x) [xnn], CAST (int) [cpu], MUL(x) [xnn, independent of the CAST],
    TANH(MUL) [xnn]. Runs in execution order would give 2 partitions; the runtime groups by
    dependencies and makes 1 (ADD, MUL, TANH), with the CAST after it."""
    mb = ModelBuilder(description="partition by dependencies")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16])
    c = sg.tensor("c", [16], data=np.full(16, 0.5, np.float32))
    a = sg.tensor("a", [1, 16])
    sg.op("ADD", [x, c], [a], {"fused_activation_function": "NONE"})
    i = sg.tensor("i", [1, 16], "int32")
    sg.op("CAST", [a], [i], {"in_data_type": "FLOAT32", "out_data_type": "INT32"})
    m = sg.tensor("m", [1, 16])
    sg.op("MUL", [x, c], [m], {"fused_activation_function": "NONE"})
    t = sg.tensor("t", [1, 16])
    sg.op("TANH", [m], [t])
    sg.inputs, sg.outputs = [x], [i, t]
    return mb


def dynamic_shapes() -> ModelBuilder:
    mb = ModelBuilder(description="dynamic batch")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 16], shape_signature=[-1, 16])
    c = sg.tensor("c", [16], data=np.ones(16, np.float32))
    a = sg.tensor("a", [1, 16], shape_signature=[-1, 16])
    sg.op("ADD", [x, c], [a], {"fused_activation_function": "RELU"})
    s = sg.tensor("shape", [2], "int32", data=np.array([-1, 16], np.int32))
    r = sg.tensor("r", [1, 16], shape_signature=[-1, 16])
    sg.op("RESHAPE", [a, s], [r], {"new_shape": [-1, 16]})
    t = sg.tensor("t", [1, 16], shape_signature=[-1, 16])
    sg.op("TANH", [r], [t])
    sg.inputs, sg.outputs = [x], [t]
    return mb


def while_loop() -> ModelBuilder:
    """x -> ADD -> WHILE(i < 3: v = v * 2) -> TANH; the body has its own MUL and ADD."""
    mb = ModelBuilder(description="while loop")
    main, cond, body = mb.subgraph("main"), mb.subgraph("cond"), mb.subgraph("body")
    x = main.tensor("x", [1, 4])
    one = main.tensor("one", [4], data=np.ones(4, np.float32))
    a = main.tensor("a", [1, 4])
    main.op("ADD", [x, one], [a], {"fused_activation_function": "NONE"})
    i0 = main.tensor("i0", [], "int32", data=np.array(0, np.int32))
    i_out = main.tensor("i_out", [], "int32")
    v_out = main.tensor("v_out", [1, 4])
    main.op("WHILE", [i0, a], [i_out, v_out], {"cond_subgraph_index": 1,
                                               "body_subgraph_index": 2})
    t = main.tensor("t", [1, 4])
    main.op("TANH", [v_out], [t])
    main.inputs, main.outputs = [x], [t]
    ci, cv = cond.tensor("i", [], "int32"), cond.tensor("v", [1, 4])
    three = cond.tensor("three", [], "int32", data=np.array(3, np.int32))
    ok = cond.tensor("ok", [], "bool")
    cond.op("LESS", [ci, three], [ok])
    cond.inputs, cond.outputs = [ci, cv], [ok]
    bi, bv = body.tensor("i", [], "int32"), body.tensor("v", [1, 4])
    k1 = body.tensor("k1", [], "int32", data=np.array(1, np.int32))
    two = body.tensor("two", [4], data=np.full(4, 2.0, np.float32))
    ni, nv = body.tensor("ni", [], "int32"), body.tensor("nv", [1, 4])
    body.op("ADD", [bi, k1], [ni], {"fused_activation_function": "NONE"})
    body.op("MUL", [bv, two], [nv], {"fused_activation_function": "NONE"})
    body.inputs, body.outputs = [bi, bv], [ni, nv]
    return mb


def sparse_weights(fp16: bool) -> ModelBuilder:
    """CONV whose filter is stored sparse behind DENSIFY (and DEQUANTIZE when fp16)."""
    mb = ModelBuilder(description="sparse weights" + (" fp16" if fp16 else ""))
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 8, 8, 4])
    w = (RNG.standard_normal((8, 3, 3, 4)) * 0.1).astype(np.float32)
    wt = sg.tensor("w", w.shape)
    if fp16:
        ws = sg.tensor("w_sparse", w.shape, "float16", data=w.astype(np.float16), sparse=True)
        w16 = sg.tensor("w16", w.shape, "float16")
        sg.op("DENSIFY", [ws], [w16])
        sg.op("DEQUANTIZE", [w16], [wt], version=3)
    else:
        ws = sg.tensor("w_sparse", w.shape, data=w, sparse=True)
        sg.op("DENSIFY", [ws], [wt])
    b = sg.tensor("b", [8], data=np.zeros(8, np.float32))
    y = sg.tensor("y", [1, 8, 8, 8])
    sg.op("CONV_2D", [x, wt, b], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    sg.inputs, sg.outputs = [x], [y]
    return mb


BUILT = {
    "float": lambda: float_cnn(False),
    "fp16_weights": lambda: float_cnn(True),
    "dynamic_range": hybrid_fc,
    "int8": lambda: quantized("int8"),
    "uint8": lambda: quantized("uint8"),
    "int16x8": lambda: quantized("int16"),
    "custom_op": lambda: with_custom("MyCustomOp"),
    "flex_op": lambda: with_custom("FlexMatrixDeterminant"),
    "dependencies": dependency_not_adjacency,
    "dynamic_shapes": dynamic_shapes,
    "while": while_loop,
    "sparse_weights": lambda: sparse_weights(False),
    "sparse_fp16_weights": lambda: sparse_weights(True),
}
