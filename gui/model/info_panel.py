"""Model info panel: renders core.analysis.report.info_sections as a compact HTML table."""
from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QTextBrowser

from core.model.types import Model
from core.analysis.report import info_sections


def sections_html(sections) -> str:
    parts = ["<style>td{padding:1px 6px;vertical-align:top} th{text-align:left;padding-top:8px;"
             "color:#1f5f99} td.k{color:#555}</style><table width='100%'>"]
    for title, rows in sections:
        parts.append(f"<tr><th colspan=2>{escape(title)}</th></tr>")
        for k, v in rows:
            parts.append(f"<tr><td class=k width='36%'>{escape(k)}</td><td>{escape(v)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


class InfoPanel(QTextBrowser):
    def __init__(self, model: Model, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.sections = info_sections(model)
        self.setHtml(sections_html(self.sections))

    def text_for(self, title: str) -> dict[str, str]:
        for t, rows in self.sections:
            if t == title:
                return dict(rows)
        return {}
