"""Summary of a constant tensor's values for the inspector: statistics, histogram, first values.

Pure numpy. Very large tensors are summarised from an evenly strided sample (``sampled`` says so)
so the inspector answers in milliseconds whatever the tensor's size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_MAX = 1 << 22  # 4M values


@dataclass(frozen=True)
class WeightStats:
    count: int                 # values in the tensor
    sampled: bool              # statistics from a strided sample of SAMPLE_MAX values
    min: float
    max: float
    mean: float
    std: float
    zeros_pct: float           # % of values exactly 0 (raw values: zero point not applied)
    hist_counts: np.ndarray    # (bins,)
    hist_edges: np.ndarray     # (bins+1,)
    first: list                # first values, as Python numbers
    dequantized: tuple[float, float] | None  # (min, max) after scale/zero point, if quantized

    @property
    def listed_in_full(self) -> bool:
        """Every value is in ``first``: listing them says it all, a histogram would not add."""
        return self.count <= len(self.first)


def weight_stats(arr: np.ndarray, quantization=None, bins: int = 64,
                 n_first: int = 12) -> WeightStats | None:
    """Statistics of ``arr`` (raw stored values). None for non-numeric data."""
    if arr is None:
        return None
    flat = np.asarray(arr).reshape(-1)
    if flat.dtype.kind not in "biuf" and flat.dtype.name != "bfloat16":
        return None
    count = int(flat.size)
    first = flat[:n_first].tolist()
    if count == 0:
        return WeightStats(0, False, 0, 0, 0, 0, 0, np.zeros(0), np.zeros(1), first, None)
    sampled = count > SAMPLE_MAX
    sample = flat[:: -(-count // SAMPLE_MAX)] if sampled else flat
    v = sample.astype(np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        finite = np.zeros(1)
    lo, hi = float(finite.min()), float(finite.max())
    if flat.dtype.kind in "biu" and hi - lo + 1 <= bins:
        edges = np.arange(lo - 0.5, hi + 1.5)   # one bin per integer value
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    counts, edges = np.histogram(finite, bins=edges)
    deq = None
    if quantization is not None and quantization.scale:
        scale = np.asarray(quantization.scale, np.float64)
        zp = np.asarray(quantization.zero_point or [0], np.float64)
        if len(zp) not in (1, len(scale)):  # a damaged file: no consistent reading of it
            ends = None
        elif len(scale) == 1:
            ends = (np.array([lo, hi]) - zp[0]) * scale[0]
        else:  # per channel: range over all channels of (q - zp) * scale
            a = np.asarray(arr)
            dim = quantization.quantized_dimension  # from the file: may be out of range
            if 0 <= dim < a.ndim and a.shape[dim] == len(scale) and not sampled:
                moved = np.moveaxis(a, dim, 0).reshape(len(scale), -1).astype(np.float64)
                d = (moved - zp.reshape(-1, 1)) * scale[:, None]
                ends = np.array([d.min(), d.max()])
            else:
                ends = None
        if ends is not None:
            deq = (float(ends.min()), float(ends.max()))
    return WeightStats(count=count, sampled=sampled, min=lo, max=hi, mean=float(v.mean()),
                       std=float(v.std()), zeros_pct=float((v == 0).mean() * 100.0),
                       hist_counts=counts, hist_edges=edges, first=first, dequantized=deq)
