"""Model info panel: renders core.analysis.report.info_sections as a compact HTML table."""
from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QTextBrowser

from core.analysis.report import InfoSection, info_sections
from core.model.types import Model
from gui import theme

MIN_WIDTH = 240   # below this, keys like "Description" no longer fit on one line
LONG_KEY = 13     # characters: "Description", "Range (stats)" stay beside their values


def sections_html(sections: list[InfoSection], key_color: str, title_color: str) -> str:
    # keys never wrap (they broke mid-word: "Descr iption", "DEPTHWISE_CO NV_2D"), so each
    # section is its own table: its key column is as wide as its own longest key, and values
    # wrap in the rest
    parts = [f"<style>td{{padding:1px 6px;vertical-align:top}} h4{{margin:8px 0 2px 0;"
             f"color:{title_color}}} td.k{{color:{key_color};white-space:nowrap}}</style>"]
    for section in sections:
        parts.append(f"<h4>{escape(section.title)}</h4><table width='100%'>")
        for k, v in section.rows:
            if len(k) > LONG_KEY:   # on a line of its own, its value under it: a long key
                # ('Buffer TFLITE_METADATA') made the key column so wide that the section's
                # values broke mid-word in what was left ('ImageS egment er')
                parts.append(f"<tr><td class=k colspan=2>{escape(k)}</td></tr>"
                             f"<tr><td width='1%'></td><td>{escape(v)}</td></tr>")
            else:
                parts.append(f"<tr><td class=k nowrap width='1%'>{escape(k)}</td><td>"
                             f"{escape(v)}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


class InfoPanel(QTextBrowser):
    def __init__(self, model: Model, parent=None, sections: list[InfoSection] | None = None):
        """``sections``: ``info_sections(model)`` when the caller computed them off the UI thread
        (the loader does); computed here otherwise."""
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setMinimumWidth(MIN_WIDTH)
        self.sections = info_sections(model) if sections is None else sections
        theme.on_theme_change(self, self._render)

    def _render(self) -> None:
        self.setHtml(sections_html(self.sections, theme.hex_color("muted"),
                                   theme.hex_color("heading")))

    def text_for(self, title: str) -> dict[str, str]:
        for section in self.sections:
            if section.title == title:
                return dict(section.rows)
        return {}
