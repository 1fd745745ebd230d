"""Quantize + verify per recipe on MobileNetV2-class models: wall time of the whole job (child
process, quantizer, loads, evaluation, latency, per-layer error), size ratio, loads, error.

Anchor: loading and running the float model once in a fresh process (the floor of any job that
verifies a result), measured in the same run."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.quantize.recipes import RECIPES
from core.quantize.run import QuantizeRequest, quantize

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "models"
MODELS = ("mobilenet_v2_224_float32", "face_detection_short_range")


def _anchor(path: Path) -> float:
    code = ("import numpy as np; from ai_edge_litert.interpreter import Interpreter; "
            f"it = Interpreter(model_path={str(path)!r}); it.allocate_tensors(); it.invoke()")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def _fmt(v, spec=".4f") -> str:
    return "–" if v is None else format(v, spec)


def run() -> str:
    lines = ["## Quantization (quantize + verify per recipe)", ""]
    for name in MODELS:
        path = SHARED / f"{name}.tflite"
        if not path.is_file():
            lines.append(f"_{name}: not found in {SHARED}, skipped._")
            continue
        anchor = _anchor(path)
        lines += [f"### {name} ({path.stat().st_size / 2**20:.2f} MiB)", "",
                  f"Anchor: load + one invoke of the float model in a fresh process "
                  f"{anchor:.2f} s.", "",
                  "| recipe | job s | × anchor | size after | ratio | XNNPACK | builtin | "
                  "worst cosine | SNR dB | top-1 | worst layer cosine | latency ms before → after | "
                  "result |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        with tempfile.TemporaryDirectory() as tmp:
            for recipe in RECIPES:
                t0 = time.perf_counter()
                r = quantize(QuantizeRequest(str(path), recipe, samples=8, eval_samples=4,
                                             output=str(Path(tmp) / f"{recipe}.tflite")))
                dt = time.perf_counter() - t0
                s, e, lat = r.size_bytes, r.error, r.latency_ms
                ratio = f"{s.after / s.before:.2f}x" if s.after and s.before else "–"
                loads = [("yes" if v.ok else "**no**") if v.ok or v.error else "–"
                         for v in r.loads.values()]
                result = "written" if r.output else (r.failure or "")[:90]
                lines.append(
                    f"| {recipe} | {dt:.1f} | {dt / anchor:.1f} | "
                    f"{_fmt(s.after and s.after / 2**20, '.2f')} MiB | {ratio} | "
                    f"{loads[0]} | {loads[1]} | {_fmt(e and e.cosine)} | "
                    f"{_fmt(e and e.snr_db, '.1f')} | {_fmt(e and e.top1_agreement, '.2f')} | "
                    f"{_fmt(r.per_layer[0].cosine if r.per_layer else None)} | "
                    f"{_fmt(lat.before, '.2f')} → {_fmt(lat.after, '.2f')} | {result} |")
        lines.append("")
    lines.append("MobileNetV2 here has random (seeded) weights: its softmax is nearly uniform, so "
                 "output cosine/top-1 on it say little; face_detection_short_range (MediaPipe, "
                 "float16 weights behind DEQUANTIZE) is the real-weights case.")
    return "\n".join(lines)
