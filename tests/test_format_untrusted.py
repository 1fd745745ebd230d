"""core.format on untrusted text: what reaches a terminal or a label from a file is one printable, bounded line."""
from __future__ import annotations

from core.errors import ModelError
from core.format import number, printable, shape, shape_list


def test_control_characters_are_escaped():
    assert printable("a\nb\x1b[31mc\u202ed\r\t") == r"a\nb\x1b[31mc\u202ed\r\t"
    assert printable("naïve ünïcode ok") == "naïve ünïcode ok"


def test_long_text_is_cut_and_says_how_long_it_was():
    out = printable("\x1b" * 100_000, 900)
    assert len(out) <= 900 and out.endswith("(100,000 chars in all)") and out.isprintable()


def test_huge_shapes_are_abridged():
    assert shape([1, 224, 224, 3]) == "1×224×224×3"
    assert shape([]) == "scalar"
    assert shape_list([7] * 200_000) == "[7, 7, 7, 7, ..., 7, 7, 7, 7 (rank 200,000)]"


def test_nonfinite_numbers_say_so():
    assert number(float("nan")) == "NaN (not finite in the file)"
    assert number(float("-inf")) == "-Infinity (not finite in the file)"
    assert number(0.25) == "0.25"


def test_model_error_is_one_bounded_printable_line():
    e = ModelError("m\n.tflite", "tensor '" + "\x1b[2K" * 50_000 + "' is bad", 12)
    msg = str(e)
    assert msg.isprintable() and len(msg) < 1000 and msg.startswith(r"m\n.tflite: tensor '\x1b")
    assert e.path == "m\n.tflite"  # the path itself stays exact for callers
