"""Help menu dialogs: the keyboard shortcuts (read from the window's own actions, so the list is
what the menus really do) and About (versions of LiteLens, Qt and the libraries)."""
from __future__ import annotations

from html import escape

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.versions import component_versions
from gui import theme


def view_keys() -> tuple[tuple[str, str], ...]:
    """Keys handled inside views rather than by menu actions: (keys, what they do)."""
    from gui.graph.view import GraphView
    return (("Ctrl+F", "Graph: find an op, tensor (t:name) or #index"),
            ("Ctrl+0", "Graph: fit to window"),
            ("Alt+Left", "Graph: back to the previous subgraph"),
            *GraphView.KEY_HELP,
            ("Esc (search box)", "Search box: clear"),
            ("Double-click", "Table row: show it in the graph; graph WHILE/IF node: open its "
                             "subgraph"))


def menu_shortcuts(menus: list[QMenu]) -> list[tuple[str, str, str]]:
    """(menu title, action text, shortcut) for every action with a shortcut, in menu order."""
    rows = []

    def walk(menu: QMenu, title: str) -> None:
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), f"{title} › {a.menu().title().replace('&', '')}")
            elif isinstance(a, QAction) and not a.shortcut().isEmpty():
                rows.append((title, a.text().replace("&", "").rstrip("…"), ", ".join(
                    k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts())))
    for m in menus:
        walk(m, m.title().replace("&", ""))
    return rows


def shortcuts_html(menus: list[QMenu]) -> str:
    parts = ["<table cellpadding=3>"]
    muted = theme.hex_color("muted")
    for title, text, keys in menu_shortcuts(menus):
        parts.append(f"<tr><td><b>{escape(keys)}</b></td><td>{escape(text)}</td>"
                     f"<td style='color:{muted}'>{escape(title)}</td></tr>")
    for keys, what in view_keys():
        parts.append(f"<tr><td><b>{escape(keys)}</b></td><td colspan=2>{escape(what)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


class ShortcutsDialog(QDialog):
    def __init__(self, menus: list[QMenu], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.text = QTextBrowser(self)
        self.text.setHtml(shortcuts_html(menus))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        self.resize(560, 460)


def about_versions() -> list[tuple[str, str]]:
    rows = component_versions()
    rows.insert(2, ("Qt", qVersion()))
    return [(n, v if n != "PySide6" else v or pyside_version) for n, v in rows]


def about_html() -> str:
    rows = "".join(f"<tr><td>{escape(n)}</td><td>{escape(v)}</td></tr>"
                   for n, v in about_versions())
    return ("<h3>LiteLens</h3><p>Inspector for TensorFlow Lite / LiteRT models: graph, tensors, "
            "metadata, live inference.</p><table cellpadding=2>" + rows + "</table>")


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About LiteLens", about_html(),
                      QMessageBox.StandardButton.Ok, parent)
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.open()
    return box
