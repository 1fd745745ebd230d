"""Model state in a graph: resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE).

A streaming model keeps its state in variables that a ``VAR_HANDLE`` names (``container`` and
``shared_name``; the same name in another subgraph, e.g. the ``CALL_ONCE`` init, is the same
variable) and that ``READ_VARIABLE`` / ``ASSIGN_VARIABLE`` read and write through the handle's
resource tensor. The graph view draws the handle's edges as state and names the variable on
each read and write; the inspector links each access to its handle."""
from __future__ import annotations

from dataclasses import dataclass

from core.model.types import Subgraph

STATE_DTYPES = frozenset({"resource", "variant"})
_KIND = {"VAR_HANDLE": "handle", "READ_VARIABLE": "read", "ASSIGN_VARIABLE": "write"}


@dataclass(frozen=True)
class VariableAccess:
    op: int
    kind: str                 # "handle" | "read" | "write"
    variable: str             # "shared_name" or "container/shared_name"; "" when unknown
    handle_op: int | None     # the VAR_HANDLE whose resource tensor the op uses


def _name(options: dict) -> str:
    container, shared = options.get("container") or "", options.get("shared_name") or ""
    return f"{container}/{shared}" if container else shared


def variable_accesses(sg: Subgraph) -> dict[int, VariableAccess]:
    """Per variable op of ``sg`` (by op index): which variable it names, reads or writes, and
    the VAR_HANDLE behind it (None when the resource tensor comes from elsewhere, e.g. a graph
    input)."""
    producers = sg.producers()
    out: dict[int, VariableAccess] = {}
    for op in sg.operators:
        kind = _KIND.get(op.op)
        if kind is None:
            continue
        if kind == "handle":
            out[op.index] = VariableAccess(op.index, kind, _name(op.options), op.index)
            continue
        resource = op.inputs[0] if op.inputs else -1
        handle = producers.get(resource) if resource >= 0 else None
        if handle is not None and sg.operators[handle].op != "VAR_HANDLE":
            handle = None
        name = _name(sg.operators[handle].options) if handle is not None else ""
        out[op.index] = VariableAccess(op.index, kind, name, handle)
    return out


def state_tensors(sg: Subgraph) -> set[int]:
    """Tensors that carry state handles (resource/variant), whose edges are drawn as state."""
    return {t.index for t in sg.tensors if t.dtype in STATE_DTYPES}
