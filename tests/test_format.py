"""core.format: expected strings written by hand."""
from __future__ import annotations

import math

from core import format as fmt
from core.errors import ModelError
from core.model.types import Quantization


def test_shape():
    assert fmt.shape([1, 224, 224, 3]) == "1×224×224×3"
    assert fmt.shape((-1, 10)) == "-1×10"
    assert fmt.shape([7]) == "7"
    assert fmt.shape([]) == "scalar"


def test_size():
    assert fmt.size(0) == "0 B"
    assert fmt.size(1023) == "1023 B"
    assert fmt.size(1024) == "1.0 KiB"
    assert fmt.size(1536) == "1.5 KiB"
    assert fmt.size(3 * 1024 * 1024 + 200 * 1024) == "3.2 MiB"
    assert fmt.size(5 * 1024 ** 3) == "5.0 GiB"
    assert fmt.size(2 * 1024 ** 4) == "2.0 TiB"
    assert fmt.size(3000 * 1024 ** 4) == "3000.0 TiB"


def test_size_unit_for_an_axis():
    assert fmt.size_unit(0) == ("B", 1)
    assert fmt.size_unit(1023) == ("B", 1)
    assert fmt.size_unit(1024) == ("KiB", 1024)
    assert fmt.size_unit(22 * 1024 ** 2) == ("MiB", 1048576)
    assert fmt.size_unit(3 * 1024 ** 3) == ("GiB", 1073741824)


def _q(scale, zero_point, dim=0):
    return Quantization(scale=tuple(scale), zero_point=tuple(zero_point), quantized_dimension=dim)


def test_quantization():
    assert fmt.quantization(None) == ""
    assert fmt.quantization(_q([], [])) == ""
    assert fmt.quantization(_q([0.0235], [-128])) == "scale=0.0235 zp=-128"
    assert fmt.quantization(_q([0.5], [])) == "scale=0.5 zp=0"
    assert (fmt.quantization(_q([0.001, 0.04, 0.0123], [0, 0, 0], dim=3))
            == "per-channel, axis 3, 3 channels, scales 0.001..0.04")


def test_elide_and_short_name():
    assert fmt.elide("short", 10) == "short"
    assert fmt.elide("exactly10!", 10) == "exactly10!"
    assert fmt.elide("one too long", 11) == "one too lo…"
    assert fmt.short_name("model/block_3/conv/Relu6;model/other") == "Relu6"
    assert fmt.short_name("trailing/slash/") == "slash"
    assert fmt.short_name("/") == "/"
    assert fmt.short_name("a/serving_default_input_image:0") == "serving_default_i…"
    assert fmt.short_name("abcdef", limit=4) == "abc…"


def test_duration_ms_picks_a_unit():
    assert fmt.duration_ms(None) == "-"
    assert fmt.duration_ms(math.nan) == "-"
    assert fmt.duration_ms(0) == "0 ms"
    assert fmt.duration_ms(0.00085) == "850 ns"
    assert fmt.duration_ms(0.0123) == "12.3 µs"
    assert fmt.duration_ms(0.4) == "400 µs"
    assert fmt.duration_ms(1) == "1.00 ms"
    assert fmt.duration_ms(4.5678) == "4.57 ms"
    assert fmt.duration_ms(45.678) == "45.7 ms"
    assert fmt.duration_ms(456.78) == "457 ms"
    assert fmt.duration_ms(1234.5) == "1.23 s"
    assert fmt.duration_ms(98765) == "98.8 s"
    assert fmt.duration_ms(1234567) == "1235 s"


def test_duration_ms_rounding_up_moves_to_the_next_unit():
    assert fmt.duration_ms(0.9999) == "1.00 ms"     # not "1000 µs"
    assert fmt.duration_ms(999.7) == "1.00 s"       # not "1000 ms"


# untrusted text from a model file: one printable, bounded line
def test_control_characters_are_escaped():
    assert fmt.printable("a\nb\x1b[31mc\u202ed\r\t") == r"a\nb\x1b[31mc\u202ed\r\t"
    assert fmt.printable("naïve ünïcode ok") == "naïve ünïcode ok"


def test_long_text_is_cut_and_says_how_long_it_was():
    out = fmt.printable("\x1b" * 100_000, 900)
    assert len(out) <= 900 and out.endswith("(100,000 chars in all)") and out.isprintable()


def test_huge_shapes_are_abridged():
    assert fmt.shape_list([7] * 200_000) == "[7, 7, 7, 7, ..., 7, 7, 7, 7 (rank 200,000)]"


def test_nonfinite_numbers_say_so():
    assert fmt.number(float("nan")) == "NaN (not finite in the file)"
    assert fmt.number(float("-inf")) == "-Infinity (not finite in the file)"
    assert fmt.number(0.25) == "0.25"


def test_model_error_is_one_bounded_printable_line():
    e = ModelError("m\n.tflite", "tensor '" + "\x1b[2K" * 50_000 + "' is bad", 12)
    msg = str(e)
    assert msg.isprintable() and len(msg) < 1000
    assert msg.startswith(r"m\n.tflite: tensor '\x1b")
    assert e.path == "m\n.tflite"  # the path itself stays exact for callers


def test_elide_words_cuts_at_a_word_boundary():
    reason = "input 0 is float16: TFLM's DEQUANTIZE takes int8"
    assert fmt.elide_words(reason, 100) == reason
    assert fmt.elide_words(reason, 20) == "input 0 is float16…"     # the ':' goes with the cut
    assert fmt.elide_words(reason, 12) == "input 0 is…"
    assert fmt.elide_words("FusedBatchNormV3 weights", 8) == "FusedBa…"   # one long word
    assert fmt.elide_words("abc", 0) == ""
    # any measure: here every character is 2 units wide
    assert fmt.elide_words("aa bb cc", 12, width=lambda s: 2 * len(s)) == "aa bb…"
    assert fmt.elide_words("aa bb cc", 11, width=lambda s: 2 * len(s)) == "aa…"
