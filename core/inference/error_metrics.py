"""How far a quantized model's numbers are from the float model's: whole outputs and per layer.

Plain numpy on real-valued arrays (quantized tensors are dequantized with their scale and zero
point first). Every value is a finite float, so reports stay strict JSON.

Non-finite values: where both models give the same inf (a -inf attention mask, say) or both NaN,
the position agrees and is left out of the sums; where only one does (or the infs differ) it is
a mismatch no number can measure: it is counted in ``nonfinite`` and the output/layer counts as
unrelated to the float one (cosine 0, SNR -SNR_CAP_DB), never as a silent NaN or a perfect match.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_TINY = 1e-30
SNR_CAP_DB = 200.0   # an exact match would be +inf dB; the cap keeps JSON finite


@dataclass(frozen=True)
class OutputError:
    """Whole outputs of one model against the float one's, over every evaluation input."""
    max_abs: float | None        # None: the difference overflowed to inf
    mean_abs: float | None       # over the finite positions; None as max_abs
    cosine: float                # of the worst output
    snr_db: float                # of the worst output
    top1_agreement: float | None  # first classifier-like output, else None
    nonfinite: int               # positions where only one model gives inf/NaN


@dataclass(frozen=True)
class LayerError:
    """One op output of the quantized model against the float model's (one input)."""
    rmse: float
    max_abs: float
    cosine: float
    nonfinite: int


def dequantize(arr: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    a = np.asarray(arr)
    if scale and a.dtype.kind in "iu":
        return (a.astype(np.float64) - zero_point) * scale
    return a.astype(np.float64)


def _split(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(ref, got) flattened to the positions where both are finite, and the count of positions
    where they are not and disagree."""
    r, g = ref.astype(np.float64).reshape(-1), got.astype(np.float64).reshape(-1)
    finite = np.isfinite(r) & np.isfinite(g)
    if finite.all():
        return r, g, 0
    same = ~finite & ((r == g) | (np.isnan(r) & np.isnan(g)))
    return r[finite], g[finite], int(np.count_nonzero(~finite & ~same))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b, mismatched = _split(a, b)
    if mismatched:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:   # direction undefined: agree only if both are (near) zero
        return 1.0 if float(np.abs(a - b).max(initial=0.0)) <= 1e-6 else 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got, mismatched = _split(ref, got)
    if mismatched:
        return -SNR_CAP_DB
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return SNR_CAP_DB
    return float(min(SNR_CAP_DB, 10.0 * math.log10((signal + _TINY) / noise)))


def classifier_output(shape) -> bool:
    """One axis of 2..100000 classes, the rest 1: top-1 agreement is meaningful."""
    dims = [int(d) for d in shape if int(d) != 1]
    return len(dims) == 1 and 2 <= dims[0] <= 100_000


def output_error(ref: list[list[np.ndarray]], got: list[list[np.ndarray]]) -> OutputError:
    """ref/got: per sample, per output, real-valued arrays."""
    n_out = len(ref[0]) if ref else 0
    max_abs, abs_sum, count, nonfinite = 0.0, 0.0, 0, 0
    cosines: list[float] = []
    snrs: list[float] = []
    for o in range(n_out):
        r = np.concatenate([s[o].reshape(-1) for s in ref]).astype(np.float64)
        g = np.concatenate([s[o].reshape(-1) for s in got]).astype(np.float64)
        if r.shape != g.shape:
            raise ValueError(f"output {o}: float model gives {r.size} values, quantized {g.size}")
        if not r.size:
            continue
        cosines.append(cosine(r, g))
        snrs.append(snr_db(r, g))
        r, g, mismatched = _split(r, g)
        nonfinite += mismatched
        d = np.abs(r - g)
        max_abs = max(max_abs, float(d.max(initial=0.0)))
        abs_sum += float(d.sum())
        count += d.size
    top1 = None
    for o in range(n_out):
        if classifier_output(ref[0][o].shape):
            agree = [int(np.argmax(r[o]) == np.argmax(g[o])) for r, g in zip(ref, got, strict=False)]
            top1 = sum(agree) / len(agree)
            break
    # the sums are of finite positions, so only an overflow to inf is left to guard against
    return OutputError(max_abs=_finite_or_none(max_abs),
                       mean_abs=_finite_or_none(abs_sum / count if count else 0.0),
                       cosine=min(cosines) if cosines else 1.0,
                       snr_db=min(snrs) if snrs else SNR_CAP_DB,
                       top1_agreement=top1, nonfinite=nonfinite)


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def layer_error(ref: np.ndarray, got: np.ndarray) -> LayerError:
    """rmse and max_abs over the finite positions."""
    r, g, mismatched = _split(ref, got)
    d = r - g
    return LayerError(rmse=float(np.sqrt(np.mean(d * d))) if d.size else 0.0,
                      max_abs=float(np.abs(d).max()) if d.size else 0.0,
                      cosine=cosine(ref, got), nonfinite=mismatched)
