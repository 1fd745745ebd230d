"""The quantize report in words (CLI text output; the GUI panel shows the same lines)."""
from __future__ import annotations


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


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
        lines.append(f"size {_size(s['before'])} -> {_size(s['after'])} "
                     f"({s['after'] / s['before']:.2f}x)")
    for d, v in r["loads"].items():
        lines.append(f"loads under {d}: " + ("yes" if v["ok"] else f"NO ({v['error']})"
                                            if v["error"] else "not tried"))
    lat = r["latency_ms"]
    if lat.get("before") is not None:
        lines.append(f"latency {lat['before']:.3f} ms -> {lat['after']:.3f} ms "
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
