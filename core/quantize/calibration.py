"""Input samples for calibration and evaluation: random in each input's real range, a folder of
images, or a .npy/.npz file (one sample, or a stack of samples along a new first axis).

Each sample is a list of arrays in input order, made by ``core.inference.inputs`` exactly as the
Run panel makes a run's inputs (metadata normalization, quantized ranges, small integer ids).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.inference.inputs import InputError, InputSpec, make_inputs

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
EVAL_SEED_OFFSET = 1000   # evaluation inputs never repeat the calibration ones
# evaluation inputs by default: with 4, the worst cosine of a random draw moved by 0.1 and more
EVAL_SAMPLES = 16


def source_problem(source: str) -> str | None:
    """Why ``source`` cannot be calibration data (None when its form is right: "random", a
    folder, or an existing .npy/.npz file); what is inside is checked when samples are made."""
    path = Path(source)
    if source == "random" or path.is_dir() or \
            (path.is_file() and path.suffix.lower() in (".npy", ".npz")):
        return None
    if not path.exists():
        return f"{path}: no such calibration folder or file"
    return (f"{path}: calibration data must be 'random', a folder of images or a .npy/.npz "
            "file")


def samples(specs: list[InputSpec], source: str, count: int, seed_offset: int = 0) \
        -> list[list[np.ndarray]]:
    """``count`` samples from ``source`` ("random", a folder of images, or .npy/.npz); a folder
    or file with fewer samples gives what it has. Raises InputError naming the source."""
    if count < 1:
        raise InputError(f"sample count must be at least 1, not {count}")
    if source == "random":
        return [make_inputs(specs, "random", seed=seed_offset + k) for k in range(count)]
    path = Path(source)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InputError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return [make_inputs(specs, str(p)) for p in images[:count]]
    if path.suffix.lower() in (".npy", ".npz") and path.is_file():
        try:
            return [make_inputs(specs, str(path))]
        except InputError as single:
            stacked = _stacked(specs, path)
            if stacked is None:
                raise single from None
            return stacked[:count]
    raise InputError(source_problem(source) or f"{path}: not calibration data")


def _stacked(specs: list[InputSpec], path: Path) -> list[list[np.ndarray]] | None:
    """Samples from arrays shaped [N, *input shape] (one array per input, in order or by name)."""
    with np.load(path, allow_pickle=False) as loaded:
        if isinstance(loaded, np.ndarray):
            arrays = [loaded]
        else:
            names = list(loaded.files)
            arrays = [loaded[s.name] for s in specs] if all(s.name in names for s in specs) \
                else [loaded[n] for n in names]
    if len(arrays) != len(specs) or any(a.ndim != len(s.shape) + 1 for a, s in
                                        zip(arrays, specs, strict=False)):
        return None
    n = min(len(a) for a in arrays)
    out = []
    for k in range(n):
        sample = []
        for s, a in zip(specs, arrays, strict=False):
            x = a[k]
            if any(d >= 0 and d != n_ for d, n_ in zip(s.shape_signature, x.shape, strict=False)):
                raise InputError(f"{path}: sample {k} for input {s.name!r} has shape "
                                 f"{list(x.shape)}, the model expects {list(s.shape_signature)}")
            sample.append(np.ascontiguousarray(x, dtype=np.dtype(s.dtype)))
        out.append(sample)
    return out
