"""What Qt shows for a tooltip or an AutoText label: rich text when ``Qt.mightBeRichText`` says
so (as QToolTip and QLabel decide), else the text as written."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel


def shown(text: str) -> str:
    doc = QTextDocument()
    if GuiQt.mightBeRichText(text):
        doc.setHtml(text)
    else:
        doc.setPlainText(text)
    return doc.toPlainText()


def label_shown(label: QLabel) -> str:
    fmt = label.textFormat()
    if fmt == Qt.TextFormat.PlainText:
        return label.text()
    if fmt == Qt.TextFormat.RichText:
        doc = QTextDocument()
        doc.setHtml(label.text())
        return doc.toPlainText()
    return shown(label.text())
