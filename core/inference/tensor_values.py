"""The values of a run's tensors, to read and to keep: the model's outputs and, when asked, every
tensor of subgraph 0 the runtime kept; as a table (a class-score vector sorted by score with the
metadata's labels; other tensors in order), a histogram and a ``.npy`` file.

The worker sends each tensor as one ``tensor`` message carrying the ``.npy`` bytes in base64
(``encode``): the same JSON line protocol locally and over SSH, one tensor per line. The parent keeps
them as ``TensorValues`` and decodes a tensor only when it is looked at. The worker imports this
module in the user's other Python too: numpy only, imported where used.
"""
from __future__ import annotations

import base64
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("output", "input", "intermediate")
TABLE_ROWS = 1000          # values listed in a table; the rest are in the .npy file
HISTOGRAM_BINS = 50
# intermediate tensors sent over the pipe per run, at most (a big model's activations add up to
# hundreds of MiB; the parent keeps them in memory)
KEEP_LIMIT_BYTES = 256 * 2**20


def encode(array: Any) -> str:
    """``array`` as base64 ``.npy`` bytes (the worker side)."""
    import numpy as np
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class TensorValues:
    """One tensor's values after a run: ``kind`` (output, input or intermediate), its name, its
    index in subgraph 0 (None where the runtime did not say), its output number (labels follow
    it), its per-tensor quantization, and the metadata's labels for an output."""
    kind: str
    name: str
    index: int | None
    position: int | None
    scale: float | None
    zero_point: int | None
    npy_b64: str
    labels: list[str] | None = None
    _array: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_message(cls, m: dict[str, Any]) -> TensorValues:
        return cls(kind=str(m["kind"]), name=str(m["name"]), index=m.get("index"),
                   position=m.get("position"), scale=m.get("scale") or None,
                   zero_point=m.get("zero_point"), npy_b64=str(m["npy"]))

    def array(self) -> Any:
        """The values as the runtime produced them (quantized values stay integers)."""
        if self._array is None:
            import numpy as np
            self._array = np.load(io.BytesIO(base64.b64decode(self.npy_b64)),
                                  allow_pickle=False)
        return self._array

    def header(self) -> tuple[tuple[int, ...], str]:
        """(shape, dtype name) from the .npy header alone (listing many tensors decodes none)."""
        import numpy as np
        from numpy.lib import format as npy
        chars = 512
        while True:
            head = io.BytesIO(base64.b64decode(self.npy_b64[:chars]))
            try:
                version = npy.read_magic(head)
                shape, _, dtype = (npy.read_array_header_1_0(head) if version == (1, 0)
                                   else npy.read_array_header_2_0(head))
                return tuple(int(d) for d in shape), np.dtype(dtype).name
            except ValueError:
                if chars >= len(self.npy_b64):
                    raise
                chars *= 4

    @property
    def quantized(self) -> bool:
        return bool(self.scale) and self.header()[1].startswith(("int", "uint"))

    def real(self) -> Any:
        """The real values as float64 (dequantized with the tensor's scale and zero point)."""
        import numpy as np
        a = self.array()
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{self.name}: {a.dtype.name} values have no real value")
        real = a.astype(np.float64)
        if self.quantized:
            real = (real - (self.zero_point or 0)) * float(self.scale or 0)
        return real


@dataclass(frozen=True)
class ValueTable:
    """What a values table shows: its columns, its rows (text), and a note saying which values
    they are and in what order."""
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str


def _value(v: float) -> str:
    return f"{v:.6g}" if math.isfinite(v) else ("NaN" if v != v else "Infinity" if v > 0
                                               else "-Infinity")


def is_class_vector(shape: tuple[int, ...]) -> bool:
    """One axis of more than one value, the others 1: a score per class (top-k applies)."""
    squeezed = [d for d in shape if d != 1]
    return len(squeezed) == 1 and squeezed[0] > 1


def value_table(tv: TensorValues, limit: int = TABLE_ROWS) -> ValueTable:
    """A class-score vector sorted by score (rank, index, the metadata's label, value); any
    other tensor in storage order with each value's coordinates. The raw integer beside the
    real value for a quantized tensor."""
    import numpy as np

    from core import format as fmt
    a = tv.array()
    if a.dtype.kind not in "biuf":
        return ValueTable(("value",), [], f"{a.dtype.name} values are not shown as numbers")
    flat, real = a.reshape(-1), tv.real().reshape(-1)
    raw = ("raw",) if tv.quantized else ()
    n = flat.size
    if is_class_vector(a.shape):
        # NaN sorts last; ties keep the lower index first
        order = np.argsort(-np.nan_to_num(real, nan=-np.inf), kind="stable")[:limit]
        labels = tv.labels or []
        rows = [(str(r + 1), str(int(i)), fmt.printable(labels[i], 80) if i < len(labels) else "",
                 _value(float(real[i]))) + ((str(flat[i]),) if raw else ())
                for r, i in enumerate(order)]
        said = f"labels from the model's metadata ({len(labels):,})" if labels else \
            "no labels in the model's metadata"
        shown = f"all {n:,}" if len(order) == n else f"the top {len(order):,} of {n:,}"
        return ValueTable(("rank", "index", "label", "value") + raw, rows,
                          f"{shown} values by score, highest first; {said}")
    k = min(n, limit)
    coords = np.unravel_index(np.arange(k), a.shape) if a.ndim else ()
    rows = [("[" + ", ".join(str(int(c[j])) for c in coords) + "]", _value(float(real[j])))
            + ((str(flat[j]),) if raw else ()) for j in range(k)]
    shown = f"all {n:,} values" if k == n else f"the first {k:,} of {n:,} values"
    return ValueTable(("at", "value") + raw, rows,
                      f"{shown} in storage order ({fmt.shape(a.shape)}); the .npy file has them "
                      "all")


@dataclass(frozen=True)
class Histogram:
    """Counts of the finite real values in ``bins`` equal bins over their range, and how many
    were not finite."""
    edges: Any
    counts: Any
    finite: int
    nonfinite: int


def histogram(tv: TensorValues, bins: int = HISTOGRAM_BINS) -> Histogram:
    import numpy as np
    real = tv.real().reshape(-1)
    ok = np.isfinite(real)
    vals = real[ok]
    if vals.size == 0:
        return Histogram(np.zeros(0), np.zeros(0, np.int64), 0, int(real.size))
    lo, hi = float(vals.min()), float(vals.max())
    if lo == hi:   # one value: one bin around it
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(vals, bins=min(bins, max(1, vals.size)), range=(lo, hi))
    return Histogram(edges, counts, int(vals.size), int(real.size - vals.size))


def npy_name(tv: TensorValues) -> str:
    """A file name for the tensor's values: where it is ('output0', 't107') and its name's last
    part, made safe for a file ('output0_probabilities.npy', 't107_Relu6.npy'); tensors of one
    run never share a name."""
    where = f"output{tv.position}" if tv.kind == "output" else f"t{tv.index}"
    base = tv.name.split(";")[0].rstrip("/").split("/")[-1]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in base).strip("._")
    return f"{where}_{safe[:80]}.npy" if safe else f"{where}.npy"


def free_path(folder: str | os.PathLike, name: str) -> Path:
    """``folder/name``, or ``folder/stem-2.npy``... when taken: a suggestion that overwrites
    nothing."""
    path = Path(folder) / name
    stem, suffix = path.stem, path.suffix
    k = 2
    while path.exists():
        path = Path(folder) / f"{stem}-{k}{suffix}"
        k += 1
    return path


def save_npy(tv: TensorValues, path: str | os.PathLike) -> Path:
    """The tensor's values as the runtime produced them, written atomically to a new file
    (``core.fileio.OutputExists`` when ``path`` is taken: a user's file is never replaced)."""
    from core.fileio import write_npy
    return write_npy(path, tv.array(), overwrite=False)


def save_all(tensors: list[TensorValues], folder: str | os.PathLike) -> list[Path]:
    """Every tensor as ``folder/<npy_name>`` (the folder made if missing), each a new file:
    OutputExists, naming the file, before anything is written when one is taken."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: is not a folder")
    paths = [folder / npy_name(tv) for tv in tensors]
    from core.fileio import OutputExists
    taken = next((p for p in paths if p.exists()), None)
    if taken is not None:
        raise OutputExists(f"{taken}: already exists; choose a new folder (LiteLens never "
                           "overwrites a file)")
    folder.mkdir(parents=True, exist_ok=True)
    return [save_npy(tv, p) for tv, p in zip(tensors, paths, strict=True)]


def tensor_choices(tensors: list[TensorValues]) -> list[TensorValues]:
    """Outputs first (in output order), then inputs, then intermediates by tensor index."""
    rank = {k: i for i, k in enumerate(KINDS)}
    return sorted(tensors, key=lambda t: (rank.get(t.kind, len(KINDS)),
                                          t.position if t.position is not None else -1,
                                          t.index if t.index is not None else -1))
