"""Latency statistics: what ``benchmark_model`` prints (avg/std) plus median and tail percentiles.

Kept free of everything but numpy so the worker can import it under another interpreter.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

STAT_KEYS = ("runs", "min", "median", "mean", "std", "p90", "p99", "max")


def summarize(samples_ms: Iterable[float]) -> dict:
    """``{"runs", "min", "median", "mean", "std", "p90", "p99", "max"}`` of latencies in ms.

    ``std`` is the population standard deviation (as ``benchmark_model`` reports it); percentiles
    interpolate linearly between order statistics. An empty sample gives ``runs: 0`` and ``None``s.
    """
    a = np.asarray(list(samples_ms), dtype=np.float64)
    if a.size == 0:
        return {"runs": 0, **{k: None for k in STAT_KEYS[1:]}}
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"runs": int(a.size), "min": float(a.min()), "median": float(p50),
            "mean": float(a.mean()), "std": float(a.std()), "p90": float(p90), "p99": float(p99),
            "max": float(a.max())}
