"""The quantize report in words (CLI text output; the GUI panel shows the same lines)."""
from __future__ import annotations

from core import format as fmt


def _num(v, fmt: str = ".4g") -> str:
    return "n/a" if v is None else format(v, fmt)


def summary_lines(r: dict, worst: int = 5) -> list[str]:
    lines = [f"{r['input']} -> {r['output'] or '(nothing written)'}",
             f"recipe {r['recipe']} with {r['quantizer'] or 'ai-edge-quantizer'}"]
    for step in r["prepass"]:
        lines.append(f"pre-pass: {step}")
    for w in r["warnings"]:
        lines.append(f"warning: {w}")
    s = r["size_bytes"]
    if s["before"] and s["after"]:
        lines.append(f"size {fmt.size(s['before'])} -> {fmt.size(s['after'])} "
                     f"({s['after'] / s['before']:.2f}x)")
    for d, v in r["loads"].items():
        lines.append(f"loads under {d}: " + ("yes" if v["ok"] else f"NO ({v['error']})"
                                            if v["error"] else "not tried"))
    lat = r["latency_ms"]
    if lat.get("before") is not None:
        lines.append(f"latency {fmt.duration_ms(lat['before'])} -> "
                     f"{fmt.duration_ms(lat['after'])} "
                     f"({lat.get('delegate')}, {lat.get('threads')} thread(s), median)")
    e = r["error"]
    if e:
        lines.append(f"error vs float: max abs {_num(e['max_abs'])}, mean abs "
                     f"{_num(e['mean_abs'])}, worst cosine {_num(e['cosine'], '.5f')}, SNR "
                     f"{_num(e['snr_db'], '.1f')} dB, top-1 agreement "
                     f"{_num(e['top1_agreement'], '.0%')}")
    if r["per_layer"]:
        lines.append(f"worst layers (of {len(r['per_layer'])}):")
        for row in r["per_layer"][:worst]:
            lines.append(f"  op {row['op_index']} {row['op']} {row['tensor']}: cosine "
                         f"{row['cosine']:.4f}, RMSE {row['rmse']:.3g}, max abs "
                         f"{row['max_abs']:.3g}")
    elif r.get("per_layer_note"):
        lines.append(r["per_layer_note"])
    if r["kept_float"]:
        lines.append(f"{len(r['kept_float'])} op(s) left float:")
        for k in r["kept_float"][:worst]:
            lines.append(f"  op {k['op_index']} {k['op']}: {k['reason']}")
    if r["failure"]:
        lines.append(f"FAILED: {r['failure']}")
    return lines


def error_overlay(report: dict, subgraph: int = 0):
    """The per-layer error as a graph overlay: each compared op coloured by the rank of its
    1 − cosine (output vs the float model's) in len(RAMP) equal groups, the worst fifth dark
    red, with its cosine as a badge. By rank, not by share of the maximum: one broken layer
    (often the last) would otherwise leave every other layer the same pale colour. Op indices
    are the input model's."""
    from core.analysis.overlay import RAMP, Overlay
    rows = report.get("per_layer") or []
    if not rows:
        return Overlay("quantization error", "no per-layer error")
    worst_first = sorted(rows, key=lambda r: (r["cosine"], -r["rmse"]))
    n, steps = len(worst_first), len(RAMP)
    colors, badges, bounds = {}, {}, {}
    for rank, r in enumerate(worst_first):
        step = steps - 1 - min(steps - 1, rank * steps // n)
        key = (subgraph, r["op_index"])
        colors[key] = RAMP[step]
        badges[key] = f"cos {r['cosine']:.4f}"
        lo, hi = bounds.get(step, (r["cosine"], r["cosine"]))
        bounds[step] = (min(lo, r["cosine"]), max(hi, r["cosine"]))
    legend = [(f"cosine {bounds[i][0]:.4f}–{bounds[i][1]:.4f}", RAMP[i])
              for i in range(steps - 1, -1, -1) if i in bounds]
    w = worst_first[0]
    summary = (f"{n} layers vs float; worst: op {w['op_index']} {w['op']} cosine "
               f"{w['cosine']:.4f}")
    return Overlay("quantization error", summary, colors, badges, (), legend)
