"""Models built for the memory-plan tests: each exercises one thing LiteRT's planner does
(temporaries, hybrid kernels, fp16 weights behind DEQUANTIZE, control flow, ties, chunking)."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder
from core.model.samples import demo_model

RNG = np.random.default_rng(9)


def _w(shape, dtype=np.float32, scale=0.1):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def float_convnet() -> ModelBuilder:
    """CONV 3x3/2 (im2col or HWCN), depthwise, 1x1 convs, residual ADD, pool, MEAN, FC."""
    return demo_model()


def int8_convnet() -> ModelBuilder:
    mb = ModelBuilder(description="int8 conv net")
    sg = mb.subgraph()
    t = sg.tensor
    q = lambda s, z=0: {"scale": [s], "zero_point": [z]}  # noqa: E731
    x = t("x", [1, 16, 16, 4], "int8", quant=q(0.05, -1))
    w = t("w", [8, 3, 3, 4], "int8", data=RNG.integers(-100, 100, (8, 3, 3, 4), dtype=np.int8),
          quant={"scale": [0.01 + 0.001 * i for i in range(8)], "zero_point": [0] * 8,
                 "quantized_dimension": 0})
    b = t("b", [8], "int32", data=np.zeros(8, np.int32),
          quant={"scale": [0.0005 + 0.00005 * i for i in range(8)], "zero_point": [0] * 8})
    c = t("conv", [1, 16, 16, 8], "int8", quant=q(0.1, 2))
    sg.op("CONV_2D", [x, w, b], [c], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                      "fused_activation_function": "RELU"})
    c2 = t("conv2", [1, 8, 8, 8], "int8", quant=q(0.1, 2))
    w2 = t("w2", [8, 3, 3, 8], "int8", data=RNG.integers(-100, 100, (8, 3, 3, 8), dtype=np.int8),
           quant={"scale": [0.01] * 8, "zero_point": [0] * 8, "quantized_dimension": 0})
    b2 = t("b2", [8], "int32", data=np.zeros(8, np.int32),
           quant={"scale": [0.001] * 8, "zero_point": [0] * 8})
    sg.op("CONV_2D", [c, w2, b2], [c2], {"padding": "SAME", "stride_w": 2, "stride_h": 2})
    s = t("sum", [1, 8, 8, 8], "int8", quant=q(0.2, 0))
    sg.op("ADD", [c2, c2], [s], {"fused_activation_function": "NONE"})
    axes = t("axes", [2], "int32", data=np.array([1, 2], np.int32))
    m = t("mean", [1, 8], "int8", quant=q(0.2, 0))
    sg.op("MEAN", [s, axes], [m], {"keep_dims": False})
    sg.inputs, sg.outputs = [x], [m]
    return mb


def hybrid_model() -> ModelBuilder:
    """Float activations with int8 weights: hybrid FULLY_CONNECTED, per-channel hybrid CONV_2D,
    hybrid BATCH_MATMUL (quantization scratch, persistent row sums)."""
    mb = ModelBuilder(description="dynamic-range (hybrid) kernels")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, 8, 8, 3])
    w = t("w", [4, 3, 3, 3], "int8", data=RNG.integers(-127, 127, (4, 3, 3, 3), dtype=np.int8),
          quant={"scale": [0.01, 0.02, 0.03, 0.04], "zero_point": [0] * 4,
                 "quantized_dimension": 0})
    b = t("b", [4], data=np.zeros(4, np.float32))
    c = t("conv", [1, 4, 4, 4])
    sg.op("CONV_2D", [x, w, b], [c], {"padding": "SAME", "stride_w": 2, "stride_h": 2})
    shape = t("shape", [2], "int32", data=np.array([4, 16], np.int32))
    r = t("rows", [4, 16])
    sg.op("RESHAPE", [c, shape], [r], {"new_shape": [4, 16]})
    fw = t("fc_w", [12, 16], "int8", data=RNG.integers(-127, 127, (12, 16), dtype=np.int8),
           quant={"scale": [0.02], "zero_point": [0]})
    f = t("fc", [4, 12])
    sg.op("FULLY_CONNECTED", [r, fw, -1], [f], {"fused_activation_function": "RELU"})
    mw = t("mm_w", [12, 6], "int8", data=RNG.integers(-127, 127, (12, 6), dtype=np.int8),
           quant={"scale": [0.03], "zero_point": [0]})
    y = t("y", [4, 6])
    sg.op("BATCH_MATMUL", [f, mw], [y], {"adj_x": False, "adj_y": False})
    sg.inputs, sg.outputs = [x], [y]
    return mb


def fp16_model() -> ModelBuilder:
    """float16 weights in the file, DEQUANTIZE to float32 (persistent), then CONV_2D: at 2
    threads the multithreaded kernel keeps persistent HWCN weights instead of im2col."""
    mb = ModelBuilder(description="fp16 weights behind DEQUANTIZE")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, 12, 12, 3])
    cur = x
    cin = 3
    for i, (cout, stride) in enumerate(((8, 2), (8, 1), (16, 1))):
        w16 = t(f"w{i}/fp16", [cout, 3, 3, cin], "float16", data=_w((cout, 3, 3, cin), np.float16))
        w = t(f"w{i}", [cout, 3, 3, cin])
        sg.op("DEQUANTIZE", [w16], [w])
        b16 = t(f"b{i}/fp16", [cout], "float16", data=_w((cout,), np.float16))
        b = t(f"b{i}", [cout])
        sg.op("DEQUANTIZE", [b16], [b])
        h = 6 if stride == 2 or i > 0 else 12
        out = t(f"conv{i}", [1, h, h, cout])
        sg.op("CONV_2D", [cur, w, b], [out], {"padding": "SAME", "stride_w": stride,
                                              "stride_h": stride,
                                              "fused_activation_function": "RELU6"})
        cur, cin = out, cout
    sg.inputs, sg.outputs = [x], [cur]
    return mb


def while_model() -> ModelBuilder:
    """A counted WHILE loop: cond and body are subgraphs with their own arenas; the body's
    inputs are not in its arena (the loop owns them)."""
    mb = ModelBuilder(description="WHILE loop")
    main, cond, body = mb.subgraph("main"), mb.subgraph("cond"), mb.subgraph("body")
    i0 = main.tensor("i0", [1], "int32")
    x0 = main.tensor("x0", [1, 32])
    x1 = main.tensor("x_scaled", [1, 32])
    k = main.tensor("k", [1, 32], data=np.full((1, 32), 0.5, np.float32))
    main.op("MUL", [x0, k], [x1], {"fused_activation_function": "NONE"})
    i1 = main.tensor("i_final", [1], "int32")
    x2 = main.tensor("x_final", [1, 32])
    main.op("WHILE", [i0, x1], [i1, x2], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    y = main.tensor("y", [1, 32])
    main.op("TANH", [x2], [y])
    main.inputs, main.outputs = [i0, x0], [i1, y]
    ci = cond.tensor("i", [1], "int32")
    cx = cond.tensor("x", [1, 32])
    lim = cond.tensor("limit", [1], "int32", data=np.array([3], np.int32))
    less = cond.tensor("less", [1], "bool")
    cond.op("LESS", [ci, lim], [less])
    cond.inputs, cond.outputs = [ci, cx], [less]
    bi = body.tensor("i", [1], "int32")
    bx = body.tensor("x", [1, 32])
    one = body.tensor("one", [1], "int32", data=np.array([1], np.int32))
    bi1 = body.tensor("i_next", [1], "int32")
    body.op("ADD", [bi, one], [bi1], {"fused_activation_function": "NONE"})
    w = body.tensor("w", [32, 32], data=_w((32, 32)))
    h = body.tensor("h", [1, 32])
    body.op("FULLY_CONNECTED", [bx, w, -1], [h], {"fused_activation_function": "NONE"})
    h2 = body.tensor("h2", [1, 32])
    body.op("TANH", [h], [h2])
    bx1 = body.tensor("x_next", [1, 32])
    body.op("ADD", [h2, bx], [bx1], {"fused_activation_function": "NONE"})
    body.inputs, body.outputs = [bi, bx], [bi1, bx1]
    return mb


def if_model() -> ModelBuilder:
    mb = ModelBuilder(description="IF with two branches")
    main, then, other = mb.subgraph("main"), mb.subgraph("then"), mb.subgraph("else")
    c = main.tensor("cond", [1], "bool")
    x = main.tensor("x", [2, 64])
    y = main.tensor("y", [2, 64])
    main.op("IF", [c, x], [y], {"then_subgraph_index": 1, "else_subgraph_index": 2})
    z = main.tensor("z", [2, 64])
    main.op("RELU", [y], [z])
    main.inputs, main.outputs = [c, x], [z]
    for sg, op in ((then, "TANH"), (other, "LOGISTIC")):
        a = sg.tensor("a", [2, 64])
        h = sg.tensor("h", [2, 64])
        sg.op(op, [a], [h])
        o = sg.tensor("o", [2, 64])
        sg.op("ADD", [h, a], [o], {"fused_activation_function": "NONE"})
        sg.inputs, sg.outputs = [a], [o]
    return mb


def ties_and_chunks() -> ModelBuilder:
    """SPLIT into 16 equal outputs (size and first-use ties: libstdc++'s hash-set order and
    introsort decide the offsets; more than 13 tensors in one node's set rehashes), folded
    SHAPE, a float BATCH_MATMUL and SUM with temporaries, then a PAD whose paddings are computed:
    its output size is unknown at allocation, so planning stops there."""
    mb = ModelBuilder(description="ties and chunking")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, 16, 48])
    axis = t("axis", [], "int32", data=np.array(2, np.int32))
    parts = [t(f"part{i}", [1, 16, 3]) for i in range(16)]
    sg.op("SPLIT", [axis, x], parts, {"num_splits": 16})
    acts = []
    for i, p in enumerate(parts):
        a = t(f"act{i}", [1, 16, 3])
        sg.op("TANH" if i % 2 else "LOGISTIC", [p], [a])
        acts.append(a)
    cat = t("cat", [1, 16, 48])
    sg.op("CONCATENATION", acts, [cat], {"axis": 2})
    shp = t("shape", [3], "int32")
    sg.op("SHAPE", [x], [shp], {"out_type": "INT32"})
    rhs = t("rhs", [1, 48, 16])
    sg.op("TRANSPOSE", [cat, t("perm", [3], "int32", data=np.array([0, 2, 1], np.int32))],
          [rhs])
    mm = t("mm", [1, 16, 16])
    sg.op("BATCH_MATMUL", [cat, rhs], [mm], {"adj_x": False, "adj_y": False})
    ax = t("sum_axes", [1], "int32", data=np.array([2], np.int32))
    s = t("sum", [1, 16])
    sg.op("SUM", [mm, ax], [s], {"keep_dims": False})
    pads_f = t("pads_f", [2, 2])
    sg.op("RELU", [t("pads_in", [2, 2])], [pads_f])
    pads = t("pads", [2, 2], "int32")
    sg.op("CAST", [pads_f], [pads])
    padded = t("padded", [1, 16])
    sg.op("PAD", [s, pads], [padded])
    out = t("out", [1, 16])
    sg.op("TANH", [padded], [out])
    sg.inputs = [x, sg.tensors.index(next(tt for tt in sg.tensors if tt.name == "pads_in"))]
    sg.outputs = [out, shp]
    return mb


def recurrent_model(weights: str = "float32") -> ModelBuilder:
    """Kernels that reserve their tensors in Init (numbered before any Prepare's): a fused
    UNIDIRECTIONAL_SEQUENCE_LSTM (scratch temporary, state variables in the persistent arena),
    SVDF, and ADD_N (its scratch grows with the threads), after a CONV_2D whose im2col is
    added later, in Prepare."""
    mb = ModelBuilder(description=f"fused LSTM ({weights} weights), SVDF, ADD_N")
    sg = mb.subgraph()
    t = sg.tensor
    batch, steps, n_in, cells = 1, 6, 8, 12
    img = t("img", [1, 6, 6, 2])
    cw = t("conv_w", [4, 3, 3, 2], data=_w((4, 3, 3, 2)))
    cb = t("conv_b", [4], data=_w((4,)))
    co = t("conv", [1, 6, 6, 4])
    sg.op("CONV_2D", [img, cw, cb], [co], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    x = t("x", [batch, steps, n_in])
    ins = [x]
    def weight(name, shape):
        if weights == "float32":
            return t(name, shape, data=_w(shape))
        return t(name, shape, "int8", data=RNG.integers(-127, 127, shape, dtype=np.int8),
                 quant={"scale": [0.01], "zero_point": [0]})
    ins += [weight(f"i2{g}", (cells, n_in)) for g in "ifco"]
    ins += [weight(f"r2{g}", (cells, cells)) for g in "ifco"]
    ins += [-1, -1, -1]
    ins += [t(f"b_{g}", [cells], data=_w((cells,))) for g in "ifco"]
    ins += [-1, -1]
    ins += [t("h_state", [batch, cells], variable=True), t("c_state", [batch, cells],
                                                           variable=True)]
    ins += [-1, -1, -1, -1]
    seq = t("lstm_out", [batch, steps, cells])
    sg.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [seq],
          {"fused_activation_function": "TANH", "cell_clip": 0.0, "proj_clip": 0.0,
           "time_major": False})
    shape = t("flat_shape", [2], "int32", data=np.array([steps, cells], np.int32))
    flat = t("flat", [steps, cells])
    sg.op("RESHAPE", [seq, shape], [flat], {"new_shape": [steps, cells]})
    filters, memory, rank = 8, 4, 2
    wf = t("svdf_wf", [filters, cells], data=_w((filters, cells)))
    wt = t("svdf_wt", [filters, memory], data=_w((filters, memory)))
    state = t("svdf_state", [steps, memory * filters], variable=True)
    sv = t("svdf", [steps, filters // rank])
    sg.op("SVDF", [flat, wf, wt, -1, state], [sv], {"rank": rank,
                                                     "fused_activation_function": "NONE"})
    # one step of a plain LSTM on the last SVDF output (float weights only)
    if weights == "float32":
        step_in = t("step_in", [steps, cells])
        sg.op("TANH", [flat], [step_in])
        lin = [step_in]
        lin += [t(f"lstm_i2{g}", [cells, cells], data=_w((cells, cells))) for g in "ifco"]
        lin += [t(f"lstm_r2{g}", [cells, cells], data=_w((cells, cells))) for g in "ifco"]
        lin += [-1, -1, -1]
        lin += [t(f"lstm_b_{g}", [cells], data=_w((cells,))) for g in "ifco"]
        lin += [-1, -1]
        lin += [t("lstm_h", [steps, cells], variable=True),
                t("lstm_c", [steps, cells], variable=True)]
        lin += [-1, -1, -1, -1]
        step_out = t("lstm_step", [steps, cells])
        sg.op("LSTM", lin, [step_out], {"fused_activation_function": "TANH", "cell_clip": 0.0,
                                        "proj_clip": 0.0, "kernel_type": "FULL"})
        sg.outputs = [step_out]
    parts = []
    for k in range(4):
        o = t(f"branch{k}", [steps, filters // rank])
        sg.op("TANH" if k % 2 else "RELU", [sv], [o])
        parts.append(o)
    total = t("sum", [steps, filters // rank])
    sg.op("ADD_N", parts, [total])
    sg.inputs, sg.outputs = [img, x], [co, total] + list(sg.outputs)
    return mb


def transpose_conv_3d() -> ModelBuilder:
    """TRANSPOSE_CONV (its col2im and transposed weights live on the heap but still take tensor
    numbers) and CONV_3D (im2col), then a CONV_2D whose im2col is numbered after them."""
    mb = ModelBuilder(description="transpose conv and conv3d")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, 4, 4, 2])
    oshape = t("out_shape", [4], "int32", data=np.array([1, 8, 8, 4], np.int32))
    tw = t("tconv_w", [4, 3, 3, 2], data=_w((4, 3, 3, 2)))
    up = t("up", [1, 8, 8, 4])
    sg.op("TRANSPOSE_CONV", [oshape, tw, x, -1], [up], {"padding": "SAME", "stride_w": 2,
                                                       "stride_h": 2})
    s5 = t("shape5", [5], "int32", data=np.array([1, 2, 8, 4, 4], np.int32))
    vol = t("vol", [1, 2, 8, 4, 4])
    sg.op("RESHAPE", [up, s5], [vol], {"new_shape": [1, 2, 8, 4, 4]})
    w3 = t("conv3d_w", [3, 3, 3, 4, 4], data=_w((3, 3, 3, 4, 4)))
    v3 = t("conv3d", [1, 2, 8, 4, 4])
    sg.op("CONV_3D", [vol, w3, -1], [v3], {"padding": "SAME", "stride_d": 1, "stride_w": 1,
                                           "stride_h": 1, "dilation_d_factor": 1,
                                           "dilation_w_factor": 1, "dilation_h_factor": 1})
    s4 = t("shape4", [4], "int32", data=np.array([1, 8, 8, 4], np.int32))
    flat = t("flat", [1, 8, 8, 4])
    sg.op("RESHAPE", [v3, s4], [flat], {"new_shape": [1, 8, 8, 4]})
    cw = t("conv_w", [4, 3, 3, 4], data=_w((4, 3, 3, 4)))
    cb = t("conv_b", [4], data=_w((4,)))
    y = t("y", [1, 8, 8, 4])
    sg.op("CONV_2D", [flat, cw, cb], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    sg.inputs, sg.outputs = [x], [y]
    return mb


def spectrogram() -> ModelBuilder:
    """An audio front end: RFFT2D (four working areas sized from the constant FFT length) on
    framed samples, then a power spectrum."""
    mb = ModelBuilder(description="rfft2d spectrogram")
    sg = mb.subgraph()
    t = sg.tensor
    frames = t("frames", [1, 8, 64])
    fft_len = t("fft_length", [2], "int32", data=np.array([8, 64], np.int32))
    spec = t("spectrum", [1, 8, 33], "complex64")
    sg.op("RFFT2D", [frames, fft_len], [spec])
    mag = t("magnitude", [1, 8, 33])
    sg.op("COMPLEX_ABS", [spec], [mag])
    power = t("power", [1, 8, 33])
    sg.op("MUL", [mag, mag], [power], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [frames], [power]
    return mb


def constant_folding() -> ModelBuilder:
    """Ops on constants the kernels fold at Prepare into read-only heap tensors (GATHER,
    STRIDED_SLICE, CONCATENATION, MUL, RESHAPE), a CAST of a constant (cached only when
    the interpreter asks for it: in the arena by default), and in-place ops that may not share
    (a graph input, an input read twice)."""
    mb = ModelBuilder(description="constant folding")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [2, 16])
    params = t("params", [4, 16], data=_w((4, 16)))
    idx = t("idx", [2], "int32", data=np.array([3, 1], np.int32))
    g = t("gathered", [2, 16])
    sg.op("GATHER", [params, idx], [g], {"axis": 0})
    b = t("begin", [2], "int32", data=np.array([0, 0], np.int32))
    e = t("end", [2], "int32", data=np.array([2, 16], np.int32))
    st = t("strides", [2], "int32", data=np.array([1, 1], np.int32))
    sl = t("sliced", [2, 16])
    sg.op("STRIDED_SLICE", [params, b, e, st], [sl], {})
    c1 = t("c1", [1, 16], data=_w((1, 16)))
    c2 = t("c2", [1, 16], data=_w((1, 16)))
    cat = t("cat", [2, 16])
    sg.op("CONCATENATION", [c1, c2], [cat], {"axis": 0})
    prod = t("prod", [2, 16])
    sg.op("MUL", [cat, sl], [prod], {"fused_activation_function": "NONE"})
    ishape = t("ints_shape", [2], "int32", data=np.array([2, 16], np.int32))
    ints = t("ints", [32], "int32", data=np.arange(32, dtype=np.int32))
    ints2 = t("ints2d", [2, 16], "int32")
    sg.op("RESHAPE", [ints, ishape], [ints2], {"new_shape": [2, 16]})
    f = t("ints_f", [2, 16])
    sg.op("CAST", [ints2], [f])
    a1 = t("a1", [2, 16])
    sg.op("ADD", [x, g], [a1], {"fused_activation_function": "NONE"})
    a2 = t("a2", [2, 16])
    sg.op("ADD", [a1, prod], [a2], {"fused_activation_function": "NONE"})
    a3 = t("a3", [2, 16])
    sg.op("ADD", [a2, a2], [a3], {"fused_activation_function": "NONE"})
    y = t("y", [2, 16])
    sg.op("MUL", [a3, f], [y], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [y]
    return mb


def computed_reshape() -> ModelBuilder:
    """A RESHAPE to a computed shape (the runtime answers 'output shape not known' at Prepare):
    allocate_tensors() plans up to and including it, the output keeps its declared arena
    bytes, and the ops after it wait for the first run."""
    mb = ModelBuilder(description="reshape to a computed shape")
    sg = mb.subgraph()
    t = sg.tensor
    x = t("x", [1, 8, 8, 4])
    y = t("y", [1, 8, 8, 4])
    sg.op("RELU", [x], [y])
    dims = t("dims", [2], "int32")
    sg.op("ADD", [t("dims_in", [2], "int32"), t("one", [2], "int32",
                                                data=np.array([0, 0], np.int32))], [dims],
          {"fused_activation_function": "NONE"})
    r = t("r", [16, 16])
    sg.op("RESHAPE", [y, dims], [r], {"new_shape": [16, 16]})
    out = t("out", [16, 16])
    sg.op("TANH", [r], [out])
    sg.inputs = [x, sg.tensors.index(next(tt for tt in sg.tensors if tt.name == "dims_in"))]
    sg.outputs = [out]
    return mb


BUILT = {"float_convnet": float_convnet, "int8_convnet": int8_convnet, "hybrid": hybrid_model,
         "fp16_weights": fp16_model, "while_loop": while_model, "if_branches": if_model,
         "ties_and_chunks": ties_and_chunks, "recurrent": recurrent_model,
         "transpose_conv_3d": transpose_conv_3d, "constant_folding": constant_folding,
         "recurrent_hybrid": lambda: recurrent_model("int8"), "spectrogram": spectrogram,
         "computed_reshape": computed_reshape}
