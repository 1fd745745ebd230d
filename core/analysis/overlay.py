"""Overlays: what an analysis says about each op, as colours, badges, outlined groups and a legend.

An ``Overlay`` is a plain frozen value (no Qt): latency, delegate support, memory and quantization
error each build one with a core function, the CLI can print it as JSON and the graph view only
paints it. Ops are keyed by ``(subgraph, op_index)``. The legend travels with the overlay (each
overlay brings its own legend entries, as a pyqtgraph item does).

Each overlay has a ``kind`` (what produced it: ``KIND_LATENCY``, ``KIND_DELEGATE``,
``KIND_MEMORY``, ``KIND_QUANTIZATION``; by default its name). A view holds one overlay per kind
(a new one replaces the old) and paints one of them at a time, so the colours on the graph
always belong to one named legend.

JSON form (``to_json``): ops as a list of records, sorted by (subgraph, op), so the keys stay
plain strings and each op's facts sit together::

    {"name": "latency", "kind": "latency", "summary": "...",
     "legend": [{"label": "...", "color": "#rrggbb"}],
     "ops": [{"subgraph": 0, "op": 3, "color": "#rrggbb", "badge": "0.12 ms"}],
     "groups": [{"label": "GPU partition 1", "color": "#rrggbb",
                 "ops": [{"subgraph": 0, "op": 0}]}]}

An op record leaves out ``color`` or ``badge`` when the overlay has none for it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Hashable, Iterable, Mapping, TypeVar

OpKey = tuple[int, int]  # (subgraph, op index)
Verdict = TypeVar("Verdict", bound=Hashable)   # a categorical overlay's key per op
GroupId = TypeVar("GroupId", bound=Hashable)   # an outline group's id

# pale yellow -> orange -> dark red
RAMP = ("#fff3b0", "#ffd166", "#f4a259", "#e76f51", "#9d0208")

# what made an overlay: a view keeps one overlay of each kind
KIND_LATENCY = "latency"             # a profiled run's per-op time
KIND_DELEGATE = "delegate"           # a delegate's or target's verdict, or its latency estimate
KIND_MEMORY = "memory"               # live arena memory per op
KIND_QUANTIZATION = "quantization"   # per-layer quantization error

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def check_hex(color: str) -> str:
    """``color`` as lower-case ``#rrggbb``; ValueError for anything else."""
    if not isinstance(color, str) or not _HEX.fullmatch(color):
        raise ValueError(f"overlay colour {color!r} is not of the form #rrggbb")
    return color.lower()


def _op_key(key) -> OpKey:
    try:
        sg, op = key
        return int(sg), int(op)
    except (TypeError, ValueError):
        raise ValueError(f"overlay op key {key!r} is not a (subgraph, op index) pair") from None


@dataclass(frozen=True)
class OutlineGroup:
    """Ops drawn with one outline and label, e.g. one delegate partition."""
    label: str
    color: str
    ops: tuple[OpKey, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", check_hex(self.color))
        object.__setattr__(self, "ops", tuple(_op_key(k) for k in self.ops))


@dataclass(frozen=True)
class Overlay:
    name: str
    summary: str = ""
    colors: Mapping[OpKey, str] = field(default_factory=dict)   # fill colour per op, #rrggbb
    badges: Mapping[OpKey, str] = field(default_factory=dict)   # short text per op
    groups: tuple[OutlineGroup, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()                    # (label, #rrggbb)
    kind: str = ""                                              # KIND_*; "" means the name

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", str(self.kind or self.name))
        colors = {_op_key(k): check_hex(v) for k, v in dict(self.colors).items()}
        badges = {_op_key(k): str(v) for k, v in dict(self.badges).items()}
        object.__setattr__(self, "colors", MappingProxyType(colors))
        object.__setattr__(self, "badges", MappingProxyType(badges))
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "legend",
                           tuple((str(lab), check_hex(c)) for lab, c in self.legend))

    def to_json(self) -> dict:
        """Strict-JSON-ready dict (see the module docstring for the shape)."""
        ops = []
        for key in sorted(set(self.colors) | set(self.badges)):
            rec: dict = {"subgraph": key[0], "op": key[1]}
            if key in self.colors:
                rec["color"] = self.colors[key]
            if key in self.badges:
                rec["badge"] = self.badges[key]
            ops.append(rec)
        return {"name": self.name, "kind": self.kind, "summary": self.summary,
                "legend": [{"label": lab, "color": c} for lab, c in self.legend],
                "ops": ops,
                "groups": [{"label": g.label, "color": g.color,
                            "ops": [{"subgraph": s, "op": o} for s, o in g.ops]}
                           for g in self.groups]}


def heat_overlay(values: Mapping, unit: str = "ms", digits: int = 3, subgraph: int = 0,
                 name: str = "latency", summary: str | None = None,
                 text: Callable[[float], str] | None = None, kind: str = "") -> Overlay:
    """Colour each op by its share of the largest value, in len(RAMP) equal steps.

    ``values`` maps op index (of ``subgraph``) or (subgraph, op) to a number; ops without a value
    (None or negative) are left out, so the view keeps their normal colour. Each coloured op gets
    a badge such as "0.123 ms". The summary defaults to "N ops, max V unit". ``text`` formats a
    value with its unit for badges, summary and legend instead (e.g. ``core.format.duration_ms``,
    which picks µs/ms/s); ``unit`` and ``digits`` are then unused. ``kind``: see the module
    docstring (by default the name).
    """
    vals = {}
    for k, v in values.items():
        if v is not None and 0 <= v < math.inf:  # NaN/Infinity cannot be placed on the ramp
            vals[_op_key(k) if isinstance(k, tuple) else (subgraph, int(k))] = float(v)
    if not vals:
        return Overlay(name, summary or "", kind=kind)

    def label(v: float) -> str:
        return text(v) if text else f"{v:.{digits}g} {unit}"

    def span(lo: float, hi: float) -> str:  # a legend range says its unit once: "0.1–0.2 ms"
        return f"{text(lo)}–{text(hi)}" if text else f"{lo:.{digits}g}–{hi:.{digits}g} {unit}"

    peak = max(vals.values())
    top = peak or 1.0  # all zero: every op in the first step
    if summary is None:
        n_ops = len(vals)
        summary = f"{n_ops} op{'s' if n_ops != 1 else ''}, max {label(peak)}"
    n = len(RAMP)
    colors, badges = {}, {}
    for key, v in vals.items():
        colors[key] = RAMP[min(n - 1, int(v / top * n))]
        badges[key] = label(v)
    legend = tuple((span(top * i / n, top * (i + 1) / n), RAMP[i]) for i in range(n))
    return Overlay(name, summary, colors, badges, (), legend, kind)


def categorical_overlay(name: str, verdicts: Mapping[OpKey, Verdict],
                        palette: Mapping[Verdict, tuple[str, str]], summary: str = "",
                        badges: Mapping[OpKey, str] | None = None,
                        groups: Iterable[OutlineGroup] = (), kind: str = "") -> Overlay:
    """One colour per verdict (e.g. "supported" / "fallback"): ``palette`` maps each verdict
    key to (legend label, #rrggbb). The legend lists the palette's verdicts that occur, in
    palette order. A verdict missing from the palette is a ValueError."""
    missing = {v for v in verdicts.values() if v not in palette}
    if missing:
        raise ValueError(f"overlay {name!r}: no palette entry for {sorted(map(str, missing))}")
    colors = {k: palette[v][1] for k, v in verdicts.items()}
    used = set(verdicts.values())
    legend = tuple(palette[key] for key in palette if key in used)
    return Overlay(name, summary, colors, badges or {}, tuple(groups), legend, kind)


def outline_groups(ops: Iterable[OpKey], group_of: Mapping[OpKey, GroupId],
                   labels: Mapping[GroupId, tuple[str, str]]) -> tuple[OutlineGroup, ...]:
    """Outline groups from a group id per op: ``labels`` maps each id to (label, #rrggbb).
    Ops are taken in the order of ``ops``; ops without a group are left out; groups come in
    the order of ``labels``."""
    members: dict[GroupId, list[OpKey]] = {g: [] for g in labels}
    for k in ops:
        g = group_of.get(k)
        if g is not None:
            if g not in members:
                raise ValueError(f"outline group {g!r} has no label")
            members[g].append(_op_key(k))
    return tuple(OutlineGroup(labels[g][0], labels[g][1], tuple(m))
                 for g, m in members.items() if m)
