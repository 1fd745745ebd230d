"""Export benchmark results (the dicts ``WorkerSession.result()`` returns) as CSV or JSON."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from core import format as fmt
from core.fileio import dumps_json, finite_or_null, write_text
from core.inference.stats import STAT_KEYS

CSV_COLUMNS = (["label", "model", "backend", "delegate", "threads", "python", "input_source",
                "status", "init_ms", "first_ms"] + [f"latency_{k}" + ("" if k == "runs" else "_ms")
                                                    for k in STAT_KEYS]
               + ["rss_before_load", "rss_after_init", "rss_peak", "rss_hwm", "ops_sum_ms",
                  "error"])


def result_row(res: dict, label: str = "") -> dict:
    lat, rss = res.get("latency_ms", {}), res.get("rss_bytes", {})
    row = {"label": label or f"{res.get('delegate')}/{res.get('threads')}t",
           **{k: res.get(k) for k in ("model", "backend", "delegate", "threads", "python",
                                      "input_source", "status", "init_ms", "first_ms", "error")},
           "rss_before_load": rss.get("before_load"), "rss_after_init": rss.get("after_init"),
           "rss_peak": rss.get("peak"), "rss_hwm": rss.get("hwm"),
           "ops_sum_ms": (res.get("profile") or {}).get("sum_ms")}
    for k in STAT_KEYS:
        row[f"latency_{k}" + ("" if k == "runs" else "_ms")] = lat.get(k)
    return row


def results_csv(results: list[tuple[str, dict]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for label, res in results:
        w.writerow({k: ("" if v is None else v) for k, v in result_row(res, label).items()})
    return buf.getvalue()


def export_results(results: list[tuple[str, dict]], path: str | Path, *,
                   overwrite: bool = False) -> Path:
    """Write ``[(label, result), ...]`` to ``path``: CSV for .csv, else JSON (full results).
    ``overwrite``: the user confirmed replacing the file there (``core.fileio.atomic_path``)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return write_text(path, results_csv(results), overwrite=overwrite)
    return write_text(path, dumps_json(finite_or_null([{"label": lb, **res} for lb, res in results]),
                                       indent=1), overwrite=overwrite)


def output_lines(outputs: list[dict], indent: str = "") -> list[str]:
    """Model outputs of a run as text: name, shape, dtype, stats and top-k with labels."""
    lines = []
    for o in outputs:
        line = f"{indent}{fmt.printable(o['name'], 120)}  {o['shape']}  {o['dtype']}"
        if "min" in o:
            line += f"   min {o['min']:.4g}  max {o['max']:.4g}  mean {o['mean']:.4g}"
        if o.get("nonfinite"):
            line += f"   {o['nonfinite']:,} values NaN/Infinity"
        lines.append(line)
        for item in o.get("topk", []):
            label = f"  {fmt.printable(str(item[2]), 80)}" if len(item) > 2 and item[2] else ""
            value = "not finite" if item[1] is None else f"{item[1]:.4f}"
            lines.append(f"{indent}    #{item[0]}{label}: {value}")
    return lines


def profile_lines(prof: dict) -> list[str]:
    """How far a per-op profile goes, in words: coverage, method, per-op sum vs the whole run,
    and what was not timed (the CLI and the Run panel)."""
    ms = fmt.duration_ms
    state = "complete" if prof["complete"] else "PARTIAL (stopped)" if prof["stopped"] else \
        "partial"
    ratio = prof.get("sum_vs_whole_run")
    whole, median = prof.get("whole_run_ms"), prof.get("run_median_ms")
    lines = [f"{prof['timed_ops']:,}/{prof['ops']:,} ops timed, {state}; sum of ops "
             f"{ms(prof['sum_ms'])} vs whole run {ms(whole)}"
             + (f" ({ratio:.2f}×)" if ratio is not None else "")
             + (f"; the timed runs' median was {ms(median)}" if median and whole and
                abs(whole - median) > 0.1 * median else ""),
             f"method: {prof.get('method') or '-'}"]
    if prof.get("mapping"):
        lines.append(f"delegate: {prof['mapping']}")
    untimed = sorted(prof.get("untimed", {}).items(), key=lambda kv: -kv[1])
    if untimed:
        # the keys hold op names (a custom op's from the file) and runtime messages
        lines.append("not timed: " + "; ".join(f"{fmt.printable(k, 200)} ×{v}"
                                               for k, v in untimed[:4])
                     + (f"; ... {len(untimed) - 4} more kinds" if len(untimed) > 4 else ""))
    return lines
