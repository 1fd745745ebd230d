"""Broken metadata and custom options degrade to "not there" instead of failing the model."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from core.model.builder import ModelBuilder
from core.model.metadata import ModelMetadata, model_metadata
from core.model.reader import open_model


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
        assert model_metadata(m) == ModelMetadata()


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
