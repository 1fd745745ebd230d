"""Light and dark themes: Fusion with a palette, and resources/style.qss (palette-relative).

"system" follows the desktop's colour scheme (Qt 6.5+ ``QStyleHints.colorScheme``) and switches
live when it changes; "light"/"dark" are fixed choices stored in the settings (View → Theme).
Custom-painted views read ``is_dark()`` / the palette for their colours.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from core.resources import resource_path

THEMES = ("system", "light", "dark")
_state = {"choice": "system", "connected": False}

# (role, dark colour); the light theme is Fusion's own palette
_DARK = {
    QPalette.ColorRole.Window: "#26292d", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e2023", QPalette.ColorRole.AlternateBase: "#2a2d31",
    QPalette.ColorRole.ToolTipBase: "#33373c", QPalette.ColorRole.ToolTipText: "#eeeeee",
    QPalette.ColorRole.PlaceholderText: "#8a8f96", QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#2f3237", QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b", QPalette.ColorRole.Light: "#3c4046",
    QPalette.ColorRole.Midlight: "#34373c", QPalette.ColorRole.Mid: "#44484f",
    QPalette.ColorRole.Dark: "#17191b", QPalette.ColorRole.Shadow: "#0d0e0f",
    QPalette.ColorRole.Highlight: "#2f6fad", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6cb4ff", QPalette.ColorRole.LinkVisited: "#b48cff",
}


def system_is_dark(app=None) -> bool:
    app = app or QGuiApplication.instance()
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)  # Qt >= 6.5
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def is_dark(app=None) -> bool:
    """Whether the palette in use is dark (custom-painted views pick colours by this)."""
    app = app or QGuiApplication.instance()
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def dark_palette() -> QPalette:
    pal = QPalette()
    for role, color in _DARK.items():
        pal.setColor(role, QColor(color))
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
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
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
