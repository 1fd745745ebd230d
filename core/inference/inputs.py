"""Input tensors for a run: random (respecting dtype and quantization range), zeros, an image file
(resized, normalized per the model's metadata when present) or a ``.npy``/``.npz`` file.

Prepared in the parent from the model file alone (``core.model.reader``), saved to an ``.npz`` the worker
loads, so the worker needs nothing but numpy and its backend. Dynamic dimensions (-1 in the
shape signature) take the size the user gives, else the size the file stores in the tensor's shape
(converters record the example shape there), else 1; every run says which inputs were dynamic and
what it used (``dynamic_note``), because a runtime error on a guessed shape means nothing otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from core.format import printable
from core.inference.results import InputSpecJSON
from core.model.types import numpy_dtype

RANDOM_SEED = 0
_INT_RANDOM_RANGE = (0, 10)  # non-quantized integer inputs are often ids/indices: keep them small


class InputError(ValueError):
    """An input source that cannot feed this model: the message names the file and the problem."""


@dataclass
class InputSpec:
    name: str
    shape: tuple[int, ...]           # concrete shape (dynamic dims resolved)
    shape_signature: tuple[int, ...]
    dtype: str                       # "float32", "int8", ...
    scale: float | None = None       # per-tensor quantization of the input, if any
    zero_point: int | None = None
    mean: list[float] | None = None  # metadata normalization
    std: list[float] | None = None
    # where the concrete sizes of dynamic dims came from: "user" (--shape / the Run panel),
    # "model" (the file's stored shape), "default" (1); None for a static input
    shape_source: str | None = None

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    def to_json(self) -> InputSpecJSON:
        return {"name": self.name, "shape": list(self.shape),
                "shape_signature": list(self.shape_signature), "dtype": self.dtype,
                "scale": self.scale, "zero_point": self.zero_point,
                "mean": self.mean, "std": self.std, "shape_source": self.shape_source}


def parse_shapes(items) -> dict[str, list[int]]:
    """``["name=1,224,224,3", ...]`` (CLI ``--shape``; the Run panel splits its field on ';')
    -> {name: dims}. Raises InputError naming the bad item."""
    out: dict[str, list[int]] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, sep, dims = item.rpartition("=")
        try:
            shape = [int(d) for d in dims.split(",")]
        except ValueError:
            shape = []
        if not sep or not name.strip() or not shape or any(d <= 0 for d in shape):
            raise InputError(f"bad input shape {item!r}: expected NAME=D,D,... with positive "
                             "integers, e.g. input=1,224,224,3")
        out[name.strip()] = shape
    return out


def dynamic_inputs(model) -> list[tuple[str, list[int]]]:
    """(name, shape signature) of the inputs of subgraph 0 that have -1 dimensions."""
    sg = model.subgraphs[0]
    return [(sg.tensors[i].name, list(sg.tensors[i].shape_signature)) for i in sg.inputs
            if any(d < 0 for d in sg.tensors[i].shape_signature)]


def input_specs(model, shapes: Mapping[str, Sequence[int]] | None = None,
                subgraph: int = 0) -> list[InputSpec]:
    """The inputs of a subgraph (0: the main one) of a ``core.model.Model``; ``shapes``
    overrides by name. Metadata (normalization) describes subgraph 0 only."""
    from core.model.metadata import model_metadata
    meta = model_metadata(model)
    sg = model.subgraphs[subgraph]
    names = [sg.tensors[i].name for i in sg.inputs]
    unknown = sorted(set(shapes or {}) - set(names))
    if unknown:
        raise InputError(f"{getattr(model, 'path', 'model')}: no input named "
                         f"{', '.join(repr(u) for u in unknown)} (inputs: "
                         f"{', '.join(repr(n) for n in names)})")
    specs = []
    for k, ti in enumerate(sg.inputs):
        t = sg.tensors[ti]
        sig = tuple(t.shape_signature) if t.shape_signature else tuple(t.shape)
        want = (shapes or {}).get(t.name)
        if want is not None:
            want = tuple(int(d) for d in want)
            if len(want) != len(sig) or any(s >= 0 and s != w for s, w in zip(sig, want, strict=False)):
                raise InputError(f"{model.path if hasattr(model, 'path') else 'model'}: input "
                                 f"{t.name!r} has shape signature {list(sig)}; cannot resize to "
                                 f"{list(want)}")
            shape, source = want, "user"
        elif any(d < 0 for d in sig):
            shape, source = _guess_dynamic(sig, tuple(t.shape))
        else:
            shape, source = tuple(t.shape), None
        q = t.quantization
        scale = float(q.scale[0]) if q and len(q.scale) == 1 else None
        zp = int(q.zero_point[0]) if q and len(q.zero_point) == 1 else None
        mi = meta.inputs[k] if k < len(meta.inputs) and subgraph == 0 else None
        specs.append(InputSpec(t.name, shape, sig, t.dtype, scale, zp,
                               mi.mean if mi else None, mi.std if mi else None,
                               source if any(d < 0 for d in sig) else None))
    return specs


def _guess_dynamic(sig: tuple[int, ...], stored: tuple[int, ...]) -> tuple[tuple[int, ...], str]:
    """Concrete sizes for the -1 dims of ``sig``: the file's stored shape where it gives a size
    above 1 (a converter's example shape), else 1. -> (shape, "model" | "default")."""
    if len(stored) == len(sig) and any(s < 0 and d > 1 for s, d in zip(sig, stored, strict=False)):
        return tuple(d if s < 0 and d > 0 else s if s >= 0 else 1
                     for s, d in zip(sig, stored, strict=False)), "model"
    return tuple(d if d >= 0 else 1 for d in sig), "default"


def dynamic_note(specs: list[InputSpec]) -> str:
    """One sentence on the dynamic inputs whose shape LiteLens chose ('' when the user gave every
    one): which input, its signature, the shape used and how to set another."""
    guessed = [s for s in specs if s.dynamic and s.shape_source != "user"]
    if not guessed:
        return ""
    parts = [f"input '{printable(s.name, 80)}' is dynamic (shape signature "
             f"{list(s.shape_signature)}) and ran as {list(s.shape)} ("
             + ("the shape stored in the model" if s.shape_source == "model"
                else "1 for each unknown dimension") + ")" for s in guessed]
    example = " ".join(f"--shape {printable(s.name, 80)}=" + ",".join(
        "D" if d < 0 else str(d) for d in s.shape_signature) for s in guessed)
    return ("; ".join(parts) + f"; set the real shape with {example} or in the Run panel's "
            "Input shapes field")


def _np_dtype(spec: InputSpec) -> np.dtype:
    dt = numpy_dtype(spec.dtype)
    if dt is None or spec.dtype == "string":
        raise InputError(f"input {spec.name!r}: dtype {spec.dtype} cannot be generated")
    return np.dtype(dt)


def _random(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    dt = _np_dtype(spec)
    if dt == np.bool_:
        return rng.integers(0, 2, spec.shape).astype(np.bool_)
    if np.issubdtype(dt, np.integer):
        if spec.scale:  # quantized: any value of the integer type is a valid quantized value
            info = np.iinfo(dt)
            return rng.integers(int(info.min), int(info.max) + 1, spec.shape, dtype=dt)
        if dt == np.uint8:
            return rng.integers(0, 256, spec.shape, dtype=dt)
        return rng.integers(*_INT_RANDOM_RANGE, spec.shape).astype(dt)
    lo, hi = 0.0, 1.0
    if spec.mean is not None and spec.std is not None:  # the range of a normalized 8-bit image
        mean, std = float(np.mean(spec.mean)), float(np.mean(spec.std)) or 1.0
        lo, hi = sorted(((0 - mean) / std, (255 - mean) / std))
    return rng.uniform(lo, hi, spec.shape).astype(dt)


def _zeros(spec: InputSpec) -> np.ndarray:
    dt = _np_dtype(spec)
    fill = spec.zero_point if (spec.scale and spec.zero_point is not None) else 0
    return np.full(spec.shape, fill, dtype=dt)


def _image(spec: InputSpec, path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise InputError(f"{path}: reading images needs Pillow (pip install pillow)") from None
    if len(spec.shape) != 4 or spec.shape[3] not in (1, 3):
        raise InputError(f"{path}: input {spec.name!r} of shape {list(spec.shape)} is not an "
                         "NHWC image tensor with 1 or 3 channels")
    try:
        with Image.open(path) as opened:
            im = opened.convert("L" if spec.shape[3] == 1 else "RGB")
            im = im.resize((spec.shape[2], spec.shape[1]), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.float32)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({e})") from None
    pixels = pixels.reshape(spec.shape[1], spec.shape[2], spec.shape[3])
    batch = np.broadcast_to(pixels, spec.shape)
    dt = _np_dtype(spec)
    if np.issubdtype(dt, np.floating):
        out: np.ndarray
        if spec.mean is not None and spec.std is not None:
            out = (batch - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
        else:
            out = batch / 255.0
        return out.astype(dt)
    if dt == np.uint8:
        return batch.astype(np.uint8)
    if dt == np.int8:  # raw pixels shifted into int8, as int8 image models take them
        return (batch - 128).astype(np.int8)
    raise InputError(f"{path}: input {spec.name!r} has dtype {spec.dtype}; images feed float32, "
                     "uint8 or int8 inputs")


def _arrays(specs: list[InputSpec], path: Path) -> list[np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if isinstance(loaded, np.ndarray):
        arrays = [loaded]
    else:
        with loaded:
            names = list(loaded.files)
            by_name = {s.name: loaded[s.name] for s in specs if s.name in names}
            arrays = [by_name[s.name] for s in specs] if len(by_name) == len(specs) \
                else [loaded[n] for n in names]
    if len(arrays) != len(specs):
        raise InputError(f"{path}: has {len(arrays)} array(s); the model takes {len(specs)} "
                         f"input(s) ({', '.join(s.name for s in specs)})")
    out = []
    for s, a in zip(specs, arrays, strict=False):
        dt = _np_dtype(s)
        # the array's shape must be the one asked for: the shape given for this input, else the
        # model's signature (where -1 takes any size); an array never silently overrides a shape
        given = s.shape_source == "user"
        want = s.shape if given else s.shape_signature
        if len(a.shape) != len(want) or any(d >= 0 and d != n for d, n in zip(want, a.shape, strict=False)):
            said = (f"the input shapes given say {list(want)}" if given
                    else f"the model expects {list(want)}")
            raise InputError(f"{path}: input shape mismatch: the array for input {s.name!r} has "
                             f"shape {list(a.shape)}, {said}")
        if a.dtype != dt and not np.can_cast(a.dtype, dt, casting="same_kind"):
            raise InputError(f"{path}: array for input {s.name!r} is {a.dtype}, the model expects "
                             f"{dt}")
        out.append(np.ascontiguousarray(a, dtype=dt))
    return out


def make_inputs(specs: list[InputSpec], source: str = "random",
                seed: int = RANDOM_SEED) -> list[np.ndarray]:
    """Arrays for ``specs`` from ``source``: "random", "zeros", or a path (image/.npy/.npz)."""
    if source == "random":
        rng = np.random.default_rng(seed)
        return [_random(s, rng) for s in specs]
    if source == "zeros":
        return [_zeros(s) for s in specs]
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: input file not found (use 'random', 'zeros', an image, "
                         ".npy or .npz)")
    if path.suffix.lower() in (".npy", ".npz"):
        return _arrays(specs, path)
    if len(specs) != 1:
        raise InputError(f"{path}: an image feeds a model with one input; this one has "
                         f"{len(specs)}")
    return [_image(specs[0], path)]


def save_inputs(arrays: list[np.ndarray], path: str | Path) -> Path:
    """Write arrays as ``in0``, ``in1``, ... in an .npz the worker loads in input order."""
    path = Path(path)
    named: dict[str, Any] = {f"in{i}": a for i, a in enumerate(arrays)}
    np.savez(path, **named)
    return path


def load_inputs(path: str | Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return [z[f"in{i}"] for i in range(len(z.files))]
