"""How LiteLens writes numbers and names for people: one function per kind of value.

The CLI's text output, the GUI's tables, inspector and panels all format through here, so a shape
or a size reads the same everywhere. JSON output never goes through these (it keeps raw numbers).
"""
from __future__ import annotations

import math
from typing import Iterable


def shape(dims: Iterable[int]) -> str:
    """'1×224×224×3'; a rank-0 tensor is 'scalar'. Dynamic dimensions stay -1."""
    dims = list(dims)
    return "×".join(str(int(d)) for d in dims) if dims else "scalar"


def size(nbytes: int) -> str:
    """Bytes in binary units: '512 B', '1.5 KiB', '3.2 MiB' (one decimal above bytes)."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def quantization(q) -> str:
    """One line: 'scale=0.0235 zp=-128', or 'per-channel, axis 0, 32 channels, scales 0.001..0.04'.

    ``q`` is a ``Quantization`` (or None); an unquantized tensor gives ''."""
    if q is None or not q.scale:
        return ""
    if len(q.scale) == 1:
        return f"scale={q.scale[0]:.6g} zp={q.zero_point[0] if q.zero_point else 0}"
    return (f"per-channel, axis {q.quantized_dimension}, {len(q.scale)} channels, scales "
            f"{min(q.scale):.3g}..{max(q.scale):.3g}")


def elide(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
