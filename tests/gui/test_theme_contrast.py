"""Text stays readable in both themes: every text/background pair the views draw (labels, line
edits, table cells, rich text, pyqtgraph axes, titles and labels) has a WCAG 2.x contrast ratio
of at least 4.5, after a live switch from the other theme.

The pairs are read from the widgets as drawn (their palettes after the style sheet, the models'
colour roles, the plots' pens), not from the theme's tables; the luminance formula is WCAG's
(https://www.w3.org/TR/WCAG21/#dfn-relative-luminance), written here, not taken from the app."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPalette, QTextDocument  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QLabel,
    QLineEdit,
    QTextEdit,
    QWidget,
)

from gui import theme  # noqa: E402
from tests.analysis.dynamic_models import audio_2d, conv_dynamic_height  # noqa: E402

MIN_RATIO = 4.5
SWATCHES = set("■●▬▮█ ")   # glyphs used as colour swatches, not words
MAX_ROWS = 200


def relative_luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(fg: QColor, bg: QColor) -> float:
    fg = over(fg, bg)
    hi, lo = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(c: QColor, bg: QColor) -> QColor:
    """``c`` as seen drawn on the opaque ``bg`` (alpha blended)."""
    a = c.alphaF()
    return QColor(round(c.red() * a + bg.red() * (1 - a)),
                  round(c.green() * a + bg.green() * (1 - a)),
                  round(c.blue() * a + bg.blue() * (1 - a)))


def test_contrast_formula_matches_wcag_examples():
    assert contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)
    assert contrast(QColor("#ffffff"), QColor("#ffffff")) == pytest.approx(1.0)


@pytest.mark.parametrize("dark", [False, True])
def test_every_colour_role_pair_reads_at_wcag_aa(qapp, dark):
    """The roles some view may show only with data these tests do not make (a profile's heat,
    a quantization's worst layers, a changed op in a compare)."""
    bad = [f"{fg} on {bg}: {contrast(theme.color(fg, dark), _opaque(theme.color(bg, dark), dark)):.2f}"
           for fg, bg in theme.TEXT_PAIRS
           if contrast(theme.color(fg, dark), _opaque(theme.color(bg, dark), dark)) < MIN_RATIO]
    assert not bad


def _opaque(bg: QColor, dark: bool) -> QColor:
    """A see-through background (a plot's hover label) as drawn over the plot."""
    return over(bg, theme.color("plot_bg", dark)) if bg.alpha() < 255 else bg


def _background(w: QWidget) -> QColor:
    """What a widget's text is drawn on: the nearest ancestor that paints its background."""
    top = w.window()
    node: QWidget | None = w
    while node is not None:
        if node.autoFillBackground() or isinstance(node.parentWidget(), QAbstractScrollArea) \
                and node is node.parentWidget().viewport():
            return node.palette().color(node.backgroundRole())
        if node is top:
            break
        node = node.parentWidget()
    return top.palette().color(QPalette.ColorRole.Window)


def _rich_text_pairs(html: str, default_fg: QColor, bg: QColor):
    doc = QTextDocument()
    doc.setHtml(html)
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            text = frag.text()
            if frag.isValid() and set(text) - SWATCHES:
                fmt = frag.charFormat()
                fg = fmt.foreground().color() if fmt.foreground().style() != Qt.BrushStyle.NoBrush \
                    else default_fg
                cell_bg = fmt.background().color() \
                    if fmt.background().style() != Qt.BrushStyle.NoBrush else bg
                yield text.strip()[:30], fg, cell_bg
            it += 1
        block = block.next()


def _brush_color(value, fallback: QColor) -> QColor:
    if value is None:
        return fallback
    return value.color() if hasattr(value, "color") else QColor(value)


def widget_pairs(root: QWidget):
    """(where, text colour, background colour) of every text the widgets under ``root`` draw."""
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isEnabled():   # inactive controls are exempt (WCAG 1.4.3)
            continue
        where = f"{type(w).__name__} {w.objectName() or ''}".strip()
        if isinstance(w, QLabel) and w.text().strip():
            bg = _background(w)
            fg = w.palette().color(w.foregroundRole())
            if w.textFormat() == Qt.TextFormat.PlainText:
                yield f"{where} {w.text()[:30]!r}", fg, bg
            else:
                for text, f, b in _rich_text_pairs(w.text(), fg, bg):
                    yield f"{where} {text!r}", f, b
        elif isinstance(w, QLineEdit):
            pal = w.palette()
            if w.text():
                yield f"{where} {w.text()[:30]!r}", pal.color(QPalette.ColorRole.Text), \
                    pal.color(QPalette.ColorRole.Base)
            elif w.placeholderText():
                yield f"{where} placeholder {w.placeholderText()[:30]!r}", \
                    pal.color(QPalette.ColorRole.PlaceholderText), pal.color(QPalette.ColorRole.Base)
        elif isinstance(w, QTextEdit) and w.toPlainText().strip():
            pal = w.viewport().palette()
            yield from ((f"{where} {t!r}", f, b) for t, f, b in _rich_text_pairs(
                w.toHtml(), pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)))
        elif isinstance(w, QAbstractItemView) and w.model() is not None:
            yield from _view_pairs(w, where)
        elif isinstance(w, pg.GraphicsView):
            yield from _plot_pairs(w, where)


def _view_pairs(view: QAbstractItemView, where: str):
    m = view.model()
    pal = view.palette()
    text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
    for r in range(min(m.rowCount(), MAX_ROWS)):
        for c in range(m.columnCount()):
            i = m.index(r, c)
            shown = m.data(i, Qt.ItemDataRole.DisplayRole)
            if shown is None or not str(shown).strip():
                continue
            fg = _brush_color(m.data(i, Qt.ItemDataRole.ForegroundRole), text)
            bg = _brush_color(m.data(i, Qt.ItemDataRole.BackgroundRole), base)
            if bg.alpha() == 0:
                bg = base
            yield f"{where} cell {r},{c} {str(shown)[:20]!r}", fg, over(bg, base)


def _plot_pairs(gv: pg.GraphicsView, where: str):
    bg = gv.backgroundBrush().color()
    default = pg.mkColor(pg.getConfigOption("foreground"))
    for item in gv.scene().items():
        if isinstance(item, pg.AxisItem) and item.isVisible():
            yield f"{where} axis {item.orientation}", item.textPen().color(), bg
            if item.label.isVisible() and item.labelText:
                yield f"{where} axis label {item.labelText!r}", \
                    QColor(item.labelStyle.get("color", default.name())), bg
        elif isinstance(item, pg.LabelItem) and item.text:
            c = item.opts.get("color")
            yield f"{where} title {item.text!r}", pg.mkColor(c) if c is not None else default, bg
        elif isinstance(item, pg.TextItem):
            fill = item.fill.color() if item.fill.style() != Qt.BrushStyle.NoBrush else None
            yield f"{where} text {item.textItem.toPlainText()!r}", item.color, \
                over(fill, bg) if fill is not None else bg


@pytest.fixture
def views(qtbot, tmp_path):
    """The main window at 1280x800 with one model open and every panel built (Delegates, Run,
    Memory, an inspected op with its weights histogram) and a compare tab of two models."""
    from gui.main_window import MainWindow
    app = QApplication.instance()
    a = conv_dynamic_height().save(tmp_path / "conv_dynamic.tflite")
    b = audio_2d().save(tmp_path / "audio.tflite")
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    w.resize(1280, 800)
    w.show()
    built = {}

    def build(name: str):
        theme.apply_theme(app, "light" if name == "dark" else "dark")   # switched to later
        with qtbot.waitSignal(w.model_opened, timeout=30_000):
            w.open_paths([str(a)])
        tab = w.model_tabs()[0]
        graph = tab.graph
        qtbot.waitUntil(lambda: graph.view.lay is not None, timeout=30_000)
        conv = next(o for o in tab.model.subgraphs[0].operators if o.op == "CONV_2D")
        graph.select_op(0, conv.index)
        graph.inspector.show_tensor(0, conv.inputs[1])    # the weights: stats and histogram
        tab.tabs.setCurrentWidget(tab._delegates_slot)
        qtbot.waitUntil(lambda: tab.delegates is not None and tab.delegates.matrix is not None,
                        timeout=60_000)
        tab.tabs.setCurrentWidget(tab._run_slot)
        tab.run.export_btn.click()          # nothing to export yet: said as an error
        tab.tabs.setCurrentWidget(tab._memory_slot)
        qtbot.waitUntil(lambda: tab.memory.report is not None, timeout=60_000)
        w.open_compare(str(a), str(b))
        qtbot.waitUntil(lambda: w.tabs.count() == 2, timeout=60_000)
        built["tab"] = tab
        return w
    yield build
    theme.apply_theme(app, "light")    # while the models are open: the inspector redraws
    w.shut_down(save_session=False)
    w.close()
    w.deleteLater()       # gone before the next test switches the theme (its models are closed)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.mark.parametrize("name", ["light", "dark"])
def test_every_text_reads_at_wcag_aa_after_a_live_theme_switch(views, qtbot, name):
    w = views(name)
    theme.apply_theme(QApplication.instance(), name)    # the views were built in the other one
    QApplication.processEvents()   # anything the palette change posted (restyles) is delivered
    pairs = list(widget_pairs(w))
    kinds = {where.split()[0] for where, _f, _b in pairs}
    # the sampling reached every kind of view it is meant to check
    # (info panel, Run plots, Memory plots, inspector histogram, tables, delegate matrix)
    assert {"QLabel", "QLineEdit", "InfoPanel", "GraphicsLayoutWidget", "ArenaChart",
            "LiveCurve", "PlotWidget", "QTableWidget", "QTableView"} <= kinds, kinds
    assert any("cell" in where for where, _f, _b in pairs)
    bad = [f"{where}: {fg.name()} on {bg.name()} = {contrast(fg, bg):.2f}"
           for where, fg, bg in pairs if contrast(fg, bg) < MIN_RATIO]
    assert not bad, f"{len(bad)} of {len(pairs)} text/background pairs under {MIN_RATIO}:1 " \
                    f"in the {name} theme:\n" + "\n".join(sorted(set(bad))[:60])
