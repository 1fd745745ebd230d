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


def op_type_summary(ops: list[dict]) -> list[dict]:
    """Per operator type, as ``benchmark_model``'s summary by node type: ``{"op", "count",
    "total_ms", "avg_ms", "percent"}`` over the timed ops (``avg_ms`` not None), heaviest first;
    ``percent`` is of the sum over all timed ops."""
    by: dict[str, list[float]] = {}
    for o in ops:
        if o.get("avg_ms") is not None:
            by.setdefault(o["op"], []).append(float(o["avg_ms"]))
    total = sum(sum(v) for v in by.values())
    rows = [{"op": op, "count": len(v), "total_ms": sum(v), "avg_ms": sum(v) / len(v),
             "percent": 100.0 * sum(v) / total if total else 0.0} for op, v in by.items()]
    return sorted(rows, key=lambda r: (-r["total_ms"], r["op"]))
