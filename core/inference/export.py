"""Export benchmark results (``core.inference.results.BenchResult``) as CSV or JSON, and say them
in words (outputs, per-op profile coverage) for the CLI and the Run panel."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from core import format as fmt
from core.fileio import dumps_json, finite_or_null, write_text
from core.inference.results import BenchResult, OutputSummary, ProfileSummary
from core.inference.stats import STAT_KEYS

CSV_COLUMNS = (["label", "model", "backend", "delegate", "threads", "python", "input_source",
                "status", "init_ms", "first_ms"] + [f"latency_{k}" + ("" if k == "runs" else "_ms")
                                                    for k in STAT_KEYS]
               + ["rss_before_load", "rss_after_init", "rss_peak", "rss_hwm", "ops_sum_ms",
                  "error"])


def result_row(res: BenchResult, label: str = "") -> dict[str, Any]:
    """One CSV row (``CSV_COLUMNS``) of a result."""
    lat, rss, prof = asdict(res.latency_ms), res.rss_bytes, res.summary
    row: dict[str, Any] = {
        "label": label or f"{res.delegate}/{res.threads}t", "model": res.model,
        "backend": res.backend, "delegate": res.delegate, "threads": res.threads,
        "python": res.python, "input_source": res.input_source, "status": res.status,
        "init_ms": res.init_ms, "first_ms": res.first_ms}
    for k in STAT_KEYS:
        row[f"latency_{k}" + ("" if k == "runs" else "_ms")] = lat[k]
    row.update(rss_before_load=rss.before_load, rss_after_init=rss.after_init,
               rss_peak=rss.peak, rss_hwm=rss.hwm,
               ops_sum_ms=prof.sum_ms if prof is not None else None, error=res.error)
    return row


def results_csv(results: Iterable[tuple[str, BenchResult]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for label, res in results:
        w.writerow({k: ("" if v is None else v) for k, v in result_row(res, label).items()})
    return buf.getvalue()


def export_results(results: list[tuple[str, BenchResult]], path: str | Path, *,
                   overwrite: bool = False) -> Path:
    """Write ``[(label, result), ...]`` to ``path``: CSV for .csv, else JSON (full results, as
    ``litelens bench --json`` gives each, with its label first). ``overwrite``: the user
    confirmed replacing the file there (``core.fileio.atomic_path``)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return write_text(path, results_csv(results), overwrite=overwrite)
    return write_text(path, dumps_json(finite_or_null(
        [{"label": lb, **res.to_json()} for lb, res in results]), indent=1), overwrite=overwrite)


def output_lines(outputs: Iterable[OutputSummary], indent: str = "") -> list[str]:
    """Model outputs of a run as text: name, shape, dtype, stats and top-k with labels."""
    lines = []
    for o in outputs:
        line = f"{indent}{fmt.printable(o['name'], 120)}  {o['shape']}  {o['dtype']}"
        if "min" in o and "max" in o and "mean" in o:
            line += f"   min {o['min']:.4g}  max {o['max']:.4g}  mean {o['mean']:.4g}"
        if o.get("nonfinite"):
            line += f"   {o['nonfinite']:,} values NaN/Infinity"
        lines.append(line)
        for item in o.get("topk", []):
            label = f"  {fmt.printable(str(item[2]), 80)}" if len(item) > 2 and item[2] else ""
            value = "not finite" if item[1] is None else f"{item[1]:.4f}"
            lines.append(f"{indent}    #{item[0]}{label}: {value}")
    return lines


def profile_source(prof: ProfileSummary) -> str:
    """Which API the per-op times come from, said first when it is not the timed runs' API."""
    if prof.other_api:
        return (f"per-op times from the {prof.api}, not the {prof.run_api} the timed runs used: "
                "the two APIs prepare and run the model differently, so the per-op sum need not "
                "match the run")
    return f"per-op times from the {prof.api}, as the timed runs" if prof.api else ""


def profile_lines(prof: ProfileSummary) -> list[str]:
    """How far a per-op profile goes, in words: coverage, method, per-op sum vs the whole run,
    and what was not timed (the CLI and the Run panel)."""
    ms = fmt.duration_ms
    state = "complete" if prof.complete else "PARTIAL (stopped)" if prof.stopped else "partial"
    ratio = prof.sum_vs_whole_run
    whole, median = prof.whole_run_ms, prof.run_median_ms
    lines = [f"{prof.timed_ops:,}/{prof.ops:,} ops timed, {state}; sum of ops "
             f"{ms(prof.sum_ms)} vs whole run {ms(whole)}"
             + (f" ({ratio:.2f}×)" if ratio is not None else "")
             + (f"; the timed runs' median was {ms(median)}" if median and whole and
                abs(whole - median) > 0.1 * median else ""),
             f"method: {prof.method or '-'}"]
    source = profile_source(prof)
    if source:
        lines.insert(1, source)
    if prof.mapping:
        lines.append(f"delegate: {prof.mapping}")
    untimed = sorted(prof.untimed.items(), key=lambda kv: -kv[1])
    if untimed:
        # the keys hold op names (a custom op's from the file) and runtime messages
        lines.append("not timed: " + "; ".join(f"{fmt.printable(k, 200)} ×{v}"
                                               for k, v in untimed[:4])
                     + (f"; ... {len(untimed) - 4} more kinds" if len(untimed) > 4 else ""))
    return lines
