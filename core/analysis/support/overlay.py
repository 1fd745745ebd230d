"""A delegate's verdict as a graph overlay: each op coloured delegated / supported-but-on-CPU /
unsupported, each partition outlined, the reason as the badge of ops left on the CPU, and the
summary line ("GPU: 61/65 ops, 3 partitions; first blocker: op 12 CAST (input 0 is int64)")."""
from __future__ import annotations

from core.analysis.overlay import KIND_DELEGATE, Overlay, categorical_overlay, outline_groups
from core.analysis.support.analyze import summary_line
from core.analysis.support.result import DelegateSupport

PALETTE = {
    "delegated": ("delegated", "#8fd18f"),
    "kept_on_cpu": ("supported, left on CPU (partition not kept)", "#f6d36b"),
    "unsupported": ("not supported → CPU", "#ef8a80"),
}
# partition outlines cycle through distinct hues
OUTLINE_COLORS = ("#1f77b4", "#9467bd", "#17becf", "#2ca02c", "#8c564b", "#e377c2")
OVERLAY_PREFIX = "Delegate support: "   # a delegate's verdict overlay is named by it


def support_overlay(result: DelegateSupport) -> Overlay:
    """``result``: one delegate's verdict of ``analyze()`` (all subgraphs)."""
    verdicts: dict[tuple[int, int], str] = {}
    badges: dict[tuple[int, int], str] = {}
    group_of: dict[tuple[int, int], tuple[int, int]] = {}
    labels: dict[tuple[int, int], tuple[str, str]] = {}
    for sg in result.subgraphs:
        s = sg.index
        for o in sg.ops:
            key = (s, o.index)
            if o.partition is not None:
                verdicts[key] = "delegated"
                group_of[key] = (s, o.partition)
            elif o.supported:
                verdicts[key] = "kept_on_cpu"
            else:
                verdicts[key] = "unsupported"
                badges[key] = o.reason or ""   # the view cuts it to the card, the tooltip not
        for p in range(sg.partitions):
            color = OUTLINE_COLORS[len(labels) % len(OUTLINE_COLORS)]
            where = f" (subgraph {s})" if len(result.subgraphs) > 1 else ""
            labels[(s, p)] = (f"{result.title} partition {p + 1}{where}", color)
    groups = outline_groups(sorted(verdicts), group_of, labels)
    return categorical_overlay(f"{OVERLAY_PREFIX}{result.title}", verdicts, PALETTE,
                               summary=summary_line(result), badges=badges, groups=groups,
                               kind=KIND_DELEGATE)
