"""Tool-run targets (issue 16): time of each target's answer, from an opened model to its
per-delegate block, with the cache off: Ethos-U through vela (worker process, stamped copy,
vela, reading its output), the Intel OpenVINO NPU plugin's partition and compile steps, and the
dispatch run against XNNPACK. Anchor: the rule-table delegates' analysis of the same model."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from core.analysis.support.analyze import DELEGATES, analyze
from core.analysis.support.npu_plugin import analyze_npu
from core.analysis.support.target_run import analyze_target
from core.model.reader import open_model
from core.model.samples import synthetic_chain

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LITELENS_SHARED_MODELS", ROOT.parent / "shared" / "models"))
TARGETS = ("ethos-u55-128", "ethos-u85-256", "npu-intel")


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def _verdict(block: dict) -> str:
    if block.get("error"):
        return block["error"][:80]
    sg = block["subgraphs"][0]
    return f"{sg['delegated_ops']}/{sg['total_ops']} ops on the accelerator, " \
           f"{sg['partitions']} partition(s)"


def run() -> str:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        os.environ["LITELENS_CACHE_DIR"] = d          # every answer computed, none cached
        chain = Path(d) / "chain10k.tflite"
        synthetic_chain(10_000).save(chain)
        cases = [("synthetic chain, 10k ops", chain)]
        mb = SHARED / "mobilenet_v2_224_int8.tflite"
        if mb.is_file():
            cases.insert(0, ("MobileNetV2 int8 (65 ops)", mb))
        for label, path in cases:
            with open_model(path) as model:
                rules_ms, _ = _timed(lambda m=model: analyze(m, DELEGATES))
                rows.append(f"| {label} | six rule delegates | {rules_ms:,.0f} | (anchor) |")
                for name in TARGETS:
                    ms, block = _timed(lambda m=model, n=name: analyze_target(m, n,
                                                                              use_cache=False))
                    rows.append(f"| {label} | {name} | {ms:,.0f} | {_verdict(block)} |")
                    hit, _ = _timed(lambda m=model, n=name: analyze_target(m, n))
                    rows.append(f"| {label} | {name}, cached | {hit:,.1f} | same block |")
                ms, block = _timed(lambda m=model: analyze_npu(m, "npu-intel", use_cache=False,
                                                               compile_check=True))
                c = block.get("compile") or {}
                rows.append(f"| {label} | npu-intel partition + compile | {ms:,.0f} | "
                            f"compile {'ok' if c.get('ok') else c.get('error')} |")
    return "\n".join([
        "## Tool-run targets (issue 16): Ethos-U through vela, LiteRT NPU plugins",
        "",
        "Time from an opened model to the target's per-delegate block, one run each, the cache "
        "off (a worker process; a copy with stamped tensor names; the tool; its output read back "
        "and mapped to op indices). The cached answer is read from `LITELENS_CACHE_DIR` by the "
        "model's sha256, the options and the tool version. Anchor: the six rule-table "
        "delegates on the same opened model.",
        "",
        "| model | target | ms | answer |",
        "|---|---|---:|---|",
        *rows,
    ])


if __name__ == "__main__":
    print(run())
