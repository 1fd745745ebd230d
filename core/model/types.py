"""The plain, typed model LiteLens shows: what ``core.model.reader.open_model`` returns.

Objects here hold indices and small values only; weights stay in the mmapped file and are viewed on
demand (``Model.tensor_data``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Quantization:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()
    details: str | None = None  # e.g. "BlockwiseQuantization" for non-affine schemes

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1

    def to_json(self) -> dict[str, Any]:
        return {"scale": list(self.scale), "zero_point": list(self.zero_point),
                "quantized_dimension": self.quantized_dimension}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    bytes: int
    buffer: int
    constant: bool
    variable: bool
    quantization: Quantization | None
    sparse: bool
    has_rank: bool = False
    subgraph: int = 0

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "shape": list(self.shape),
                "shape_signature": list(self.shape_signature), "dtype": self.dtype,
                "bytes": self.bytes, "buffer": self.buffer, "constant": self.constant,
                "variable": self.variable,
                "quantization": (self.quantization.to_json()
                                 if self.quantization and self.quantization.scale else None)}


@dataclass
class Operator:
    index: int
    subgraph: int
    opcode_index: int
    op: str                    # builtin name, or "CUSTOM"
    custom_code: str | None
    version: int
    inputs: tuple[int, ...]    # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    options_table: str | None  # e.g. "Conv2DOptions"
    _decode: Any = field(default=None, repr=False, compare=False)

    @cached_property
    def options(self) -> dict[str, Any]:
        """Decoded builtin options, enum values as names (decoded on first use)."""
        return self._decode() if self._decode else {}

    @property
    def label(self) -> str:
        return self.custom_code if self.op == "CUSTOM" and self.custom_code else self.op

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "custom_code": self.custom_code,
                "version": self.version, "inputs": list(self.inputs),
                "outputs": list(self.outputs), "intermediates": list(self.intermediates),
                "options": self.options}


@dataclass
class Subgraph:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensors: list[Tensor]
    operators: list[Operator]

    def producers(self) -> dict[int, int]:
        """tensor index -> index of the operator that writes it: the one producer map of the
        code base (layout, support rules, ...).

        A well-formed model has one writer per tensor. In a malformed one with several, the
        first writer in execution order wins: LiteRT's memory planner
        (``ArenaPlanner::PlanAllocations``) allocates a tensor at its first writer and ignores
        later ones (they write into that buffer), and that is where the tensor's lifetime, and
        so its place in the graph, starts. Graph inputs are not op outputs; a graph input that
        an op also writes is still mapped to that op here (callers that draw graph inputs as
        nodes let the input win, as the planner allocates inputs before any op runs)."""
        out: dict[int, int] = {}
        for op in self.operators:
            for t in op.outputs:
                if t >= 0 and t not in out:
                    out[t] = op.index
        return out


@dataclass(frozen=True)
class Buffer:
    index: int
    size: int
    offset: int | None  # absolute file offset of the data, None when empty
    external: bool      # stored past the flatbuffer (offset/size fields), as >2 GB models do
    # the data vector is present even if empty: the runtime then maps the tensor read-only
    data_present: bool = False


@dataclass(frozen=True)
class Signature:
    key: str
    subgraph: int
    inputs: dict[str, int]   # signature name -> tensor index in ``subgraph``
    outputs: dict[str, int]


@dataclass(frozen=True)
class Metadata:
    name: str
    buffer: int


@dataclass
class Model:
    path: str
    size_bytes: int
    schema_version: int
    description: str
    subgraphs: list[Subgraph]
    buffers: list[Buffer]
    signatures: list[Signature]
    metadata: list[Metadata]
    min_runtime_version: str | None
    parse_seconds: float = 0.0
    _data: Any = field(default=None, repr=False)      # the mmap (or bytes) the model lives in
    _closer: Any = field(default=None, repr=False)

    @property
    def op_count(self) -> int:
        return sum(len(s.operators) for s in self.subgraphs)

    @property
    def tensor_count(self) -> int:
        return sum(len(s.tensors) for s in self.subgraphs)

    @cached_property
    def sha256(self) -> str:
        """Hash of the file, read in chunks through the file descriptor (not the mmap), so hashing
        a GB model does not make its weights resident in this process."""
        h = hashlib.sha256()
        if self._closer is not None:
            with open(self.path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
        else:
            h.update(memoryview(self._data))
        return h.hexdigest()

    def buffer_bytes(self, index: int) -> memoryview:
        """Zero-copy view of a buffer's bytes (empty for buffers without data)."""
        buf = self.buffers[index]
        if buf.offset is None:
            return memoryview(b"")
        return memoryview(self._data)[buf.offset:buf.offset + buf.size]

    def metadata_bytes(self, name: str) -> bytes | None:
        for m in self.metadata:
            if m.name == name:
                return bytes(self.buffer_bytes(m.buffer))
        return None

    def tensor_data(self, subgraph: int, tensor: int) -> np.ndarray | None:
        """The constant data of a tensor as a read-only numpy view into the file (None if none).

        Packed sub-byte types (int4, uint4, int2) are returned as their raw uint8 bytes.
        """
        t = self.subgraphs[subgraph].tensors[tensor]
        if not t.constant:
            return None
        raw = self.buffer_bytes(t.buffer)
        dtype = numpy_dtype(t.dtype)
        if dtype is None or t.sparse:
            return np.frombuffer(raw, dtype=np.uint8)
        count = len(raw) // dtype.itemsize
        arr = np.frombuffer(raw, dtype=dtype, count=count)
        if count == int(np.prod(t.shape, dtype=np.int64)):
            arr = arr.reshape(t.shape)
        return arr

    def close(self) -> None:
        if self._closer is not None:
            try:
                self._closer()
            except BufferError:  # numpy views still alive; the mmap goes when they do
                pass

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def numpy_dtype(name: str) -> np.dtype | None:
    if name == "bfloat16":
        try:
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:  # pragma: no cover - ml_dtypes ships with ai-edge-litert
            return None
    try:
        dt = np.dtype(name)
    except TypeError:
        return None
    return None if dt.kind in "OUSV" else dt
