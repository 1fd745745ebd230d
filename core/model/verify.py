"""Structural verification of an untrusted TFLite flatbuffer, and columnar reads, with numpy.

The Python flatbuffers runtime has no verifier, and the generated accessors trust every offset: a
corrupt file makes them raise IndexError/struct.error deep inside, or loop over a lying vector
length. ``FlatView`` checks, before anything reads the model, that every table, vtable, string and
vector reachable from the root lies inside the file, with every scalar field inside its table.

It walks the object graph breadth-first *by table type*: all Operator tables of the file are checked
in one batch of numpy operations, then all their option tables, and so on, so a 100k-op model costs a
few dozen array operations rather than a million Python calls. Breadth-first (a FIFO of batches),
so every table one offset from the root is checked before any two offsets away: of several
corruptions the one nearest the root is reported, in terms of the table the reader meets first
(an OperatorCode before an operator's options), whatever order the schema lists fields in. The field layout comes from
``core.model.schema.fields_of`` (derived from the generated module).

Flatbuffers let many offsets point at one object, so a small file can make a reader materialise far
more than it holds (8192 tensors sharing one 8192-dimension shape: 256 MiB of ints from 66 KB). The
walk therefore also adds up, with multiplicity, the bytes of every vector and string a reader would
turn into Python objects (everything but the zero-copy weight buffers) and refuses a file whose
total is out of proportion to its size.

Once verified, the same view reads whole columns (every tensor's type, every operator's inputs) in
one numpy gather each: the reader uses that for the bulk of a big model, and the generated
accessors for the rest.
"""
from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import Any

import numpy as np

from core.errors import ModelError
from core.model import schema


class _Batch:
    __slots__ = ("table", "pos", "via")

    def __init__(self, table: str, pos: np.ndarray, via: str):
        self.table, self.pos, self.via = table, pos, via


class FlatView:
    """A verified flatbuffer. Construct it to verify; then read columns of fields."""

    def __init__(self, data, path: str, layout=schema, root: str = "Model", what: str = "model"):
        """``layout`` gives ``fields_of(table)``, ``field(table, name)`` and
        ``union_members(enum)`` (the TFLite schema by default; core.model.metadata passes the
        metadata schema's); ``what`` names the thing in error messages."""
        self.u8 = np.frombuffer(data, dtype=np.uint8)
        self.path = path
        self.layout, self.root_table, self.what = layout, root, what
        self.size = int(self.u8.size)
        # the file as little-endian words (its tail past the last whole word left out): views
        self._words16 = self.u8[: self.size & ~1].view("<u2")
        self._words32 = self.u8[: self.size & ~3].view("<u4")
        self._vtables_of: tuple[np.ndarray, tuple] | None = None
        self.budget = max(1024, self.size // 2)  # tables visited; a sane file has far fewer
        # (parent table, field) -> element positions, count per parent, for vectors of tables
        self.children_of: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        # bytes of vectors/strings readers materialise, counted once per reference; and the
        # weight bytes (Buffer.data, only ever viewed zero-copy), which the first must not exceed
        self.materialised = 0
        self.weight_bytes = 0
        self.largest: tuple[int, str] = (0, "")  # (bytes, field) of the biggest contributor
        self.root = self._verify()

    # -- raw little-endian reads at many positions at once (positions already bounds-checked) --
    # Flatbuffers align every scalar to its size, so the positions of a well-formed file index
    # whole-word views of the file directly; a hostile file's unaligned ones are read byte by byte.
    def u16(self, pos: np.ndarray) -> np.ndarray:
        if pos.size and not (pos & 1).any():
            return self._words16[pos >> 1].astype(np.int64)
        b = self.u8
        return b[pos].astype(np.int64) | (b[pos + 1].astype(np.int64) << 8)

    def u32(self, pos: np.ndarray) -> np.ndarray:
        if pos.size and not (pos & 3).any():
            return self._words32[pos >> 2].astype(np.int64)
        b = self.u8
        return (b[pos].astype(np.int64) | (b[pos + 1].astype(np.int64) << 8)
                | (b[pos + 2].astype(np.int64) << 16) | (b[pos + 3].astype(np.int64) << 24))

    def i32(self, pos: np.ndarray) -> np.ndarray:
        if pos.size and not (pos & 3).any():
            return self._words32[pos >> 2].view(np.int32).astype(np.int64)
        v = self.u32(pos)
        return np.where(v >= 1 << 31, v - (1 << 32), v)

    def _scalar_at(self, pos: np.ndarray, f: schema.Field) -> np.ndarray:
        if f.size == 1:
            v = self.u8[pos]
            return v.view(np.int8).astype(np.int64) if f.signed else v.astype(np.int64)
        if f.size == 2:
            v = self.u16(pos)
            return np.where(v >= 1 << 15, v - (1 << 16), v) if f.signed else v
        if f.size == 4:
            if f.floating:
                return self.u32(pos).astype(np.uint32).view(np.float32).astype(np.float64)
            return self.i32(pos) if f.signed else self.u32(pos)
        lo, hi = self.u32(pos).astype(np.uint64), self.u32(pos + 4).astype(np.uint64)
        v = lo | (hi << np.uint64(32))
        if f.floating:
            return v.view(np.float64)
        return v.view(np.int64) if f.signed else v

    def _check_range(self, start: np.ndarray, length: np.ndarray, what: str) -> None:
        bad = (start < 0) | (start + length > self.size)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            span = f"{int(start[first])}..{int(start[first] + length[first])}"
            raise ModelError(self.path, f"corrupt or truncated {self.what}: {what} points to "
                                        f"bytes {span} but the file has only {self.size} bytes")

    # -- verification walk --
    def _verify(self) -> np.ndarray:
        if self.size < 8:
            raise ModelError(self.path, f"{self.what} is too small to be a flatbuffer "
                                        f"({self.size} bytes)")
        root = self.u32(np.array([0]))
        self._check_range(root, np.array([4]), "the root table offset")
        queue = deque([_Batch(self.root_table, root, "root")])
        visited = 0
        while queue:
            batch = queue.popleft()   # breadth-first: nearer the root first
            visited += batch.pos.size
            if visited > self.budget:
                raise ModelError(self.path, f"corrupt {self.what}: more tables are referenced "
                                            "than the file could hold (offsets loop or are "
                                            "shared absurdly often)")
            queue.extend(self._table_batch(batch))
        limit = amplification_limit(self.size, self.weight_bytes)
        if self.materialised > limit:
            raise ModelError(self.path, f"corrupt or hostile model: reading it would materialise "
                                        f"{self.materialised:,} bytes of lists and strings from a "
                                        f"{self.size:,}-byte file (limit {limit:,}; most from "
                                        f"{self.largest[1]}): many offsets share one object")
        return root

    def _count(self, nbytes: int, what: str) -> None:
        self.materialised += nbytes
        if nbytes > self.largest[0]:
            self.largest = (nbytes, what)

    def _vtables(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # a reader asks for many fields of one column of tables in a row: find their vtables once
        if self._vtables_of is not None and self._vtables_of[0] is pos:
            return self._vtables_of[1]
        vt = pos - self.i32(pos)
        found = vt, self.u16(vt), self.u16(vt + 2)
        self._vtables_of = (pos, found)
        return found

    def _table_batch(self, batch: _Batch) -> list[_Batch]:
        table, pos = batch.table, batch.pos
        what = f"{table} table (reached via {batch.via})"
        self._check_range(pos, np.full(pos.shape, 4), what)
        vt = pos - self.i32(pos)
        self._check_range(vt, np.full(pos.shape, 4), f"the vtable of a {what}")
        vt_size = self.u16(vt)
        t_size = self.u16(vt + 2)
        bad = (vt_size < 4) | (vt_size % 2 == 1) | (t_size < 4)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ModelError(self.path, f"corrupt {self.what}: {what} has an invalid vtable "
                                        f"(vtable size {int(vt_size[i])}, table size "
                                        f"{int(t_size[i])})",
                             int(pos[i]))
        self._check_range(vt, vt_size, f"the vtable of a {what}")
        self._check_range(pos, t_size, what)

        out: list[_Batch] = []
        for f in self.layout.fields_of(table):
            entry = 4 + 2 * f.slot
            present = vt_size >= entry + 2
            if not present.any():
                continue
            idx = np.flatnonzero(present)
            fo = self.u16(vt[idx] + entry)
            keep = fo != 0
            if not keep.any():
                continue
            idx, fo = idx[keep], fo[keep]
            width = f.size if f.kind == "scalar" else 4
            bad = fo + width > t_size[idx]
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ModelError(self.path, f"corrupt {self.what}: field {f.name} of a {what} "
                                            f"lies outside its table", int(pos[idx[i]]))
            if f.kind == "scalar":
                continue
            fpos = pos[idx] + fo
            target = fpos + self.u32(fpos)
            fwhat = f"field {f.name} of a {what}"
            if f.kind == "table":
                out.append(_Batch(f.target, target, f"{table}.{f.name}"))
            elif f.kind == "union":
                self._check_range(target, np.full(target.shape, 4), fwhat)
                types = self.scalar(table, f.name + "Type", pos[idx])
                members = self.layout.union_members(f.target)
                for code in np.unique(types):
                    name = members.get(int(code))
                    if name is None:  # NONE, or a type newer than this schema: never read
                        continue
                    out.append(_Batch(name, target[types == code], f"{table}.{f.name}"))
            else:
                self._check_range(target, np.full(target.shape, 4), fwhat)
                n = self.u32(target)
                elem = 1 if f.kind == "string" else f.size
                self._check_range(target + 4, n * elem, fwhat)
                if table == "Buffer" and f.name == "Data":
                    self.weight_bytes += int(n.sum())
                else:
                    self._count(int((n * elem).sum()), f"{table}.{f.name}")
                if f.kind in ("vector_table", "vector_string"):
                    total = int(n.sum())
                    if total > self.size // 4:
                        raise ModelError(self.path, f"corrupt {self.what}: {fwhat} claims "
                                                    f"{total} entries")
                    epos = _ranges(target + 4, n, 4)
                    elems = epos + self.u32(epos)
                    if f.kind == "vector_table":
                        counts = np.zeros(pos.shape, dtype=np.int64)
                        counts[idx] = n
                        prev = self.children_of.get((table, f.name))
                        if prev is None or batch.via == "root":
                            self.children_of[(table, f.name)] = (elems, counts)
                        if total:
                            out.append(_Batch(f.target, elems, f"{table}.{f.name}"))
                    elif total:
                        self._check_range(elems, np.full(elems.shape, 4), fwhat)
                        lengths = self.u32(elems)
                        self._check_range(elems + 4, lengths, fwhat)
                        self._count(int(lengths.sum()), f"{table}.{f.name}")
        return out

    # -- columnar reads of verified tables --
    def field_offsets(self, table: str, name: str, pos: np.ndarray) -> np.ndarray:
        """Byte position of the field in each table, or -1 where it is absent."""
        f = self.layout.field(table, name)
        vt, vt_size, _ = self._vtables(pos)
        entry = 4 + 2 * f.slot
        has = vt_size >= entry + 2
        fo = np.zeros(pos.shape, dtype=np.int64)
        fo[has] = self.u16(vt[has] + entry)
        return np.where(fo != 0, pos + fo, -1)

    def scalar(self, table: str, name: str, pos: np.ndarray) -> np.ndarray:
        """The field in each table (its default where absent): float64 for floating fields,
        uint64 for unsigned 64-bit ones (Buffer offsets and sizes), int64 otherwise."""
        f = self.layout.field(table, name)
        fp = self.field_offsets(table, name, pos)
        dtype = (np.float64 if f.floating else np.uint64 if f.size == 8 and not f.signed
                 else np.int64)
        out = np.full(pos.shape, f.default, dtype=dtype)
        have = fp >= 0
        if have.any():
            out[have] = self._scalar_at(fp[have], f)
        return out

    def targets(self, table: str, name: str, pos: np.ndarray) -> np.ndarray:
        """Where an offset field (table, vector, string) points, or -1 where absent."""
        fp = self.field_offsets(table, name, pos)
        have = fp >= 0
        out = np.full(pos.shape, -1, dtype=np.int64)
        out[have] = fp[have] + self.u32(fp[have])
        return out

    def vectors(self, table: str, name: str, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start of payload, length) of a vector field per table; length -1 where absent."""
        t = self.targets(table, name, pos)
        have = t >= 0
        n = np.full(pos.shape, -1, dtype=np.int64)
        n[have] = self.u32(t[have])
        return t + 4, n

    def int32_values(self, start: np.ndarray, count: np.ndarray) -> np.ndarray:
        """The int32 vectors at ``start`` (``count`` elements each, none where < 0), concatenated."""
        return self.i32(_ranges(start, np.maximum(count, 0), 4))

    def int32_lists(self, table: str, name: str, pos: np.ndarray) -> list[tuple[int, ...] | None]:
        """Every table's int32 vector as a tuple (None where the field is absent)."""
        start, n = self.vectors(table, name, pos)
        return split_tuples(self.int32_values(start, n), n)

    def strings(self, table: str, name: str, pos: np.ndarray) -> list[str | None]:
        """Every table's string (None where the field is absent), UTF-8 with replacement."""
        start, n = self.vectors(table, name, pos)
        have = n >= 0
        k = int(np.count_nonzero(have))
        if k == 0:
            return [None] * int(n.size)
        s, ln = start[have], n[have]
        ends = s + ln
        parts: list[str | None] | None = None
        # Flatbuffers end every string with a NUL: when those are the only NULs, the strings
        # decode as one and split on them (a NUL is one character whatever bytes precede it, so
        # this equals decoding each string on its own, replacement characters included).
        if int(ends.max()) < self.size and not self.u8[ends].any():
            raw = self.u8[_ranges(s, ln + 1, 1)]
            if raw.size - np.count_nonzero(raw) == k:
                parts = raw.tobytes().decode("utf-8", "replace").split("\0")[:k]
        if parts is None:
            raw_u8 = self.u8
            parts = [raw_u8[a:a + b].tobytes().decode("utf-8", "replace")
                     for a, b in zip(s.tolist(), ln.tolist(), strict=True)]
        if k == n.size:
            return parts
        it = iter(parts)
        return [next(it) if h else None for h in have.tolist()]


def split_tuples(values: np.ndarray, counts: np.ndarray) -> list[Any]:
    """``values`` cut into consecutive tuples of ``counts[i]`` elements (None where the count is
    negative: the field is absent). Rows of one length are cut together, their columns zipped
    into tuples, so the cost is a few numpy calls per distinct length (ranks, operand counts: a
    handful), not a Python step per row."""
    n = int(counts.size)
    if n == 0:
        return []
    nn = np.maximum(counts, 0)
    starts = np.cumsum(nn) - nn
    lengths = np.unique(counts)
    rows_of: list[np.ndarray] = []
    cut: list = []
    for width in lengths.tolist():
        rows = np.flatnonzero(counts == width) if lengths.size > 1 else np.arange(n)
        rows_of.append(rows)
        if width < 0:
            cut.extend([None] * rows.size)
        elif width == 0:
            cut.extend([()] * rows.size)
        else:
            block = values[starts[rows, None] + np.arange(width)]
            cut.extend(zip(*block.T.tolist(), strict=True))
    if lengths.size == 1:
        return cut
    order = np.empty(n, dtype=np.int64)  # row -> where its tuple is in ``cut``
    order[np.concatenate(rows_of)] = np.arange(n)
    return list(itemgetter(*order.tolist())(cut))  # n >= 2 here: itemgetter gives a tuple


def amplification_limit(size: int, weight_bytes: int) -> int:
    """Most list/string bytes a file of ``size`` bytes may ask a reader to build: twice what the
    non-weight part of the file could hold (vectors are rarely shared in real models) plus 1 MiB."""
    return 2 * max(size - weight_bytes, 0) + (1 << 20)


def _ranges(start: np.ndarray, count: np.ndarray, step: int) -> np.ndarray:
    """Concatenate start[i] + step*arange(count[i]) for all i, without a Python loop."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + step * within


def verify(data, path: str) -> FlatView:
    """Raise ModelError unless every offset reachable from the root is inside ``data``."""
    return FlatView(data, path)
