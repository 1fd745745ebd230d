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
    """'compile (OpenVINO device cpu): every partition compiles' / '... failed: ...', or None
    when the compile step was not asked for."""
    c = block.get("compile")
    if not c:
        return None
    device = f" (device {c['device']})" if c.get("device") else ""
    if c.get("note"):
        return f"compile{device}: {c['note']}"
    return (f"compile{device}: every partition compiles" if c["ok"] else
            f"compile{device} failed: {c['error']}")
