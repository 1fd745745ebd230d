"""Run a tool-run target (``targets``) on a model: the one entry the CLI and the GUI call."""
from __future__ import annotations

from typing import Any

from core.analysis.support.targets import ETHOS_U, split_id
from core.model.types import Model


def analyze_target(model: Model, name: str, options: dict[str, Any] | None = None,
                   use_cache: bool = True) -> dict[str, Any]:
    """The per-delegate block of tool-run target ``name`` (its tool runs in a worker process;
    about a second for vela, cached by the model's sha256, the options and the tool version)."""
    if split_id(name)[0] in ETHOS_U:
        from core.analysis.support.ethos_u import analyze_ethos_u
        return analyze_ethos_u(model, name, options, use_cache=use_cache)
    from core.analysis.support.npu_plugin import analyze_npu
    return analyze_npu(model, name, options, use_cache=use_cache)
