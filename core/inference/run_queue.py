"""The Run panel's logic without Qt: what its form asks for (``RunForm`` -> ``RunConfig``), the
sweeps it offers, the queue of configurations it runs one after another, and the bookkeeping of
their results (the results table's rows, the comparison bars, the live line of a running one).

The panel only copies widget values into a ``RunForm``, starts the session ``RunQueue`` hands it
(off the UI thread) and draws what the queue and the typed results say; the CLI and the tests
drive the same code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import format as fmt
from core.inference.config import RunConfig, parse_options
from core.inference.inputs import parse_shapes

if TYPE_CHECKING:
    from core.inference.results import BenchResult, OpTime, RssBytes
    from core.inference.ssh_target import SavedTarget
    from core.inference.worker.jobs.bench import Folder as BenchFolder

# reference kernels are unoptimised (minutes for a full run count on pose_landmark_full): a
# delegate comparison times them on at most this many runs, and says so
REFERENCE_MAX_RUNS = 10
CPU_DELEGATES = ("xnnpack", "builtin", "reference")
FAILED_MARK = " ✗"    # a comparison bar's tick of a failed configuration (no bar)
# the change from the baseline row, in percent, of these figures (filled once one is chosen)
DELTA_OF = {"Δ median": "median", "Δ p90": "p90", "Δ RSS": "peak RSS (runs)"}
RESULT_COLUMNS = ("configuration", "backend", "status", "input", "init", "first", "median",
                  "mean", "std", "p90", "p99", "max", "runs", "peak RSS (runs)", "error",
                  *DELTA_OF)
TIME_COLUMNS = ("init", "first", "median", "mean", "std", "p90", "p99", "max")
# what each results column counts (the header's tooltip)
RESULT_HELP = {
    "configuration": "backend/delegate/threads as configured (and the board, if not here)",
    "backend": "the runtime and API that ran the timed runs, as the worker reported it",
    "status": "ok, stopped or error",
    "input": "the input source and the input shapes the runtime allocated",
    "init": "loading the model and allocating its tensors (delegate preparation included)",
    "first": "the first inference, alone (lazy packing and first-run costs included)",
    "median": "median of the timed runs (warm-up runs excluded)",
    "mean": "mean of the timed runs",
    "std": "population standard deviation of the timed runs",
    "p90": "90th percentile of the timed runs",
    "p99": "99th percentile of the timed runs",
    "max": "slowest timed run",
    "runs": "timed runs",
    "peak RSS (runs)": "the worker process's peak resident memory up to the end of the timed runs "
                       "(Python, the runtime and the model); a per-op profile's own memory is "
                       "not counted (the status line gives the peak with it)",
    "error": "why the configuration failed",
    "Δ median": "median vs the baseline row's, in percent (negative: faster); right-click a "
                "row to make it the baseline",
    "Δ p90": "p90 vs the baseline row's, in percent (negative: faster)",
    "Δ RSS": "peak RSS of the runs vs the baseline row's, in percent (negative: less memory)",
}


@dataclass(frozen=True)
class RunForm:
    """The Run panel's fields as plain values (what the user typed or chose)."""
    model: str
    backend: str = "litert"
    delegate: str = "xnnpack"          # a delegate name, or "external" (then delegate_path)
    delegate_path: str = ""
    delegate_options: str = ""         # "key=value;key=value"
    threads: int = 1
    runs: int = 100
    warmup: int = 5
    input_source: str = "random"
    shapes: str = ""                   # "name=d,d;name=d,d"
    shape_guess: str | None = None     # the pre-filled guess: left as is, the run guesses too
    profile: bool = False
    python: str = ""
    timeout_s: float = 0.0             # 0: none
    signature: str | None = None
    min_secs: float = 0.0
    max_secs: float = 0.0              # 0: none
    run_delay_s: float = 0.0
    xnnpack_fp16: bool = False
    weight_cache: str = ""
    keep_tensors: bool = False         # every tensor of subgraph 0, for the Outputs tab


def build_config(form: RunForm, **over: Any) -> RunConfig:
    """The ``RunConfig`` the form asks for (``over`` replaces fields, as a sweep does). Raises
    ``ConfigError``/``InputError`` with the same one line the CLI prints for the same mistake."""
    delegate = form.delegate
    if delegate == "external":
        delegate = "external:" + form.delegate_path.strip()
    # an untouched guess is not the user's choice: the run makes the same guess and says so
    shapes = (parse_shapes(form.shapes.split(";")) or None) \
        if form.shapes != form.shape_guess else None
    kw: dict[str, Any] = dict(
        model=form.model, backend=form.backend, delegate=delegate, shapes=shapes,
        delegate_options=parse_options(form.delegate_options.split(";")),
        threads=form.threads, runs=form.runs, warmup=form.warmup,
        input_source=form.input_source.strip() or "random", profile=form.profile,
        python_exe=form.python.strip() or None, timeout_s=float(form.timeout_s) or None,
        signature=form.signature, min_secs=form.min_secs, max_secs=form.max_secs or None,
        run_delay_s=form.run_delay_s, xnnpack_fp16=form.xnnpack_fp16,
        xnnpack_weight_cache=form.weight_cache.strip() or None, keep_tensors=form.keep_tensors)
    kw.update(over)
    cfg = RunConfig(**kw)
    cfg.validate()
    return cfg


@dataclass(frozen=True)
class Plan:
    """Configurations to run one after another, and the comparison chart's title ("" for a
    single run); ``boards``: where each runs (a saved SSH target, None: this computer; empty:
    all on the panel's chosen target)."""
    configs: list[RunConfig]
    title: str = ""
    boards: list[SavedTarget | None] = field(default_factory=list)
    # said under the comparison bars (a title this long would squeeze the other plots)
    note: str = ""


def single_run(form: RunForm) -> Plan:
    return Plan([build_config(form)])


def thread_sweep(form: RunForm, cpu_count: int) -> Plan:
    """1..cpu_count threads, unprofiled."""
    return Plan([build_config(form, threads=t, profile=False) for t in range(1, cpu_count + 1)],
                "thread sweep: median by threads")


def target_comparison(form: RunForm, boards: list[SavedTarget]) -> Plan:
    """The form's configuration here and on every saved target, one after another (so no run
    slows another down), unprofiled; each board runs its own Python."""
    where: list[SavedTarget | None] = [None, *boards]
    return Plan([build_config(form, profile=False, python_exe=None) for _ in where],
                "targets: median", where)


def delegate_comparison(form: RunForm) -> Plan:
    """Every CPU delegate (and LiteRT's accelerators where the backend is LiteRT's), unprofiled;
    reference kernels on at most REFERENCE_MAX_RUNS runs."""
    from core.inference.toolchains import intel_dispatch_ready
    names = list(CPU_DELEGATES)
    if form.backend in ("litert", "compiled"):
        # accelerators of LiteRT's CompiledModel: the GPU, and the Intel plugin's dispatch where
        # it can run here
        names += ["gpu"] + (["npu-intel"] if intel_dispatch_ready() else [])
    configs = []
    for d in names:
        over: dict[str, Any] = dict(delegate=d, profile=False,
                                    backend=form.backend if d in CPU_DELEGATES else "compiled")
        if d == "reference":
            over.update(runs=min(form.runs, REFERENCE_MAX_RUNS), warmup=min(form.warmup, 1))
        configs.append(build_config(form, **over))
    capped = min(form.runs, REFERENCE_MAX_RUNS)
    note = f" (reference: {capped} runs)" if capped < form.runs else ""
    return Plan(configs, "delegate comparison: median", note=note.strip(" ()"))


@dataclass(frozen=True)
class Row:
    """One line of the results table: its cells (RESULT_COLUMNS; the Δ cells empty, as
    ``RunQueue.deltas`` fills them) and, for the time cells, the exact value behind the rounded
    text; the runs' peak RSS in bytes."""
    cells: tuple[str, ...]
    exact_ms: dict[str, float]
    error: str
    rss_peak: int | None = None

    def figure(self, column: str) -> float | None:
        """The exact value of a figure column (a time in ms, the peak RSS in bytes)."""
        if column == "peak RSS (runs)":
            return float(self.rss_peak) if self.rss_peak else None
        return self.exact_ms.get(column)


@dataclass(frozen=True)
class Delta:
    """One Δ cell: its text ('+12.3%', 'baseline', '' when there is nothing to compare) and the
    change in percent (None: none)."""
    text: str
    percent: float | None


def input_text(res: BenchResult) -> str:
    """What a result ran on: the input source and the input shapes ('random 1×224×224×3')."""
    src = res.input_source
    if src not in ("random", "zeros"):
        src = Path(src).name
    shapes = ", ".join(fmt.shape(i["shape"]) for i in res.inputs)
    return f"{src} {shapes}".strip()


def result_row(label: str, res: BenchResult) -> Row:
    lat, peak = res.latency_ms, res.rss_bytes.peak
    times = dict(zip(TIME_COLUMNS, (res.init_ms, res.first_ms, lat.median, lat.mean, lat.std,
                                    lat.p90, lat.p99, lat.max), strict=True))
    cells = ((label, res.backend, res.status, input_text(res))
             + tuple(fmt.duration_ms(v) if v is not None else "" for v in times.values())
             + (str(lat.runs), fmt.size(peak) if peak else "", res.error or "")
             + ("",) * len(DELTA_OF))
    return Row(cells, {k: v for k, v in times.items() if v is not None}, res.error or "", peak)


def failure_row(label: str, error: str) -> Row:
    """A configuration that never started (bad model, input or interpreter)."""
    cells = dict.fromkeys(RESULT_COLUMNS, "")
    cells.update(configuration=label, status="error", error=error)
    return Row(tuple(cells.values()), {}, error)


def delta(value: float | None, base: float | None) -> Delta:
    """``value`` against ``base`` in percent: '+12.3%', '-4.0%'."""
    if value is None or not base:
        return Delta("", None)
    pct = (value - base) / base * 100
    return Delta(f"{pct:+.1f}%", pct)


def eta_text(done: int, total: int, elapsed_s: float) -> str:
    """'37/100, about 12 s left' (no estimate before the first one is done)."""
    if done <= 0 or total <= done:
        return f"{done}/{total}"
    left = elapsed_s / done * (total - done)
    return f"{done}/{total}, about {fmt.duration_ms(left * 1000)} left"


def live_text(job: BenchFolder, cfg: RunConfig, stage: str, stage_elapsed_s: float) -> str:
    """The running configuration in one line: init, first, runs (with ETA in the run stage),
    median, p99, RSS."""
    import numpy as np
    bits = []
    if job.init_ms is not None:
        bits.append(f"init {fmt.duration_ms(job.init_ms)}")
    if job.first_ms is not None:
        bits.append(f"first {fmt.duration_ms(job.first_ms)}")
    lat = job.latencies_ms
    if lat:
        runs = eta_text(len(lat), cfg.runs, stage_elapsed_s) if stage == "run" else f"{len(lat)}"
        a = np.asarray(lat, dtype=np.float64)
        bits.append(f"runs {runs}, median {fmt.duration_ms(float(np.median(a)))}, "
                    f"p99 {fmt.duration_ms(float(np.percentile(a, 99)))}")
    if job.rss:
        bits.append(f"worker RSS {fmt.size(job.rss[-1][1])}"
                    + (" (the per-op profile's models included)" if job.profiled else ""))
    return " · ".join(bits)


def rss_text(rss: RssBytes) -> str:
    """The worker's memory in words, each figure saying what it counts: 'peak RSS 98.2 MiB
    during the runs (223.2 MiB with the per-op profile)'."""
    if rss.peak is None:
        return ""
    text = f"peak RSS {fmt.size(rss.peak)} during the runs"
    if rss.with_profile_peak is not None:
        text += f" ({fmt.size(rss.with_profile_peak)} with the per-op profile)"
    return text


@dataclass(frozen=True)
class LivePlots:
    """What the Run panel's live plots show for one configuration, in units chosen for the data
    (no axis scale factor to read): latency per run and its histogram with p50/p90/p99 in
    ``lat_unit``, the worker's RSS in MiB over time in ``time_unit``, and when the per-op profile
    began (``profile_at``: the RSS after it includes the profile's models)."""
    label: str
    lat_unit: str
    runs: Any           # np.ndarray 1..n
    latencies: Any      # np.ndarray, in lat_unit
    hist_edges: Any
    hist_counts: Any
    percentiles: dict[str, float]
    time_unit: str
    rss_t: Any          # np.ndarray, in time_unit since the worker started
    rss_mib: Any
    profile_at: float | None


def live_plots(label: str, job: BenchFolder) -> LivePlots:
    """The plots of ``job`` (live, or finished) as ``LivePlots``."""
    import numpy as np
    lat = np.asarray(job.latencies_ms, dtype=np.float64)
    unit, per = fmt.duration_unit(float(lat.max()) if lat.size else 0.0)
    shown = lat / per
    counts, edges = (np.histogram(shown, bins=min(40, max(5, lat.size // 4))) if lat.size
                     else (np.zeros(0), np.zeros(0)))
    pct = dict(zip(("p50", "p90", "p99"), (float(q) for q in np.percentile(shown, [50, 90, 99])),
                   strict=True)) if lat.size else {}
    rss = np.asarray(job.rss, dtype=np.float64).reshape(-1, 2)
    t_unit, t_per = fmt.duration_unit(float(rss[:, 0].max()) * 1000 if rss.size else 0.0)
    t = rss[:, 0] * 1000 / t_per
    at = job.profile_started_s
    return LivePlots(label, unit, np.arange(1, lat.size + 1), shown, edges, counts, pct, t_unit,
                     t, rss[:, 1] / 2**20, None if at is None else at * 1000 / t_per)


@dataclass(frozen=True)
class OpRow:
    """One line of the per-op table: its cells and its heat (0..1 of the slowest op; None: not
    shaded, for an op not timed or taking no time per run, as constant weights dequantized once
    when the model is prepared)."""
    cells: tuple[str, str, str, str]
    heat: float | None


def per_run_times(ops: list[OpTime]) -> dict[int, float]:
    """{op index: ms} of the ops timed per run, for the graph's heat overlay: an op whose work
    is done once when the model is prepared (constant weights dequantized at init: 0 ms with a
    note) is not heat, as in the per-op table."""
    return {o.index: o.avg_ms for o in ops
            if o.avg_ms is not None and not (o.avg_ms == 0 and o.note)}


def op_rows(ops: list[OpTime]) -> list[OpRow]:
    timed = [o.avg_ms for o in ops if o.avg_ms is not None]
    total = sum(timed)
    top = max(timed, default=0.0)
    rows = []
    for o in ops:
        avg = o.avg_ms
        cells = (str(o.index), fmt.printable(o.op, 120),
                 fmt.duration_ms(avg) if avg is not None else (o.note or "not timed"),
                 f"{100 * avg / total:.1f}" if avg and total else "")
        heat = avg / top if avg and top > 0 else None
        rows.append(OpRow(cells, heat))
    return rows


class RunQueue:
    """Configurations run one after another, and what they gave.

    ``begin(plan)`` queues a plan; ``next_config()`` pops the next one to start (None: the queue
    is over); ``finished(label, result)`` / ``failed(label, message)`` record each outcome.
    ``stop()`` drops what has not started. ``results`` keeps every result of the panel's life
    (for export); ``compare`` holds the current plan's (tick label, median ms) bars."""

    def __init__(self) -> None:
        self.results: list[tuple[str, BenchResult]] = []
        self.pending: list[RunConfig] = []
        self.compare: list[tuple[str, float]] = []
        self.title = ""
        self.note = ""
        self.total = self.done = 0
        self.stop_asked = False
        self.current: RunConfig | None = None
        self.board: SavedTarget | None = None       # where the current one runs
        self._pending_boards: list[SavedTarget | None] = []
        self.rows: list[Row] = []                   # the results table's, in order
        self.baseline: int | None = None            # the row the Δ columns compare with

    def begin(self, plan: Plan, board: SavedTarget | None = None) -> None:
        """Queue ``plan``; its configurations run on their own boards, else on ``board``."""
        self.pending = list(plan.configs)
        self._pending_boards = list(plan.boards) or [board] * len(plan.configs)
        self.total, self.done = len(plan.configs), 0
        self.title = plan.title
        self.note = plan.note
        self.compare = []
        self.stop_asked = False
        self.current = self.board = None

    def next_config(self) -> RunConfig | None:
        self.current = self.pending.pop(0) if self.pending else None
        self.board = self._pending_boards.pop(0) if self.current and self._pending_boards \
            else None
        return self.current

    def stop(self) -> None:
        """The running configuration finishes (after its current inference); the rest go."""
        self.pending, self._pending_boards = [], []
        self.stop_asked = True

    @property
    def label(self) -> str:
        if self.current is None:
            return ""
        return self.current.label() + (f" on {self.board.name}" if self.board else "")

    def tick(self, cfg: RunConfig) -> str:
        """The comparison bar's label of a configuration."""
        if self.title.startswith("targets"):
            return self.board.name if self.board is not None else "this computer"
        return f"{cfg.threads} thr" if self.title.startswith("thread") else \
            cfg.delegate.split("/")[-1]

    def bars(self) -> tuple[str, list[tuple[str, float]]]:
        """The comparison bars in one unit chosen for them: (unit, [(tick label, median)])."""
        unit, per = fmt.duration_unit(max((v for _, v in self.compare), default=0.0))
        return unit, [(tick, v / per) for tick, v in self.compare]

    def bars_note(self) -> str:
        """What the comparison chart's axis says under the bars: the plan's note, and what a
        failed configuration's mark means."""
        failed = any(tick.endswith(FAILED_MARK) for tick, _ in self.compare)
        return "; ".join(filter(None, [self.note, f"{FAILED_MARK.strip()} failed" if failed
                                       else ""]))

    def queue_text(self) -> str:
        """'configuration 2/4: ' while a sweep or comparison runs."""
        return f"configuration {self.done + 1}/{self.total}: " if self.total > 1 else ""

    def finished(self, res: BenchResult) -> Row:
        """Record the current configuration's result; its results-table row."""
        label = self.label
        self.results.append((label, res))
        self.done += 1
        med = res.latency_ms.median
        if self.current is not None:
            self.compare.append((self.tick(self.current) + (FAILED_MARK if res.error else ""),
                                 med if med is not None else 0.0))
        self.rows.append(result_row(label, res))
        return self.rows[-1]

    def failed(self, message: str) -> Row:
        """The current configuration never started: its row."""
        self.done += 1
        self.rows.append(failure_row(self.label, message))
        return self.rows[-1]

    def set_baseline(self, row: int | None) -> None:
        """Compare every row with row ``row`` (None: with none). ValueError for a row without
        timed runs, which has nothing to compare with."""
        if row is not None:
            if not 0 <= row < len(self.rows):
                raise ValueError(f"no results row {row + 1}")
            if self.rows[row].figure("median") is None:
                raise ValueError(f"{self.rows[row].cells[0]} has no timed runs to compare with")
        self.baseline = row

    def deltas(self, row: int) -> dict[str, Delta]:
        """The Δ cells of row ``row`` against the baseline row."""
        if self.baseline is None:
            return {c: Delta("", None) for c in DELTA_OF}
        if row == self.baseline:
            return {c: Delta("baseline", None) for c in DELTA_OF}
        base, this = self.rows[self.baseline], self.rows[row]
        return {c: delta(this.figure(of), base.figure(of)) for c, of in DELTA_OF.items()}

    def summary(self, res: BenchResult) -> str:
        """The status line after a configuration."""
        if res.error:
            return f"{self.label}: {res.error}"
        rss = rss_text(res.rss_bytes)
        return (f"{self.label}: {res.status} — median {fmt.duration_ms(res.latency_ms.median)} "
                f"over {res.latency_ms.runs} runs" + (f"; {rss}" if rss else "") + "."
                + (f" Note: {res.runtime_note}." if res.runtime_note else ""))

