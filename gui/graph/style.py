"""How the graph looks: the canvas palette of each theme, node and mark colours, fonts and the
zoom thresholds of the levels of detail. Painting itself is ``gui/graph/renderer.py``.

Category colours are catalogue data (``resources/ops/catalogue.json``, ``category_colors``, read
through ``core.model.ops``); one colour per category reads on both canvases (the header text
turns dark on a light colour). Graph inputs and outputs are node kinds, not op categories:
their pill colour lives here.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen, Qt

from core.model import ops as op_facts
from gui.theme import is_dark

IO_COLOR = "#cfd8e3"    # graph input / output pills
SCOPE_COLOR = "#5c6b7a"  # a closed name-scope box's header (an overlay colours it instead)
FALLBACK = "#555555"   # a category the catalogue does not know (cannot happen: it is validated)


def category_colors() -> dict[str, str]:
    """Category key -> ``#rrggbb`` (the catalogue's), plus the input/output pills."""
    return {**op_facts.category_colors(), "input": IO_COLOR, "output": IO_COLOR,
            "scope": SCOPE_COLOR}


# the canvas follows the app's theme (gui.theme); category colours read on both
CANVAS: Mapping[str, Mapping[str, QColor]] = MappingProxyType({
    "light": MappingProxyType({
        "bg": QColor("#fbfbfc"), "edge": QColor("#8a9099"), "card": QColor("#ffffff"),
        "row": QColor("#374151"), "label": QColor("#555555"),
        "label_bg": QColor(251, 251, 252, 220), "hint": QColor("#666666"),
        "frame": QColor(90, 110, 140, 18), "frame_border": QColor("#b4bcc8"),
        "frame_head": QColor("#e6eaf0"), "frame_text": QColor("#3b4450")}),
    "dark": MappingProxyType({
        "bg": QColor("#1b1d20"), "edge": QColor("#7d838c"), "card": QColor("#2a2d32"),
        "row": QColor("#d5d9de"), "label": QColor("#b8bcc2"),
        "label_bg": QColor(27, 29, 32, 220), "hint": QColor("#9aa0a6"),
        "frame": QColor(160, 180, 210, 16), "frame_border": QColor("#4a5058"),
        "frame_head": QColor("#31363d"), "frame_text": QColor("#c9ced6")}),
})


def canvas() -> Mapping[str, QColor]:
    """The canvas palette of the app's current theme."""
    return CANVAS["dark" if is_dark() else "light"]


def floating_box_qss(object_name: str) -> str:
    """The stylesheet of a box that floats over the canvas (the overlay and the Dtypes legends):
    the canvas's background nearly opaque, its edge colour as the border and its row colour for
    the text (the app's text colour would be white on a light box in the dark theme)."""
    c = canvas()
    bg = c["bg"]
    return (f"#{object_name} {{ background: rgba({bg.red()},{bg.green()},{bg.blue()},230); "
            f"border: 1px solid {c['edge'].name()}; border-radius: 4px; }} "
            f"#{object_name} QLabel {{ color: {c['row'].name()}; }}")


SELECT = QColor("#ff8c00")
# custom ops (the stock runtime may not resolve them) get a dashed frame besides their colour
CUSTOM_FRAME = QColor("#c2185b")
STATE = QColor("#ab47bc")   # variable state edges (readable on the light and dark canvases)
HIGHLIGHT = QColor("#ffd400")
CARD_BORDER = QColor("#6b7280")
ROW_SHAPE = QColor("#6b7280")       # the ⟨shape⟩ of a folded constant's row
IO_TEXT = QColor("#1f2937")
DARK_TEXT = QColor("#111")
LIGHT_TEXT = QColor("#ffffff")
BADGE_BG = QColor("#fff7d6")
MARK_RING = QColor("#222")          # ring of the far-zoom selection / highlight dots

# Edge pens: the plain edge takes the canvas's "edge" colour. A new kind of link (e.g. variable
# reads and writes) adds its pen here and a pass in the renderer.
EDGE_WIDTH = 1.2
STATE_EDGE_WIDTH = 1.6
SELECTED_EDGE_WIDTH = 2.5


def edge_pen(canvas_colors: Mapping[str, QColor]) -> QPen:
    return QPen(canvas_colors["edge"], EDGE_WIDTH)


def state_edge_pen() -> QPen:
    """Edges that carry a variable's handle (VAR_HANDLE to its reads and writes): state, not
    data; dashed in the state colour."""
    return QPen(STATE, STATE_EDGE_WIDTH, Qt.PenStyle.DashLine)


# View → Dtypes: one pen per core.graph.dtypes class (float32 keeps the plain edge), and the
# stripe of the ops where int and float meet; readable on the light and dark canvases
DTYPE_PENS = (None, ("#3b82c4", Qt.PenStyle.DashLine), ("#e8710a", Qt.PenStyle.SolidLine),
              ("#a142c8", Qt.PenStyle.SolidLine), ("#7c8a96", Qt.PenStyle.DotLine),
              ("#169c7f", Qt.PenStyle.DashDotLine))
DTYPE_WIDTH = 1.8
BOUNDARY_COLORS = {"float → int": "#e8710a", "int → float": "#3b82c4", "hybrid": "#a142c8"}


def dtype_pen(cls: int, canvas_colors: Mapping[str, QColor]) -> QPen:
    spec = DTYPE_PENS[cls] if 0 <= cls < len(DTYPE_PENS) else DTYPE_PENS[-1]
    if spec is None:
        return edge_pen(canvas_colors)
    return QPen(qcolor(spec[0]), DTYPE_WIDTH, spec[1])


def boundary_color(kind: str) -> QColor:
    return qcolor(BOUNDARY_COLORS.get(kind, FALLBACK))


def selected_edge_pen() -> QPen:
    return QPen(SELECT, SELECTED_EDGE_WIDTH)


def custom_frame_pen(width: float) -> QPen:
    return QPen(CUSTOM_FRAME, width, Qt.PenStyle.DashLine)


def text_on(color: QColor) -> QColor:
    """Readable text colour on a fill of ``color``."""
    return LIGHT_TEXT if color.lightness() < 150 else DARK_TEXT


# Levels of detail, by zoom and by how many nodes are in view (see renderer.py)
LOD_FAR = 0.2
LOD_TEXT = 0.45
FAR_NODES = 2500

_QCOLORS: dict[str, QColor] = {}


def qcolor(hex_color: str) -> QColor:
    """The QColor of an overlay's ``#rrggbb`` (cached: painting asks for the same few often)."""
    c = _QCOLORS.get(hex_color)
    if c is None:
        c = _QCOLORS[hex_color] = QColor(hex_color)
    return c


@dataclass(frozen=True)
class Fonts:
    head: QFont    # op name in a card's header
    row: QFont     # folded constants, edge labels, input/output names
    badge: QFont   # overlay badges and outline-group labels


def fonts(base: QFont) -> Fonts:
    head = QFont(base)
    head.setPointSizeF(9.0)
    head.setBold(True)
    row = QFont(base)
    row.setPointSizeF(7.5)
    badge = QFont(row)
    badge.setBold(True)
    return Fonts(head, row, badge)


def text_metrics(base: QFont | None = None) -> dict[str, float]:
    """Mean character advances of the view's fonts, for ``layout_subgraph``'s width estimate."""
    f = fonts(base or QFont())
    sample_h = "DEPTHWISE_CONV_2D · RELU6 FULLY_CONNECTED"
    sample_r = "filter ⟨32×3×3×3⟩ bias ⟨1280⟩ serving_default_input:0"
    return {"char_w": QFontMetricsF(f.head).horizontalAdvance(sample_h) / len(sample_h),
            "row_char_w": QFontMetricsF(f.row).horizontalAdvance(sample_r) / len(sample_r)}
