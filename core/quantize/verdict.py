"""The verdict on a quantized model: ``pass``, ``warn`` or ``fail``, each reason in words, from
the thresholds below (the report states them under ``thresholds``).

What is judged: every output against the float model's with the metrics that fit its kind
(cosine and SNR everywhere; top-1 agreement only for class scores; a detector's boxes and
scores apart, boxes held to tighter bounds), outputs that cannot be compared (inf/NaN, float
values too small to measure, an output that no longer changes with its input), whether the
result loads, and the chosen delegate's coverage before and after (a fall back to the CPU named
as the cause when the result is slower). A ``fail`` is not written unless the user keeps it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core import format as fmt
from core.analysis.compare import DelegateCoverage
from core.inference.error_metrics import TINY_OUTPUT, OutputCompare, OutputError
from core.inference.worker.jobs.quantize import Latency, Load

if TYPE_CHECKING:
    from core.model.types import Model

VERDICTS = ("pass", "warn", "fail")
DEFAULT_DELEGATE = "xnnpack"   # the runtime's choice when nobody chooses: the result must load


@dataclass(frozen=True)
class Bounds:
    """Below ``warn`` the verdict is at least warn, below ``fail`` it is fail."""
    warn: float
    fail: float


@dataclass(frozen=True)
class KindThresholds:
    cosine: Bounds
    snr_db: Bounds
    top1_agreement: Bounds | None = None    # class scores only


@dataclass(frozen=True)
class Thresholds:
    outputs: dict[str, KindThresholds]
    tiny_output_abs: float        # float outputs under this (or one quantized step): not judged
    cosine_spread: float          # one input's cosine to another's: above this, not stable
    min_eval_inputs: int          # fewer evaluation inputs: the figures may not be stable
    slower_ratio: float           # quantized latency over float latency above this: slower

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_LOOSE = KindThresholds(cosine=Bounds(0.95, 0.5), snr_db=Bounds(10.0, 0.0))
THRESHOLDS = Thresholds(
    outputs={"class_scores": KindThresholds(Bounds(0.95, 0.5), Bounds(10.0, 0.0),
                                            Bounds(0.9, 0.5)),
             # a box is a position: an error a score would survive moves it by pixels
             "boxes": KindThresholds(Bounds(0.99, 0.9), Bounds(20.0, 10.0)),
             "scores": _LOOSE, "values": _LOOSE},
    tiny_output_abs=TINY_OUTPUT, cosine_spread=0.1, min_eval_inputs=8, slower_ratio=1.2)


@dataclass(frozen=True)
class Reason:
    level: str        # "warn" or "fail"
    text: str


@dataclass(frozen=True)
class DataSource:
    """Where calibration or evaluation inputs came from and how many were used. ``source`` is
    "random" (uniform in each input's range), a folder of images or a .npy/.npz file; None for
    a recipe that calibrates nothing (weights only)."""
    source: str | None
    samples: int


@dataclass(frozen=True)
class Fallback:
    """Ops the delegate leaves to the CPU in the quantized model, grouped by op and reason."""
    op: str
    count: int
    reason: str | None
    hybrid: bool       # int8 weights with float activations (dynamic-range ops)


@dataclass(frozen=True)
class Coverage:
    """The chosen delegate's coverage of the input model and of the quantized one."""
    delegate: str
    title: str
    before: DelegateCoverage
    after: DelegateCoverage
    fallbacks: list[Fallback] = field(default_factory=list)   # of the quantized model

    @property
    def worse(self) -> bool:
        b, a = self.before, self.after
        return a.partitions > b.partitions or \
            a.delegated_ops * max(1, b.total_ops) < b.delegated_ops * max(1, a.total_ops)


def _hybrid(model: Model, sg_index: int, op_index: int) -> bool:
    sg = model.subgraphs[sg_index]
    ins = [sg.tensors[i] for i in sg.operators[op_index].inputs if i >= 0]
    return any(t.constant and t.dtype in ("int8", "int4") for t in ins) and \
        any(not t.constant and t.dtype == "float32" for t in ins)


def coverage(before: Model, after: Model, delegate: str) -> Coverage:
    """What ``delegate`` takes of each model, from the support analysis (its partitioner)."""
    from core.analysis.support.analyze import analyze_delegate

    def cov(m: Model):
        s = analyze_delegate(m, delegate)
        return s, DelegateCoverage(sum(g.delegated_ops for g in s.subgraphs),
                                   sum(g.total_ops for g in s.subgraphs),
                                   sum(g.partitions for g in s.subgraphs))
    _, b = cov(before)
    sa, a = cov(after)
    groups: dict[tuple[str, str | None, bool], int] = {}
    for g in sa.subgraphs:
        for o in g.ops:
            if not o.delegated:
                op = after.subgraphs[g.index].operators[o.index]
                key = (op.label, o.reason, _hybrid(after, g.index, o.index))
                groups[key] = groups.get(key, 0) + 1
    fallbacks = [Fallback(op, n, reason, hybrid) for (op, reason, hybrid), n in
                 sorted(groups.items(), key=lambda kv: -kv[1])]
    return Coverage(delegate, sa.title, b, a, fallbacks)


def _ops(c: DelegateCoverage) -> str:
    return f"{c.delegated_ops}/{c.total_ops} ops in {c.partitions} " \
           f"partition{'s' if c.partitions != 1 else ''}"


def fallback_words(c: Coverage, most: int = 3) -> str:
    """'17 hybrid DEPTHWISE_CONV_2D (int8 weights, float activations: types float32 x int8 ->
    float32 do not match)', the largest groups first."""
    parts = []
    for f in c.fallbacks[:most]:
        what = f"{f.count} {'hybrid ' if f.hybrid else ''}{f.op}"
        why = ("int8 weights, float activations" if f.hybrid else "") + \
            (": " if f.hybrid and f.reason else "") + (f.reason or "")
        parts.append(f"{what} ({why})" if why else what)
    rest = sum(f.count for f in c.fallbacks[most:])
    return ", ".join(parts) + (f" and {rest} more" if rest else "")


def _g(v: float) -> str:
    return format(v, ".3g")


def _output_reasons(c: OutputCompare, inputs: int, t: Thresholds) -> list[Reason]:
    name = f"output {c.name!r} ({c.kind.replace('_', ' ')})"
    size = 1
    for d in c.shape:
        size *= d
    if c.float_nonfinite >= size * inputs:
        return [Reason("fail", f"{name}: the float model gives only inf/NaN on these inputs, "
                               "so nothing can be compared")]
    if c.nonfinite:
        return [Reason("fail", f"{name}: {c.nonfinite} value(s) are inf/NaN in one model and "
                               "finite in the other")]
    if c.quantized_constant and not c.float_constant:
        held = "" if c.quantized_value is None else f", every value {_g(c.quantized_value)}"
        return [Reason("fail", f"{name}: the quantized model gives the same output for all "
                               f"{inputs} inputs{held}, while the float model's changes "
                               f"(up to |{_g(c.float_max_abs)}|)")]
    out: list[Reason] = []
    if c.float_constant:
        out.append(Reason("warn", f"{name}: the float model gives the same output for all "
                                  f"{inputs} inputs, so agreement on it says little"))
    if c.cosine is None or c.snr_db is None:
        floor = f"one step ({_g(c.step)}) of the quantized output" \
            if c.step and c.step > t.tiny_output_abs else _g(t.tiny_output_abs)
        out.append(Reason("warn", f"{name}: the float values are at most {_g(c.float_max_abs)} "
                                  f"on these inputs, under {floor}: too small for cosine or "
                                  "SNR to mean anything, so they are not judged (evaluate on "
                                  "real inputs: --calibration DIR)"))
        return out
    k = t.outputs[c.kind]
    figures: list[tuple[str, float | None, Bounds | None, str]] = [
        ("cosine", c.cosine, k.cosine, ""), ("SNR", c.snr_db, k.snr_db, " dB"),
        ("top-1 agreement", c.top1_agreement, k.top1_agreement, "")]
    for label, value, bounds, unit in figures:
        if value is None or bounds is None:
            continue
        shown = f"{value:.0%}" if label.startswith("top") else f"{value:.3f}{unit}" \
            if label == "cosine" else f"{value:.1f}{unit}"
        for level, limit in (("fail", bounds.fail), ("warn", bounds.warn)):
            if value < limit:
                lim = f"{limit:.0%}" if label.startswith("top") else f"{limit:g}{unit}"
                extra = f" over {c.top1_inputs} input(s)" if label.startswith("top") else ""
                out.append(Reason(level, f"{name}: {label} {shown}{extra} is under {lim}"))
                break
    if c.kind == "class_scores" and c.top1_agreement is None:
        out.append(Reason("warn", f"{name}: the float model's highest score is tied on every "
                                  "input, so top-1 agreement is not judged"))
    lo, hi = c.cosine_range or (c.cosine, c.cosine)
    if inputs > 1 and hi - lo > t.cosine_spread:
        out.append(Reason("warn", f"{name}: the cosine of one input ranges from {lo:.3f} to "
                                  f"{hi:.3f} over the {inputs} inputs, so the figure is not "
                                  "stable (more --eval-samples or real inputs)"))
    return out


class Measured(Protocol):
    """What the verdict reads of a quantize report (``QuantizeReport`` is one)."""
    failure: str | None
    loads: dict[str, Load]
    input_loads: dict[str, Load]
    error: OutputError | None
    coverage: Coverage | None
    latency_ms: Latency


def judge(r: Measured, t: Thresholds = THRESHOLDS) -> tuple[str, list[Reason]]:
    """The verdict and its reasons (fail ones first) for a report whose measurements are in."""
    reasons: list[Reason] = []
    if r.failure:
        reasons.append(Reason("fail", r.failure))
    for d, load in r.loads.items():
        # not loading under the default delegate is a failure of the run (already a reason)
        if d != DEFAULT_DELEGATE and not load.ok and load.error:
            before = r.input_loads.get(d)
            if before is None or before.ok:
                reasons.append(Reason("warn", f"the quantized model does not load under {d}, "
                                              f"the input model does: {load.error}"))
    e = r.error
    if e is None:
        if not r.failure:
            reasons.append(Reason("warn", "not compared with the float model (it does not "
                                          "load here)"))
    else:
        for c in e.outputs:
            reasons += _output_reasons(c, e.inputs, t)
        if e.inputs < t.min_eval_inputs:
            reasons.append(Reason("warn", f"only {e.inputs} evaluation input(s): the figures "
                                          f"may not be stable (at least {t.min_eval_inputs}: "
                                          "--eval-samples)"))
    cov, lat = r.coverage, r.latency_ms
    ratio = lat.after / lat.before if lat.before and lat.after else None
    slower = ratio is not None and ratio > t.slower_ratio
    timed = f"{ratio:.1f}× slower under {{}} ({fmt.duration_ms(lat.before)} → " \
            f"{fmt.duration_ms(lat.after)})" if slower else ""
    if cov is not None and cov.worse:
        text = (f"{cov.title} takes {_ops(cov.after)} of the quantized model, "
                f"{_ops(cov.before)} before; on the CPU: {fallback_words(cov)}")
        if slower and cov.delegate == lat.delegate:
            text = timed.format(cov.title) + " because ops fall back to the CPU: " + text
            slower = False
        reasons.append(Reason("warn", text))
    if slower:
        reasons.append(Reason("warn", timed.format(lat.delegate)))
    reasons.sort(key=lambda x: x.level != "fail")
    verdict = "fail" if any(x.level == "fail" for x in reasons) else \
        "warn" if reasons else "pass"
    return verdict, reasons
