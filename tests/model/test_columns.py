"""The reader's columnar numpy reads (core.model.verify.FlatView, core.model.reader) against the
flatbuffers package's generated accessors, and the malformed files the vectorised paths must still
refuse: lying vector lengths, offsets out of range and bad vtables deep inside big columns, and the
first problem in file order being the one reported."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from core.errors import ModelError
from core.model.builder import ModelBuilder
from core.model.reader import open_bytes, open_model
from core.model.samples import demo_model, multi_signature_heavy, synthetic_chain
from core.model.verify import FlatView, split_tuples
from tests.conftest import all_shared_models, shared_model_path
from tests.model import fuzz_reader
from tests.model.accessors import mismatch


def _odd_model() -> bytes:
    """Every irregular column at once: mixed ranks and operand counts, absent names and shapes,
    shape signatures with -1, names that are not UTF-8 or hold a NUL, per-channel quantization,
    omitted optional inputs, intermediates, a WHILE with its two subgraphs."""
    mb = ModelBuilder()
    sg = mb.subgraph("main\u00e9")
    t = sg.tensor
    x = t("x\u4e2d", [1, 4, 4, 3], shape_signature=[-1, 4, 4, 3])
    w = t(b"w\xff\xfe", [2, 3], "int8", data=np.arange(6, dtype=np.int8).reshape(2, 3),
          quant={"scale": [0.5, 0.25], "zero_point": [0, 1], "quantized_dimension": 0})
    s = t(b"nul\x00inside", [], "int32", data=np.array([7], np.int32))
    y = t("", [1, 4, 4, 2], "int8", quant={"scale": [0.1], "zero_point": [-3]})
    z = t("z", [1, 32])
    dyn = t("dyn", [-1, 3])
    sg.op("CONV_2D", [x, w, -1], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    sg.op("RESHAPE", [y, s], [z], intermediates=[dyn])
    sg.op("WHILE", [z], [z], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    sg.inputs, sg.outputs = [x], [z]
    for name in ("cond", "body"):
        sub = mb.subgraph(name)
        a = sub.tensor("a", [1, 32])
        sub.inputs, sub.outputs = [a], [a]
    return mb.to_bytes()


def _chain_bytes(n: int = 300) -> bytes:
    return synthetic_chain(n).to_bytes()


@pytest.mark.parametrize("name", ["demo", "chain", "odd"])
def test_built_models_read_as_the_generated_accessors_read_them(name):
    data = {"demo": lambda: demo_model().to_bytes(), "chain": _chain_bytes,
            "odd": _odd_model}[name]()
    model = open_bytes(data, f"{name}.tflite")
    assert model.op_count > 0
    assert mismatch(model, data) is None


def test_external_buffers_read_as_the_generated_accessors_read_them(tmp_path):
    path = multi_signature_heavy(1 << 20, layers=3).save(tmp_path / "ext.tflite",
                                                         external_buffers=True)
    data = path.read_bytes()
    with open_model(path) as model:
        assert sum(b.external for b in model.buffers) == 3
        assert mismatch(model, data) is None


@pytest.mark.parametrize("offset", [(1 << 64) - 16, 1 << 63, (1 << 32) + 4])
def test_an_external_buffer_offset_past_the_end_is_refused_at_any_width(tmp_path, offset):
    path = multi_signature_heavy(1 << 16, layers=2).save(tmp_path / "ext.tflite",
                                                         external_buffers=True)
    data = bytearray(path.read_bytes())
    view = FlatView(bytes(data), "x")
    fo = view.field_offsets("Buffer", "Offset", view.children_of[("Model", "Buffers")][0])
    at = int(fo[fo >= 0][-1])
    struct.pack_into("<Q", data, at, offset)
    msg = _refusal(data)
    assert f"at byte {offset}" in msg and "past the end of the file" in msg


@pytest.mark.parametrize("name", all_shared_models())
def test_real_models_read_as_the_generated_accessors_read_them(name):
    path = shared_model_path(name)
    data = path.read_bytes()
    with open_model(path) as model:
        assert mismatch(model, data) is None


def test_odd_names_decode_like_each_string_on_its_own():
    model = open_bytes(_odd_model(), "odd.tflite")
    names = [t.name for t in model.subgraphs[0].tensors]
    assert names == ["x\u4e2d", "w\ufffd\ufffd", "nul\x00inside", "", "z", "dyn"]
    assert model.subgraphs[0].name == "main\u00e9"


def test_split_tuples_cuts_like_slicing():
    rng = np.random.default_rng(5)
    for _ in range(50):
        counts = rng.integers(-1, 6, int(rng.integers(0, 40)))
        if rng.random() < 0.3:
            counts[:] = counts[0] if counts.size else 0  # one width only: the fast path
        values = rng.integers(-9, 9, int(np.maximum(counts, 0).sum()))
        expected, at = [], 0
        for c in counts.tolist():
            expected.append(None if c < 0 else tuple(values[at:at + c].tolist()))
            at += max(c, 0)
        assert split_tuples(values, counts) == expected


def test_word_reads_at_aligned_and_unaligned_positions():
    raw = bytes(np.random.default_rng(1).integers(0, 256, 203, dtype=np.uint8))
    data = struct.pack("<I", 8) + b"TFL3" + raw
    view = FlatView.__new__(FlatView)  # the reads only, without verifying these random bytes
    view.u8 = np.frombuffer(data, np.uint8)
    view.size = len(data)
    view._words16 = view.u8[: view.size & ~1].view("<u2")
    view._words32 = view.u8[: view.size & ~3].view("<u4")
    for pos in (np.arange(0, 200, 4), np.arange(1, 200, 3), np.array([0, 2, 5]), np.arange(2, 60, 2)):
        assert view.u32(pos).tolist() == [struct.unpack_from("<I", data, p)[0] for p in pos]
        assert view.i32(pos).tolist() == [struct.unpack_from("<i", data, p)[0] for p in pos]
        assert view.u16(pos).tolist() == [struct.unpack_from("<H", data, p)[0] for p in pos]


# ----------------------------------------------------------------- malformed, deep in big columns
def _column(data: bytes, table: str) -> np.ndarray:
    parent = {"Tensor": ("SubGraph", "Tensors"), "Operator": ("SubGraph", "Operators")}[table]
    return FlatView(data, "x").children_of[parent][0]


def _vector_at(data: bytes, table: str, field: str, row: int) -> tuple[int, int]:
    """(position of the length word, length) of one table's vector field."""
    view = FlatView(data, "x")
    pos = _column(data, table)[row:row + 1]
    start, n = view.vectors(table, field, pos)
    return int(start[0]) - 4, int(n[0])


def _refusal(data: bytes | bytearray) -> str:
    with pytest.raises(ModelError) as e:
        open_bytes(bytes(data), "bad.tflite")
    msg = str(e.value)
    assert msg.startswith("bad.tflite: ") and "\n" not in msg
    return msg


@pytest.mark.parametrize("field", ["Inputs", "Outputs"])
def test_a_lying_operand_vector_near_the_end_is_refused(field):
    data = bytearray(_chain_bytes())
    at, _ = _vector_at(bytes(data), "Operator", field, 297)
    struct.pack_into("<I", data, at, 0x3FFFFFFF)
    msg = _refusal(data)
    assert f"field {field} of a Operator table" in msg and "the file has only" in msg


def test_a_lying_shape_vector_near_the_end_is_refused():
    data = bytearray(_chain_bytes())
    at, n = _vector_at(bytes(data), "Tensor", "Shape", 290)
    assert n in (1, 2)  # [width] or [1, width]
    struct.pack_into("<I", data, at, len(data))
    assert "field Shape of a Tensor table" in _refusal(data)


def test_a_name_offset_past_the_end_is_refused():
    data = bytearray(_chain_bytes())
    view = FlatView(bytes(data), "x")
    fpos = int(view.field_offsets("Tensor", "Name", _column(bytes(data), "Tensor")[-1:])[0])
    struct.pack_into("<I", data, fpos, len(data))
    msg = _refusal(data)
    assert "field Name of a Tensor table" in msg and "truncated" in msg


@pytest.mark.parametrize("vtable_size", [3, 2, 0x7FFF])
def test_a_bad_vtable_deep_in_the_operators_is_refused(vtable_size):
    data = bytearray(_chain_bytes())
    pos = int(_column(bytes(data), "Operator")[250])
    vt = pos - struct.unpack_from("<i", data, pos)[0]
    # the chain's operators share a few vtables: give this one its own, copied to the file's end
    size = struct.unpack_from("<H", data, vt)[0]
    own = len(data)
    data += data[vt:vt + size]
    struct.pack_into("<i", data, pos, pos - own)
    struct.pack_into("<H", data, own, vtable_size)
    msg = _refusal(data)
    assert "vtable" in msg and "Operator table" in msg


@pytest.mark.parametrize("keep", [0.95, 0.8, 0.6])
def test_a_chain_cut_inside_its_columns_is_refused(keep):
    data = _chain_bytes()
    msg = _refusal(data[:int(len(data) * keep)])
    assert "truncated" in msg or "corrupt" in msg


def _chain_builder(n: int = 40) -> tuple[ModelBuilder, object]:
    mb = synthetic_chain(n)
    return mb, mb.subgraphs[0]


def test_of_two_bad_operators_the_first_is_reported():
    mb, sg = _chain_builder()
    sg.ops[30].inputs = [sg.ops[30].inputs[0], 999]
    sg.ops[12].outputs = [-7]
    msg = _refusal(mb.to_bytes())
    assert "output of operator 12 (" in msg and "refers to tensor -7" in msg


def test_a_bad_operator_is_reported_before_a_bad_subgraph_output():
    mb, sg = _chain_builder()
    sg.outputs = [5000]
    sg.ops[39].inputs = [sg.ops[39].inputs[0], 4000]
    assert "input of operator 39 (ADD) of subgraph 0 refers to tensor 4000" in _refusal(
        mb.to_bytes())


def test_of_two_bad_tensors_the_first_is_reported():
    mb, sg = _chain_builder()
    sg.tensors[25].shape = [1, -5]
    sg.tensors[20].buffer = 77
    assert "refers to buffer 77" in _refusal(mb.to_bytes())
    sg.tensors[20].buffer = 0
    assert "negative dimension -5" in _refusal(mb.to_bytes())
    sg.tensors[10].shape = [2 ** 31 - 1] * 3
    assert "overflows" in _refusal(mb.to_bytes())


def test_a_dynamic_dimension_counts_no_bytes_and_is_not_refused():
    mb, sg = _chain_builder()
    sg.tensors[15].shape = [-1, 8]
    sg.tensors[16].shape = [-1, -7]  # the runtime stops at the first -1, and so does the reader
    model = open_bytes(mb.to_bytes(), "dyn.tflite")
    assert model.subgraphs[0].tensors[15].bytes == 0
    assert model.subgraphs[0].tensors[16].shape == (-1, -7)


def test_seeded_mutations_of_a_chain_parse_as_the_accessors_read_or_are_refused():
    """fuzz_reader's mutators on a 300-op chain: every case is refused with one line or reads
    exactly as the generated accessors read the same bytes."""
    base = fuzz_reader.Base("chain", _chain_bytes())
    kinds = ["bit flips", "byte sets", "truncation", "int32 huge/negative", "vtable redirect",
             "inflated vector length", "shared/cyclic offsets", "union type", "scalar fields"]
    outcomes = {"parsed": 0, "refused": 0}
    for i in range(180):
        kind = kinds[i % len(kinds)]
        data = bytes(fuzz_reader.KINDS[kind](np.random.default_rng([19, i]), base))
        try:
            model = open_bytes(data, "case.tflite")
        except ModelError as e:
            assert fuzz_reader.check_message(str(e), "case.tflite") is None, (kind, str(e))
            outcomes["refused"] += 1
            continue
        assert mismatch(model, data) is None, (i, kind)
        outcomes["parsed"] += 1
    assert outcomes["parsed"] >= 20 and outcomes["refused"] >= 20, outcomes
