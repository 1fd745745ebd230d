"""Dynamic-shape models built with core.model.builder (-1 in the input's shape signature): an
audio-like [-1, -1] input through elementwise ops and a reduction, and a convolution over a
dynamic height (its im2col temporary grows with the shape). The stored shapes are 1 where the
signature says -1, as converters write them."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder

RNG = np.random.default_rng(17)


def audio_2d() -> ModelBuilder:
    mb = ModelBuilder(description="dynamic [-1, -1] audio frames")
    sg = mb.subgraph("main")
    x = sg.tensor("samples", [1, 1], shape_signature=[-1, -1])
    k = sg.tensor("gain", [1], data=np.array([0.5], np.float32))
    a = sg.tensor("scaled", [1, 1], shape_signature=[-1, -1])
    sg.op("MUL", [x, k], [a], {"fused_activation_function": "NONE"})
    t = sg.tensor("squashed", [1, 1], shape_signature=[-1, -1])
    sg.op("TANH", [a], [t])
    axis = sg.tensor("axis", [1], "int32", data=np.array([1], np.int32))
    m = sg.tensor("energy", [1], shape_signature=[-1])
    sg.op("MEAN", [t, axis], [m], {"keep_dims": False})
    sg.inputs, sg.outputs = [x], [m]
    mb.signature("serving_default", 0, {"samples": x}, {"energy": m})
    return mb


def conv_dynamic_height() -> ModelBuilder:
    mb = ModelBuilder(description="conv over a dynamic height")
    sg = mb.subgraph("main")
    x = sg.tensor("image", [1, 1, 8, 3], shape_signature=[1, -1, 8, 3])
    w = sg.tensor("w", [8, 3, 3, 3], data=(RNG.standard_normal((8, 3, 3, 3)) * 0.1)
                  .astype(np.float32))
    b = sg.tensor("b", [8], data=np.zeros(8, np.float32))
    y = sg.tensor("features", [1, 1, 8, 8], shape_signature=[1, -1, 8, 8])
    sg.op("CONV_2D", [x, w, b], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                      "fused_activation_function": "RELU"})
    axes = sg.tensor("axes", [2], "int32", data=np.array([1, 2], np.int32))
    p = sg.tensor("pooled", [1, 8])
    sg.op("MEAN", [y, axes], [p], {"keep_dims": False})
    sg.inputs, sg.outputs = [x], [p]
    mb.signature("serving_default", 0, {"image": x}, {"pooled": p})
    return mb


DYNAMIC = {"audio_2d": (audio_2d, {"samples": [3, 400]}),
           "conv_dynamic_height": (conv_dynamic_height, {"image": [1, 24, 8, 3]})}


def framed_audio() -> ModelBuilder:
    """Samples [1, -1] cut into 400-sample frames (RESHAPE to [-1, 400]) and projected: at the
    stored [1, 1] the reshape cannot run (1 sample is no frame), as openWakeWord's
    melspectrogram cannot at 1x1; at a multiple of 400 it runs."""
    mb = ModelBuilder(description="framed audio, dynamic length")
    sg = mb.subgraph("main")
    x = sg.tensor("samples", [1, 1], shape_signature=[1, -1])
    new_shape = sg.tensor("frame_shape", [2], "int32", data=np.array([-1, 400], np.int32))
    frames = sg.tensor("frames", [1, 400], shape_signature=[-1, 400])
    sg.op("RESHAPE", [x, new_shape], [frames])
    w = sg.tensor("w", [8, 400], data=(RNG.standard_normal((8, 400)) * 0.05).astype(np.float32))
    b = sg.tensor("b", [8], data=np.zeros(8, np.float32))
    y = sg.tensor("features", [1, 8], shape_signature=[-1, 8])
    sg.op("FULLY_CONNECTED", [frames, w, b], [y], {"fused_activation_function": "RELU"})
    sg.inputs, sg.outputs = [x], [y]
    mb.signature("serving_default", 0, {"samples": x}, {"features": y})
    return mb
