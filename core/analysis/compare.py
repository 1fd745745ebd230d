"""Two models side by side (an original and its quantized version, or any two): which ops were
added, removed or changed type / dtype, and how sizes moved.

Ops are paired by their first output tensor's name within the same subgraph (converters and
ai-edge-quantizer keep activation names); ops left unpaired are then aligned in graph order by op
type (``difflib``), so two models with different tensor names still line up where their structure
agrees. Each side also says whether XNNPACK takes the op (``core.analysis.support``), and each
model's summary its XNNPACK coverage and planned LiteRT arena (``core.analysis.memory``), so a
quantized op that falls off the delegate or a bigger arena shows in the diff. The result is plain
JSON (``compare_models(...)``), shown by the GUI's compare view.
"""
from __future__ import annotations

import difflib

from core.analysis.memory import plan_litert
from core.analysis.support.analyze import analyze_delegate
from core.model.reader import open_model
from core.model.types import Model, Operator, Subgraph

DELEGATE = "xnnpack"   # the runtime's default delegate: what "delegate support" compares


def _side(sg: Subgraph, op: Operator, delegated: dict[tuple[int, int], bool]) -> dict:
    ts = sg.tensors
    out = ts[op.outputs[0]] if op.outputs and op.outputs[0] >= 0 else None
    weights = sorted({ts[i].dtype for i in op.inputs if i >= 0 and ts[i].constant})
    return {"subgraph": sg.index, "index": op.index, "op": op.label,
            "tensor": out.name if out else "", "dtype": out.dtype if out else "",
            "weights": weights, DELEGATE: delegated.get((sg.index, op.index))}


def _delegated(support: dict) -> dict[tuple[int, int], bool]:
    """(subgraph, op) -> whether the delegate takes it (in a kept partition)."""
    return {(sg["index"], o["index"]): o["partition"] is not None
            for sg in support["subgraphs"] for o in sg["ops"]}


def _summary(m: Model, support: dict) -> dict:
    consts: dict[str, int] = {}
    counts: dict[str, int] = {}
    for sg in m.subgraphs:
        for t in sg.tensors:
            if t.constant:
                consts[t.dtype] = consts.get(t.dtype, 0) + t.bytes
        for op in sg.operators:
            counts[op.label] = counts.get(op.label, 0) + 1
    return {"path": m.path, "size_bytes": m.size_bytes, "ops": m.op_count,
            "tensors": m.tensor_count, "constant_bytes": dict(sorted(consts.items())),
            "op_counts": dict(sorted(counts.items())),
            DELEGATE: {k: sum(sg[k] for sg in support["subgraphs"])
                       for k in ("delegated_ops", "total_ops", "partitions")},
            "arena_bytes": sum(p.arena_bytes for p in plan_litert(m).values())}


def _pair(sa: Subgraph, sb: Subgraph) -> list[tuple[Operator | None, Operator | None]]:
    def first_name(sg, op):
        return sg.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else None
    by_name = {}
    for op in sb.operators:
        by_name.setdefault(first_name(sb, op), op)
    pairs, used_b, left_a = [], set(), []
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
    matched_a, matched_b = set(), set()
    for block in sm.get_matching_blocks():
        for k in range(block.size):
            oa, ob = left_a[block.a + k], left_b[block.b + k]
            pairs.append((oa, ob))
            matched_a.add(oa.index)
            matched_b.add(ob.index)
    pairs += [(op, None) for op in left_a if op.index not in matched_a]
    pairs += [(None, op) for op in left_b if op.index not in matched_b]
    # in graph order of the model that has the op (B's order for added ops)
    pairs.sort(key=lambda p: (p[0].index if p[0] else p[1].index, p[0] is None))
    return pairs


def compare_models(a: Model, b: Model, latency_ms: dict | None = None) -> dict:
    """{"a": summary, "b": summary, "latency_ms": {"a", "b"} | None, "counts": {added, removed,
    changed, same}, "ops": [{"status", "a": side | None, "b": side | None}]}; a side is
    {subgraph, index, op, tensor, dtype, weights: [dtypes of its constant inputs], xnnpack:
    whether XNNPACK takes it}; a summary adds xnnpack {delegated_ops, total_ops, partitions} and
    arena_bytes (the planned LiteRT arenas of all subgraphs). Raises ModelError for a graph the
    analyses cannot read."""
    sup_a, sup_b = analyze_delegate(a, DELEGATE), analyze_delegate(b, DELEGATE)
    del_a, del_b = _delegated(sup_a), _delegated(sup_b)
    rows = []
    for si in range(max(len(a.subgraphs), len(b.subgraphs))):
        sa = a.subgraphs[si] if si < len(a.subgraphs) else None
        sb = b.subgraphs[si] if si < len(b.subgraphs) else None
        if sa is None or sb is None:
            only, status = (sa, "removed") if sb is None else (sb, "added")
            for op in only.operators:
                side = _side(only, op, del_a if status == "removed" else del_b)
                rows.append({"status": status, "a": side if status == "removed" else None,
                             "b": side if status == "added" else None})
            continue
        for oa, ob in _pair(sa, sb):
            ra = _side(sa, oa, del_a) if oa else None
            rb = _side(sb, ob, del_b) if ob else None
            if ra is None:
                status = "added"
            elif rb is None:
                status = "removed"
            elif any(ra[k] != rb[k] for k in ("op", "dtype", "weights", DELEGATE)):
                status = "changed"
            else:
                status = "same"
            rows.append({"status": status, "a": ra, "b": rb})
    counts = {k: sum(r["status"] == k for r in rows) for k in ("added", "removed", "changed",
                                                                 "same")}
    return {"a": _summary(a, sup_a), "b": _summary(b, sup_b), "latency_ms": latency_ms, "counts": counts,
            "ops": rows}


def open_and_compare(path_a: str, path_b: str,
                     latency_ms: dict | None = None) -> tuple[Model, Model, dict]:
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
