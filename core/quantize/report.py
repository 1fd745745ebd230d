"""The quantize report: its typed value (``QuantizeReport``, whose ``to_json()`` is the contract
of ``litelens quantize --json``), in words (CLI text output; the GUI panel shows the same lines)
and as a graph overlay."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core import format as fmt
from core.analysis.overlay import KIND_QUANTIZATION, Overlay
from core.inference.error_metrics import OutputError
from core.inference.worker.jobs.quantize import DELEGATES, Latency, LayerRow, Load
from core.quantize.verdict import THRESHOLDS, Coverage, DataSource, Reason, Thresholds


@dataclass(frozen=True)
class SizeBytes:
    before: int | None
    after: int | None


@dataclass(frozen=True)
class KeptFloat:
    """An op the recipe could have quantized that stayed float, and why."""
    op: str
    op_index: int
    tensor: str
    reason: str


@dataclass
class QuantizeReport:
    """One quantize run, filled as it goes; ``failure`` is None on success (then ``output`` is
    the written file)."""
    input: str
    output: str | None
    recipe: str
    quantizer: str | None            # "ai-edge-quantizer 0.10.0", once the worker said it
    prepass: list[str]               # what the pre-pass changed, in words
    size_bytes: SizeBytes
    loads: dict[str, Load]           # the quantized model under each delegate
    latency_ms: Latency
    error: OutputError | None        # outputs vs the float model
    per_layer: list[LayerRow]        # worst first
    per_layer_note: str | None
    kept_float: list[KeptFloat]
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None
    verdict: str = "fail"            # pass / warn / fail (core.quantize.verdict); fail until judged
    verdict_reasons: list[Reason] = field(default_factory=list)
    calibration: DataSource = DataSource(None, 0)
    evaluation: DataSource = DataSource(None, 0)
    coverage: Coverage | None = None   # the chosen delegate before/after
    input_loads: dict[str, Load] = field(default_factory=dict)   # the input model's loads
    withheld: bool = False           # judged fail and not written (keeping it would write it)
    thresholds: Thresholds = THRESHOLDS

    def fail(self, failure: str) -> None:
        """The run failed (refused, cancelled, crashed, not written): the verdict is fail, with
        that reason first and any earlier ones kept."""
        self.failure = failure
        self.verdict = "fail"
        self.verdict_reasons = [Reason("fail", failure), *self.verdict_reasons]

    @classmethod
    def empty(cls, model: str, recipe: str, threads: int) -> QuantizeReport:
        """Nothing measured yet (and nothing written)."""
        return cls(input=model, output=None, recipe=recipe, quantizer=None, prepass=[],
                   size_bytes=SizeBytes(None, None),
                   loads={d: Load(False) for d in DELEGATES},
                   latency_ms=Latency(None, None, None, threads), error=None, per_layer=[],
                   per_layer_note=None, kept_float=[])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _num(v: float | None, spec: str = ".4g") -> str:
    return "n/a" if v is None else format(v, spec)


def data_words(d: DataSource, what: str) -> str:
    """'calibration: 8 random samples (uniform in each input's range)'."""
    if d.source is None:
        return f"{what}: none (the recipe quantizes weights only)"
    src = "random samples (uniform in each input's range, not real data)" \
        if d.source == "random" else f"samples from {d.source}"
    return f"{what}: {d.samples} {src}"


def verdict_lines(r: QuantizeReport) -> list[str]:
    """'verdict: WARN' and one line per reason."""
    return [f"verdict: {r.verdict.upper()}"] + [f"  {x.level}: {x.text}"
                                                 for x in r.verdict_reasons]


def summary_lines(r: QuantizeReport, worst: int = 5) -> list[str]:
    lines = [f"{r.input} -> {r.output or '(nothing written)'}",
             f"recipe {r.recipe} with {r.quantizer or 'ai-edge-quantizer'}"]
    lines += verdict_lines(r)
    for step in r.prepass:
        lines.append(f"pre-pass: {step}")
    for w in r.warnings:
        lines.append(f"warning: {w}")
    lines += [data_words(r.calibration, "calibration"), data_words(r.evaluation, "evaluation")]
    s = r.size_bytes
    if s.before and s.after:
        lines.append(f"size {fmt.size(s.before)} -> {fmt.size(s.after)} "
                     f"({s.after / s.before:.2f}x)")
    for d, v in r.loads.items():
        lines.append(f"loads under {d}: " + ("yes" if v.ok else f"NO ({v.error})"
                                            if v.error else "not tried"))
    c = r.coverage
    if c is not None:
        lines.append(f"{c.title}: {c.before.delegated_ops}/{c.before.total_ops} ops in "
                     f"{c.before.partitions} partition(s) -> {c.after.delegated_ops}/"
                     f"{c.after.total_ops} in {c.after.partitions}")
    lat = r.latency_ms
    if lat.before is not None and lat.after is not None:
        lines.append(f"latency {fmt.duration_ms(lat.before)} -> {fmt.duration_ms(lat.after)} "
                     f"({lat.delegate}, {lat.threads} thread(s), median)")
    e = r.error
    if e:
        lines.append(f"error vs float on {e.inputs} input(s): max abs {_num(e.max_abs)}, mean "
                     f"abs {_num(e.mean_abs)}")
        for o in e.outputs:
            figures = (f"cosine {_num(o.cosine, '.5f')}, SNR {_num(o.snr_db, '.1f')} dB"
                       if o.cosine is not None else
                       f"not compared (float values at most {o.float_max_abs:.3g})")
            if o.kind == "class_scores":
                figures += f", top-1 agreement {_num(o.top1_agreement, '.0%')}"
            lines.append(f"  {o.name} ({o.kind.replace('_', ' ')}): {figures}, max abs "
                         f"{_num(o.max_abs)}")
    if r.per_layer:
        lines.append(f"worst layers (of {len(r.per_layer)}):")
        for row in r.per_layer[:worst]:
            lines.append(f"  op {row.op_index} {row.op} {row.tensor}: cosine "
                         f"{row.cosine:.4f}, RMSE {row.rmse:.3g}, max abs {row.max_abs:.3g}")
    elif r.per_layer_note:
        lines.append(r.per_layer_note)
    if r.kept_float:
        lines.append(f"{len(r.kept_float)} op(s) left float:")
        for k in r.kept_float[:worst]:
            lines.append(f"  op {k.op_index} {k.op}: {k.reason}")
    lines += target_notes(r.kept_float)
    if r.failure:
        lines.append(f"FAILED: {r.failure}")
    return lines


def target_notes(kept: list[KeptFloat]) -> list[str]:
    """What ops left float mean for integer-only targets: '53 PRELU left float → CPU fallback on
    Ethos-U and TFLite Micro (...)'. Ethos-U takes only integer feature maps (vela places any op
    with a float32 tensor on the CPU, with the DEQUANTIZE/QUANTIZE around it); on the MCU that
    CPU is TFLite Micro's float reference kernels. ``litelens support OUT --delegate
    ethos-u55-128`` gives vela's own answer for the written model."""
    if not kept:
        return []
    counts: dict[str, int] = {}
    for k in kept:
        counts[k.op] = counts.get(k.op, 0) + 1
    ops = ", ".join(f"{n} {op}" for op, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return [f"{ops} left float → CPU fallback on Ethos-U and TFLite Micro (float feature maps "
            "run on the MCU's float kernels, each with a DEQUANTIZE/QUANTIZE pair around it; "
            "litelens support OUTPUT --delegate ethos-u55-128 asks vela)"]


def error_overlay(report: QuantizeReport, subgraph: int = 0) -> Overlay:
    """The per-layer error as a graph overlay: each compared op coloured by the rank of its
    1 − cosine (output vs the float model's) in len(RAMP) equal groups, the worst fifth dark
    red, with its cosine as a badge. By rank, not by share of the maximum: one broken layer
    (often the last) would otherwise leave every other layer the same pale colour. Op indices
    are the input model's."""
    from core.analysis.overlay import RAMP
    rows = report.per_layer
    if not rows:
        return Overlay("quantization error", "no per-layer error", kind=KIND_QUANTIZATION)
    worst_first = sorted(rows, key=lambda r: (r.cosine, -r.rmse))
    n, steps = len(worst_first), len(RAMP)
    colors: dict[tuple[int, int], str] = {}
    badges: dict[tuple[int, int], str] = {}
    bounds: dict[int, tuple[float, float]] = {}
    for rank, r in enumerate(worst_first):
        step = steps - 1 - min(steps - 1, rank * steps // n)
        key = (subgraph, r.op_index)
        colors[key] = RAMP[step]
        badges[key] = f"cos {r.cosine:.4f}"
        lo, hi = bounds.get(step, (r.cosine, r.cosine))
        bounds[step] = (min(lo, r.cosine), max(hi, r.cosine))
    legend = tuple((f"cosine {bounds[i][0]:.4f}–{bounds[i][1]:.4f}", RAMP[i])
                   for i in range(steps - 1, -1, -1) if i in bounds)
    w = worst_first[0]
    summary = f"{n} layers vs float; worst: op {w.op_index} {w.op} cosine {w.cosine:.4f}"
    return Overlay("quantization error", summary, colors, badges, (), legend, KIND_QUANTIZATION)
