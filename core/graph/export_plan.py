"""What an export of a laid-out graph will be, before it is written: the image size and the zoom
a PNG gets under its size cap, whether op names will be readable, and about how big an SVG file
gets. The GUI asks before writing something useless (a 100k-op chain as a 1×16000 px PNG) or huge
(a 250 MB SVG)."""
from __future__ import annotations

from dataclasses import dataclass

from core import format as fmt

MAX_SIDE = 16000            # px: a PNG side larger than this is scaled down
READABLE_SCALE = 0.45       # below this zoom the graph view draws no text (its "mid" level)
SVG_BYTES_PER_NODE = 2600   # measured: 252 MB for a 100k-op chain with its edges
SVG_WARN_BYTES = 50 << 20   # browsers and editors struggle past this


@dataclass(frozen=True)
class ImagePlan:
    scale: float
    width: int
    height: int
    readable: bool


def image_plan(scene_w: float, scene_h: float, scale: float = 1.0,
               max_side: int = MAX_SIDE) -> ImagePlan:
    """The PNG of a ``scene_w`` × ``scene_h`` scene at ``scale``, capped at ``max_side``."""
    s = min(scale, max_side / max(scene_w, 1.0), max_side / max(scene_h, 1.0))
    return ImagePlan(s, max(1, int(scene_w * s)), max(1, int(scene_h * s)), s >= READABLE_SCALE)


def svg_bytes_estimate(n_nodes: int) -> int:
    return n_nodes * SVG_BYTES_PER_NODE


def image_warning(plan: ImagePlan) -> str | None:
    """Why the whole-graph PNG would be useless, or None."""
    if plan.readable:
        return None
    return (f"The whole graph fits in a {plan.width:,} × {plan.height:,} px image only at "
            f"{plan.scale:.3g}× zoom: op names are not drawn below {READABLE_SCALE}×, so the "
            f"image would show coloured bars at best.")


def svg_warning(n_nodes: int) -> str | None:
    size = svg_bytes_estimate(n_nodes)
    if size < SVG_WARN_BYTES:
        return None
    return (f"The SVG of {n_nodes:,} nodes will be about {fmt.size(size)}; most viewers "
            f"struggle past {fmt.size(SVG_WARN_BYTES)}.")


@dataclass(frozen=True)
class LegendSection:
    """One block of an exported image's legend: an overlay's (or the dtypes') name, its summary
    line and what each colour means."""
    title: str
    summary: str
    entries: tuple[tuple[str, str], ...]     # (label, #rrggbb)


def legend_sections(overlays, extra: tuple[LegendSection, ...] = ()) -> tuple[LegendSection, ...]:
    """The legend an export carries: one section per overlay with a legend or summary (in the
    order set; anything with ``name``, ``summary`` and ``legend`` as an overlay has them), then
    ``extra`` (the dtypes' when View → Dtypes is on)."""
    out = [LegendSection(ov.name, ov.summary, tuple(ov.legend)) for ov in overlays
           if ov.legend or ov.summary]
    return tuple(out) + tuple(extra)


LEGEND_PAD = 10       # px around the legend strip and between its sections (at scale 1)
LEGEND_ROW = 16       # px per line
LEGEND_SWATCH = 12


def legend_height(sections: tuple[LegendSection, ...]) -> int:
    """Height in px (at scale 1) of the strip an export adds above the graph for its legend:
    the sections side by side, each a title, a summary line when it has one, and its rows."""
    if not sections:
        return 0
    lines = max(1 + bool(s.summary) + len(s.entries) for s in sections)
    return 2 * LEGEND_PAD + lines * LEGEND_ROW
