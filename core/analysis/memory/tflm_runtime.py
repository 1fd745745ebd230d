"""TFLite Micro's own answer: the model run on the tflite-micro package in a worker process (the
``tflm_run`` job; TFLM may abort or crash the process), its real head/tail/total against the
plan, its outputs against LiteRT's on the same inputs, and the smallest arena it runs in.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.analysis.memory.tflm import TflmPlan
from core.analysis.support.tflm import run_tflm as _run

if TYPE_CHECKING:
    from core.analysis.memory.result import TflmBlock
    from core.model.types import Model

# the arena for the measuring run: far above the plan, so TFLM's figures are its own need
MEASURE_SLACK = 4
MEASURE_MIN = 1 << 20


def measure(path: str, plan: TflmPlan, timeout: float = 300) -> dict[str, Any]:
    """``memory.tflm.runtime``: {"tool", "arena_size", "head_bytes", "tail_bytes",
    "total_bytes", "head_diff", "tail_diff", "total_diff", "kinds", "outputs", "refused",
    "error"} — ``total_bytes`` is what TFLM prints as its total (head + tail after the load),
    diffed with the plan's head + tail; ``refused``/``error`` set (figures null) when TFLM
    refused or crashed."""
    arena = max(MEASURE_MIN, MEASURE_SLACK * plan.total_bytes)
    r = _run(path, arena, compare=True, timeout=timeout)
    out: dict[str, Any] = {"tool": r["runtime"], "arena_size": arena, "head_bytes": None,
                           "tail_bytes": None, "total_bytes": None, "head_diff": None,
                           "tail_diff": None, "total_diff": None, "kinds": None,
                           "outputs": r["outputs"], "litert_error": r["litert_error"],
                           "refused": r["refused"]["reason"] if r["refused"] else None,
                           "error": r["error"], "error_kind": r["error_kind"]}
    a = r["arena"]
    if a:
        out.update(head_bytes=a["head"], tail_bytes=a["tail"], total_bytes=a["total"],
                   head_diff=a["head"] - plan.head_bytes, tail_diff=a["tail"] - plan.tail_bytes,
                   total_diff=a["total"] - plan.reported_total_bytes, kinds=a["kinds"])
    return out


def runs_in(path: str, arena_size: int, timeout: float = 120) -> tuple[bool, str | None]:
    """Does the model load and run on TFLM with this arena? (one worker process)"""
    r = _run(path, arena_size, compare=False, timeout=timeout)
    if r["arena"] is not None:
        return True, None
    return False, (r["refused"] or {}).get("reason") or r["error"]


def find_arena(path: str, start: int, on_try=None, timeout: float = 120) -> dict[str, Any]:
    """The smallest arena (16-byte steps) TFLM loads and runs the model in, one worker process
    per try (an arena too small may crash TFLM, not only fail): ``start`` (the plan's total)
    and 16 B below it first; if that does not settle it, steps down by quarters or doubles until
    the answer changes, then bisects. -> {"arena_size", "tries": [[size, ok]], "error"}."""
    tries: list[list[Any]] = []

    def attempt(n: int) -> bool:
        ok, why = runs_in(path, n, timeout)
        tries.append([n, ok])
        if on_try:
            on_try(n, ok, why)
        return ok
    hi = max(16, -(-start // 16) * 16)
    lo = 0
    if attempt(hi):
        # the plan is exact when every kernel is in the table: one step below settles it
        if hi <= 16 or not attempt(hi - 16):
            return {"arena_size": hi, "tries": tries, "error": None}
        hi -= 16
        # otherwise step down by quarters until a try fails
        while hi > 16:
            down = hi * 3 // 4 // 16 * 16
            if down <= 0 or not attempt(down):
                lo = down
                break
            hi = down
    else:
        lo = hi
        while True:
            hi = lo * 2
            if hi > 1 << 32:
                return {"arena_size": None, "tries": tries,
                        "error": "TFLM did not run the model with any arena up to 4 GiB"}
            if attempt(hi):
                break
            lo = hi
    while hi - lo > 16:
        mid = (lo + hi) // 2 // 16 * 16
        if mid <= lo:
            break
        if attempt(mid):
            hi = mid
        else:
            lo = mid
    return {"arena_size": hi, "tries": tries, "error": None}


def check_lines(block: TflmBlock) -> list[str]:
    """The ``--runtime`` check in words: tflite-micro's head, tail and head + tail against the
    plan, and its outputs against LiteRT's; its refusal or crash when it did not run."""
    r = block.runtime
    if r is None:
        return []
    if r["total_bytes"] is None:
        return [f"{r['tool'] or 'tflite-micro'}: {r['refused'] or r['error']}"]
    lines = [f"{r['tool']}: head {r['head_bytes']} B ({r['head_diff']:+d}), tail "
             f"{r['tail_bytes']} B ({r['tail_diff']:+d}), head + tail {r['total_bytes']} B "
             f"({r['total_diff']:+d} vs the plan)"]
    for o in r.get("outputs") or []:
        if "error" in o:
            lines.append(f"output {o['index']}: {o['error']}")
        else:
            lines.append(f"output {o['index']} vs LiteRT: max |diff| {o['max_abs_diff']:.4g}, "
                         f"{o['equal']}/{o['elements']} equal")
    return lines


def tflm_check_lines(model: Model) -> list[str]:
    """The plan and tflite-micro's answer for ``model`` in words (the Delegates tab's "Check on
    TFLite Micro"): TFLM's refusal as predicted and as TFLM says, or the arena it plans, what
    TFLM really used and how its outputs compare with LiteRT's."""
    from core.analysis.memory import tflm_block
    from core.analysis.memory.tflm import plan_tflm
    from core.format import size
    block = tflm_block(model, plan_tflm(model), runtime=True)
    r = block.runtime or {}
    if block.refused:
        said = r.get("refused") or r.get("error")
        return [f"predicted: {block.refused}",
                f"{r.get('tool') or 'tflite-micro'}: " +
                (said if said else "loads and runs it: the prediction is wrong")]
    return [f"TFLite Micro plan: head {size(block.head_bytes)} ({block.head_bytes} B) + tail "
            f"{size(block.tail_bytes)} ({block.tail_bytes} B); arena_size {block.total_bytes} B",
            *check_lines(block)]
