"""The runtime's real arena: where ai-edge-litert puts every tensor after ``allocate_tensors()``.

``measure(path, threads)`` runs the worker's ``memory_arena`` job (a kernel may crash the
runtime; the worker process takes the crash): the interpreter is built with default delegates off
(or XNNPACK on, to see what it changes) and the given threads, tensors are allocated, and every
tensor's data address is read — temporaries too. :func:`compare` turns addresses into offsets
against a plan, :func:`delegate_effect` lists what XNNPACK takes out of the arena.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from core.analysis.memory.litert import SubgraphPlan
from core.analysis.memory.result import (
    AllocateFootprint,
    Arena,
    ArenaCheck,
    OffsetMismatch,
    RuntimeCheck,
    SubgraphCheck,
    XnnpackEffect,
    XnnpackTakes,
)
from core.inference.ssh_target import SshTarget


@dataclass(frozen=True)
class MeasuredArenas:
    """Every readable tensor's (address, bytes) per subgraph after ``allocate_tensors()``."""
    subgraphs: dict[int, dict[int, tuple[int, int]]]
    error: str | None
    target: dict[str, Any] | None = None   # the board it ran on (over SSH), if any
    # resident anonymous memory that load + allocate_tensors() added, where readable
    allocate_anon_bytes: int | None = None


def measure(path: str, threads: int = 1, xnnpack: bool = False,
            timeout: float = 300, target: SshTarget | None = None,
            shapes: Mapping[str, Sequence[int]] | None = None) -> MeasuredArenas:
    """Addresses per subgraph from the ``memory_arena`` worker job; on ``target`` (a board over
    SSH: ``TargetError`` when it cannot run) with the board's facts. ``shapes``: inputs resized
    to these before allocating (``--shape``)."""
    from core.inference.config import RunConfig
    from core.inference.remote import run_memory_arena
    cfg = RunConfig(model=str(path), delegate="xnnpack" if xnnpack else "builtin",
                    threads=max(int(threads), 1), timeout_s=timeout,
                    shapes={k: list(v) for k, v in shapes.items()} if shapes else None)
    r = run_memory_arena(cfg, target)
    anon = r.get("anon_rss_bytes")
    return MeasuredArenas(
        subgraphs={int(s): {int(i): (int(a), int(b)) for i, (a, b) in seen.items()}
                   for s, seen in r["subgraphs"].items()},
        error=r["error"], target=r.get("target"),
        allocate_anon_bytes=(max(anon["after_allocate"] - anon["before_load"], 0) if anon
                             else None))


def compare(plans: dict[int, SubgraphPlan], measured: MeasuredArenas) -> RuntimeCheck:
    """Real offsets and spans per subgraph and arena, against the planned ones.

    An arena's base is the address that puts the most of its planned tensors at their planned
    offsets (the lowest address when nothing agrees); a tensor's real offset is its address
    minus that base, the real arena size the furthest byte any of its tensors reaches.
    """
    out: list[SubgraphCheck] = []
    for si, plan in sorted(plans.items()):
        seen = measured.subgraphs.get(si)
        if seen is None:
            continue
        mismatches: list[OffsetMismatch] = []
        checks: dict[Arena, ArenaCheck] = {}
        bases: dict[Arena, int] = {}
        arenas: tuple[Arena, Arena] = ("main", "persistent")
        for arena in arenas:
            mine = {t: p for t, p in plan.placements.items() if p.arena == arena and p.bytes}
            real = {t: seen[t] for t in mine if t in seen}
            planned = plan.arena_bytes if arena == "main" else plan.persistent_bytes
            if not real:
                checks[arena] = ArenaCheck(planned_bytes=planned, runtime_bytes=None, tensors=0,
                                           offsets_agree=0)
                continue
            votes = Counter(addr - mine[t].offset for t, (addr, _) in real.items())
            base, hits = votes.most_common(1)[0]
            if hits == 1 and len(real) > 1:
                base = min(addr for addr, _ in real.values())
            span = max(addr + nb for addr, nb in real.values()) - base
            agree = 0
            for t, (addr, _nb) in sorted(real.items()):
                off = addr - base
                if off == mine[t].offset:
                    agree += 1
                else:
                    mismatches.append(OffsetMismatch(t, arena, mine[t].offset, off,
                                                     mine[t].bytes))
            # the furthest byte of a tensor the runtime can show (0-d tensors come back as
            # copies): equals the arena size unless such a tensor ends the arena
            readable = max((p.offset + p.bytes for t, p in mine.items()
                            if plan.slots[t].shape), default=0)
            checks[arena] = ArenaCheck(
                planned_bytes=planned, runtime_bytes=span, tensors=len(real),
                offsets_agree=agree, planned_readable_bytes=readable,
                base_aligned_64=base % 64 == 0,
                missing_at_runtime=sorted(t for t in set(mine) - set(real)
                                          if plan.slots[t].shape),
                unreadable_0d=sorted(t for t in mine if not plan.slots[t].shape))
            bases[arena] = base
        # tensors the plan leaves out but the runtime gave memory: inside an arena's span they
        # are a miss; elsewhere they are heap or file memory (e.g. a WHILE condition's unused
        # inputs, which the loop feeds itself)
        spans = [(b, b + (checks[a].runtime_bytes or 0)) for a, b in bases.items()]
        unplanned = {t: addr for t, (addr, nb) in seen.items()
                     if t not in plan.placements and nb and t < len(plan.slots)
                     and plan.slots[t].kind in ("arena", "persistent")}
        in_arena = sorted(t for t, addr in unplanned.items()
                          if any(lo <= addr < hi for lo, hi in spans))
        out.append(SubgraphCheck(index=si, allocated=bool(seen), main_arena=checks["main"],
                                 persistent_arena=checks["persistent"],
                                 unplanned_in_arena=in_arena,
                                 outside_arenas=sorted(set(unplanned) - set(in_arena)),
                                 mismatches=mismatches))
    return RuntimeCheck(subgraphs=out, error=measured.error)


def delegate_effect(plain: MeasuredArenas, xnn: MeasuredArenas) -> XnnpackEffect:
    """Tensors the default XNNPACK delegate takes out of the arena (allocated without it,
    not with it), per subgraph."""
    out: list[XnnpackTakes] = []
    for si, seen in sorted(plain.subgraphs.items()):
        with_x = xnn.subgraphs.get(si, {})
        gone = sorted(t for t in seen if t not in with_x)
        out.append(XnnpackTakes(si, gone, sum(seen[t][1] for t in gone)))
    footprint = None
    if not (plain.error or xnn.error) and plain.allocate_anon_bytes is not None \
            and xnn.allocate_anon_bytes is not None:
        footprint = AllocateFootprint(plain.allocate_anon_bytes, xnn.allocate_anon_bytes)
    return XnnpackEffect(out, xnn.error, footprint)


def explain(arena: ArenaCheck) -> str:
    """One line on how the runtime's arena compares with the plan (CLI text, GUI table)."""
    if arena.runtime_bytes is None:
        if not arena.planned_bytes:
            return "empty, as planned"
        return "nothing readable at runtime (only 0-d tensors, or allocated on first run)"
    rb, pb = arena.runtime_bytes, arena.planned_bytes
    agree = f"offsets agree {arena.offsets_agree}/{arena.tensors}"
    if rb == pb:
        return f"equal; {agree}"
    if rb == arena.planned_readable_bytes:
        return (f"equal up to the last readable byte: a 0-d tensor (read back only as a copy) "
                f"ends the planned arena at {pb} B; {agree}")
    return f"differs by {rb - pb:+d} B; {agree}"
