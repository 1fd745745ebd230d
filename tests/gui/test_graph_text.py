"""What the graph paints as text (pytest-qt, offscreen, real models): the texts recorded from the
renderer never overlap, each fits the card it belongs to, reasons are cut at word boundaries
with their full text in the tooltip, and the mid zoom level names the boxes big enough."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QPainter, QTransform  # noqa: E402

from core.analysis.support.analyze import analyze_delegate  # noqa: E402
from core.analysis.support.overlay import support_overlay  # noqa: E402
from core.model.reader import open_model  # noqa: E402
from gui.graph.renderer import paint_scene  # noqa: E402
from tests.gui.painted_text import TextRecorder  # noqa: E402


@pytest.fixture
def view_of(qtbot):
    tabs = []

    def make(path, scopes: bool = True, fold: bool = True):
        """``scopes=False``: every op card drawn (none hidden in a name-scope box); ``fold=False``:
        constant-only producers (DEQUANTIZE of fp16 weights) drawn as cards of their own."""
        from gui.model.model_tab import ModelTab
        tab = ModelTab(open_model(path))
        qtbot.addWidget(tab)
        tab.resize(1280, 800)
        tab.show()
        tab.graph.set_scopes(scopes)
        tab.graph.set_fold_producers(fold)
        qtbot.waitUntil(lambda: tab.graph.view.lay is not None
                        and (scopes or tab.graph.view.lay.hierarchy is None), timeout=30_000)
        tabs.append(tab)
        return tab.graph.view
    yield make
    for t in tabs:
        t.close_model()


def _texts(view, scale: float) -> tuple[list[tuple[QRectF, str]], str]:
    """Every text painted for the whole graph at ``scale`` (device pixels), and the level."""
    lay = view.lay
    rec = TextRecorder()
    p = QPainter(rec)
    lod = paint_scene(p, view.scene(), QRectF(0, 0, lay.width, lay.height), scale,
                      QTransform(scale, 0, 0, scale, 0, 0))
    p.end()
    return rec.texts, lod


def _overlaps(texts) -> list[tuple[str, str]]:
    boxes = sorted(texts, key=lambda t: t[0].top())
    out = []
    for i, (a, ta) in enumerate(boxes):
        for b, tb in boxes[i + 1:]:
            if b.top() >= a.bottom():
                break
            if a.intersects(b):
                out.append((ta, tb))
    return out


def _inside(box: QRectF, node_box: QRectF) -> bool:
    return node_box.adjusted(-0.5, -16, 0.5, 0.5).contains(box)   # a badge sits on top


@pytest.mark.parametrize("name,delegate", [("face_detection_short_range", "nnapi"),
                                           ("selfie_segmentation", "edgetpu"),
                                           ("mobilenet_v2_224_int8", "coreml")])
def test_card_texts_never_overlap_and_stay_on_their_card(view_of, shared_model, name, delegate):
    view = view_of(shared_model(name))
    with open_model(shared_model(name)) as m:
        view.set_overlay(support_overlay(analyze_delegate(m, delegate)))
    assert view.scene().overlay.badges        # some ops carry a reason badge
    texts, lod = _texts(view, 1.0)
    assert lod == "near" and texts
    assert _overlaps(texts) == []
    lay = view.lay
    cards = [QRectF(*lay.node_rect(n)) for n in range(lay.n_nodes)]
    stray = [t for box, t in texts if not any(_inside(box, c) for c in cards)]
    assert stray == [t for t in stray if "partition" in t]   # only the outline groups' labels


@pytest.mark.parametrize("name", ["face_detection_short_range", "selfie_segmentation",
                                  "mobilenet_v2_224_float32", "face_landmark_with_attention",
                                  "micro_wakeword_hey_jarvis", "flex_ops_float32"])
def test_cards_and_pills_are_wide_enough_for_their_names(view_of, shared_model, name):
    """The layout sizes cards from a mean character advance; the renderer cuts what does not
    fit. Without an overlay (no badges) at zoom 1 no header, row or input/output name is cut:
    'Kernel ⟨24×1×1×24⟩' came out 0.8 px short ('Ker…') and 'serving_default_image:0' 7 px."""
    view = view_of(shared_model(name), scopes=False)
    texts, lod = _texts(view, 1.0)
    assert lod == "near" and texts
    cut = [t for _, t in texts if t.endswith("…")]
    assert cut == []


def _fp16_dequantize_model(build_model):
    """An fp16 model's weights: DEQUANTIZE of a float16 constant named as TensorFlow names a
    folded batch norm, into a CONV_2D."""
    import numpy as np

    from core.model.builder import ModelBuilder
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x = sg.tensor("input", [1, 8, 8, 3])
    w16 = sg.tensor("model/stem_bn/FusedBatchNormV3", [24, 3, 3, 3],
                    "float16", data=np.ones((24, 3, 3, 3), np.float16))
    w = sg.tensor("w", [24, 3, 3, 3])
    sg.op("DEQUANTIZE", [w16], [w])
    y = sg.tensor("y", [1, 8, 8, 24])
    sg.op("CONV_2D", [x, w], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1})
    sg.inputs, sg.outputs = [x], [y]
    return build_model(mb, "fp16.tflite")


def test_a_dequantize_row_keeps_its_name_apart_from_its_shape(view_of, build_model):
    """The name of a DEQUANTIZE's float16 constant was drawn over its shape
    ("FusedBatchNormV3×3×3×24")."""
    view = view_of(_fp16_dequantize_model(build_model), fold=False)
    lay = view.lay
    (deq,) = [n for n in range(lay.n_ops) if lay.labels[n] == "DEQUANTIZE"]
    texts, _ = _texts(view, 1.0)
    card = QRectF(*lay.node_rect(deq))
    mine = [(b, t) for b, t in texts if card.contains(b)]
    (shape,) = [b for b, t in mine if t == "⟨24×3×3×3⟩"]
    (name,) = [(b, t) for b, t in mine if b.top() > card.top() + 20 and not t.startswith("⟨")]
    assert len(name[1]) > 3 and "FusedBatchNormV3".startswith(name[1].rstrip("…"))
    assert not name[0].intersects(shape)
    assert _overlaps(texts) == []


def test_reason_badges_cut_at_a_word_and_the_tooltip_has_it_all(view_of, shared_model):
    view = view_of(shared_model("face_detection_short_range"), scopes=False, fold=False)
    with open_model(shared_model("face_detection_short_range")) as m:
        ov = support_overlay(analyze_delegate(m, "nnapi"))
    view.set_overlay(ov)
    texts, _ = _texts(view, 1.0)
    reasons = set(ov.badges.values())
    cut = [t for _, t in texts if t.endswith("…") and t[:-1] and
           any(r.startswith(t[:-1]) for r in reasons)]
    assert cut                                  # narrow cards cut some reasons
    for t in cut:
        full = next(r for r in reasons if r.startswith(t[:-1]))
        assert full[len(t) - 1] == " "           # the cut falls on a space: whole words kept
    op = next(k[1] for k, r in ov.badges.items() if any(r.startswith(t[:-1]) for t in cut))
    view.center_on(op, 1.0)
    tip = view.tooltip_at(view.node_pos(op).x(), view.node_pos(op).y())
    assert ov.badges[(0, op)] in tip


def test_mid_zoom_names_the_boxes_that_fit(view_of, shared_model):
    view = view_of(shared_model("mobilenet_v2_224_float32"))
    texts, lod = _texts(view, 0.42)
    assert lod == "mid"
    assert _overlaps(texts) == []
    lay = view.lay
    big = [n for n in range(lay.n_ops) if lay.w[n] * 0.42 >= 90 and lay.h[n] * 0.42 >= 20]
    assert big                                  # ~100 px wide boxes showed no text
    for n in big:
        card = QRectF(*lay.node_rect(n))
        card = QRectF(card.x() * 0.42, card.y() * 0.42, card.width() * 0.42,
                      card.height() * 0.42)
        inside = [t for b, t in texts if card.contains(b)]
        assert len(inside) == 1 and lay.labels[n].startswith(inside[0].rstrip("…"))
