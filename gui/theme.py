"""Light and dark themes: Fusion with a palette, resources/style.qss (palette-relative), and the
colour roles every widget takes its own colours from.

"system" follows the desktop's colour scheme (Qt 6.5+ ``QStyleHints.colorScheme``) and switches
live when it changes; "light"/"dark" are fixed choices stored in the settings (View → Theme).

One place for colours: a widget that needs a colour the palette has no role for (error text, a
tinted table row, a plot's series) asks ``color(role)`` / ``hex_color(role)`` here and redraws
itself on a theme switch through ``on_theme_change``; a label or field coloured as a whole takes
``set_role(widget, "error")``. pyqtgraph plots are styled by ``style_plots`` and follow switches
on their own. ``TEXT_PAIRS`` lists which text role is read on which background:
tests/gui/test_theme_contrast.py checks those pairs and the widgets as drawn, in both themes.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from core.resources import resource_path

THEMES = ("system", "light", "dark")
_state = {"choice": "system", "connected": False}

# (role, dark colour); the light theme is Fusion's own palette, but for the placeholder text
# (Fusion's is half-transparent black: 4:1 on white)
_DARK = {
    QPalette.ColorRole.Window: "#26292d", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e2023", QPalette.ColorRole.AlternateBase: "#2a2d31",
    QPalette.ColorRole.ToolTipBase: "#33373c", QPalette.ColorRole.ToolTipText: "#eeeeee",
    QPalette.ColorRole.PlaceholderText: "#9aa0a7", QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#2f3237", QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b", QPalette.ColorRole.Light: "#3c4046",
    QPalette.ColorRole.Midlight: "#34373c", QPalette.ColorRole.Mid: "#44484f",
    QPalette.ColorRole.Dark: "#17191b", QPalette.ColorRole.Shadow: "#0d0e0f",
    QPalette.ColorRole.Highlight: "#2f6fad", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6cb4ff", QPalette.ColorRole.LinkVisited: "#b48cff",
}
_LIGHT_PLACEHOLDER = "#5f6368"

# role -> (light, dark). Text roles are read on the background ``TEXT_ON`` names.
ROLES: dict[str, tuple[str, str]] = {
    # text on the window / a view's base
    "muted": ("#5f6368", "#a3a9b0"),          # secondary text: keys, paths, counts
    "heading": ("#1f5f99", "#7cbcff"),        # section titles (the info panel)
    "error": ("#b00020", "#ff8a80"),          # a failure said in words
    "warning": ("#9a4a00", "#ffb74d"),        # a guessed value, a caveat
    "success": ("#1b6e20", "#81c784"),        # a check that passed
    # a guessed value the user should check (the dynamic-shape field)
    "guess_bg": ("#fff1d6", "#4a3a12"),
    "guess_text": ("#1a1a1a", "#f3e7cc"),
    # tinted table rows: added / removed / changed, the worst layers; their text
    "added_bg": ("#cfe8cf", "#1f4424"),
    "removed_bg": ("#f6c1b8", "#5a2620"),
    "changed_bg": ("#fff0b3", "#4d4318"),
    "tint_text": ("#1a1a1a", "#eeeeee"),
    # the delegate-support matrix: the graph overlay's colours (core PALETTE) in the light
    # theme, deep versions of the same hues in the dark one
    "delegated_bg": ("#8fd18f", "#1f5a2a"),
    "kept_on_cpu_bg": ("#f6d36b", "#5c4a10"),
    "unsupported_bg": ("#ef8a80", "#6e2520"),
    "no_answer_bg": ("#d0d0d0", "#3a3d42"),
    "verdict_text": ("#1a1a1a", "#f2f2f2"),
    # heat shading of a table cell (0 .. 1 between these), and its text
    "heat_low": ("#fff0ee", "#3a2624"),
    "heat_high": ("#f0605a", "#a3302a"),
    "heat_text": ("#1a1a1a", "#f2f2f2"),
    # pyqtgraph plots
    "plot_bg": ("#ffffff", "#1e2023"),
    "plot_fg": ("#333333", "#d0d4d9"),        # axes, ticks, titles, labels
    "plot_label_bg": ("#ffffffe0", "#2a2d31e8"),   # a hover label's box (#rrggbbaa)
    "series_1": ("#1f77b4", "#5aa9e6"),       # the main curve
    "series_2": ("#7b4fb0", "#b39ddb"),       # a second curve (RSS)
    "series_3": ("#138d99", "#4dd0e1"),       # bars
    "series_fill": ("#1f77b41c", "#5aa9e638"),
    "p50": ("#1b7a1b", "#81c784"),
    "p90": ("#b35300", "#ffb74d"),
    "p99": ("#c62828", "#ff8a80"),
    "peak": ("#c62828", "#ff8a80"),
    "reference": ("#2f7a74", "#80cbc4"),      # a level drawn for scale (the arena size)
    "kind_activation": ("#4e79a7", "#6f9fd8"),
    "kind_temporary": ("#f28e2b", "#f5a55a"),
    "kind_shared": ("#59a14f", "#7cc46f"),
    "bar_edge": ("#ffffff", "#1e2023"),
    # a finished task's outcome as a progress bar's fill (pass / warn / fail), under its text
    "outcome_pass_bg": ("#2e7d32", "#2e7d32"),
    "outcome_warn_bg": ("#8a5200", "#8a5200"),
    "outcome_fail_bg": ("#b71c1c", "#b71c1c"),
    "outcome_text": ("#ffffff", "#ffffff"),
}

# (text role, the role it is read on): every pair a widget draws; "window" and "base" are the
# palette's. tests/gui/test_theme_contrast.py checks them all, and the widgets themselves.
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("muted", "window"), ("muted", "base"), ("heading", "base"), ("error", "window"),
    ("error", "base"), ("warning", "window"), ("warning", "base"), ("success", "window"),
    ("guess_text", "guess_bg"),
    ("tint_text", "added_bg"), ("tint_text", "removed_bg"), ("tint_text", "changed_bg"),
    ("verdict_text", "delegated_bg"), ("verdict_text", "kept_on_cpu_bg"),
    ("verdict_text", "unsupported_bg"), ("verdict_text", "no_answer_bg"),
    ("heat_text", "heat_low"), ("heat_text", "heat_high"),
    ("plot_fg", "plot_bg"), ("plot_fg", "plot_label_bg"),
    ("p50", "plot_bg"), ("p90", "plot_bg"), ("p99", "plot_bg"), ("peak", "plot_bg"),
    ("reference", "plot_bg"), ("muted", "plot_bg"),
    ("series_1", "plot_bg"),
    ("outcome_text", "outcome_pass_bg"), ("outcome_text", "outcome_warn_bg"),
    ("outcome_text", "outcome_fail_bg"),
)


def system_is_dark(app=None) -> bool:
    app = app or QGuiApplication.instance()
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)  # Qt >= 6.5
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def is_dark(app=None) -> bool:
    """Whether the palette in use is dark (custom-painted views pick colours by this)."""
    app = app or QGuiApplication.instance()
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def color(role: str, dark: bool | None = None) -> QColor:
    """The colour of ``role`` (ROLES, or the palette's "window" / "base" / "text") in the
    current theme, or in the one ``dark`` names."""
    if role in ("window", "base", "text"):
        pal = (dark_palette() if dark else light_palette()) if dark is not None \
            else QGuiApplication.instance().palette()
        return pal.color({"window": QPalette.ColorRole.Window, "base": QPalette.ColorRole.Base,
                          "text": QPalette.ColorRole.Text}[role])
    light, dark_value = ROLES[role]
    value = dark_value if (is_dark() if dark is None else dark) else light
    if len(value) == 9:   # #rrggbbaa
        c = QColor(value[:7])
        c.setAlpha(int(value[7:], 16))
        return c
    return QColor(value)


def hex_color(role: str) -> str:
    """``#rrggbb`` of ``role`` now (for style sheets and rich text)."""
    return color(role).name()


def heat_color(fraction: float) -> QColor:
    """The background of a cell whose value is ``fraction`` (0..1) of the hottest one."""
    lo, hi = color("heat_low"), color("heat_high")
    f = min(1.0, max(0.0, fraction))
    return QColor(round(lo.red() + (hi.red() - lo.red()) * f),
                  round(lo.green() + (hi.green() - lo.green()) * f),
                  round(lo.blue() + (hi.blue() - lo.blue()) * f))


def light_palette() -> QPalette:
    from PySide6.QtWidgets import QStyleFactory
    style = QStyleFactory.create("Fusion")
    pal = style.standardPalette()
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(_LIGHT_PLACEHOLDER))
    return pal


def dark_palette() -> QPalette:
    pal = QPalette()
    for role, value in _DARK.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7c8087"))
    return pal


def apply_theme(app, choice: str = "system") -> str:
    """Apply "system", "light" or "dark"; returns the effective "light"/"dark"."""
    if choice not in THEMES:
        choice = "system"
    _state["choice"] = choice
    dark = system_is_dark(app) if choice == "system" else choice == "dark"
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if dark else light_palette())
    qss = resource_path("style.qss")
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    hints = app.styleHints()
    if not _state["connected"] and hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: _follow_system(app))
        _state["connected"] = True
    return "dark" if dark else "light"


def current_choice() -> str:
    return _state["choice"]


def _follow_system(app) -> None:
    if _state["choice"] == "system":
        apply_theme(app, "system")


class _ThemeWatch(QObject):
    """Calls ``restyle`` when its widget's palette changes (a theme switch sends every widget
    that has no palette of its own a PaletteChange)."""

    def __init__(self, widget, restyle: Callable[[], None]):
        super().__init__(widget)
        self._restyle = restyle
        self._dark: bool | None = None
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self.run()
        return False

    def run(self) -> None:
        dark = is_dark()
        if dark != self._dark:   # a palette change that changes no theme restyles nothing
            self._dark = dark
            self._restyle()


def on_theme_change(widget, restyle: Callable[[], None]) -> None:
    """Call ``restyle()`` now and whenever the theme changes, for as long as ``widget`` lives."""
    _ThemeWatch(widget, restyle).run()


def style_plots(widget, restyle: Callable[[], None] | None = None) -> None:
    """Theme a pyqtgraph ``PlotWidget`` or ``GraphicsLayoutWidget``: background, axes, tick
    labels, titles and axis labels; then ``restyle()`` for the widget's own items (series pens,
    line labels). Both again on every theme switch."""
    def apply() -> None:
        import pyqtgraph as pg
        fg = color("plot_fg")
        widget.setBackground(color("plot_bg"))
        plots = [widget.getPlotItem()] if hasattr(widget, "getPlotItem") else \
            [item for item in widget.ci.items if isinstance(item, pg.PlotItem)]
        for plot in plots:
            for name in ("left", "bottom", "right", "top"):
                axis = plot.getAxis(name)
                axis.setPen(fg)
                axis.setTextPen(fg)
            title = plot.titleLabel
            if title.text:
                title.setText(title.text, color=fg.name())
            legend = plot.legend
            if legend is not None:
                legend.setLabelTextColor(fg)
        if restyle is not None:
            restyle()
    on_theme_change(widget, apply)


# what each role of ``set_role`` styles: (property, colour role) pairs
_WIDGET_ROLES: dict[str, tuple[tuple[str, str], ...]] = {
    "error": (("color", "error"),), "warning": (("color", "warning"),),
    "success": (("color", "success"),), "muted": (("color", "muted"),),
    "guess": (("background", "guess_bg"), ("color", "guess_text")),
}


def set_role(widget, role: str | None) -> None:
    """Colour ``widget`` by a role: its text ("error", "warning", "success", "muted") or a
    guessed value's field ("guess"); None for the plain look. Follows theme switches."""
    if role is not None and role not in _WIDGET_ROLES:
        raise ValueError(f"no widget role {role!r}")
    widget.setProperty("themeRole", role or "")
    if not widget.property("themeRoleWatched"):
        widget.setProperty("themeRoleWatched", True)
        _ThemeWatch(widget, lambda: _style_role(widget))
    _style_role(widget)


def _style_role(widget) -> None:
    role = widget.property("themeRole") or ""
    qss = " ".join(f"{prop}: {hex_color(r)};" for prop, r in _WIDGET_ROLES[role]) if role else ""
    if widget.styleSheet() != qss:
        widget.setStyleSheet(qss)
