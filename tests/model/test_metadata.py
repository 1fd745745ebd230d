"""TFLite metadata: real MediaPipe models, a model whose metadata is written here with the
flatbuffers Builder (slots of the published metadata_schema.fbs), and damaged blocks and custom
options, which degrade to "not there" (with a warning) instead of failing the model."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import zipfile

import flatbuffers
import numpy as np
import pytest

from core.analysis.report import model_report
from core.model.builder import ModelBuilder
from core.model.metadata import METADATA_NAME, model_metadata, parse_metadata
from core.model.reader import open_model
from core.model.samples import demo_model


def _tiny(metadata: bytes | None = None, custom_options: bytes | None = None) -> ModelBuilder:
    mb = ModelBuilder()
    sg = mb.subgraph()
    x, y = sg.tensor("x", [1, 4]), sg.tensor("y", [1, 4])
    if custom_options is None:
        sg.op("RELU", [x], [y])
    else:
        sg.op("CUSTOM", [x], [y], custom_code="Opaque", custom_options=custom_options)
    sg.inputs, sg.outputs = [x], [y]
    if metadata is not None:
        mb.add_metadata("TFLITE_METADATA", metadata)
    return mb


@pytest.mark.parametrize("block", [
    b"\xff\xff\xff\x7f" + b"\0" * 12,                   # root offset far past the end
    b"\x08\0\0\0\x04\0\x20\0" + b"\x99" * 8,             # a vtable claiming fields past the end
    b"\x0c\0\0\0" + np.arange(60, dtype=np.uint8).tobytes(),  # plausible root, garbage tables
])
def test_broken_metadata_block_means_no_metadata(tmp_path, block):
    path = _tiny(metadata=block).save(tmp_path / "broken_meta.tflite")
    with open_model(path) as m:
        assert m.metadata_bytes("TFLITE_METADATA") == block
        md = model_metadata(m)
    assert md.inputs == [] and md.outputs == [] and md.name is None
    assert len(md.warnings) == 1 and md.warnings[0].endswith("the metadata is ignored")


def test_custom_options_that_are_not_a_flexbuffer_are_kept_as_bytes(tmp_path):
    raw = b"\x07\x00\xff\x13\x00\x00\x05"  # a raw struct, as many custom ops store
    path = _tiny(custom_options=raw).save(tmp_path / "custom.tflite")
    with open_model(path) as m:
        op = m.subgraphs[0].operators[0]
        assert op.label == "Opaque"
        assert op.options["custom_options_bytes"] == len(raw)
        assert "custom_options" not in op.options


def test_labels_are_read_in_place_and_a_corrupt_label_file_only_drops_labels(shared_model,
                                                                              tmp_path):
    src = shared_model("selfie_segmentation")
    with open_model(src) as m:
        meta = model_metadata(m)
    assert meta.outputs[0].labels == ["selfie"]
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.infolist()[0]
    # the member's data follows its 30-byte local header, name and extra field
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start] ^= 0xFF  # the CRC no longer matches
    bad = tmp_path / "bad_labels.tflite"
    bad.write_bytes(bytes(data))
    with open_model(bad) as m:
        broken = model_metadata(m)
    assert broken.outputs[0].labels is None
    assert broken.inputs == meta.inputs  # the rest of the metadata is still there


def _table(b: flatbuffers.Builder, fields: dict[int, tuple[str, object]]) -> int:
    """One table; fields: slot -> (kind, value) with kind in off|u8|i8|u32|i32|f32."""
    b.StartObject(max(fields) + 1 if fields else 0)
    for slot, (kind, v) in sorted(fields.items()):
        if kind == "off":
            b.PrependUOffsetTRelativeSlot(slot, v, 0)
        elif kind in ("u8", "i8"):
            b.PrependUint8Slot(slot, v, 0)
        elif kind in ("u32", "i32"):
            b.PrependInt32Slot(slot, v, 0)
        elif kind == "f32":
            b.PrependFloat32Slot(slot, v, 0.0)
    return b.EndObject()


def _vec(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _floats(b: flatbuffers.Builder, values: list[float]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(v)
    return b.EndVector()


def metadata_block(label_file: str = "labels.txt", name: str = "Demo classifier",
                   stats_max: float = 1.0, identifier: bytes = b"M001") -> bytes:
    b = flatbuffers.Builder(1024)
    s = b.CreateString
    # input: an RGB 32x32 image normalized with mean 127.5 / std 127.5, stats [-1, 1]
    size = _table(b, {0: ("u32", 32), 1: ("u32", 32)})
    image = _table(b, {0: ("i8", 1), 1: ("off", size)})
    content_in = _table(b, {0: ("u8", 2), 1: ("off", image)})
    norm = _table(b, {0: ("off", _floats(b, [127.5])), 1: ("off", _floats(b, [127.5]))})
    unit = _table(b, {0: ("u8", 1), 1: ("off", norm)})
    stats = _table(b, {0: ("off", _floats(b, [stats_max])), 1: ("off", _floats(b, [-1.0]))})
    t_in = _table(b, {0: ("off", s("image")), 1: ("off", s("A photo, RGB")),
                      3: ("off", content_in), 4: ("off", _vec(b, [unit])),
                      5: ("off", stats)})
    # output: class probabilities with a TENSOR_AXIS_LABELS file and a score threshold
    feature = _table(b, {})
    content_out = _table(b, {0: ("u8", 1), 1: ("off", feature)})
    labels = _table(b, {0: ("off", s(label_file)), 1: ("off", s("ten classes")), 2: ("i8", 2)})
    thresh = _table(b, {0: ("f32", 0.25)})
    unit2 = _table(b, {0: ("u8", 3), 1: ("off", thresh)})
    t_out = _table(b, {0: ("off", s("probability")), 1: ("off", s("Softmax over classes")),
                       3: ("off", content_out), 4: ("off", _vec(b, [unit2])),
                       6: ("off", _vec(b, [labels]))})
    sg = _table(b, {2: ("off", _vec(b, [t_in])), 3: ("off", _vec(b, [t_out]))})
    root = _table(b, {0: ("off", s(name)), 1: ("off", s("Classifies tiny images")),
                      2: ("off", s("v2")), 3: ("off", _vec(b, [sg])),
                      4: ("off", s("LiteLens tests")), 5: ("off", s("Apache-2.0")),
                      7: ("off", s("1.0.0"))})
    b.Finish(root, file_identifier=identifier)
    return bytes(b.Output())


CLASSES = [f"class_{i}" for i in range(10)]


def model_with_metadata(tmp_path, block: bytes, pack_labels: bool = True):
    mb = demo_model()
    mb.add_metadata(METADATA_NAME, block)
    path = mb.save(tmp_path / "with_metadata.tflite")
    if pack_labels:  # the metadata writer appends a zip archive with the associated files
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("labels.txt", "\n".join(CLASSES) + "\n")
    return path


def test_every_field_written_is_read_back(tmp_path):
    path = model_with_metadata(tmp_path, metadata_block())
    with open_model(str(path)) as m:
        md = model_metadata(m)
    assert md.warnings == []
    assert (md.name, md.description, md.version, md.author, md.license, md.min_parser_version) \
        == ("Demo classifier", "Classifies tiny images", "v2", "LiteLens tests", "Apache-2.0",
            "1.0.0")
    (ti,), (to,) = md.inputs, md.outputs
    assert (ti.name, ti.description, ti.content) == ("image", "A photo, RGB", "image RGB 32x32")
    assert (ti.mean, ti.std, ti.min, ti.max) == ([127.5], [127.5], [-1.0], [1.0])
    assert (to.name, to.content, to.score_threshold) == ("probability", "feature", 0.25)
    assert to.labels == CLASSES
    (f,) = to.files
    assert (f.name, f.type, f.description) == ("labels.txt", "TENSOR_AXIS_LABELS", "ten classes")
    assert f.size_bytes == len("\n".join(CLASSES) + "\n")


def test_the_runtime_still_runs_the_model_with_metadata_and_zip(tmp_path):
    """The block and the appended archive are what the metadata writer produces: LiteRT loads it."""
    from ai_edge_litert.interpreter import Interpreter
    path = model_with_metadata(tmp_path, metadata_block())
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.invoke()


def test_report_json_adds_a_metadata_key_and_keeps_the_others(tmp_path):
    path = model_with_metadata(tmp_path, metadata_block())
    with open_model(str(path)) as m:
        rep = model_report(m).to_json()
    assert list(rep)[:3] == ["litelens_version", "model", "subgraphs"]
    assert rep["model"]["metadata"] == ["min_runtime_version", METADATA_NAME]  # unchanged
    assert rep["metadata"]["name"] == "Demo classifier"
    assert rep["metadata"]["subgraphs"][0]["outputs"][0]["labels"] == CLASSES
    json.dumps(rep, allow_nan=False)
    p = subprocess.run([sys.executable, "-m", "core.cli", "report", str(path), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["metadata"]["license"] == "Apache-2.0"


def test_missing_associated_file_is_a_warning(tmp_path):
    path = model_with_metadata(tmp_path, metadata_block(), pack_labels=False)
    with open_model(str(path)) as m:
        md = model_metadata(m)
    assert md.name == "Demo classifier" and md.outputs[0].labels is None
    assert md.warnings == ["associated file 'labels.txt' is named in the metadata but not packed "
                           "in the model"]


def test_out_of_bounds_offset_is_a_warning_not_a_crash(tmp_path):
    block = bytearray(metadata_block())
    block[0:4] = (len(block) + 100).to_bytes(4, "little")  # root offset past the end
    md = parse_metadata(bytes(block))
    assert md.present and md.name is None
    assert len(md.warnings) == 1 and "corrupt or truncated metadata" in md.warnings[0]
    path = model_with_metadata(tmp_path, bytes(block))
    with open_model(str(path)) as m:  # the model itself still opens and reports
        rep = model_report(m).to_json()
    assert rep["metadata"]["warnings"] and rep["subgraphs"]


def test_nonfinite_metadata_values_become_null_and_are_named_in_the_warnings(tmp_path):
    path = model_with_metadata(tmp_path, metadata_block(stats_max=float("nan")))
    with open_model(str(path)) as m:
        rep = model_report(m).to_json()
    assert rep["metadata"]["subgraphs"][0]["inputs"][0]["max"] == [None]
    assert any(w.startswith("metadata: subgraphs[0].inputs[0].max[0] is NaN")
               for w in rep["warnings"]), rep["warnings"]
    json.dumps(rep, allow_nan=False)


def test_a_block_without_the_metadata_identifier_is_ignored(tmp_path):
    """A well-formed table under another identifier is not metadata (the reference verifier,
    VerifyModelMetadataBuffer, checks 'M001'): nothing is decoded from it."""
    md = parse_metadata(metadata_block(identifier=b"XYZ1"))
    assert md.present and md.name is None and md.subgraphs == []
    assert md.warnings == ["metadata file identifier is b'XYZ1', not b'M001'; the metadata is "
                           "ignored"]


def test_info_sections_escape_metadata_text(tmp_path):
    from core.analysis.report import info_sections
    hostile = "Evil\x1b[2J\nFAKE: ok\u202e" + "x" * 5000
    path = model_with_metadata(tmp_path, metadata_block(name=hostile,
                                                        label_file="l\nabels\x07.txt"))
    with open_model(str(path)) as m:
        sections = info_sections(m)
    texts = [t for title, rows in sections for t in (title, *(x for row in rows for x in row))]
    assert all(t.isprintable() and len(t) <= 2000 for t in texts), \
        [t[:80] for t in texts if not t.isprintable() or len(t) > 2000]
    meta = dict(dict(sections)["Metadata"])
    assert meta["Name"].startswith("Evil\\x1b[2J\\nFAKE: ok\\u202e")


@pytest.mark.parametrize("seed", range(3))
def test_damaged_blocks_never_raise(seed):
    good = metadata_block()
    rng = random.Random(seed)
    for _ in range(400):
        block = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            block[rng.randrange(len(block))] = rng.randrange(256)
        if rng.random() < 0.3:
            block = block[:rng.randrange(len(block))]
        md = parse_metadata(bytes(block))   # must not raise
        json.dumps(md.to_json(), allow_nan=False)


def test_real_mediapipe_metadata(shared_model):
    path = shared_model("selfie_segmentation")
    raw = open(path, "rb").read()
    with open_model(path) as m:
        md = model_metadata(m)
    assert md.warnings == []
    assert md.name == "ImageSegmenter" and b"ImageSegmenter" in raw
    assert md.inputs[0].content == "image RGB" and md.inputs[0].std == [255.0]
    out = md.outputs[0]
    assert out.name == "segmentation_masks"
    # the label file as the zip archive inside the model has it, read here with zipfile directly
    with zipfile.ZipFile(path) as z:
        assert out.labels == z.read("labels.txt").decode().split()
    assert md.subgraphs[0].custom == [{"name": "SEGMENTER_METADATA", "size_bytes": 16}]


def test_info_panel_sections_show_the_decoded_metadata(tmp_path, qtbot):
    from gui.model.info_panel import InfoPanel
    path = model_with_metadata(tmp_path, metadata_block())
    with open_model(str(path)) as m:
        panel = InfoPanel(m)
        qtbot.addWidget(panel)
        meta = panel.text_for("Metadata")
        out = panel.text_for("Metadata: output 'probability'")
        inp = panel.text_for("Metadata: input 'image'")
    assert (meta["Name"], meta["Version"], meta["Author"], meta["License"]) == \
        ("Demo classifier", "v2", "LiteLens tests", "Apache-2.0")
    assert out["Labels"].startswith("10: class_0, class_1")
    assert out["File"].startswith("labels.txt (tensor axis labels")
    assert inp["Normalization"] == "(x − [127.5]) / [127.5]" and inp["Content"] == "image RGB 32x32"
    assert "Demo classifier" in panel.toPlainText()


def test_info_panel_values_keep_whole_words_at_its_narrowest(qtbot, shared_model):
    """At the panel's smallest width a section with a long key ('Buffer TFLITE_METADATA') puts
    that key on a line of its own, so the section's short values stay whole (the metadata's
    name read 'ImageS / egment / er')."""
    from gui.model.info_panel import MIN_WIDTH, InfoPanel
    with open_model(str(shared_model("selfie_segmentation"))) as m:
        panel = InfoPanel(m)
        qtbot.addWidget(panel)
        panel.resize(MIN_WIDTH, 800)
        panel.show()
        qtbot.waitUntil(panel.isVisible)
        name = panel.text_for("Metadata")["Name"]
        assert any(len(k) > 20 for k in panel.text_for("Metadata"))
        doc = panel.document()
        doc.setTextWidth(panel.viewport().width())
        block, lines = doc.begin(), {}
        while block.isValid():
            lines[block.text()] = block.layout().lineCount()
            block = block.next()
    assert lines[name] == 1, (name, lines[name])
