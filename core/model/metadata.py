"""The parts of TFLite model metadata (``TFLITE_METADATA``, schema ``metadata_schema.fbs``) that
running a model needs: input normalization (mean/std), input value ranges and output labels.

Reads the metadata flatbuffer with the generic ``flatbuffers`` table reader (field slots from the
published schema) and the label files from the zip archive the metadata writer appends to the
model. Every failure degrades to "no metadata": a model runs without it.
"""
from __future__ import annotations

import io
import zipfile
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


def parse_metadata(meta: bytes, model_bytes: bytes = b"") -> ModelMetadata:
    """Parse a TFLITE_METADATA buffer; ``model_bytes`` (the whole file) supplies label files."""
    buf = bytearray(meta)
    root = Table(buf, flatbuffers.encode.Get(nt.UOffsetTFlags.packer_type, buf, 0))
    archive = None
    if model_bytes:
        try:
            archive = zipfile.ZipFile(io.BytesIO(model_bytes))
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
                except KeyError:
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
        return parse_metadata(meta, bytes(model._data) if getattr(model, "_data", None) is not None
                              else b"")
    except Exception:  # untrusted bytes: a broken metadata block must not stop a run
        return ModelMetadata()
