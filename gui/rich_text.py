"""Text from a model file (op names, custom codes, tensor names, reasons quoting them) shown in
Qt widgets that guess the format: a tooltip or a QLabel with ``Qt.AutoText`` renders anything
that looks like a tag as rich text, so ``<b>`` in a custom op code would turn bold and a
``<img src=...>`` would be fetched. These helpers make such text display as written."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def plain_tooltip(text: str | None) -> str | None:
    """``text`` as a tooltip that shows it literally (line breaks kept), or None."""
    if not text:
        return None
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


def plain_label(label: QLabel) -> QLabel:
    """``label`` set to show its text literally."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
