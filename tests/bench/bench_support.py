"""Delegate support benchmark (issue 8): time to compute op support, partitions, blockers and
MACs for all six delegates on a 10k-op synthetic chain (and the biggest shared model), from an
opened model (options decoded on first use, as in the app). Anchor: the reader's parse of the
same file, and the issue's target (< 0.3 s for 10k ops)."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from core.analysis.support.analyze import DELEGATES, analyze
from core.model.reader import open_model
from core.model.samples import synthetic_chain

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LITELENS_SHARED_MODELS", ROOT.parent / "shared" / "models"))
TARGET_S = 0.3
REPEATS = 5


def _measure(path: Path) -> tuple[float, float, int]:
    """best-of parse ms, best-of support ms (fresh model each time), op count."""
    parse, support = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        model = open_model(path)
        parse.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        analyze(model, DELEGATES)
        support.append(time.perf_counter() - t0)
        n = model.op_count
        model.close()
    return min(parse) * 1e3, min(support) * 1e3, n


def run() -> str:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        chain = Path(d) / "chain10k.tflite"
        synthetic_chain(10_000).save(chain)
        cases = [("chain 10k", chain)]
        big = SHARED / "face_landmark_with_attention.tflite"
        if big.is_file():
            cases.append((big.stem, big))
        for label, path in cases:
            parse_ms, support_ms, n = _measure(path)
            vs = f"{support_ms / 1e3 / TARGET_S:.2f} of {TARGET_S} s" if n >= 10_000 else "—"
            rows.append(f"| {label} | {n:,} | {parse_ms:.0f} | {support_ms:.0f} | "
                        f"{support_ms / parse_ms:.1f}× | {vs} |")
    return "\n".join([
        "## Delegate support (issue 8)",
        "",
        "`core.analysis.support.analyze.analyze` for all six delegates (XNNPACK, GPU, NNAPI, "
        "Edge TPU, Hexagon, Core ML): per-op rules (checked once per distinct op signature), "
        "runtime-equivalent partitioning, blockers, MACs. Best of "
        f"{REPEATS}, each on a freshly opened model. Anchors: the reader's parse of the same "
        "file; the issue's target.",
        "",
        "| model | ops | parse ms | support ms | support ÷ parse | vs target |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
    ])


if __name__ == "__main__":
    print(run())
