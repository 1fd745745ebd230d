"""The parts of TFLite model metadata (``TFLITE_METADATA``, schema ``metadata_schema.fbs``) that
running a model needs: input normalization (mean/std), input value ranges and output labels.

Reads the metadata flatbuffer with the generic ``flatbuffers`` table reader (field slots from the
published schema) and the label files from the zip archive the metadata writer appends to the
model. Every failure degrades to "no metadata": a model runs without it.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import flatbuffers
from flatbuffers import number_types as nt
from flatbuffers.table import Table

# metadata_schema.fbs field slots
_MM_SUBGRAPHS, _MM_FILES = 3, 6                       # ModelMetadata
_SG_INPUTS, _SG_OUTPUTS = 2, 3                        # SubGraphMetadata
_TM_NAME, _TM_PROCESS_UNITS, _TM_STATS, _TM_FILES = 0, 4, 5, 6   # TensorMetadata
_PU_OPTIONS_TYPE, _PU_OPTIONS = 0, 1                  # ProcessUnit
_NORMALIZATION = 1                                    # ProcessUnitOptions.NormalizationOptions
_AF_NAME, _AF_TYPE = 0, 2                             # AssociatedFile
_TENSOR_AXIS_LABELS = 2                               # AssociatedFileType


@dataclass
class TensorInfo:
    name: str | None = None
    mean: list[float] | None = None     # NormalizationOptions: (x - mean) / std
    std: list[float] | None = None
    min: list[float] | None = None      # Stats
    max: list[float] | None = None
    labels: list[str] | None = None     # TENSOR_AXIS_LABELS file


@dataclass
class ModelMetadata:
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)


def _off(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _sub(t: Table, slot: int) -> Table | None:
    o = _off(t, slot)
    return Table(t.Bytes, t.Indirect(t.Pos + o)) if o else None


def _tables(t: Table, slot: int) -> list[Table]:
    o = _off(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(t.VectorLen(o))]


def _str(t: Table, slot: int) -> str | None:
    o = _off(t, slot)
    return t.String(t.Pos + o).decode("utf-8", "replace") if o else None


def _floats(t: Table | None, slot: int) -> list[float] | None:
    if t is None:
        return None
    o = _off(t, slot)
    return [float(x) for x in t.GetVectorAsNumpy(nt.Float32Flags, o)] if o else None


def _u8(t: Table, slot: int) -> int:
    o = _off(t, slot)
    return t.Get(nt.Uint8Flags, t.Pos + o) if o else 0


# What the flatbuffers table reader raises on a corrupt buffer (offsets past the end, bad widths).
_FLATBUFFER_ERRORS = (struct.error, TypeError, ValueError, IndexError)
# What reading one member of a corrupt zip raises (bad CRC or header, bad deflate stream, unknown
# compression, truncated data).
_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError)


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a buffer (the model's mmap) without copying it, so the
    zip reader can find the label files the metadata writer appended to the model."""

    def __init__(self, data) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:
        chunk = self._view[self._pos:self._pos + len(b)]
        n = len(chunk)
        memoryview(b).cast("B")[:n] = chunk
        self._pos += n
        return n


def parse_metadata(meta: bytes, model_data=None) -> ModelMetadata:
    """Parse a TFLITE_METADATA buffer; ``model_data`` (the whole file: bytes, mmap or memoryview,
    read in place) supplies label files. Raises one of ``_FLATBUFFER_ERRORS`` on a corrupt buffer;
    a missing or corrupt label archive only leaves the labels out."""
    buf = bytearray(meta)
    root = Table(buf, flatbuffers.encode.Get(nt.UOffsetTFlags.packer_type, buf, 0))
    archive = None
    if model_data is not None and len(model_data):
        try:
            archive = zipfile.ZipFile(_ViewFile(model_data))
        except (zipfile.BadZipFile, OSError, ValueError):
            archive = None

    def info(tm: Table) -> TensorInfo:
        ti = TensorInfo(name=_str(tm, _TM_NAME))
        for pu in _tables(tm, _TM_PROCESS_UNITS):
            if _u8(pu, _PU_OPTIONS_TYPE) == _NORMALIZATION:
                norm = _sub(pu, _PU_OPTIONS)
                ti.mean, ti.std = _floats(norm, 0), _floats(norm, 1)
        stats = _sub(tm, _TM_STATS)
        ti.max, ti.min = _floats(stats, 0), _floats(stats, 1)
        for af in _tables(tm, _TM_FILES):
            name = _str(af, _AF_NAME)
            if _u8(af, _AF_TYPE) == _TENSOR_AXIS_LABELS and name and archive is not None:
                try:
                    text = archive.read(name).decode("utf-8", "replace")
                except (KeyError, *_ZIP_MEMBER_ERRORS):  # absent or unreadable: no labels
                    continue
                ti.labels = [line.strip() for line in text.splitlines() if line.strip()]
                break
        return ti

    sgs = _tables(root, _MM_SUBGRAPHS)
    if not sgs:
        return ModelMetadata()
    return ModelMetadata([info(t) for t in _tables(sgs[0], _SG_INPUTS)],
                         [info(t) for t in _tables(sgs[0], _SG_OUTPUTS)])


def model_metadata(model) -> ModelMetadata:
    """The metadata of a ``core.model.Model`` (empty when absent or unreadable)."""
    meta = model.metadata_bytes("TFLITE_METADATA")
    if not meta:
        return ModelMetadata()
    try:
        return parse_metadata(meta, getattr(model, "_data", None))
    except _FLATBUFFER_ERRORS:  # untrusted bytes: a broken metadata block must not stop a run
        return ModelMetadata()
