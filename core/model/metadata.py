"""TFLite model metadata (the ``TFLITE_METADATA`` buffer, schema ``metadata_schema.fbs``, file
identifier ``M001``), decoded: model name, version, author, license, description, per-tensor
names, descriptions, content (image/feature/bounding box/audio), normalization, value stats and
associated files (labels, vocabularies) from the zip archive the metadata writer appends.

The block is untrusted bytes like the model: ``core.model.verify.FlatView`` checks it with the
field layout below (the same breadth-first walk as the model) before anything reads it. A broken
or unreadable block yields warnings and whatever could be read, never an exception: a model runs
and is inspected without its metadata.

No generated Python module for the metadata schema ships with LiteRT, so the layout is written
here from the published schema (1.5.0: slots in declaration order, unions take two slots).
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import flatbuffers
from flatbuffers import number_types as nt
from flatbuffers.table import Table

from core.errors import ModelError
from core.fileio import finite_or_null
from core.model.schema import Field

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"

# -- the schema's field layout, for the verifier: table -> fields in slot order --------------------
_S, _T, _V, _VT, _VS, _U = "string", "table", "vector", "vector_table", "vector_string", "union"


def _scalar(name: str, slot: int, size: int, *, signed=False, floating=False) -> Field:
    return Field(name, slot, "scalar", size, signed=signed, floating=floating)


_LAYOUT: dict[str, tuple[Field, ...]] = {
    "ModelMetadata": (Field("Name", 0, _S), Field("Description", 1, _S), Field("Version", 2, _S),
                      Field("SubgraphMetadata", 3, _VT, 4, "SubGraphMetadata"),
                      Field("Author", 4, _S), Field("License", 5, _S),
                      Field("AssociatedFiles", 6, _VT, 4, "AssociatedFile"),
                      Field("MinParserVersion", 7, _S)),
    "SubGraphMetadata": (Field("Name", 0, _S), Field("Description", 1, _S),
                         Field("InputTensorMetadata", 2, _VT, 4, "TensorMetadata"),
                         Field("OutputTensorMetadata", 3, _VT, 4, "TensorMetadata"),
                         Field("AssociatedFiles", 4, _VT, 4, "AssociatedFile"),
                         Field("InputProcessUnits", 5, _VT, 4, "ProcessUnit"),
                         Field("OutputProcessUnits", 6, _VT, 4, "ProcessUnit"),
                         Field("InputTensorGroups", 7, _VT, 4, "TensorGroup"),
                         Field("OutputTensorGroups", 8, _VT, 4, "TensorGroup"),
                         Field("CustomMetadata", 9, _VT, 4, "CustomMetadata")),
    "TensorMetadata": (Field("Name", 0, _S), Field("Description", 1, _S),
                       Field("DimensionNames", 2, _VS), Field("Content", 3, _T, 4, "Content"),
                       Field("ProcessUnits", 4, _VT, 4, "ProcessUnit"),
                       Field("Stats", 5, _T, 4, "Stats"),
                       Field("AssociatedFiles", 6, _VT, 4, "AssociatedFile")),
    "AssociatedFile": (Field("Name", 0, _S), Field("Description", 1, _S), _scalar("Type", 2, 1),
                       Field("Locale", 3, _S), Field("Version", 4, _S)),
    "Content": (_scalar("ContentPropertiesType", 0, 1),
                Field("ContentProperties", 1, _U, 4, "ContentProperties", 0),
                Field("Range", 2, _T, 4, "ValueRange")),
    "FeatureProperties": (),
    "ImageProperties": (_scalar("ColorSpace", 0, 1), Field("DefaultSize", 1, _T, 4, "ImageSize")),
    "ImageSize": (_scalar("Width", 0, 4), _scalar("Height", 1, 4)),
    "BoundingBoxProperties": (Field("Index", 0, _V, 4), _scalar("Type", 1, 1),
                              _scalar("CoordinateType", 2, 1)),
    "AudioProperties": (_scalar("SampleRate", 0, 4), _scalar("Channels", 1, 4)),
    "ValueRange": (_scalar("Min", 0, 4, signed=True), _scalar("Max", 1, 4, signed=True)),
    "ProcessUnit": (_scalar("OptionsType", 0, 1),
                    Field("Options", 1, _U, 4, "ProcessUnitOptions", 0)),
    "NormalizationOptions": (Field("Mean", 0, _V, 4), Field("Std", 1, _V, 4)),
    "ScoreCalibrationOptions": (_scalar("ScoreTransformation", 0, 1),
                                _scalar("DefaultScore", 1, 4, floating=True)),
    "ScoreThresholdingOptions": (_scalar("GlobalScoreThreshold", 0, 4, floating=True),),
    "BertTokenizerOptions": (Field("VocabFile", 0, _VT, 4, "AssociatedFile"),),
    "SentencePieceTokenizerOptions": (Field("SentencePieceModel", 0, _VT, 4, "AssociatedFile"),
                                      Field("VocabFile", 1, _VT, 4, "AssociatedFile")),
    "RegexTokenizerOptions": (Field("DelimRegexPattern", 0, _S),
                              Field("VocabFile", 1, _VT, 4, "AssociatedFile")),
    "Stats": (Field("Max", 0, _V, 4), Field("Min", 1, _V, 4)),
    "TensorGroup": (Field("Name", 0, _S), Field("TensorNames", 1, _VS)),
    "CustomMetadata": (Field("Name", 0, _S), Field("Data", 1, _V, 1)),
}
_UNIONS = {
    "ContentProperties": {1: "FeatureProperties", 2: "ImageProperties",
                          3: "BoundingBoxProperties", 4: "AudioProperties"},
    "ProcessUnitOptions": {1: "NormalizationOptions", 2: "ScoreCalibrationOptions",
                           3: "ScoreThresholdingOptions", 4: "BertTokenizerOptions",
                           5: "SentencePieceTokenizerOptions", 6: "RegexTokenizerOptions"},
}
FILE_TYPES = {0: "UNKNOWN", 1: "DESCRIPTIONS", 2: "TENSOR_AXIS_LABELS", 3: "TENSOR_VALUE_LABELS",
              4: "TENSOR_AXIS_SCORE_CALIBRATION", 5: "VOCABULARY", 6: "SCANN_INDEX_FILE"}
_COLOR_SPACES = {0: "UNKNOWN", 1: "RGB", 2: "GRAYSCALE"}
_BOX_TYPES = {0: "UNKNOWN", 1: "BOUNDARIES", 2: "UPPER_LEFT", 3: "CENTER"}
_COORDINATES = {0: "RATIO", 1: "PIXEL"}
_SCORE_TRANSFORMS = {0: "IDENTITY", 1: "LOG", 2: "INVERSE_LOGISTIC"}
_LABEL_TYPES = (2, 3)   # TENSOR_AXIS_LABELS, TENSOR_VALUE_LABELS
MAX_LABELS_READ = 100_000
# What reading one member of a corrupt zip raises (bad CRC or header, bad deflate stream, unknown
# compression, truncated data).
_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError)


class MetadataLayout:
    """The metadata schema in the interface FlatView reads (like core.model.schema)."""

    @staticmethod
    def fields_of(table: str) -> tuple[Field, ...]:
        return _LAYOUT[table]

    @staticmethod
    @lru_cache(maxsize=None)
    def field(table: str, name: str) -> Field:
        for f in _LAYOUT[table]:
            if f.name == name:
                return f
        raise KeyError(f"{table} has no field {name}")

    @staticmethod
    def union_members(enum_name: str) -> dict[int, str]:
        return _UNIONS[enum_name]


# -- decoded values ------------------------------------------------------------------------------
@dataclass
class AssociatedFile:
    name: str | None
    type: str                            # FILE_TYPES name
    description: str | None = None
    locale: str | None = None
    version: str | None = None
    size_bytes: int | None = None        # in the model's zip archive; None when not packed


@dataclass
class TensorInfo:
    name: str | None = None
    description: str | None = None
    dimension_names: list[str] | None = None
    content: str | None = None           # "image RGB 224x224", "feature", "bounding box ..."
    value_range: list[int] | None = None  # Content.range: which dimensions hold the content
    mean: list[float] | None = None      # NormalizationOptions: (x - mean) / std
    std: list[float] | None = None
    min: list[float] | None = None       # Stats
    max: list[float] | None = None
    score_threshold: float | None = None
    score_calibration: str | None = None
    labels: list[str] | None = None      # TENSOR_AXIS_LABELS file (first one)
    value_labels: list[str] | None = None  # TENSOR_VALUE_LABELS file (first one)
    files: list[AssociatedFile] = field(default_factory=list)


@dataclass
class SubgraphInfo:
    name: str | None = None
    description: str | None = None
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    files: list[AssociatedFile] = field(default_factory=list)
    custom: list[dict] = field(default_factory=list)   # CustomMetadata: name, size_bytes


@dataclass
class ModelMetadata:
    name: str | None = None
    description: str | None = None
    version: str | None = None
    author: str | None = None
    license: str | None = None
    min_parser_version: str | None = None
    files: list[AssociatedFile] = field(default_factory=list)
    subgraphs: list[SubgraphInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    present: bool = False                # the model has a TFLITE_METADATA buffer

    @property
    def inputs(self) -> list[TensorInfo]:
        return self.subgraphs[0].inputs if self.subgraphs else []

    @property
    def outputs(self) -> list[TensorInfo]:
        return self.subgraphs[0].outputs if self.subgraphs else []

    def to_json(self) -> dict:
        """The decoded values as strict JSON data (a non-finite float from a damaged block becomes
        null). ``litelens report`` nulls them itself from ``asdict`` so its warnings name each."""
        return finite_or_null(asdict(self))


# -- reading a verified block --------------------------------------------------------------------
def _off(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _sub(t: Table | None, slot: int) -> Table | None:
    if t is None:
        return None
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


def _strs(t: Table, slot: int) -> list[str] | None:
    o = _off(t, slot)
    if not o:
        return None
    start = t.Vector(o)
    return [t.String(start + 4 * i).decode("utf-8", "replace") for i in range(t.VectorLen(o))]


def _vec(t: Table | None, slot: int, flags) -> list | None:
    if t is None:
        return None
    o = _off(t, slot)
    return t.GetVectorAsNumpy(flags, o).tolist() if o else None


def _scalar_of(t: Table | None, slot: int, flags, default=0):
    if t is None:
        return default
    o = _off(t, slot)
    return t.Get(flags, t.Pos + o) if o else default


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a buffer (the model's mmap) without copying it, so the
    zip reader can find the files the metadata writer appended to the model."""

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


class _Reader:
    def __init__(self, archive_source, warnings: list[str]):
        self.source, self.warnings = archive_source, warnings
        self._archive: zipfile.ZipFile | None = None
        self._opened = False

    @property
    def archive(self) -> zipfile.ZipFile | None:
        """The zip archive appended to the model, opened on first need (reads only its
        directory at the end of the file)."""
        if not self._opened:
            self._opened = True
            if self.source is not None and len(self.source):
                try:
                    self._archive = zipfile.ZipFile(_ViewFile(self.source))
                except (zipfile.BadZipFile, OSError, ValueError):
                    self._archive = None  # nothing packed: each named file gets a warning
        return self._archive

    def file(self, af: Table) -> AssociatedFile:
        code = _scalar_of(af, 2, nt.Int8Flags)
        f = AssociatedFile(name=_str(af, 0), type=FILE_TYPES.get(code, f"UNKNOWN_{code}"),
                           description=_str(af, 1), locale=_str(af, 3), version=_str(af, 4))
        if f.name and self.archive is not None:
            try:
                f.size_bytes = self.archive.getinfo(f.name).file_size
            except KeyError:
                pass
        if f.name and f.size_bytes is None:
            self.warnings.append(f"associated file {f.name!r} is named in the metadata but not "
                                 f"packed in the model")
        return f

    def lines(self, name: str) -> list[str] | None:
        if self.archive is None:   # nothing packed: file() has already warned
            return None
        try:
            with self.archive.open(name) as fh:
                text = fh.read(64 << 20).decode("utf-8", "replace")
        except (KeyError, RuntimeError, *_ZIP_MEMBER_ERRORS) as e:
            self.warnings.append(f"associated file {name!r} cannot be read: {e}")
            return None
        return [ln.strip() for ln in text.splitlines() if ln.strip()][:MAX_LABELS_READ]

    def units(self, t: Table, slot: int, ti: TensorInfo | None) -> list[str]:
        """Process units; the ones that describe a tensor are stored on ``ti``."""
        names = []
        for pu in _tables(t, slot):
            code = _scalar_of(pu, 0, nt.Uint8Flags)
            kind = _UNIONS["ProcessUnitOptions"].get(code, f"unknown option type {code}")
            names.append(kind)
            opts = _sub(pu, 1)
            if ti is None or opts is None:
                continue
            if kind == "NormalizationOptions":
                ti.mean = _vec(opts, 0, nt.Float32Flags)
                ti.std = _vec(opts, 1, nt.Float32Flags)
            elif kind == "ScoreThresholdingOptions":
                ti.score_threshold = _scalar_of(opts, 0, nt.Float32Flags, 0.0)
            elif kind == "ScoreCalibrationOptions":
                tr = _scalar_of(opts, 0, nt.Int8Flags)
                default = _scalar_of(opts, 1, nt.Float32Flags, 0.0)
                ti.score_calibration = (f"sigmoid, transform {_SCORE_TRANSFORMS.get(tr, tr)}, "
                                        f"default score {default:g}")
        return names

    def content(self, c: Table | None) -> tuple[str | None, list[int] | None]:
        if c is None:
            return None, None
        code = _scalar_of(c, 0, nt.Uint8Flags)
        props = _sub(c, 1)
        kind = _UNIONS["ContentProperties"].get(code)
        rng = _sub(c, 2)
        value_range = ([_scalar_of(rng, 0, nt.Int32Flags), _scalar_of(rng, 1, nt.Int32Flags)]
                       if rng is not None else None)
        text: str | None
        if kind == "ImageProperties":
            cs = _COLOR_SPACES.get(_scalar_of(props, 0, nt.Int8Flags), "UNKNOWN")
            size = _sub(props, 1)
            text = f"image {cs}"
            if size is not None:
                text += (f" {_scalar_of(size, 0, nt.Uint32Flags)}x"
                         f"{_scalar_of(size, 1, nt.Uint32Flags)}")
        elif kind == "BoundingBoxProperties":
            index = _vec(props, 0, nt.Uint32Flags)
            text = (f"bounding box {_BOX_TYPES.get(_scalar_of(props, 1, nt.Int8Flags), '?')} "
                    f"{_COORDINATES.get(_scalar_of(props, 2, nt.Int8Flags), '?')}"
                    + (f" index {index}" if index else ""))
        elif kind == "AudioProperties":
            text = (f"audio {_scalar_of(props, 0, nt.Uint32Flags)} Hz, "
                    f"{_scalar_of(props, 1, nt.Uint32Flags)} channel(s)")
        elif kind == "FeatureProperties":
            text = "feature"
        else:
            text = None if code == 0 else f"unknown content type {code}"
        return text, value_range

    def tensor(self, tm: Table) -> TensorInfo:
        ti = TensorInfo(name=_str(tm, 0), description=_str(tm, 1), dimension_names=_strs(tm, 2))
        ti.content, ti.value_range = self.content(_sub(tm, 3))
        self.units(tm, 4, ti)
        stats = _sub(tm, 5)
        ti.max, ti.min = _vec(stats, 0, nt.Float32Flags), _vec(stats, 1, nt.Float32Flags)
        ti.files = [self.file(af) for af in _tables(tm, 6)]
        for f in ti.files:
            if f.size_bytes is None or f.type not in ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS"):
                continue
            attr = "labels" if f.type == "TENSOR_AXIS_LABELS" else "value_labels"
            if getattr(ti, attr) is None and f.name:  # the first file of a type: default locale
                setattr(ti, attr, self.lines(f.name))
        return ti

    def subgraph(self, sg: Table) -> SubgraphInfo:
        info = SubgraphInfo(name=_str(sg, 0), description=_str(sg, 1),
                            inputs=[self.tensor(t) for t in _tables(sg, 2)],
                            outputs=[self.tensor(t) for t in _tables(sg, 3)],
                            files=[self.file(af) for af in _tables(sg, 4)])
        for cm in _tables(sg, 9):
            o = _off(cm, 1)
            info.custom.append({"name": _str(cm, 0), "size_bytes": cm.VectorLen(o) if o else 0})
        return info


def parse_metadata(meta: bytes, model_data=None, source: str = METADATA_NAME) -> ModelMetadata:
    """Verify and decode a TFLITE_METADATA buffer; ``model_data`` (the whole file: bytes, mmap or
    memoryview, read in place) supplies the associated files. Problems become ``warnings``; this
    never raises on bad bytes."""
    from core.model.verify import FlatView
    out = ModelMetadata(present=True)
    buf = bytes(meta)
    try:
        FlatView(buf, source, layout=MetadataLayout, root="ModelMetadata", what="metadata")
    except ModelError as e:
        where = f" (at byte {e.offset} of the block)" if e.offset is not None else ""
        out.warnings.append(f"{e.problem}{where}; the metadata is ignored")
        return out
    if buf[4:8] != FILE_IDENTIFIER:
        # the reference readers (VerifyModelMetadataBuffer) refuse such a block: a verifiable
        # table of some other schema would otherwise decode into made-up names and numbers
        out.warnings.append(f"metadata file identifier is {buf[4:8]!r}, not {FILE_IDENTIFIER!r}; "
                            "the metadata is ignored")
        return out
    r = _Reader(model_data, out.warnings)
    root = Table(bytearray(buf), flatbuffers.encode.Get(nt.UOffsetTFlags.packer_type, buf, 0))
    out.name, out.description, out.version = _str(root, 0), _str(root, 1), _str(root, 2)
    out.author, out.license, out.min_parser_version = _str(root, 4), _str(root, 5), _str(root, 7)
    out.subgraphs = [r.subgraph(sg) for sg in _tables(root, 3)]
    out.files = [r.file(af) for af in _tables(root, 6)]
    return out


def model_metadata(model) -> ModelMetadata:
    """The decoded metadata of a ``core.model.Model`` (empty when it has none)."""
    meta = model.metadata_bytes(METADATA_NAME)
    if meta is None:
        return ModelMetadata()
    return parse_metadata(meta, getattr(model, "_data", None),
                          source=f"{model.path} ({METADATA_NAME})")
