"""Themes that follow the system, the Help menu's shortcut list and About box."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from gui import theme
from gui.help_dialogs import about_versions, menu_shortcuts
from gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    yield w
    theme.apply_theme(QApplication.instance(), "light")


def test_fixed_themes_set_a_light_or_dark_palette(window):
    app = QApplication.instance()
    assert theme.apply_theme(app, "dark") == "dark" and theme.is_dark()
    assert theme.apply_theme(app, "light") == "light" and not theme.is_dark()


def test_system_theme_follows_the_desktop_live(window):
    app = QApplication.instance()
    hints = app.styleHints()
    if not hasattr(hints, "setColorScheme"):
        pytest.skip("this Qt cannot set the colour scheme (needs Qt 6.8)")
    try:
        hints.setColorScheme(Qt.ColorScheme.Dark)
        if hints.colorScheme() != Qt.ColorScheme.Dark:
            pytest.skip(f"the {app.platformName()} platform theme ignores a requested colour "
                        "scheme, so a desktop switch cannot be played here")
        theme.apply_theme(app, "system")
        assert theme.is_dark()
        hints.setColorScheme(Qt.ColorScheme.Light)   # the desktop switches: so do we
        assert not theme.is_dark()
    finally:
        hints.unsetColorScheme()


def test_theme_choice_from_the_view_menu_is_remembered(window):
    themes = next(a.menu() for a in window.view_menu.actions() if a.menu())
    next(a for a in themes.actions() if "Dark" in a.text()).trigger()
    assert theme.is_dark() and window.settings.value("theme") == "dark"


def test_shortcuts_list_is_read_from_the_menus(window):
    rows = menu_shortcuts(window.menus())
    keys = {text: k for _menu, text, k in rows}
    assert keys["Open"] == "Ctrl+O" and keys["Reload"] == "F5" and keys["Quit"] == "Ctrl+Q"
    assert keys["Close Tab"] == "Ctrl+W, Ctrl+F4"
    dlg = window.show_shortcuts()
    text = dlg.text.toPlainText()
    assert "F5" in text and "Reload" in text and "Ctrl+F" in text
    dlg.close()


def test_about_lists_the_versions_installed(window):
    from importlib.metadata import version

    from PySide6.QtCore import qVersion
    rows = dict(about_versions())
    assert rows["Qt"] == qVersion()
    assert rows["LiteRT (ai-edge-litert)"] == version("ai-edge-litert")
    assert rows["numpy"] == version("numpy")
    assert rows["ai-edge-quantizer"] == version("ai-edge-quantizer")


def test_graph_canvas_follows_the_theme(qtbot, window, demo_model_path):
    app = QApplication.instance()
    with qtbot.waitSignal(window.model_opened, timeout=20000):
        window.open_paths([str(demo_model_path)])
    view = window.tabs.currentWidget().graph.view
    window.show()
    qtbot.waitUntil(lambda: view.lay is not None, timeout=20000)
    theme.apply_theme(app, "dark")
    corner = view.grab().toImage().pixelColor(3, 3)
    assert corner.lightness() < 60          # a dark canvas, not a white sheet in a dark app
    theme.apply_theme(app, "light")
    assert view.grab().toImage().pixelColor(3, 3).lightness() > 200


def test_inspector_and_legend_text_stays_readable_in_both_themes(qtbot, window,
                                                                  demo_model_path):
    """The weights preview, its histogram and the overlay legend take the theme's colours (they
    were dark grey text and a white plot in the dark theme, and white text on a white legend)."""
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QLabel

    from core.analysis.overlay import heat_overlay
    app = QApplication.instance()
    with qtbot.waitSignal(window.model_opened, timeout=20000):
        window.open_paths([str(demo_model_path)])
    panel = window.tabs.currentWidget().graph
    window.show()
    qtbot.waitUntil(lambda: panel.view.lay is not None, timeout=20000)
    op = next(o for o in window.model_tabs()[0].model.subgraphs[0].operators if o.op == "CONV_2D")
    panel.select_op(0, op.index)
    panel.view.set_overlay(heat_overlay({0: 1.0, 1: 2.0}, subgraph=0))
    for name in ("dark", "light"):        # each switched to live, after the views were built
        theme.apply_theme(app, name)
        qtbot.wait(50)
        insp = panel.inspector
        stats = next(lab for lab in insp.widget().findChildren(QLabel)
                     if " · mean " in lab.text())
        base = insp.palette().color(insp.backgroundRole())
        assert "color:#333" not in stats.text()
        plot = insp.plots[0]
        assert abs(plot.backgroundBrush().color().lightness() - base.lightness()) < 40
        legend = panel.legend
        summary = legend.findChild(QLabel, "legendSummary")
        text = summary.palette().color(summary.foregroundRole())
        bg = legend.grab().toImage().pixelColor(legend.width() - 4, legend.height() - 4)
        assert abs(text.lightness() - bg.lightness()) > 90, (name, text.name(), bg.name())
        assert (QColor(bg).lightness() < 128) == (name == "dark")
