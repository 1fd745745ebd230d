"""A small writer of valid .tflite files, on the flatbuffers Builder and the generated schema.

Used for the embedded demo model, test fixtures and the synthetic huge graphs of the benchmarks::

    mb = ModelBuilder(description="tiny")
    sg = mb.subgraph("main")
    x = sg.tensor("x", [1, 4])
    c = sg.tensor("c", [4], data=np.ones(4, np.float32))
    y = sg.tensor("y", [1, 4])
    sg.op("ADD", [x, c], [y], {"fused_activation_function": "RELU"})
    sg.inputs, sg.outputs = [x], [y]
    mb.save("tiny.tflite")

Weights can be stored the way >2 GB models store them (``external_buffers=True``): after the
flatbuffer, referenced by the Buffer table's ``offset``/``size`` fields (64-bit, so past 4 GiB).
``StreamedWeights`` are generated while the file is written, so a GB-size test model never sits
in the builder's memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import flatbuffers
import numpy as np

from core.fileio import atomic_path
from core.model import ops as op_facts
from core.model import options as opts
from core.model import schema
from core.model.schema import fb

_DTYPE_CODES = {np_name: getattr(fb.TensorType, tfl) for tfl, (np_name, _b) in
                schema.TENSOR_TYPES.items() if hasattr(fb.TensorType, tfl)}
_ALIGN = 16
_EXTERNAL_PLACEHOLDER = 1 << 40


@dataclass(frozen=True)
class StreamedWeights:
    """Seeded float32 weights of ``shape``, made chunk by chunk while a model is written: one
    block of normal samples, each chunk a randomly scaled copy of it (a GB model is written at
    disk speed, not at the random generator's)."""
    shape: tuple[int, ...]
    seed: int = 0
    scale: float = 1.0

    @property
    def nbytes(self) -> int:
        return 4 * int(np.prod(self.shape, dtype=np.int64))

    def chunks(self, step: int = 1 << 22):
        rng = np.random.default_rng(self.seed)
        left = self.nbytes // 4
        block = rng.standard_normal(min(left, step), dtype=np.float32) * np.float32(self.scale)
        while left:
            k = min(left, step)
            yield (block[:k] * np.float32(rng.uniform(0.5, 1.5))).tobytes()
            left -= k

    def tobytes(self) -> bytes:
        return b"".join(self.chunks())


@dataclass
class _Tensor:
    name: str
    shape: list[int]
    dtype: str
    buffer: int
    quant: dict | None
    shape_signature: list[int] | None
    variable: bool
    sparse: bool = False


@dataclass
class _Op:
    opcode: int
    inputs: list[int]
    outputs: list[int]
    options: tuple[str, dict] | None
    custom_options: bytes | None
    intermediates: list[int]


@dataclass
class SubgraphBuilder:
    model: "ModelBuilder"
    name: str
    tensors: list[_Tensor] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, name: str, shape: Sequence[int], dtype: str = "float32", data=None,
               quant: dict | None = None, shape_signature: Sequence[int] | None = None,
               variable: bool = False, buffer: int | None = None, sparse: bool = False) -> int:
        """Add a tensor; ``data`` (array or bytes) makes it constant; returns its index.

        ``sparse`` stores it in the sparse format with every dimension DENSE (the values as
        they are, plus SparsityParameters), the simplest encoding a DENSIFY op unpacks."""
        if dtype not in _DTYPE_CODES:
            raise ValueError(f"unknown dtype {dtype!r}")
        if buffer is None:
            buffer = self.model.buffer(data) if data is not None else 0
        self.tensors.append(_Tensor(name, list(shape), dtype, buffer, quant,
                                    list(shape_signature) if shape_signature is not None else None,
                                    variable, sparse))
        return len(self.tensors) - 1

    def op(self, op: str, inputs: Sequence[int], outputs: Sequence[int],
           options: dict[str, Any] | None = None, *, options_table: str | None = None,
           custom_code: str | None = None, custom_options: bytes | None = None,
           version: int = 1, intermediates: Sequence[int] = ()) -> int:
        """Add an operator. ``op`` is a builtin name ("CONV_2D") or "CUSTOM" with custom_code."""
        code = self.model.opcode(op, custom_code, version)
        packed = None
        if options is not None or (op != "CUSTOM" and options_table):
            packed = (options_table or op_facts.options_table(op), dict(options or {}))
        self.ops.append(_Op(code, list(inputs), list(outputs), packed, custom_options,
                            list(intermediates)))
        return len(self.ops) - 1


class ModelBuilder:
    def __init__(self, description: str = "", schema_version: int = 3):
        self.description = description
        self.schema_version = schema_version
        self.buffers: list[Any] = [None]  # buffer 0 is the empty sentinel, as converters write
        self.opcodes: list[tuple[int, str | None, int]] = []
        self.subgraphs: list[SubgraphBuilder] = []
        self.signatures: list[tuple[str, int, dict, dict]] = []
        self.metadata: list[tuple[str, int]] = []

    def buffer(self, data) -> int:
        if isinstance(data, np.ndarray):
            data = np.ascontiguousarray(data)
        self.buffers.append(data)
        return len(self.buffers) - 1

    def opcode(self, op: str, custom_code: str | None = None, version: int = 1) -> int:
        code = getattr(fb.BuiltinOperator, op, None)
        if code is None:
            raise ValueError(f"unknown builtin operator {op!r}")
        if op == "CUSTOM" and not custom_code:
            raise ValueError("a CUSTOM op needs a custom_code")
        key = (code, custom_code, version)
        if key not in self.opcodes:
            self.opcodes.append(key)
        return self.opcodes.index(key)

    def subgraph(self, name: str = "main") -> SubgraphBuilder:
        sg = SubgraphBuilder(self, name)
        self.subgraphs.append(sg)
        return sg

    def signature(self, key: str, subgraph: int, inputs: dict[str, int],
                  outputs: dict[str, int]) -> None:
        self.signatures.append((key, subgraph, dict(inputs), dict(outputs)))

    def add_metadata(self, name: str, data: bytes) -> None:
        self.metadata.append((name, self.buffer(bytes(data))))

    def min_runtime_version(self, version: str) -> None:
        self.add_metadata("min_runtime_version", version.encode().ljust(16, b"\0"))

    # -- serialisation --
    def to_bytes(self) -> bytes:
        return bytes(self._flatbuffer(None))

    def save(self, path: str | os.PathLike, external_buffers: bool = False) -> Path:
        """Write atomically (temp file + rename); with external_buffers, weights go past the
        flatbuffer and Buffer.offset/size point at them."""
        path = Path(path)
        sizes = [_nbytes(b) for b in self.buffers]
        with atomic_path(path, allow_model_overwrite=True) as tmp, open(tmp, "wb") as fh:
            if not external_buffers:
                fh.write(self._flatbuffer(None))
            else:
                placeholder = self._flatbuffer([_EXTERNAL_PLACEHOLDER] * len(sizes))
                offsets, pos = [], _align(len(placeholder))
                for s in sizes:
                    offsets.append(pos if s else 0)
                    pos = _align(pos + s)
                head = self._flatbuffer(offsets)
                assert len(head) == len(placeholder)
                fh.write(head)
                for off, b in zip(offsets, self.buffers, strict=False):
                    if off:
                        fh.write(b"\0" * (off - fh.tell()))
                        _write_data(fh, b)
        return path

    def _flatbuffer(self, external: list[int] | None) -> bytearray:
        b = flatbuffers.Builder(1024 + sum(_nbytes(x) for x in self.buffers) if external is None
                                else 1 << 16)
        # buffers (data first: the builder writes back to front)
        buf_offs = []
        for i, data in enumerate(self.buffers):
            data_off = None
            if external is None and data is not None and _nbytes(data):
                raw = (data.tobytes() if isinstance(data, (np.ndarray, StreamedWeights))
                       else bytes(data))
                b.StartVector(1, len(raw), _ALIGN)
                b.head -= len(raw)
                b.Bytes[b.head:b.head + len(raw)] = raw
                data_off = b.EndVector()
            fb.BufferStart(b)
            if data_off is not None:
                fb.BufferAddData(b, data_off)
            if external is not None and _nbytes(data):
                fb.BufferAddOffset(b, external[i])
                fb.BufferAddSize(b, _nbytes(data))
            buf_offs.append(fb.BufferEnd(b))
        # operator codes
        oc_offs = []
        for code, custom, version in self.opcodes:
            cc = b.CreateString(custom) if custom else None
            fb.OperatorCodeStart(b)
            fb.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            fb.OperatorCodeAddBuiltinCode(b, code)
            fb.OperatorCodeAddVersion(b, version)
            if cc is not None:
                fb.OperatorCodeAddCustomCode(b, cc)
            oc_offs.append(fb.OperatorCodeEnd(b))
        sg_offs = [self._subgraph(b, sg) for sg in self.subgraphs]
        sig_offs = []
        for key, si, ins, outs in self.signatures:
            maps = []
            for d in (ins, outs):
                tms = []
                for name, ti in d.items():
                    n = b.CreateString(name)
                    fb.TensorMapStart(b)
                    fb.TensorMapAddName(b, n)
                    fb.TensorMapAddTensorIndex(b, ti)
                    tms.append(fb.TensorMapEnd(b))
                maps.append(_vector(b, tms))
            k = b.CreateString(key)
            fb.SignatureDefStart(b)
            fb.SignatureDefAddInputs(b, maps[0])
            fb.SignatureDefAddOutputs(b, maps[1])
            fb.SignatureDefAddSignatureKey(b, k)
            fb.SignatureDefAddSubgraphIndex(b, si)
            sig_offs.append(fb.SignatureDefEnd(b))
        md_offs = []
        for name, bi in self.metadata:
            n = b.CreateString(name)
            fb.MetadataStart(b)
            fb.MetadataAddName(b, n)
            fb.MetadataAddBuffer(b, bi)
            md_offs.append(fb.MetadataEnd(b))
        desc = b.CreateString(self.description)
        v_oc, v_sg, v_buf = _vector(b, oc_offs), _vector(b, sg_offs), _vector(b, buf_offs)
        v_sig, v_md = _vector(b, sig_offs), _vector(b, md_offs)
        fb.ModelStart(b)
        fb.ModelAddVersion(b, self.schema_version)
        fb.ModelAddOperatorCodes(b, v_oc)
        fb.ModelAddSubgraphs(b, v_sg)
        fb.ModelAddDescription(b, desc)
        fb.ModelAddBuffers(b, v_buf)
        fb.ModelAddMetadata(b, v_md)
        fb.ModelAddSignatureDefs(b, v_sig)
        b.Finish(fb.ModelEnd(b), file_identifier=schema.FILE_IDENTIFIER)
        return b.Output()

    def _subgraph(self, b, sg: SubgraphBuilder) -> int:
        t_offs = []
        for t in sg.tensors:
            name = b.CreateString(t.name)
            shape = b.CreateNumpyVector(np.asarray(t.shape, dtype=np.int32))
            sig = (b.CreateNumpyVector(np.asarray(t.shape_signature, dtype=np.int32))
                   if t.shape_signature is not None else None)
            q = _quant(b, t.quant) if t.quant else None
            sp = _dense_sparsity(b, t.shape) if t.sparse else None
            fb.TensorStart(b)
            fb.TensorAddShape(b, shape)
            fb.TensorAddType(b, _DTYPE_CODES[t.dtype])
            fb.TensorAddBuffer(b, t.buffer)
            fb.TensorAddName(b, name)
            if q is not None:
                fb.TensorAddQuantization(b, q)
            if t.variable:
                fb.TensorAddIsVariable(b, True)
            if sig is not None:
                fb.TensorAddShapeSignature(b, sig)
            if sp is not None:
                fb.TensorAddSparsity(b, sp)
            t_offs.append(fb.TensorEnd(b))
        o_offs = []
        for op in sg.ops:
            ins = b.CreateNumpyVector(np.asarray(op.inputs, dtype=np.int32))
            outs = b.CreateNumpyVector(np.asarray(op.outputs, dtype=np.int32))
            inter = (b.CreateNumpyVector(np.asarray(op.intermediates, dtype=np.int32))
                     if op.intermediates else None)
            packed = opts.encode(b, *op.options) if op.options else None
            custom = (b.CreateNumpyVector(np.frombuffer(op.custom_options, dtype=np.uint8))
                      if op.custom_options else None)
            fb.OperatorStart(b)
            fb.OperatorAddOpcodeIndex(b, op.opcode)
            fb.OperatorAddInputs(b, ins)
            fb.OperatorAddOutputs(b, outs)
            if inter is not None:
                fb.OperatorAddIntermediates(b, inter)
            if packed is not None:
                union, code, off = packed
                if union == "BuiltinOptions":
                    fb.OperatorAddBuiltinOptionsType(b, code)
                    fb.OperatorAddBuiltinOptions(b, off)
                else:
                    fb.OperatorAddBuiltinOptions2Type(b, code)
                    fb.OperatorAddBuiltinOptions2(b, off)
            if custom is not None:
                fb.OperatorAddCustomOptions(b, custom)
            o_offs.append(fb.OperatorEnd(b))
        v_t, v_o = _vector(b, t_offs), _vector(b, o_offs)
        v_in = b.CreateNumpyVector(np.asarray(sg.inputs, dtype=np.int32))
        v_out = b.CreateNumpyVector(np.asarray(sg.outputs, dtype=np.int32))
        name = b.CreateString(sg.name)
        fb.SubGraphStart(b)
        fb.SubGraphAddTensors(b, v_t)
        fb.SubGraphAddInputs(b, v_in)
        fb.SubGraphAddOutputs(b, v_out)
        fb.SubGraphAddOperators(b, v_o)
        fb.SubGraphAddName(b, name)
        return fb.SubGraphEnd(b)


def _quant(b, q: dict) -> int:
    scale = b.CreateNumpyVector(np.asarray(q.get("scale", []), dtype=np.float32))
    zp = b.CreateNumpyVector(np.asarray(q.get("zero_point", []), dtype=np.int64))
    mn = b.CreateNumpyVector(np.asarray(q["min"], dtype=np.float32)) if "min" in q else None
    mx = b.CreateNumpyVector(np.asarray(q["max"], dtype=np.float32)) if "max" in q else None
    fb.QuantizationParametersStart(b)
    if mn is not None:
        fb.QuantizationParametersAddMin(b, mn)
    if mx is not None:
        fb.QuantizationParametersAddMax(b, mx)
    fb.QuantizationParametersAddScale(b, scale)
    fb.QuantizationParametersAddZeroPoint(b, zp)
    fb.QuantizationParametersAddQuantizedDimension(b, int(q.get("quantized_dimension", 0)))
    return fb.QuantizationParametersEnd(b)


def _dense_sparsity(b, shape: list[int]) -> int:
    """SparsityParameters: traversal in order, every dimension DENSE of its size."""
    dims = []
    for d in shape:
        fb.DimensionMetadataStart(b)
        fb.DimensionMetadataAddFormat(b, fb.DimensionType.DENSE)
        fb.DimensionMetadataAddDenseSize(b, int(d))
        dims.append(fb.DimensionMetadataEnd(b))
    v_dims = _vector(b, dims)
    order = b.CreateNumpyVector(np.arange(len(shape), dtype=np.int32))
    fb.SparsityParametersStart(b)
    fb.SparsityParametersAddTraversalOrder(b, order)
    fb.SparsityParametersAddDimMetadata(b, v_dims)
    return fb.SparsityParametersEnd(b)


def _vector(b, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _nbytes(data) -> int:
    if data is None:
        return 0
    return data.nbytes if isinstance(data, (np.ndarray, StreamedWeights)) else len(data)


def _align(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _write_data(fh, data) -> None:
    if isinstance(data, StreamedWeights):
        for chunk in data.chunks():
            fh.write(chunk)
    elif isinstance(data, np.ndarray):
        flat = data.reshape(-1).view(np.uint8)
        step = 1 << 26
        for start in range(0, flat.size, step):
            fh.write(flat[start:start + step].tobytes())
    else:
        fh.write(data)


def rewrite(data: bytes, edit) -> bytes:
    """Unpack a whole model into the schema's object tree, let ``edit(model_t)`` change it, and
    pack it again. For surgical edits of an existing model (the quantization pre-pass), where
    rebuilding through ``ModelBuilder`` would have to re-encode every field it does not know.
    Models with weights past the flatbuffer (>2 GB) are not supported by the object API."""
    model_t = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    edit(model_t)
    b = flatbuffers.Builder(len(data) + (1 << 16))
    b.Finish(model_t.Pack(b), file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())
