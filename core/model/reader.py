"""Open a .tflite file zero-copy: mmap, verify every offset, then read through the generated schema.

``open_model(path)`` is the one entry point. It never raises anything but ``ModelError`` for a bad
file (plus OSError subclasses turned into ModelError with a clear message), never allocates more
than the file's structure needs and never hangs on lying lengths: ``core.model.verify`` checks the whole
flatbuffer first, and the semantic checks here (indices, shapes) run while reading.
"""
from __future__ import annotations

import mmap
import os
import struct
import time
from pathlib import Path

import numpy as np

from core.errors import ModelError
from core.format import printable, shape_list
from core.model import ops as op_facts
from core.model import options as opts
from core.model import schema
from core.model.schema import fb
from core.model.types import (
    Buffer,
    Metadata,
    Model,
    Operator,
    Quantization,
    Signature,
    Subgraph,
    Tensor,
)
from core.model.verify import FlatView, _ranges, verify

_MAGIC = {
    b"PK\x03\x04": "a zip archive, not a .tflite flatbuffer (a MediaPipe .task bundle or zipped "
                   "model? extract the .tflite inside it)",
    b"\x89HDF": "an HDF5 file (a Keras .h5 model?), not a .tflite flatbuffer: convert it first",
    b"GGUF": "a GGUF file, not a .tflite flatbuffer",
    b"\x08\x01\x12": "probably an ONNX/protobuf file, not a .tflite flatbuffer",
    b"\x7fELF": "a shared library/executable, not a .tflite flatbuffer",
}

# What flexbuffers' readers raise on bytes that are not a flexbuffer (it checks widths with assert).
_FLEXBUFFER_ERRORS = (ValueError, KeyError, IndexError, TypeError, AssertionError, struct.error,
                      OverflowError)
_MAX_TENSOR_BYTES = 1 << 48  # larger than any real tensor; guards products that would overflow


def _sniff(path: str, head: bytes, size: int) -> None:
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ModelError(path, f"this is {what}")
    if size < 8:
        raise ModelError(path, f"file is too small to be a TFLite model ({size} bytes)")
    ident = head[4:8]
    if ident != schema.FILE_IDENTIFIER:
        if head[:4] == schema.FILE_IDENTIFIER or head[8:12] == schema.FILE_IDENTIFIER:
            raise ModelError(path, "size-prefixed or shifted flatbuffer: 'TFL3' is not at byte 4")
        shown = ident.decode("latin-1").encode("unicode_escape").decode()
        raise ModelError(path, f"not a TFLite model: the file identifier at byte 4 is '{shown}', "
                               "expected 'TFL3'", 4)


def open_model(path: str | os.PathLike, *, use_mmap: bool = True) -> Model:
    """Open, verify and read a .tflite model. Raises ModelError on any problem with the file."""
    t0 = time.perf_counter()
    p = Path(path)
    spath = str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelError(spath, "no such file") from None
    except PermissionError:
        raise ModelError(spath, "permission denied") from None
    except OSError as e:
        raise ModelError(spath, f"cannot open: {e.strerror or e}") from None
    if p.is_dir():
        raise ModelError(spath, "is a directory, not a .tflite file (a SavedModel directory? "
                                "convert it with TFLiteConverter first)")
    if st.st_size == 0:
        raise ModelError(spath, "file is empty (0 bytes)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
            _sniff(spath, head, st.st_size)
            data: mmap.mmap | bytes
            if use_mmap:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                closer = data.close
            else:
                fh.seek(0)
                data = fh.read()
                closer = None
    except ModelError:
        raise
    except OSError as e:
        raise ModelError(spath, f"cannot read: {e.strerror or e}") from None
    try:
        model = read_model(data, spath, st.st_size)
    except BaseException:
        if closer:
            try:
                closer()
            except BufferError:
                pass
        raise
    model._closer = closer
    model.parse_seconds = time.perf_counter() - t0
    return model


def open_bytes(data: bytes, name: str = "<memory>") -> Model:
    if len(data) == 0:
        raise ModelError(name, "file is empty (0 bytes)")
    _sniff(name, bytes(data[:16]), len(data))
    return read_model(data, name, len(data))


def read_model(data, path: str, size: int) -> Model:
    view = verify(data, path)
    m = fb.Model.GetRootAs(data, 0)
    return _Reader(m, view, data, path, size).read()


class _Reader:
    """Bulk columns (operators, tensors) come from the verified FlatView in numpy gathers; the
    small, irregular parts (buffers, operator codes, signatures, metadata, options) through the
    generated accessors."""

    def __init__(self, m, view: FlatView, data, path: str, size: int):
        self.m, self.view, self.data, self.path, self.size = m, view, data, path, size

    def err(self, problem: str, offset: int | None = None) -> ModelError:
        return ModelError(self.path, f"invalid model: {problem}", offset)

    def read(self) -> Model:
        m = self.m
        buffers = self._buffers()
        self.nbuffers = len(buffers)
        self.buffers = buffers
        self.opcodes = self._opcodes()
        subgraphs = self._subgraphs()
        if not subgraphs:  # the runtime refuses these too; every analysis starts at subgraph 0
            raise self.err("the model has no subgraph (a TFLite model needs at least one)")
        signatures = self._signatures(subgraphs)
        metadata = []
        min_rt = None
        for i in range(m.MetadataLength()):
            md = m.Metadata(i)
            name = (md.Name() or b"").decode("utf-8", "replace")
            b = md.Buffer()
            if b >= self.nbuffers:
                raise self.err(f"metadata '{_short(name)}' refers to buffer {b} but the model has "
                               f"{self.nbuffers} buffers")
            metadata.append(Metadata(name, b))
            if name == "min_runtime_version":
                raw = bytes(_buffer_view(self.data, buffers[b])).split(b"\0", 1)[0]
                min_rt = raw.decode("ascii", "replace") or None
        desc = m.Description()
        return Model(path=self.path, size_bytes=self.size, schema_version=m.Version(),
                     description=desc.decode("utf-8", "replace") if desc else "",
                     subgraphs=subgraphs, buffers=buffers, signatures=signatures,
                     metadata=metadata, min_runtime_version=min_rt, _data=self.data)

    def _buffers(self) -> list[Buffer]:
        m = self.m
        out = []
        for i in range(m.BuffersLength()):
            b = m.Buffers(i)
            off, size = b.Offset(), b.Size()
            if off > 1:  # offset 1 is a placeholder some writers use for "no data"
                if off + size > self.size:
                    raise ModelError(self.path, f"corrupt or truncated model: buffer {i} stores "
                                                f"{size} bytes at byte {off}, past the end of the "
                                                f"file ({self.size} bytes)")
                out.append(Buffer(i, size, off if size else None, True))
                continue
            n = b.DataLength()
            if n:
                # start of the vector's payload: the generated accessor reads it through Vector()
                start = b._tab.Vector(b._tab.Offset(4))
                out.append(Buffer(i, n, start, False, True))
            else:
                out.append(Buffer(i, 0, None, False, not b.DataIsNone()))
        return out

    def _opcodes(self) -> list[tuple[str, str | None, int]]:
        m = self.m
        out = []
        for i in range(m.OperatorCodesLength()):
            oc = m.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = schema.builtin_op_name(code)
            custom = oc.CustomCode()
            out.append((name, custom.decode("utf-8", "replace") if custom is not None else None,
                        oc.Version()))
        return out

    def _subgraphs(self) -> list[Subgraph]:
        v = self.view
        sg_pos, _ = v.children_of.get(("Model", "Subgraphs"), (np.zeros(0, np.int64), None))
        t_pos, t_counts = v.children_of.get(("SubGraph", "Tensors"),
                                            (np.zeros(0, np.int64), np.zeros(len(sg_pos), np.int64)))
        o_pos, o_counts = v.children_of.get(("SubGraph", "Operators"),
                                            (np.zeros(0, np.int64), np.zeros(len(sg_pos), np.int64)))
        tensors = self._tensors(t_pos)
        ops = self._operators(o_pos)
        names = v.strings("SubGraph", "Name", sg_pos)
        ins = v.int32_lists("SubGraph", "Inputs", sg_pos)
        outs = v.int32_lists("SubGraph", "Outputs", sg_pos)
        out = []
        t0 = o0 = 0
        for si, (nt, no) in enumerate(zip(t_counts.tolist(), o_counts.tolist(), strict=False)):
            ts = tensors[t0:t0 + nt]
            for ti, t in enumerate(ts):
                t.index, t.subgraph = ti, si
            os_ = ops[o0:o0 + no]
            t0, o0 = t0 + nt, o0 + no
            for oi, op in enumerate(os_):
                op.index, op.subgraph = oi, si
                where = f"operator {oi} ({op.op}) of subgraph {si}"
                for kind, idx in (("input", op.inputs), ("output", op.outputs),
                                  ("intermediate", op.intermediates)):
                    if idx and (min(idx) < -1 or max(idx) >= nt):
                        bad = next(x for x in idx if x < -1 or x >= nt)
                        raise self.err(f"{kind} of {where} refers to tensor {bad} but subgraph {si} "
                                       f"has {nt} tensors")
                fields = op_facts.subgraph_fields(op.op)
                if op_facts.subgraphs_required(op.op) and any(k not in op.options for k in fields):
                    raise self.err(f"{where} does not say which subgraphs it runs (its options "
                                   f"are {op.options_table or 'missing'}, not "
                                   f"{op_facts.options_table(op.op)})")
                for k in fields:
                    val = op.options.get(k)
                    for sub in (val if isinstance(val, list) else [val]):
                        if isinstance(sub, int) and not 0 <= sub < len(sg_pos):
                            raise self.err(f"{where}: {k} is {val} but the model has "
                                           f"{len(sg_pos)} subgraphs")
            sub_in, sub_out = ins[si] or (), outs[si] or ()
            for kind, idx in (("input", sub_in), ("output", sub_out)):
                if idx and (min(idx) < 0 or max(idx) >= nt):
                    bad = next(x for x in idx if x < 0 or x >= nt)
                    raise self.err(f"{kind} of subgraph {si} refers to tensor {bad} but the "
                                   f"subgraph has {nt} tensors")
            out.append(Subgraph(si, names[si] or "", sub_in, sub_out, ts, os_))
        return out

    def _operators(self, pos: np.ndarray) -> list[Operator]:
        v = self.view
        codes = v.scalar("Operator", "OpcodeIndex", pos).tolist()
        ins = v.int32_lists("Operator", "Inputs", pos)
        outs = v.int32_lists("Operator", "Outputs", pos)
        inters = v.int32_lists("Operator", "Intermediates", pos)
        t1s = v.scalar("Operator", "BuiltinOptionsType", pos).tolist()
        t2s = v.scalar("Operator", "BuiltinOptions2Type", pos).tolist()
        _, ncustom = v.vectors("Operator", "CustomOptions", pos)
        ncustom = ncustom.tolist()
        members1 = schema.union_members("BuiltinOptions")
        members2 = schema.union_members("BuiltinOptions2")
        nopc = len(self.opcodes)
        out = []
        for i, (ci, p) in enumerate(zip(codes, pos.tolist(), strict=False)):
            if ci >= nopc or ci < 0:
                raise self.err(f"operator at byte {p} uses operator code {ci} but the model has "
                               f"{nopc} operator codes")
            opname, custom, version = self.opcodes[ci]
            t1, t2 = t1s[i], t2s[i]
            table = members1.get(t1) if t1 else members2.get(t2) if t2 else None
            decode = (_Decoder(self.data, p, t1, t2, max(ncustom[i], 0))
                      if (t1 or t2 or ncustom[i] > 0) else None)
            out.append(Operator(i, 0, ci, opname, custom, version, ins[i] or (), outs[i] or (),
                                inters[i] or (), table, decode))
        return out

    def _tensors(self, pos: np.ndarray) -> list[Tensor]:
        v = self.view
        shapes = v.int32_lists("Tensor", "Shape", pos)
        sigs = v.int32_lists("Tensor", "ShapeSignature", pos)
        types = v.scalar("Tensor", "Type", pos).tolist()
        bufs = v.scalar("Tensor", "Buffer", pos).tolist()
        names = v.strings("Tensor", "Name", pos)
        variable = v.scalar("Tensor", "IsVariable", pos).tolist()
        has_rank = v.scalar("Tensor", "HasRank", pos).tolist()
        sparse = (v.targets("Tensor", "Sparsity", pos) >= 0).tolist()
        qpos = v.targets("Tensor", "Quantization", pos)
        quants = self._quantizations(qpos)
        nb = self.nbuffers
        buffers = self.buffers
        out = []
        for i in range(len(types)):
            shape = shapes[i] or ()
            dtype, bits = schema.tensor_type(types[i])
            bi = bufs[i]
            if bi >= nb:
                raise self.err(f"tensor '{_short(names[i])}' refers to buffer {bi} but the model "
                               f"has {nb} buffers")
            n = 1
            for d in shape:
                if d < 0:
                    if d < -1:
                        raise self.err(f"tensor '{_short(names[i])}' has a negative dimension {d}")
                    n = 0
                    break
                n *= d
                if n > _MAX_TENSOR_BYTES:  # stop now: products of 100k dims grow quadratically
                    break
            if n * max(bits, 8) // 8 > _MAX_TENSOR_BYTES:
                raise self.err(f"tensor '{_short(names[i])}': shape {shape_list(shape)} "
                               "overflows (more elements than any device can hold)")
            size = buffers[bi].size
            nbytes = (n * bits + 7) // 8 if bits else size
            sig = sigs[i]
            out.append(Tensor(i, names[i] or "", shape, shape if sig is None else sig, dtype,
                              nbytes, bi, size > 0, bool(variable[i]), quants[i], sparse[i],
                              bool(has_rank[i])))
        return out

    def _quantizations(self, qpos: np.ndarray) -> list[Quantization | None]:
        out: list[Quantization | None] = [None] * len(qpos)
        have = np.flatnonzero(qpos >= 0)
        if not have.size:
            return out
        v = self.view
        q = qpos[have]
        T = "QuantizationParameters"
        scale = _float_lists(v, T, "Scale", q)
        zp = v_int64_lists(v, T, "ZeroPoint", q)
        mn, mx = _float_lists(v, T, "Min", q), _float_lists(v, T, "Max", q)
        qdim = v.scalar(T, "QuantizedDimension", q).tolist()
        details = v.scalar(T, "DetailsType", q).tolist()
        dnames = schema.enum_names("QuantizationDetails")
        for j, i in enumerate(have.tolist()):
            det = dnames.get(details[j]) if details[j] else None
            if not scale[j] and not zp[j] and det is None and not mn[j] and not mx[j]:
                continue
            out[i] = Quantization(scale[j], zp[j], qdim[j], mn[j], mx[j], det)
        return out

    def _signatures(self, subgraphs: list[Subgraph]) -> list[Signature]:
        m = self.m
        out = []
        for i in range(m.SignatureDefsLength()):
            s = m.SignatureDefs(i)
            key = (s.SignatureKey() or b"").decode("utf-8", "replace")
            si = s.SubgraphIndex()
            if si >= len(subgraphs):
                raise self.err(f"signature '{_short(key)}' refers to subgraph {si} but the model "
                               f"has {len(subgraphs)} subgraphs")
            nt = len(subgraphs[si].tensors)

            def maps(n, get, kind, key=key, si=si, nt=nt):
                d = {}
                for j in range(n):
                    tm = get(j)
                    nm = (tm.Name() or b"").decode("utf-8", "replace")
                    ti = tm.TensorIndex()
                    if ti >= nt:
                        raise self.err(f"signature '{_short(key)}' {kind} '{_short(nm)}' refers "
                                       f"to tensor {ti} but subgraph {si} has {nt} tensors")
                    d[nm] = ti
                return d
            out.append(Signature(key, si, maps(s.InputsLength(), s.Inputs, "input"),
                                 maps(s.OutputsLength(), s.Outputs, "output")))
        return out


class _Decoder:
    """Decodes an operator's options on first use, through the generated Operator accessor."""
    __slots__ = ("data", "pos", "t1", "t2", "ncustom")

    def __init__(self, data, pos: int, t1: int, t2: int, ncustom: int):
        self.data, self.pos, self.t1, self.t2, self.ncustom = data, pos, t1, t2, ncustom

    def __call__(self) -> dict:
        op = fb.Operator()
        op.Init(self.data, self.pos)
        out: dict = {}
        if self.t1:
            _, out = opts.decode("BuiltinOptions", self.t1, op.BuiltinOptions())
        elif self.t2:
            _, out = opts.decode("BuiltinOptions2", self.t2, op.BuiltinOptions2())
        if self.ncustom:
            out = dict(out)
            out["custom_options_bytes"] = self.ncustom
            decoded = _flexbuffer(op.CustomOptionsAsNumpy())
            if decoded is not None:
                out["custom_options"] = decoded
        return out


MAX_CUSTOM_KEYS = 64  # custom-op option maps in real models hold a handful of keys


def _flexbuffer(raw: np.ndarray):
    """A custom op's options as a dict of its scalar entries, when they are a small flexbuffer map;
    None otherwise. Reads entry by entry (never ``flexbuffers.Loads``, which follows every offset
    of an untrusted buffer into nested, possibly shared, vectors)."""
    from flatbuffers import flexbuffers
    buf = raw.tobytes()
    try:
        root = flexbuffers.GetRoot(buf)
        if not root.IsMap:
            return None
        m = root.AsMap
        keys, values = m.Keys, m.Values
        n = len(keys)
        if n > MAX_CUSTOM_KEYS or len(values) != n:
            return None
        out = {}
        for i in range(n):
            v = values[i]
            if v.IsBool:
                val = v.AsBool
            elif v.IsInt:
                val = v.AsInt
            elif v.IsFloat:
                val = v.AsFloat
            elif v.IsString:
                val = v.AsStringBytes.decode("utf-8", "replace")
            else:
                continue
            out[keys[i].AsKey] = val
        return out
    except _FLEXBUFFER_ERRORS:  # not a flexbuffer (many custom ops store raw structs)
        return None


def _float_lists(v: FlatView, table: str, name: str, pos: np.ndarray) -> list[tuple]:
    start, n = v.vectors(table, name, pos)
    nn = np.maximum(n, 0)
    vals = v.u32(_ranges(start, nn, 4)).astype(np.uint32).view(np.float32).tolist()
    return _split(vals, nn)


def v_int64_lists(v: FlatView, table: str, name: str, pos: np.ndarray) -> list[tuple]:
    start, n = v.vectors(table, name, pos)
    nn = np.maximum(n, 0)
    at = _ranges(start, nn, 8)
    lo, hi = v.u32(at).astype(np.uint64), v.u32(at + 4).astype(np.uint64)
    vals = (lo | (hi << np.uint64(32))).view(np.int64).tolist()
    return _split(vals, nn)


def _split(vals: list, counts: np.ndarray) -> list[tuple]:
    out, a = [], 0
    for b in np.cumsum(counts).tolist():
        out.append(tuple(vals[a:b]))
        a = b
    return out


def _short(name) -> str:
    """A name from the file inside a message: escaped and short enough to leave the problem visible."""
    return printable(name or "", 120)


def _buffer_view(data, buf: Buffer) -> memoryview:
    if buf.offset is None:
        return memoryview(b"")
    return memoryview(data)[buf.offset:buf.offset + buf.size]
