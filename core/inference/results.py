"""Typed results of the worker jobs, made by each job's ``Folder`` and read by the CLI, the Run
panel, the exports and the analyses.

JSON appears only at the edges: the worker pipe (the ``*JSON`` TypedDicts below are what a worker
message carries) and ``to_json()``, whose keys and their order are the ``litelens bench --json``
contract (README). Inside LiteLens the fields are read by name, so a renamed field fails mypy.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    # typing.NotRequired is Python 3.11+, and the worker imports this module (through inputs) in
    # the user's other Python, which may be older; the annotations are never evaluated there
    from typing import NotRequired

    from core.inference.tensor_values import TensorValues


# -- what the worker pipe carries ---------------------------------------------------------------
class TensorInfo(TypedDict):
    """An input as the runtime reports it after allocation."""
    name: str
    shape: list[int]
    dtype: str


class InputSpecJSON(TensorInfo):
    """An input as LiteLens prepared it (``core.inference.inputs.InputSpec.to_json``)."""
    shape_signature: list[int]
    scale: float | None
    zero_point: int | None
    mean: list[float] | None
    std: list[float] | None
    shape_source: str | None


class OutputSummary(TypedDict):
    """One model output: shape, dtype, real-valued statistics and, for vectors, the top-k as
    ``[index, value]`` (``[index, value, label]`` once the parent adds the model's labels)."""
    name: str
    shape: list[int]
    dtype: str
    nonfinite: NotRequired[int]
    min: NotRequired[float]
    max: NotRequired[float]
    mean: NotRequired[float]
    std: NotRequired[float]
    topk: NotRequired[list[list[Any]]]


class DelegateOpTime(TypedDict):
    """A delegate kernel the runtime profiler timed (LiteRT's own profiler only)."""
    index: int
    name: str
    avg_ms: float


# -- shared by every job ------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``status`` error | stopped | ok | running, and the error if any."""
    status: str
    error: str | None = None
    error_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "error_kind": self.error_kind}


# -- bench --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyStats:
    """What ``benchmark_model`` prints (avg/std) plus median and tail percentiles, in ms; an empty
    sample has ``runs == 0`` and None elsewhere."""
    runs: int
    min: float | None = None
    median: float | None = None
    mean: float | None = None
    std: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RssBytes:
    """Worker RSS: before loading, after init, the runs' peak and high-water mark, and the peak
    with the per-op profile's single-op models (None: not profiled)."""
    before_load: int | None
    after_init: int | None
    peak: int | None
    hwm: int | None
    with_profile_peak: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OpTime:
    """One op's average time in a per-op profile (None: not timed, ``note`` says why)."""
    index: int
    op: str
    avg_ms: float | None
    runs: int | None = None     # invocations averaged (single-op timing)
    note: str | None = None
    kernel: str | None = None   # the delegate kernel the runtime profiler matched to it

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OpTime:
        return cls(index=int(d["index"]), op=str(d["op"]),
                   avg_ms=None if d.get("avg_ms") is None else float(d["avg_ms"]),
                   runs=d.get("runs"), note=d.get("note"), kernel=d.get("kernel"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "op": self.op, "avg_ms": self.avg_ms}
        if self.runs is not None:
            out["runs"] = self.runs
        if self.note is not None:
            out["note"] = self.note
        if self.kernel is not None:
            out["kernel"] = self.kernel
        return out


@dataclass(frozen=True)
class OpTypeTime:
    """Per operator type, as ``benchmark_model``'s summary by node type."""
    op: str
    count: int
    total_ms: float
    avg_ms: float
    percent: float   # of the sum over all timed ops

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProfileSummary:
    """What a per-op profile covers: method, coverage, whether it ran to the end, and the per-op
    sum next to the whole run it should add up to."""
    method: str | None
    complete: bool
    stopped: bool
    timed_ops: int
    ops: int
    untimed: dict[str, int]
    sum_ms: float
    whole_run_ms: float | None
    sum_vs_whole_run: float | None
    run_median_ms: float | None
    sum_vs_median: float | None
    by_type: list[OpTypeTime]
    delegate_ops: list[DelegateOpTime] | None = None   # runtime profiler with a delegate
    mapping: str | None = None
    api: str | None = None        # the API the profile ran ("LiteRT CompiledModel")
    run_api: str | None = None    # the API of the timed runs it sits beside

    @property
    def other_api(self) -> bool:
        """The profile ran on another API than the timed runs (their times may differ)."""
        return bool(self.api and self.run_api and self.api != self.run_api)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method, "complete": self.complete, "stopped": self.stopped,
            "timed_ops": self.timed_ops, "ops": self.ops, "untimed": dict(self.untimed),
            "sum_ms": self.sum_ms, "whole_run_ms": self.whole_run_ms,
            "sum_vs_whole_run": self.sum_vs_whole_run, "run_median_ms": self.run_median_ms,
            "sum_vs_median": self.sum_vs_median, "by_type": [t.to_json() for t in self.by_type]}
        if self.delegate_ops:
            out["delegate_ops"] = [dict(d) for d in self.delegate_ops]
            out["mapping"] = self.mapping
        if self.api is not None:
            out["api"], out["run_api"] = self.api, self.run_api
        return out


@dataclass(frozen=True)
class ProfileNote:
    """A profile that was asked for but not made, and why."""
    method: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "note": self.note}


@dataclass
class BenchResult:
    """One configuration's run: the ``litelens bench --json`` contract as typed fields."""
    model: str
    backend: str
    delegate: str
    threads: int
    python: str
    input_source: str
    init_ms: float | None
    first_ms: float | None
    warmup_ms: LatencyStats
    latency_ms: LatencyStats
    rss_bytes: RssBytes
    ops: list[OpTime]
    inputs: Sequence[TensorInfo]   # as the runtime allocated them (as prepared if it did not)
    dynamic_inputs: list[InputSpecJSON]     # inputs with -1 dims: the shape used and its source
    input_note: str | None
    outputs: list[OutputSummary]
    # after the last timed run: the state a streaming model carried through the runs (equal to
    # the first run's outputs when reset_variables)
    last_outputs: list[OutputSummary] | None
    reset_variables: bool
    status: str
    error: str | None
    error_kind: str | None
    profile: ProfileSummary | ProfileNote | None = None
    # set when the worker's runtime is not the one LiteLens' tables follow
    runtime_note: str | None = None
    target: dict[str, Any] | None = None    # the board it ran on over SSH (None: here)
    # the outputs' values in full, and the tensors kept when asked (not in the JSON contract:
    # ``litelens bench --save-tensors`` writes them as .npy files)
    tensors: list[TensorValues] = field(default_factory=list)
    tensors_note: str | None = None

    @property
    def summary(self) -> ProfileSummary | None:
        """The per-op profile's summary, when one was made."""
        return self.profile if isinstance(self.profile, ProfileSummary) else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model, "backend": self.backend, "delegate": self.delegate,
            "threads": self.threads, "python": self.python, "input_source": self.input_source,
            "init_ms": self.init_ms, "first_ms": self.first_ms,
            "warmup_ms": self.warmup_ms.to_json(), "latency_ms": self.latency_ms.to_json(),
            "rss_bytes": self.rss_bytes.to_json(), "ops": [o.to_json() for o in self.ops],
            "inputs": [dict(i) for i in self.inputs],
            "dynamic_inputs": [dict(i) for i in self.dynamic_inputs],
            "input_note": self.input_note, "outputs": [dict(o) for o in self.outputs],
            "last_outputs": None if self.last_outputs is None else [
                dict(o) for o in self.last_outputs],
            "reset_variables": self.reset_variables,
            "status": self.status, "error": self.error, "error_kind": self.error_kind}
        if self.profile is not None:
            out["profile"] = self.profile.to_json()
        if self.runtime_note is not None:
            out["runtime_note"] = self.runtime_note
        if self.target is not None:
            out["target"] = self.target
        return out


# -- the small jobs -----------------------------------------------------------------------------
class TensorDetailsResult(TypedDict):
    """``tensor_details``: the runtime's view of every tensor once the model is allocated."""
    model: str
    backend: str
    delegate: str
    python: str
    tensors: list[dict[str, Any]]
    status: str
    error: str | None
    error_kind: str | None
    target: NotRequired[dict[str, Any]]   # the board it ran on over SSH


class ArenaResult(TypedDict):
    """``memory_arena``: {subgraph: {tensor index: (address, bytes)}} after allocation."""
    model: str
    delegate: str
    threads: int
    subgraphs: dict[int, dict[int, tuple[int, int]]]
    tensor_counts: dict[int, int]
    anon_rss_bytes: dict[str, int] | None   # {"before_load", "after_allocate"}, where readable
    status: str
    error: str | None
    error_kind: str | None
    target: NotRequired[dict[str, Any]]   # the board it ran on over SSH


class PlacementResult(TypedDict):
    """``xnnpack_placement``: which nodes the real XNNPACK delegate replaced."""
    model: str
    placement: dict[str, Any] | None
    status: str
    error: str | None
    error_kind: str | None
    target: NotRequired[dict[str, Any]]   # the board it ran on over SSH
