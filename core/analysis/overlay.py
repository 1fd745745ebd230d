"""Per-op values (latency, memory) -> node colours, badges and a legend for the graph overlay."""
from __future__ import annotations

# pale yellow -> orange -> dark red
RAMP = ("#fff3b0", "#ffd166", "#f4a259", "#e76f51", "#9d0208")


def heat_overlay(values: dict[int, float], unit: str = "ms", digits: int = 3) -> dict:
    """Colour each op by its share of the largest value, in len(RAMP) equal steps.

    Returns {"colors": {op: hex}, "badges": {op: "0.123 ms"}, "legend": [(label, hex)]}.
    Ops without a value are left out (the view keeps their normal colour).
    """
    vals = {int(k): float(v) for k, v in values.items() if v is not None and v >= 0}
    if not vals:
        return {"colors": {}, "badges": {}, "legend": []}
    top = max(vals.values()) or 1.0
    n = len(RAMP)
    colors, badges = {}, {}
    for op, v in vals.items():
        step = min(n - 1, int(v / top * n))
        colors[op] = RAMP[step]
        badges[op] = f"{v:.{digits}g} {unit}"
    legend = [(f"{top * i / n:.{digits}g}–{top * (i + 1) / n:.{digits}g} {unit}", RAMP[i])
              for i in range(n)]
    return {"colors": colors, "badges": badges, "legend": legend}
