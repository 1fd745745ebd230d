"""Hand-built hostile .tflite files: valid flatbuffer structure, absurd content.

Flatbuffers allow many offsets to point at one object; these builders use that to make small files
that would cost a naive reader gigabytes (shared tables), plus huge ranks, non-finite numbers and
names that carry terminal control sequences. Used by the reader tests, the CLI acceptance test and
the fuzz driver.
"""
from __future__ import annotations

import flatbuffers
import numpy as np

from core.model import schema
from core.model.builder import ModelBuilder
from core.model.schema import fb

ANSI_NAME = "x\n\x1b[2K\x1b[1Gok: fine\x1b[0m\r\x07"


def _finish(b, subgraph: int, opcodes: list[int], n_buffers: int = 1) -> bytes:
    ocs = []
    for code in opcodes:
        fb.OperatorCodeStart(b)
        fb.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        fb.OperatorCodeAddBuiltinCode(b, code)
        fb.OperatorCodeAddVersion(b, 1)
        ocs.append(fb.OperatorCodeEnd(b))
    bufs = []
    for _ in range(n_buffers):
        fb.BufferStart(b)
        bufs.append(fb.BufferEnd(b))
    v_oc, v_sg, v_buf = _offsets(b, ocs), _offsets(b, [subgraph]), _offsets(b, bufs)
    fb.ModelStart(b)
    fb.ModelAddVersion(b, 3)
    fb.ModelAddOperatorCodes(b, v_oc)
    fb.ModelAddSubgraphs(b, v_sg)
    fb.ModelAddBuffers(b, v_buf)
    b.Finish(fb.ModelEnd(b), file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())


def _offsets(b, offs: list[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for off in reversed(offs):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _tensor(b, name: int, shape: int) -> int:
    fb.TensorStart(b)
    fb.TensorAddShape(b, shape)
    fb.TensorAddName(b, name)
    fb.TensorAddType(b, 0)
    return fb.TensorEnd(b)


def _subgraph(b, tensors: int, ops: int | None, ins: list[int], outs: list[int]) -> int:
    v_in = b.CreateNumpyVector(np.asarray(ins, dtype=np.int32))
    v_out = b.CreateNumpyVector(np.asarray(outs, dtype=np.int32))
    fb.SubGraphStart(b)
    fb.SubGraphAddTensors(b, tensors)
    if ops is not None:
        fb.SubGraphAddOperators(b, ops)
    fb.SubGraphAddInputs(b, v_in)
    fb.SubGraphAddOutputs(b, v_out)
    return fb.SubGraphEnd(b)


def shared_shape(n_tensors: int = 8192, rank: int = 8192) -> bytes:
    """``n_tensors`` entries of the tensor vector point at one tensor whose shape has ``rank`` 1s."""
    b = flatbuffers.Builder(1 << 16)
    shape = b.CreateNumpyVector(np.ones(rank, dtype=np.int32))
    t = _tensor(b, b.CreateString("t"), shape)
    sg = _subgraph(b, _offsets(b, [t] * n_tensors), None, [0], [0])
    return _finish(b, sg, [])


def shared_inputs(n_ops: int = 8192, n_inputs: int = 8192) -> bytes:
    """``n_ops`` operator entries point at one ADD whose input list has ``n_inputs`` entries."""
    b = flatbuffers.Builder(1 << 16)
    shape = b.CreateNumpyVector(np.ones(1, dtype=np.int32))
    t = _tensor(b, b.CreateString("t"), shape)
    ins = b.CreateNumpyVector(np.zeros(n_inputs, dtype=np.int32))
    outs = b.CreateNumpyVector(np.zeros(1, dtype=np.int32))
    fb.OperatorStart(b)
    fb.OperatorAddOpcodeIndex(b, 0)
    fb.OperatorAddInputs(b, ins)
    fb.OperatorAddOutputs(b, outs)
    op = fb.OperatorEnd(b)
    sg = _subgraph(b, _offsets(b, [t]), _offsets(b, [op] * n_ops), [0], [0])
    return _finish(b, sg, [schema.fb.BuiltinOperator.ADD])


def shared_name(n_tensors: int = 16384, name_bytes: int = 65536) -> bytes:
    """``n_tensors`` entries point at one tensor with a ``name_bytes`` name."""
    b = flatbuffers.Builder(1 << 17)
    name = b.CreateString("n" * name_bytes)
    t = _tensor(b, name, b.CreateNumpyVector(np.ones(1, dtype=np.int32)))
    sg = _subgraph(b, _offsets(b, [t] * n_tensors), None, [0], [0])
    return _finish(b, sg, [])


def huge_rank(rank: int = 200_000, dim: int = 2, name: str = "huge") -> bytes:
    """One tensor with ``rank`` dimensions of ``dim`` (2: the product overflows; 1: it does not)."""
    b = flatbuffers.Builder(rank * 4 + 1024)
    t = _tensor(b, b.CreateString(name), b.CreateNumpyVector(np.full(rank, dim, dtype=np.int32)))
    sg = _subgraph(b, _offsets(b, [t]), None, [0], [0])
    return _finish(b, sg, [])


def nonfinite_numbers() -> bytes:
    """A quantized tensor whose scales are NaN / Infinity and a LEAKY_RELU with alpha NaN."""
    mb = ModelBuilder()
    sg = mb.subgraph()
    x = sg.tensor("input", [1, 4], "int8",
                  quant={"scale": [float("nan")], "zero_point": [0]})
    w = sg.tensor("per_channel", [2, 4], "int8", data=np.ones((2, 4), np.int8),
                  quant={"scale": [0.5, float("inf")], "zero_point": [0, 0]})
    y = sg.tensor("output", [1, 4], "int8", quant={"scale": [0.1], "zero_point": [0]})
    sg.op("LEAKY_RELU", [x], [y], {"alpha": float("nan")})
    sg.inputs, sg.outputs = [x, w], [y]
    return mb.to_bytes()


def control_char_name(bad_buffer: bool = True) -> bytes:
    """A tensor whose name carries a newline, ANSI escapes and a fake 'ok' line; with
    ``bad_buffer`` it also refers to a missing buffer, so the name lands in the error."""
    mb = ModelBuilder()
    sg = mb.subgraph(ANSI_NAME)
    x = sg.tensor(ANSI_NAME, [1, 2], buffer=99 if bad_buffer else None)
    sg.inputs, sg.outputs = [x], [x]
    return mb.to_bytes()


# name -> (builder, default kwargs): the hostile files the CLI acceptance test runs
BUILDERS = {
    "shared_shape": lambda: shared_shape(),
    "shared_inputs": lambda: shared_inputs(),
    "shared_name": lambda: shared_name(),
    "huge_rank_overflow": lambda: huge_rank(200_000, 2),
    "huge_rank_ones": lambda: huge_rank(200_000, 1),
    "huge_rank_50k": lambda: huge_rank(50_000, 3),
    "nonfinite_numbers": nonfinite_numbers,
    "control_char_name": control_char_name,
    "control_char_name_valid": lambda: control_char_name(False),
}
