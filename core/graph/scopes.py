"""The name-scope tree of a subgraph, from its tensor names (TFLite operators have no names: an
op is named by its first output tensor).

The rule, one op at a time:

- The name is split on ``;`` (MLIR joins the locations of fused ops: ``a/conv/Conv2D;a/bn/mul``),
  empty parts dropped, and each part on ``/`` (Keras ``model/block_3/conv/Conv2D``, TF
  ``StatefulPartitionedCall/...``), empty components dropped. A part's scope is its path without
  the last component (the op's own name).
- The op's scope is the longest scope all parts share. When they share none (``a/Relu;b/conv``),
  the first part's scope: MLIR lists the location of the op whose result the tensor is first.
- A name of one component (MediaPipe and Keras 1 name a layer's output after the layer:
  ``conv2d``, beside ``conv2d/Kernel_dequantize``) is its own scope, so a layer's op joins its
  weights' ops, and every op is in some node: the top-level counts sum to the op count.
- An op without an output or with an empty name is in the scope ``UNNAMED``.
- Scopes deeper than ``MAX_DEPTH`` are cut there (a hostile name of 100k components would
  otherwise nest the JSON past any parser's recursion limit).

Nodes come in the order of their first op in execution order; a node's ``ops`` counts every op in
it and under it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.model.types import Operator, Subgraph

UNNAMED = "(unnamed)"
MAX_DEPTH = 64


def name_scope(name: str) -> tuple[str, ...]:
    """The scope path of an op whose output tensor is called ``name`` (the module's rule)."""
    if ";" not in name and "//" not in name and name[:1] != "/" and name[-1:] != "/":
        parts = name.split("/")   # the common case, without the general rule's lists (100k ops)
        return tuple(parts[:-1]) if len(parts) > 1 else (name or UNNAMED,)
    paths = [[c for c in part.split("/") if c] for part in name.split(";")]
    paths = [p for p in paths if p]
    if not paths:
        return (UNNAMED,)
    scopes = [p[:-1] for p in paths]
    common: list[str] = []
    for level in zip(*scopes, strict=False):
        if any(c != level[0] for c in level):
            break
        common.append(level[0])
    return tuple(common or scopes[0] or paths[0])


def op_name(op: Operator, sg: Subgraph) -> str:
    """The name an op goes by: its first output tensor's ('' when it has none)."""
    for t in op.outputs:
        if 0 <= t < len(sg.tensors):
            return sg.tensors[t].name
    return ""


def op_scopes(sg: Subgraph) -> list[tuple[str, ...]]:
    """The scope path of each op of ``sg``, in op order (at most ``MAX_DEPTH`` deep)."""
    return [name_scope(op_name(op, sg))[:MAX_DEPTH] for op in sg.operators]


@dataclass
class ScopeNode:
    name: str                     # this level's component
    path: tuple[str, ...]         # from the top
    ops: int = 0                  # ops in this scope and under it
    op_indices: list[int] = field(default_factory=list)   # ops directly in this scope
    children: list[ScopeNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ops": self.ops,
                "children": [c.to_json() for c in self.children]}


def scope_tree(sg: Subgraph) -> list[ScopeNode]:
    """The top-level scopes of ``sg``, each with its sub-scopes."""
    top: list[ScopeNode] = []
    index: dict[tuple[str, ...], ScopeNode] = {}
    for op, path in zip(sg.operators, op_scopes(sg), strict=True):
        siblings = top
        node = None
        for depth in range(1, len(path) + 1):
            key = path[:depth]
            node = index.get(key)
            if node is None:
                node = ScopeNode(key[-1], key)
                index[key] = node
                siblings.append(node)
            node.ops += 1
            siblings = node.children
        assert node is not None   # name_scope never gives an empty path
        node.op_indices.append(op.index)
    return top
