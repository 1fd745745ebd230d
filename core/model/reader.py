"""Open a .tflite file zero-copy: mmap, verify every offset, then read through the generated schema.

``open_model(path)`` is the one entry point. It never raises anything but ``ModelError`` for a bad
file (plus OSError subclasses turned into ModelError with a clear message), never allocates more
than the file's structure needs and never hangs on lying lengths: ``core.model.verify`` checks the whole
flatbuffer first, and the semantic checks here (indices, shapes) run while reading.
"""
from __future__ import annotations

import gc
import mmap
import os
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from itertools import repeat
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
from core.model.verify import FlatView, _ranges, split_tuples, verify

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
    with _collector_paused():
        view = verify(data, path)
        m = fb.Model.GetRootAs(data, 0)
        return _Reader(m, view, data, path, size).read()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause automatic cyclic GC while the model's objects are built. A 100k-op model is a
    million new tuples, lists and dataclasses: each 700 allocations trigger a collection that
    rescans the young ones, and the older generations are rescanned as they fill, which made up
    two thirds of the read. Nothing built here forms a cycle, so pausing frees nothing late.
    Left alone when already off (the GUI turns it off for good and collects on its own thread)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
        v = self.view
        pos, _ = v.children_of.get(("Model", "Buffers"), (np.zeros(0, np.int64), None))
        n = len(pos)
        off = v.scalar("Buffer", "Offset", pos)     # uint64
        size = v.scalar("Buffer", "Size", pos)
        start, length = v.vectors("Buffer", "Data", pos)
        external = off > 1  # offset 1 is a placeholder some writers use for "no data"
        sizes = np.where(length > 0, length, 0).astype(object)
        offsets = np.where(length > 0, start, -1).astype(object)
        for i in np.flatnonzero(external).tolist():  # Python ints: 64-bit sums cannot wrap
            o, k = int(off[i]), int(size[i])
            if o + k > self.size:
                raise ModelError(self.path, f"corrupt or truncated model: buffer {i} stores "
                                            f"{k} bytes at byte {o}, past the end of the "
                                            f"file ({self.size} bytes)")
            sizes[i], offsets[i] = k, o if k else -1
        offsets[offsets == -1] = None
        return list(map(Buffer, range(n), sizes.tolist(), offsets.tolist(), external.tolist(),
                        (~external & (length >= 0)).tolist()))

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
        nsub = len(sg_pos)
        none = (np.zeros(0, np.int64), np.zeros(nsub, np.int64))
        t_pos, t_counts = v.children_of.get(("SubGraph", "Tensors"), none)
        o_pos, o_counts = v.children_of.get(("SubGraph", "Operators"), none)
        tensors = self._tensors(t_pos, t_counts)
        ops, suspects = self._operators(o_pos, o_counts, t_counts)
        suspects.append(len(ops))  # sentinel: no operator is past the end
        names = v.strings("SubGraph", "Name", sg_pos)
        ins = v.int32_lists("SubGraph", "Inputs", sg_pos)
        outs = v.int32_lists("SubGraph", "Outputs", sg_pos)
        out = []
        t0 = o0 = s = 0
        for si, (nt, no) in enumerate(zip(t_counts.tolist(), o_counts.tolist(), strict=False)):
            ts, os_ = tensors[t0:t0 + nt], ops[o0:o0 + no]
            t0, o0 = t0 + nt, o0 + no
            while suspects[s] < o0:  # in order, so the first problem is the one reported
                self._check_operator(ops[suspects[s]], nt, nsub)
                s += 1
            sub_in, sub_out = ins[si] or (), outs[si] or ()
            for kind, idx in (("input", sub_in), ("output", sub_out)):
                if idx and (min(idx) < 0 or max(idx) >= nt):
                    bad = next(x for x in idx if x < 0 or x >= nt)
                    raise self.err(f"{kind} of subgraph {si} refers to tensor {bad} but the "
                                   f"subgraph has {nt} tensors")
            out.append(Subgraph(si, names[si] or "", sub_in, sub_out, ts, os_))
        return out

    def _check_operator(self, op: Operator, nt: int, nsub: int) -> None:
        """Tensor indices and control-flow subgraph fields of one operator; raises on the first
        problem."""
        where = f"operator {op.index} ({op.op}) of subgraph {op.subgraph}"
        for kind, idx in (("input", op.inputs), ("output", op.outputs),
                          ("intermediate", op.intermediates)):
            if idx and (min(idx) < -1 or max(idx) >= nt):
                bad = next(x for x in idx if x < -1 or x >= nt)
                raise self.err(f"{kind} of {where} refers to tensor {bad} but subgraph "
                               f"{op.subgraph} has {nt} tensors")
        fields = op_facts.subgraph_fields(op.op)
        if op_facts.subgraphs_required(op.op) and any(k not in op.options for k in fields):
            raise self.err(f"{where} does not say which subgraphs it runs (its options "
                           f"are {op.options_table or 'missing'}, not "
                           f"{op_facts.options_table(op.op)})")
        for k in fields:
            val = op.options.get(k)
            for sub in (val if isinstance(val, list) else [val]):
                if isinstance(sub, int) and not 0 <= sub < nsub:
                    raise self.err(f"{where}: {k} is {val} but the model has {nsub} subgraphs")

    def _operators(self, pos: np.ndarray, counts: np.ndarray,
                   tensor_counts: np.ndarray) -> tuple[list[Operator], list[int]]:
        """Every operator of every subgraph (``counts`` per subgraph), built from whole columns,
        and the positions (ascending) of those ``_check_operator`` must look at: a tensor index
        out of range, or options naming other subgraphs."""
        v = self.view
        n = len(pos)
        sub, index = _segments(counts)
        codes = v.scalar("Operator", "OpcodeIndex", pos)
        nopc = len(self.opcodes)
        bad = (codes < 0) | (codes >= nopc)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.err(f"operator at byte {int(pos[i])} uses operator code {int(codes[i])} "
                           f"but the model has {nopc} operator codes")
        limit = np.repeat(tensor_counts, counts)  # tensors of each operator's subgraph
        check = np.zeros(n, dtype=bool)
        lists = []
        for name in ("Inputs", "Outputs", "Intermediates"):
            start, k = v.vectors("Operator", name, pos)
            vals = v.int32_values(start, k)
            kk = np.maximum(k, 0)
            wrong = (vals < -1) | (vals >= np.repeat(limit, kk))
            if wrong.any():
                check[np.repeat(np.arange(n), kk)[wrong]] = True
            lists.append(split_tuples(vals, kk))
        ins, outs, inters = lists
        opnames = [name for name, _, _ in self.opcodes]
        runs_subgraphs = np.array([bool(op_facts.subgraph_fields(nm)) for nm in opnames] or [False])
        if nopc:
            check |= runs_subgraphs[codes]
        t1s = v.scalar("Operator", "BuiltinOptionsType", pos)
        t2s = v.scalar("Operator", "BuiltinOptions2Type", pos)
        _, ncustom = v.vectors("Operator", "CustomOptions", pos)
        members1 = schema.union_members("BuiltinOptions")
        members2 = schema.union_members("BuiltinOptions2")
        tables = np.full(n, None, dtype=object)
        for code in np.unique(t1s).tolist():
            if code:
                tables[t1s == code] = members1.get(code)
        for code in np.unique(t2s[t1s == 0]).tolist():
            if code:
                tables[(t1s == 0) & (t2s == code)] = members2.get(code)
        ncustom = np.maximum(ncustom, 0)
        decoders = np.full(n, None, dtype=object)
        need = np.flatnonzero((t1s != 0) | (t2s != 0) | (ncustom > 0))
        if need.size:
            decoders[need] = np.fromiter(
                map(partial, repeat(_decode_options), repeat(self.data), pos[need].tolist(),
                    t1s[need].tolist(), t2s[need].tolist(), ncustom[need].tolist()),
                dtype=object, count=need.size)
        cl = codes.tolist()
        by_code = np.array(self.opcodes + [("", None, 0)], dtype=object)  # non-empty 2-D table
        ops = list(map(Operator, index.tolist(), sub.tolist(), cl, by_code[codes, 0].tolist(),
                       by_code[codes, 1].tolist(), by_code[codes, 2].tolist(), ins, outs, inters,
                       tables.tolist(), decoders.tolist()))
        return ops, np.flatnonzero(check).tolist()

    def _tensors(self, pos: np.ndarray, counts: np.ndarray) -> list[Tensor]:
        """Every tensor of every subgraph (``counts`` per subgraph), built from whole columns."""
        v = self.view
        n = len(pos)
        sub, index = _segments(counts)
        start, k = v.vectors("Tensor", "Shape", pos)
        dims = v.int32_values(start, k)
        kk = np.maximum(k, 0)
        shapes = split_tuples(dims, kk)
        sigs = v.int32_lists("Tensor", "ShapeSignature", pos)
        sigs = [sh if sg is None else sg for sh, sg in zip(shapes, sigs, strict=True)]
        types = v.scalar("Tensor", "Type", pos)
        kinds, kind_of = np.unique(types, return_inverse=True)
        facts = [schema.tensor_type(t) for t in kinds.tolist()]
        dtypes = np.array([d for d, _ in facts] or [""], dtype=object)[kind_of].tolist()
        bits = np.array([b for _, b in facts] or [0], dtype=np.int64)[kind_of]
        bufs = v.scalar("Tensor", "Buffer", pos)
        names = v.strings("Tensor", "Name", pos)
        nb = self.nbuffers
        sizes = np.array([b.size for b in self.buffers] or [0], dtype=np.int64)
        # element counts: exact where every dimension is >= 0 and the product is far from
        # overflowing; the rest (dynamic -1, hostile dimensions) go through _elements one by one
        seg = np.repeat(np.arange(n), kk)
        odd = np.zeros(n, dtype=bool)
        odd[seg[dims < 0]] = True
        with np.errstate(over="ignore", invalid="ignore"):
            approx = _segment_product(dims.astype(np.float64), kk)
        odd |= ~(approx <= 2.0 ** 40)
        odd |= bufs >= nb
        elements = _segment_product(np.where(dims < 0, 0, dims), kk)
        for i in np.flatnonzero(odd).tolist():
            if bufs[i] >= nb:
                raise self.err(f"tensor '{_short(names[i])}' refers to buffer {int(bufs[i])} but "
                               f"the model has {nb} buffers")
            elements[i] = self._elements(names[i], shapes[i], int(bits[i]))
        size = sizes[np.minimum(bufs, max(nb - 1, 0))] if nb else np.zeros(n, np.int64)
        nbytes = np.where(bits > 0, (elements * bits + 7) // 8, size)
        sparse = (v.targets("Tensor", "Sparsity", pos) >= 0).tolist()
        quants = self._quantizations(v.targets("Tensor", "Quantization", pos))
        return list(map(Tensor, index.tolist(), [nm or "" for nm in names], shapes, sigs, dtypes,
                        nbytes.tolist(), bufs.tolist(), (size > 0).tolist(),
                        (v.scalar("Tensor", "IsVariable", pos) != 0).tolist(), quants, sparse,
                        (v.scalar("Tensor", "HasRank", pos) != 0).tolist(), sub.tolist()))

    def _elements(self, name: str | None, shape: tuple[int, ...], bits: int) -> int:
        """Element count of one tensor as the runtime sees it (0 when a dimension is -1); raises
        on a dimension below -1 or a shape no device could hold."""
        n = 1
        for d in shape:
            if d < 0:
                if d < -1:
                    raise self.err(f"tensor '{_short(name)}' has a negative dimension {d}")
                n = 0
                break
            n *= d
            if n > _MAX_TENSOR_BYTES:  # stop now: products of 100k dims grow quadratically
                break
        if n * max(bits, 8) // 8 > _MAX_TENSOR_BYTES:
            raise self.err(f"tensor '{_short(name)}': shape {shape_list(shape)} "
                           "overflows (more elements than any device can hold)")
        return n

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


def _decode_options(data, pos: int, t1: int, t2: int, ncustom: int) -> dict:
    """An operator's options, decoded on first use through the generated Operator accessor (the
    reader binds the arguments with functools.partial: one C-level object per operator)."""
    op = fb.Operator()
    op.Init(data, pos)
    out: dict = {}
    if t1:
        _, out = opts.decode("BuiltinOptions", t1, op.BuiltinOptions())
    elif t2:
        _, out = opts.decode("BuiltinOptions2", t2, op.BuiltinOptions2())
    if ncustom:
        out = dict(out)
        out["custom_options_bytes"] = ncustom
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
    vals = v.u32(_ranges(start, nn, 4)).astype(np.uint32).view(np.float32).astype(np.float64)
    return split_tuples(vals, nn)


def v_int64_lists(v: FlatView, table: str, name: str, pos: np.ndarray) -> list[tuple]:
    start, n = v.vectors(table, name, pos)
    nn = np.maximum(n, 0)
    at = _ranges(start, nn, 8)
    lo, hi = v.u32(at).astype(np.uint64), v.u32(at + 4).astype(np.uint64)
    return split_tuples((lo | (hi << np.uint64(32))).view(np.int64), nn)


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows grouped ``counts[i]`` per subgraph: each row's subgraph and index within it."""
    sub = np.repeat(np.arange(len(counts)), counts)
    return sub, np.arange(len(sub)) - np.repeat(np.cumsum(counts) - counts, counts)


def _segment_product(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Product of each run of ``counts[i]`` consecutive values (1 for an empty run)."""
    out = np.ones(len(counts), dtype=values.dtype)
    full = counts > 0
    if full.any():
        starts = (np.cumsum(counts) - counts)[full]
        out[full] = np.multiply.reduceat(values, starts)
    return out


def _short(name) -> str:
    """A name from the file inside a message: escaped and short enough to leave the problem visible."""
    return printable(name or "", 120)


def _buffer_view(data, buf: Buffer) -> memoryview:
    if buf.offset is None:
        return memoryview(b"")
    return memoryview(data)[buf.offset:buf.offset + buf.size]
