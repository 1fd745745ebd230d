"""Untrusted files: every malformed case gets ModelError naming the file and the problem."""
from __future__ import annotations

import struct
import zipfile

import numpy as np
import pytest

from core.errors import ModelError
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from core.model.samples import demo_model
from core.model.verify import FlatView


def _error(path) -> str:
    with pytest.raises(ModelError) as ei:
        open_model(path)
    msg = str(ei.value)
    assert msg.startswith(str(path)), msg  # names the file
    return msg


@pytest.fixture
def demo_bytes() -> bytes:
    return demo_model().to_bytes()


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.tflite")


def test_directory(tmp_path):
    d = tmp_path / "saved_model"
    d.mkdir()
    assert "is a directory" in _error(d)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.tflite"
    p.write_bytes(b"")
    assert "empty" in _error(p)


def test_zip_file(tmp_path, demo_bytes):
    p = tmp_path / "bundle.tflite"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("model.tflite", demo_bytes)
    assert "zip archive" in _error(p)


def test_hdf5_file(tmp_path):
    p = tmp_path / "keras.tflite"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert "HDF5" in _error(p)


def test_wrong_identifier(tmp_path, demo_bytes):
    p = tmp_path / "other.tflite"
    p.write_bytes(demo_bytes[:4] + b"ABCD" + demo_bytes[8:])
    msg = _error(p)
    assert "'ABCD'" in msg and "TFL3" in msg


def test_tiny_file(tmp_path):
    p = tmp_path / "tiny.tflite"
    p.write_bytes(b"\x10\0\0\0TF")
    assert "too small" in _error(p)


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_truncated_file(tmp_path, demo_bytes, keep):
    p = tmp_path / "cut.tflite"
    p.write_bytes(demo_bytes[: int(len(demo_bytes) * keep)])
    msg = _error(p)
    assert "truncated" in msg or "corrupt" in msg


def test_root_offset_past_the_end(tmp_path, demo_bytes):
    p = tmp_path / "root.tflite"
    p.write_bytes(struct.pack("<I", len(demo_bytes) + 100) + demo_bytes[4:])
    msg = _error(p)
    assert "root table offset" in msg and "truncated" in msg


def _tensor_positions(data: bytes) -> np.ndarray:
    return FlatView(data, "x").children_of[("SubGraph", "Tensors")][0]


def test_lying_vector_length_is_rejected_without_allocating(tmp_path, demo_bytes):
    data = bytearray(demo_bytes)
    view = FlatView(bytes(data), "x")
    start, n = view.vectors("Tensor", "Shape", _tensor_positions(bytes(data))[:1])
    struct.pack_into("<I", data, int(start[0]) - 4, 0x7FFFFFFF)  # 2 billion dims
    p = tmp_path / "lying.tflite"
    p.write_bytes(bytes(data))
    msg = _error(p)
    assert "Shape" in msg and "Tensor" in msg and "the file has only" in msg


def test_vtable_offset_outside_file(tmp_path, demo_bytes):
    data = bytearray(demo_bytes)
    pos = int(_tensor_positions(demo_bytes)[2])
    struct.pack_into("<i", data, pos, -(10 ** 8))  # soffset to a vtable far past the end
    p = tmp_path / "vtable.tflite"
    p.write_bytes(bytes(data))
    assert "vtable" in _error(p)


def _saved(tmp_path, mb: ModelBuilder, name: str):
    return mb.save(tmp_path / name)


def _refused(tmp_path, mb: ModelBuilder, name: str) -> str:
    """The reader's message for a built model LiteRT itself refuses to load or allocate: the
    reader turns away only what the runtime could not run either."""
    from ai_edge_litert.interpreter import Interpreter
    path = _saved(tmp_path, mb, name)
    with pytest.raises((RuntimeError, ValueError)):
        Interpreter(model_path=str(path)).allocate_tensors()
    return _error(path)


def _chain() -> tuple[ModelBuilder, object]:
    mb = ModelBuilder()
    sg = mb.subgraph()
    return mb, sg


def test_operator_refers_to_missing_tensor(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("x", [1, 2])
    sg.op("RELU", [x], [7])
    sg.inputs, sg.outputs = [x], [x]
    msg = _refused(tmp_path, mb, "badtensor.tflite")
    assert "refers to tensor 7" in msg and "RELU" in msg


def test_subgraph_input_refers_to_missing_tensor(tmp_path):
    mb, sg = _chain()
    sg.tensor("x", [1, 2])
    sg.inputs, sg.outputs = [3], [0]
    assert "input of subgraph 0 refers to tensor 3" in _refused(tmp_path, mb, "in.tflite")


def test_tensor_refers_to_missing_buffer(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("x", [1, 2], buffer=42)
    sg.inputs, sg.outputs = [x], [x]
    assert "buffer 42" in _refused(tmp_path, mb, "buf.tflite")


def test_operator_code_index_out_of_range(tmp_path, demo_bytes):
    data = bytearray(demo_bytes)
    view = FlatView(demo_bytes, "x")
    ops = view.children_of[("SubGraph", "Operators")][0]
    fpos = view.field_offsets("Operator", "OpcodeIndex", ops[:1])
    if fpos[0] < 0:  # opcode 0 is the default and may be omitted: patch the second op instead
        fpos = view.field_offsets("Operator", "OpcodeIndex", ops[1:2])
    struct.pack_into("<I", data, int(fpos[0]), 999)
    p = tmp_path / "opcode.tflite"
    p.write_bytes(bytes(data))
    assert "operator code 999" in _error(p)


def test_shape_product_overflow(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("huge", [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1])
    sg.inputs, sg.outputs = [x], [x]
    assert "overflows" in _refused(tmp_path, mb, "overflow.tflite")


def test_negative_dimension(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("neg", [1, -5])
    sg.inputs, sg.outputs = [x], [x]
    assert "negative dimension" in _refused(tmp_path, mb, "neg.tflite")


def test_control_flow_subgraph_index_out_of_range(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("x", [1])
    y = sg.tensor("y", [1])
    sg.op("WHILE", [x], [y], {"cond_subgraph_index": 5, "body_subgraph_index": 6})
    sg.inputs, sg.outputs = [x], [y]
    assert "cond_subgraph_index is 5" in _refused(tmp_path, mb, "while.tflite")


def test_external_buffer_past_the_end(tmp_path):
    from core.model.samples import weight_heavy
    p = weight_heavy(4 * 32 * 32, layers=1).save(tmp_path / "ext.tflite", external_buffers=True)
    data = p.read_bytes()
    p.write_bytes(data[:-100])
    assert "past the end of the file" in _error(p)


def test_model_without_subgraphs(tmp_path):
    mb = ModelBuilder()  # no subgraph at all: nothing to run or analyse
    assert "no subgraph" in _refused(tmp_path, mb, "empty.tflite")


def test_while_without_its_options(tmp_path):
    mb, sg = _chain()
    x = sg.tensor("x", [1])
    y = sg.tensor("y", [1])
    sg.op("WHILE", [x], [y], {"then_subgraph_index": 0}, options_table="IfOptions")
    sg.inputs, sg.outputs = [x], [y]
    msg = _refused(tmp_path, mb, "while.tflite")
    assert "WHILE" in msg and "does not say which subgraphs it runs" in msg and "IfOptions" in msg
