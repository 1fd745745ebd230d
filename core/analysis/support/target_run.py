"""Run a tool-run target (``targets``) on a model: the one entry the CLI and the GUI call."""
from __future__ import annotations

from typing import Any, Callable

from core.analysis.support.targets import ETHOS_U, split_id
from core.model.types import Model


def analyze_target(model: Model, name: str, options: dict[str, Any] | None = None,
                   use_cache: bool = True, compile_check: bool = False,
                   progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The per-delegate block of tool-run target ``name`` (its tool runs in a worker process;
    about a second for vela, cached by the model's sha256, the options and the tool version).
    ``compile_check``: an NPU plugin also compiles every partition (vela always compiles)."""
    if split_id(name)[0] in ETHOS_U:
        from core.analysis.support.ethos_u import analyze_ethos_u
        return analyze_ethos_u(model, name, options, use_cache=use_cache, progress=progress)
    from core.analysis.support.npu_plugin import analyze_npu
    return analyze_npu(model, name, options, use_cache=use_cache, compile_check=compile_check,
                       progress=progress)


def compile_line(block: dict[str, Any]) -> str | None:
    """'compile (device cpu): every partition compiles' / '... failed: 2 of 3 partitions do not
    compile ...' / '... failed: <the tool's error>', or None when the compile step was not
    asked for."""
    from core.format import op_numbers
    c = block.get("compile")
    if not c:
        return None
    device = f" (device {c['device']})" if c.get("device") else ""
    if c.get("note"):
        return f"compile{device}: {c['note']}"
    if c["ok"]:
        return f"compile{device}: every partition compiles"
    failed = c.get("failed_partitions") or []
    if not failed:
        return f"compile{device} failed: {c['error']}"
    total = sum(len(sg["partition_ops"]) for sg in block["subgraphs"]) + len(failed)
    which = "; ".join(f"partition {f['partition']} of subgraph {f['subgraph']} (ops "
                      f"{op_numbers(f['ops'])}): {f['error']}" for f in failed)
    return (f"compile{device} failed: {len(failed)} of {total} partition"
            f"{'s' if total != 1 else ''} failed to compile, their ops stay on the CPU — {which}")
