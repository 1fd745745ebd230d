"""Latency statistics: what ``benchmark_model`` prints (avg/std) plus median and tail percentiles.

Kept free of everything but numpy so the worker can import it under another interpreter.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from core.inference.results import LatencyStats, OpTime, OpTypeTime

STAT_KEYS = ("runs", "min", "median", "mean", "std", "p90", "p99", "max")


def summarize(samples_ms: Iterable[float]) -> LatencyStats:
    """Runs, min, median, mean, std, p90, p99, max of latencies in ms.

    ``std`` is the population standard deviation (as ``benchmark_model`` reports it); percentiles
    interpolate linearly between order statistics. An empty sample gives ``runs == 0`` and Nones.
    """
    a = np.asarray(list(samples_ms), dtype=np.float64)
    if a.size == 0:
        return LatencyStats(runs=0)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return LatencyStats(runs=int(a.size), min=float(a.min()), median=float(p50),
                        mean=float(a.mean()), std=float(a.std()), p90=float(p90),
                        p99=float(p99), max=float(a.max()))


def op_type_summary(ops: Iterable[OpTime]) -> list[OpTypeTime]:
    """Per operator type, as ``benchmark_model``'s summary by node type, over the timed ops
    (``avg_ms`` not None), heaviest first; ``percent`` is of the sum over all timed ops."""
    by: dict[str, list[float]] = {}
    for o in ops:
        if o.avg_ms is not None:
            by.setdefault(o.op, []).append(o.avg_ms)
    total = sum(sum(v) for v in by.values())
    rows = [OpTypeTime(op=op, count=len(v), total_ms=sum(v), avg_ms=sum(v) / len(v),
                       percent=100.0 * sum(v) / total if total else 0.0) for op, v in by.items()]
    return sorted(rows, key=lambda r: (-r.total_ms, r.op))
