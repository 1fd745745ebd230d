"""Which runtime LiteLens' tables follow, and the note a run gets when its runtime is another.

The version is read from the XNNPACK support table's ``runtime`` field (the table checked against
the real delegate, ``resources/ops/delegates/xnnpack.json``): one place for the fact.
"""
from __future__ import annotations

from core.model.ops import delegate_table


def tables_runtime() -> tuple[str, str]:
    """(pip package, version) of the runtime the delegate and memory tables follow."""
    name, _, rest = str(delegate_table("xnnpack")["runtime"]).partition(" ")
    return name, rest.split()[0] if rest else ""


def runtime_note(label: str | None) -> str | None:
    """``"tables follow LiteRT 2.3.0; this runtime is tflite-runtime 2.14.0"`` when the worker's
    runtime (its hello's ``"name version[ API]"``) is not the tables' one; None when it is, or
    when the worker never said (it failed before importing a runtime)."""
    if not label:
        return None
    name, version = tables_runtime()
    if label.split()[:2] == [name, version]:
        return None
    return f"tables follow LiteRT {version}; this runtime is {label}"
