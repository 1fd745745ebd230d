"""Finding nodes in a laid-out subgraph (by op type, name or index), and ops in other subgraphs."""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.format import elide
from core.graph.layout import NODE_INPUT, NODE_OP, GraphLayout
from core.model.types import Model, Subgraph


@dataclass(frozen=True)
class SearchHit:
    kind: str            # "op", "tensor", "input", "output"
    node: int            # node to show
    tensor: int | None   # the tensor matched, if any
    text: str            # one line for the results list
    subgraph: int | None = None  # set for hits in another subgraph than the one laid out


_INDEX_RE = re.compile(r"^(#|op:|t:|%|tensor:)?\s*(\d+)$")


def search(model: Model, lay: GraphLayout, query: str, limit: int = 1000) -> list[SearchHit]:
    """Find nodes by op type, node or tensor name (case-insensitive substring), or index:
    ``#12`` / ``op:12`` is operator 12, ``t:12`` / ``%12`` tensor 12, a bare number both."""
    q = query.strip()
    if not q:
        return []
    sg = model.subgraphs[lay.subgraph]
    hits: list[SearchHit] = []
    m = _INDEX_RE.match(q.lower())
    if m:
        prefix, num = m.group(1), int(m.group(2))
        if prefix in (None, "#", "op:") and num < lay.n_ops:
            hits.append(SearchHit("op", num, None, f"#{num} {lay.labels[num]}"))
        if prefix in (None, "t:", "%", "tensor:") and num < len(sg.tensors):
            node = tensor_node(lay, sg, num)
            if node is not None:
                hits.append(SearchHit("tensor", node, num,
                                      f"tensor {num} {elide(sg.tensors[num].name, 60)}"))
        return hits
    ql = q.lower()
    for i in range(lay.n_ops):
        op = sg.operators[i]
        if ql in lay.labels[i].lower() or ql in op.op.lower():
            hits.append(SearchHit("op", i, None, f"#{i} {lay.labels[i]}"))
            if len(hits) >= limit:
                return hits
    for i in range(lay.n_ops, lay.n_nodes):
        if ql in lay.tensor_names[int(lay.ref[i])].lower():
            k = "input" if lay.kind[i] == NODE_INPUT else "output"
            hits.append(SearchHit(k, i, int(lay.ref[i]), f"{k} {lay.labels[i]}"))
    seen_nodes = {h.node for h in hits}
    names = lay.tensor_names
    for t, name in enumerate(names):
        if ql in name.lower():
            node = tensor_node(lay, sg, t)
            if node is None or (node in seen_nodes and lay.kind[node] != NODE_OP):
                continue
            hits.append(SearchHit("tensor", node, t, f"tensor {t} {elide(name, 60)}"))
            if len(hits) >= limit:
                break
    return hits


def search_other_subgraphs(model: Model, current: int, query: str,
                           limit: int = 1000) -> list[SearchHit]:
    """Operators of the other subgraphs (control-flow bodies) whose type, custom code or output
    tensor name contains ``query``; no layout needed. Index queries stay with the current one."""
    ql = query.strip().lower()
    if not ql or _INDEX_RE.match(ql):
        return []
    hits: list[SearchHit] = []
    for sg in model.subgraphs:
        if sg.index == current:
            continue
        for op in sg.operators:
            names = (sg.tensors[t].name.lower() for t in op.outputs if t >= 0)
            if ql in op.label.lower() or ql in op.op.lower() or any(ql in n for n in names):
                where = sg.name or f"subgraph {sg.index}"
                text = f"[{elide(where, 40)}] #{op.index} {elide(op.label, 40)}"
                hits.append(SearchHit("op", op.index, None, text, sg.index))
                if len(hits) >= limit:
                    return hits
    return hits


def tensor_node(lay: GraphLayout, sg: Subgraph, tensor: int) -> int | None:
    """The node that shows a tensor: its producer (op or input node), else its first consumer
    (where it is folded as a row), else an output node."""
    e = lay.edges_of_tensor(tensor)
    if len(e):
        return int(lay.edge_src[e[0]])
    node = lay.input_node(tensor)
    if node is not None:
        return node
    for op in sg.operators:
        if tensor in op.outputs or tensor in op.inputs:
            return op.index
    return lay.output_node(tensor)
