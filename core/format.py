"""How LiteLens writes numbers and names for people: one function per kind of value.

The CLI's text output, the GUI's tables, inspector and panels all format through here, so a shape
or a size reads the same everywhere. JSON output never goes through these (it keeps raw numbers).

Text from a model file (tensor names, op codes, descriptions) is untrusted: a name holding a newline
or an ANSI escape would move the cursor, recolour the terminal or print a fake line when it reaches
an error message, the CLI summary or a GUI label; a 64 KiB name or a 200,000-dimension shape would
make one message megabytes long. ``printable`` and the abridged shapes keep every such text one
printable, bounded line.
"""
from __future__ import annotations

import math
import unicodedata
from typing import Callable, Iterable, Sequence

MESSAGE_LIMIT = 900  # one error line stays under 1,000 characters with the "litelens: error: " prefix
SHAPE_EDGE = 4       # dims shown at each end of an abridged shape

# Unicode categories not shown as themselves: controls, format characters (bidi overrides,
# zero-width joiners), line/paragraph separators, surrogates, private use, unassigned.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, limit: int | None = None) -> str:
    """``text`` with every non-printable character escaped (a newline as ``\\n``, ESC as
    ``\\x1b``) and, when ``limit`` is given, cut to at most ``limit`` characters saying how long
    it was."""
    if text.isprintable() and (limit is None or len(text) <= limit):
        return text
    total = len(text)
    if limit is not None:
        text = text[:limit]  # escaping only lengthens: never escape megabytes to show a line
    out = "".join(_escape_char(c) if unicodedata.category(c) in _HIDDEN else c for c in text)
    if limit is not None and (len(out) > limit or total > len(text)):
        suffix = f"... ({total:,} chars in all)"
        out = out[:max(limit - len(suffix), 1)] + suffix
    return out


def one_line(text: str, limit: int | None = MESSAGE_LIMIT) -> str:
    """A message for one line: line breaks (and the spaces around them) become one space, so a
    native "...in the runtime\\nNode 3 failed" reads "...in the runtime Node 3 failed"; then
    ``printable``."""
    if "\n" in text or "\r" in text:
        text = " ".join(part.strip() for part in text.replace("\r", "\n").split("\n")
                        if part.strip())
    return printable(text, limit)


def shape(dims: Iterable[int], sep: str = "×", ellipsis: str = "…") -> str:
    """'1×224×224×3'; a rank-0 tensor is 'scalar'. Dynamic dimensions stay -1. A huge rank (from
    a hostile file) is abridged to its ends and its rank: '2×2×2×2×…×2×2×2×2 (rank 200,000)'."""
    dims = dims if isinstance(dims, Sequence) else list(dims)
    n = len(dims)
    if n == 0:
        return "scalar"
    if n <= 2 * SHAPE_EDGE + 1:
        return sep.join(str(int(d)) for d in dims)
    head = sep.join(str(int(d)) for d in dims[:SHAPE_EDGE])
    tail = sep.join(str(int(d)) for d in dims[-SHAPE_EDGE:])
    return f"{head}{sep}{ellipsis}{sep}{tail} (rank {n:,})"


def shape_list(dims: Iterable[int]) -> str:
    """A shape as a list for messages: '[1, 224, 224, 3]', abridged like ``shape`` (ASCII only)."""
    dims = dims if isinstance(dims, Sequence) else list(dims)
    return "[" + (shape(dims, ", ", "...") if len(dims) else "") + "]"


def shape_and_signature(stored: Sequence[int], signature: Sequence[int], sep: str = ", ",
                        brackets: bool = True) -> str:
    """A tensor's shape for people: '[1, 3, 40]'; with dynamic (-1) dimensions the signature comes
    first and the stored shape next to it: '[-1, -1] (stored [1, 1])'. ``sep="×"`` and
    ``brackets=False`` give the GUI's form: '-1×-1 (stored 1×1)'."""
    def one(dims: Sequence[int]) -> str:
        text = shape(dims, sep, "…" if sep == "×" else "...")
        return f"[{text if len(dims) else ''}]" if brackets else text
    if signature and any(d < 0 for d in signature):
        return f"{one(signature)} (stored {one(stored)})"
    return one(stored)


def nonfinite_name(value: float) -> str:
    return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"


def number(value, digits: int = 6) -> str:
    """A number for people; a NaN/Infinity read from a file says so rather than posing as a value."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{nonfinite_name(value)} (not finite in the file)"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def size(nbytes: float) -> str:
    """Bytes in binary units: '512 B', '1.5 KiB', '3.2 MiB' (one decimal above bytes)."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def size_unit(nbytes: float) -> tuple[str, int]:
    """The binary unit an axis of byte values up to ``nbytes`` reads best in, and its size in
    bytes: ('MiB', 1048576) for 22 MiB, ('B', 1) below 1 KiB."""
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(nbytes) >= div:
            return unit, div
    return "B", 1


def quantization(q) -> str:
    """One line: 'scale=0.0235 zp=-128', or 'per-channel, axis 0, 32 channels, scales 0.001..0.04'.

    ``q`` is a ``Quantization`` (or None); an unquantized tensor gives ''."""
    if q is None or not q.scale:
        return ""
    if len(q.scale) == 1:
        return f"scale={number(q.scale[0])} zp={q.zero_point[0] if q.zero_point else 0}"
    finite = [v for v in q.scale if math.isfinite(v)]
    bad = len(q.scale) - len(finite)
    span = f"{min(finite):.3g}..{max(finite):.3g}" if finite else "none finite"
    return (f"per-channel, axis {q.quantized_dimension}, {len(q.scale)} channels, scales {span}"
            + (f" ({bad} not finite in the file)" if bad else ""))


def elide(text: str, limit: int = 40) -> str:
    """``text`` made printable and cut to ``limit`` characters, the last one an ellipsis when cut."""
    text = printable(text[:4 * limit])
    return text if len(text) <= limit else text[:limit - 1] + "…"


def elide_words(text: str, limit: float, width: Callable[[str], float] = len) -> str:
    """``text`` made printable and, when ``width(text)`` exceeds ``limit``, cut after the last
    whole word that fits with an ellipsis ("input 0 is float16 and…"); a first word too long
    for ``limit`` is cut inside. ``width`` measures a string (characters by default; a font's
    advance for painted text)."""
    text = printable(text)
    if width(text) <= limit:
        return text
    words = text.split(" ")
    for n in range(len(words) - 1, 0, -1):
        head = " ".join(words[:n]).rstrip(" ,;:-–(·") + "…"
        if width(head) <= limit:
            return head
    cut = words[0]
    while cut and width(cut + "…") > limit:
        cut = cut[:-1]
    return cut + "…" if cut else ""


def short_name(name: str, limit: int = 18) -> str:
    """The last path component of a tensor name ('model/conv1/Relu;fused' -> 'Relu'), elided."""
    base = name.split(";")[0].rstrip("/").split("/")[-1] or name
    return elide(base, limit)


_DURATION_UNITS = (("s", 1000.0), ("ms", 1.0), ("µs", 1e-3), ("ns", 1e-6))  # unit, ms per unit


def count(n: float) -> str:
    """A large count with a k/M/G suffix and 3 significant digits: 300M, 1.23G, 512."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def duration_ms(ms: float | None) -> str:
    """A duration given in milliseconds, in the unit that keeps three significant digits:
    '850 ns', '12.3 µs', '4.56 ms', '1.23 s'. None (not measured) gives '-'."""
    if ms is None or not math.isfinite(ms):
        return "-"
    if ms == 0:
        return "0 ms"
    # the largest unit in which the value is at least 1 (ns for anything smaller)
    unit, scale = next((u for u in _DURATION_UNITS if abs(ms) >= u[1]), _DURATION_UNITS[-1])
    value = ms / scale
    text = f"{value:.{2 if abs(value) < 10 else 1 if abs(value) < 100 else 0}f}"
    if abs(float(text)) >= 1000 and unit != "s":  # 999.96 µs rounds up: say 1.00 ms
        return duration_ms(math.copysign(1000 * scale, ms))
    return f"{text} {unit}"


def duration_unit(largest_ms: float) -> tuple[str, float]:
    """The unit to plot durations in whose largest is ``largest_ms``: (unit, ms per unit), the
    same units as ``duration_ms`` ('µs', 0.001 for a series peaking at 0.4 ms)."""
    if not math.isfinite(largest_ms) or largest_ms <= 0:
        return "ms", 1.0
    return next((u for u in _DURATION_UNITS if abs(largest_ms) >= u[1]), _DURATION_UNITS[-1])


def op_numbers(ops: list[int], shown: int = 8) -> str:
    """'0, 1, 4-8, 12, … (+31 more)': consecutive ops as ranges, the first ``shown`` runs."""
    runs: list[list[int]] = []
    for i in sorted(ops):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:shown])
    rest = sum(b - a + 1 for a, b in runs[shown:])
    return text + (f", … (+{rest} more)" if rest else "")
