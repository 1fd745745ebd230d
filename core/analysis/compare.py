"""Two models side by side (an original and its quantized version, or any two): which ops were
added, removed or changed type / dtype, and how sizes moved.

Ops are paired by their first output tensor's name within the same subgraph (converters and
ai-edge-quantizer keep activation names); ops left unpaired are then aligned in graph order by op
type (``difflib``), so two models with different tensor names still line up where their structure
agrees. Each side also says whether XNNPACK takes the op (``core.analysis.support``), and each
model's summary its XNNPACK coverage and planned LiteRT arena (``core.analysis.memory``), so a
quantized op that falls off the delegate or a bigger arena shows in the diff. The result is a
``ModelDiff`` (``compare_models(...)``), shown by the GUI's compare view.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from core.analysis.memory import plan_litert
from core.analysis.support.analyze import analyze_delegate
from core.analysis.support.result import DelegateSupport
from core.model.reader import open_model
from core.model.types import Model, Operator, Subgraph

DELEGATE = "xnnpack"   # the runtime's default delegate: what "delegate support" compares

Status = Literal["added", "removed", "changed", "same"]


@dataclass(frozen=True)
class OpSide:
    """One model's op in a diff row."""
    subgraph: int
    index: int
    op: str
    tensor: str                 # its first output's name ("" when it has none)
    dtype: str                  # its first output's dtype
    weights: tuple[str, ...]    # dtypes of its constant inputs, sorted
    xnnpack: bool | None        # XNNPACK takes it (in a kept partition)


@dataclass(frozen=True)
class DiffRow:
    status: Status
    a: OpSide | None
    b: OpSide | None


@dataclass(frozen=True)
class DelegateCoverage:
    delegated_ops: int
    total_ops: int
    partitions: int


@dataclass(frozen=True)
class ModelSide:
    """One model's summary: sizes, constants by dtype, op counts, XNNPACK coverage, arena."""
    path: str
    size_bytes: int
    ops: int
    tensors: int
    constant_bytes: dict[str, int]
    op_counts: dict[str, int]
    xnnpack: DelegateCoverage
    arena_bytes: int            # the planned LiteRT arenas of all subgraphs


@dataclass(frozen=True)
class MedianLatency:
    """Median latency (ms) of A and of B, when the caller measured them."""
    a: float | None
    b: float | None


@dataclass(frozen=True)
class DiffCounts:
    added: int
    removed: int
    changed: int
    same: int


@dataclass(frozen=True)
class ModelDiff:
    a: ModelSide
    b: ModelSide
    latency_ms: MedianLatency | None
    counts: DiffCounts
    ops: list[DiffRow]


def _side(sg: Subgraph, op: Operator, delegated: dict[tuple[int, int], bool]) -> OpSide:
    ts = sg.tensors
    out = ts[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
    weights = tuple(sorted({ts[i].dtype for i in op.inputs if i >= 0 and ts[i].constant}))
    return OpSide(subgraph=sg.index, index=op.index, op=op.label,
                  tensor=out.name if out else "", dtype=out.dtype if out else "",
                  weights=weights, xnnpack=delegated.get((sg.index, op.index)))


def _delegated(support: DelegateSupport) -> dict[tuple[int, int], bool]:
    """(subgraph, op) -> whether the delegate takes it (in a kept partition)."""
    return {(sg.index, o.index): o.delegated for sg in support.subgraphs for o in sg.ops}


def _summary(m: Model, support: DelegateSupport) -> ModelSide:
    consts: dict[str, int] = {}
    counts: dict[str, int] = {}
    for sg in m.subgraphs:
        for t in sg.tensors:
            if t.constant:
                consts[t.dtype] = consts.get(t.dtype, 0) + t.bytes
        for op in sg.operators:
            counts[op.label] = counts.get(op.label, 0) + 1
    coverage = DelegateCoverage(
        delegated_ops=sum(sg.delegated_ops for sg in support.subgraphs),
        total_ops=sum(sg.total_ops for sg in support.subgraphs),
        partitions=sum(sg.partitions for sg in support.subgraphs))
    return ModelSide(path=m.path, size_bytes=m.size_bytes, ops=m.op_count,
                     tensors=m.tensor_count, constant_bytes=dict(sorted(consts.items())),
                     op_counts=dict(sorted(counts.items())), xnnpack=coverage,
                     arena_bytes=sum(p.arena_bytes for p in plan_litert(m).values()))


def _pair(sa: Subgraph, sb: Subgraph) -> list[tuple[Operator | None, Operator | None]]:
    def first_name(sg: Subgraph, op: Operator) -> str | None:
        return sg.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else None
    by_name: dict[str | None, Operator] = {}
    for op in sb.operators:
        by_name.setdefault(first_name(sb, op), op)
    pairs: list[tuple[Operator | None, Operator | None]] = []
    used_b: set[int] = set()
    left_a: list[Operator] = []
    for op in sa.operators:
        other = by_name.get(first_name(sa, op))
        if other is not None and other.index not in used_b and first_name(sa, op) is not None:
            pairs.append((op, other))
            used_b.add(other.index)
        else:
            left_a.append(op)
    left_b = [op for op in sb.operators if op.index not in used_b]
    sm = difflib.SequenceMatcher(None, [o.label for o in left_a], [o.label for o in left_b],
                                 autojunk=False)
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            oa, ob = left_a[block.a + k], left_b[block.b + k]
            pairs.append((oa, ob))
            matched_a.add(oa.index)
            matched_b.add(ob.index)
    pairs += [(op, None) for op in left_a if op.index not in matched_a]
    pairs += [(None, op) for op in left_b if op.index not in matched_b]

    # in graph order of the model that has the op (B's order for added ops)
    def order(p: tuple[Operator | None, Operator | None]) -> tuple[int, bool]:
        first = p[0] if p[0] is not None else p[1]
        assert first is not None   # every pair holds at least one op
        return first.index, p[0] is None
    pairs.sort(key=order)
    return pairs


def _status(ra: OpSide | None, rb: OpSide | None) -> Status:
    if ra is None:
        return "added"
    if rb is None:
        return "removed"
    if (ra.op, ra.dtype, ra.weights, ra.xnnpack) != (rb.op, rb.dtype, rb.weights, rb.xnnpack):
        return "changed"
    return "same"


def compare_models(a: Model, b: Model, latency_ms: MedianLatency | None = None) -> ModelDiff:
    """Sizes, XNNPACK coverage and planned arenas of both models, and the op diff (rows in graph
    order; a side says whether XNNPACK takes its op). Raises ModelError for a graph the analyses
    cannot read."""
    sup_a, sup_b = analyze_delegate(a, DELEGATE), analyze_delegate(b, DELEGATE)
    del_a, del_b = _delegated(sup_a), _delegated(sup_b)
    rows: list[DiffRow] = []
    for si in range(max(len(a.subgraphs), len(b.subgraphs))):
        sa = a.subgraphs[si] if si < len(a.subgraphs) else None
        sb = b.subgraphs[si] if si < len(b.subgraphs) else None
        if sa is None and sb is not None:
            rows += [DiffRow("added", None, _side(sb, op, del_b)) for op in sb.operators]
        elif sb is None and sa is not None:
            rows += [DiffRow("removed", _side(sa, op, del_a), None) for op in sa.operators]
        elif sa is not None and sb is not None:
            for oa, ob in _pair(sa, sb):
                ra = _side(sa, oa, del_a) if oa else None
                rb = _side(sb, ob, del_b) if ob else None
                rows.append(DiffRow(_status(ra, rb), ra, rb))
    statuses = [r.status for r in rows]
    counts = DiffCounts(added=statuses.count("added"), removed=statuses.count("removed"),
                        changed=statuses.count("changed"), same=statuses.count("same"))
    return ModelDiff(a=_summary(a, sup_a), b=_summary(b, sup_b), latency_ms=latency_ms,
                     counts=counts, ops=rows)


def open_and_compare(path_a: str, path_b: str, latency_ms: MedianLatency | None = None
                     ) -> tuple[Model, Model, ModelDiff]:
    """Open both files and ``compare_models`` them; the caller owns (closes) the two models.
    When B cannot be opened or the comparison fails, the models already opened are closed (their
    mmaps released) before the error goes on."""
    opened: list[Model] = []
    try:
        opened.append(open_model(path_a))
        opened.append(open_model(path_b))
        return opened[0], opened[1], compare_models(opened[0], opened[1], latency_ms)
    except BaseException:
        for m in opened:
            m.close()
        raise
