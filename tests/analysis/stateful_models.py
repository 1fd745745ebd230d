"""Streaming (stateful) models built with core.model.builder, shaped like the micro-wakeword
family: a CALL_ONCE init subgraph creates the variables (VAR_HANDLE + ASSIGN_VARIABLE of zeros),
every invocation reads them (READ_VARIABLE), appends the new frame (CONCATENATION), keeps the last
frames as the new state (STRIDED_SLICE -> ASSIGN_VARIABLE: a ring buffer) and computes on the
window. Variants change what the XNNPACK rules look at: the state's dtype, the slice's strides and
masks, two variables, a dynamic frame count."""
from __future__ import annotations

import numpy as np

from core.model.builder import ModelBuilder, SubgraphBuilder

FRAME, KEEP, WIDTH = 3, 2, 4          # frames per invocation, frames kept, features per frame
_Q = {"int8": {"scale": [0.05], "zero_point": [-3], "quantized_dimension": 0},
      "uint8": {"scale": [0.05], "zero_point": [128], "quantized_dimension": 0}}


def _init(mb: ModelBuilder, states: list[tuple[str, str, list[int]]]) -> int:
    """The init subgraph: one VAR_HANDLE + ASSIGN_VARIABLE(zeros) per (name, dtype, shape)."""
    init = mb.subgraph("init")
    for name, dtype, shape in states:
        r = init.tensor(f"{name}/handle", [], "resource")
        init.op("VAR_HANDLE", [], [r], {"shared_name": name})
        zeros = init.tensor(f"{name}/zeros", shape, dtype,
                            data=np.zeros(shape, np.dtype(dtype)), quant=_Q.get(dtype))
        init.op("ASSIGN_VARIABLE", [r, zeros], [])
    return len(mb.subgraphs) - 1


def _ring(sg: SubgraphBuilder, x: int, name: str, dtype: str, stride: int = 1,
          shrink: bool = False, frames: int = FRAME) -> int:
    """READ the state, CONCATENATE the frame, keep the last KEEP frames as the new state."""
    q = _Q.get(dtype)
    r = sg.tensor(f"{name}/handle", [], "resource")
    sg.op("VAR_HANDLE", [], [r], {"shared_name": name})
    s = sg.tensor(f"{name}/read", [1, KEEP, WIDTH], dtype, quant=q)
    sg.op("READ_VARIABLE", [r], [s])
    window = sg.tensor(f"{name}/window", [1, KEEP + frames, WIDTH], dtype, quant=q)
    sg.op("CONCATENATION", [s, x], [window], {"axis": 1, "fused_activation_function": "NONE"})
    begin = sg.tensor(f"{name}/begin", [3], "int32", data=np.array([0, -KEEP * stride, 0],
                                                                     np.int32))
    end = sg.tensor(f"{name}/end", [3], "int32", data=np.array([0, 0, WIDTH], np.int32))
    strides = sg.tensor(f"{name}/strides", [3], "int32", data=np.array([1, stride, 1], np.int32))
    # shrinking axis 0 writes the state back as [KEEP, WIDTH]: a second shape for one variable
    new = sg.tensor(f"{name}/new", [KEEP, WIDTH] if shrink else [1, KEEP, WIDTH], dtype, quant=q)
    sg.op("STRIDED_SLICE", [window, begin, end, strides], [new],
          {"begin_mask": 0b101, "end_mask": 0b111, "shrink_axis_mask": 0b001 if shrink else 0})
    sg.op("ASSIGN_VARIABLE", [r, new], [])
    return window


def streaming(dtype: str = "float32", stride: int = 1, shrink: bool = False,
              two_states: bool = False) -> ModelBuilder:
    """Input [1, FRAME, WIDTH] of ``dtype``; output the window summed over frames (float and
    8-bit) or the window itself (other dtypes)."""
    mb = ModelBuilder(description=f"streaming {dtype} ring buffer")
    sg = mb.subgraph("main")
    q = _Q.get(dtype)
    x = sg.tensor("frame", [1, FRAME, WIDTH], dtype, quant=q)
    names = ["state_a"] + (["state_b"] if two_states else [])
    sg.op("CALL_ONCE", [], [], {"init_subgraph_index": 1})
    windows = [_ring(sg, x, n, dtype, stride, shrink) for n in names]
    out = windows[0]
    if dtype in ("float32", "int8", "uint8"):
        axis = sg.tensor("axis", [1], "int32", data=np.array([1], np.int32))
        out = sg.tensor("summed", [1, WIDTH], dtype, quant=q)
        sg.op("SUM", [windows[0], axis], [out], {"keep_dims": False})
        if two_states:
            other = sg.tensor("summed_b", [1, WIDTH], dtype, quant=q)
            sg.op("SUM", [windows[1], axis], [other], {"keep_dims": False})
            both = sg.tensor("both", [1, WIDTH], dtype, quant=q)
            sg.op("ADD", [out, other], [both], {"fused_activation_function": "NONE"})
            out = both
    sg.inputs, sg.outputs = [x], [out]
    mb.signature("serving_default", 0, {"frame": x}, {"out": out})
    assert _init(mb, [(n, dtype, [1, KEEP, WIDTH]) for n in names]) == 1
    return mb


def streaming_dynamic() -> ModelBuilder:
    """A float ring buffer whose frame count is dynamic: input signature [1, -1, WIDTH]."""
    mb = ModelBuilder(description="streaming float, dynamic frame count")
    sg = mb.subgraph("main")
    x = sg.tensor("frame", [1, 1, WIDTH], shape_signature=[1, -1, WIDTH])
    sg.op("CALL_ONCE", [], [], {"init_subgraph_index": 1})
    window = _ring(sg, x, "state", "float32", frames=1)
    sg.tensors[window].shape_signature = [1, -1, WIDTH]
    sg.inputs, sg.outputs = [x], [window]
    mb.signature("serving_default", 0, {"frame": x}, {"window": window})
    _init(mb, [("state", "float32", [1, KEEP, WIDTH])])
    return mb


STATEFUL = {
    "float": lambda: streaming("float32"),
    "int8": lambda: streaming("int8"),
    "uint8": lambda: streaming("uint8"),
    "int32_state": lambda: streaming("int32"),           # XNNPACK takes no int32 variable
    "stride2": lambda: streaming("float32", stride=2),   # slice with a stride: CPU
    "shrink": lambda: streaming("float32", shrink=True),  # shrink_axis_mask: CPU
    "two_states": lambda: streaming("float32", two_states=True),
    "dynamic_frames": streaming_dynamic,
}
