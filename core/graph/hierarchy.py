"""Name-scope boxes on the graph: the scope tree of ``core.graph.scopes`` as groups that open
and close, and the layout of a subgraph with some groups open (drawn as frames around their
contents) and the others closed (drawn as one box each).

Groups (``scope_hierarchy``): a scope of one op is not a box (the op stands for itself); a scope
with no ops of its own and a single sub-scope is merged with it (``StatefulPartitionedCall/model``
is one box, not two nested ones); a group with more than ``MAX_CHILDREN`` items (ops and
sub-groups) gets its items chunked, in execution order, into groups of consecutive items named
after their first and last (``block0 … block47``), so that 25,000 sibling scopes still open as a
few dozen boxes. Group 0 is the subgraph itself.

Layout (``layout_hierarchy``): each open group's graph is laid out on its own by the same
phases as a flat graph (``core.graph.layout.place``): its items are its own ops, its sub-groups
(a closed one as a box, an open one as a node the size of its laid-out contents) and, at the top,
the graph inputs and outputs; its edges are the op-level edges whose lowest common open group it
is. Laid out inner groups first, then placed from the top down. So opening or closing a group
changes only that group's size in its parent's graph: every other node keeps its layer and its
place in the order, and nothing above the group's layer moves (``tests/graph/test_hierarchy``).
An edge from inside an open group to outside it runs from its op to the group's frame and on
along the parent's route.

The result is a ``GraphLayout`` like a flat one: node ids are op indices first, then graph
inputs and outputs, then one box node per group (``NODE_SCOPE``, ``ref`` = group id); ops inside a
closed box are not ``shown`` and their ``owner`` is the box.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable, Mapping, Sequence

import numpy as np

from core import format as fmt
from core.graph import layout as gl
from core.graph.fold import FoldedProducer, constant_producers
from core.graph.layout import (
    CHAR_W,
    HEADER_H,
    MAX_LABEL,
    MIN_W,
    NODE_INPUT,
    NODE_OUTPUT,
    NODE_SCOPE,
    PAD,
    ROW_CHAR_W,
    ROW_H,
    STATE_OPS,
    GraphLayout,
)
from core.graph.scopes import MAX_DEPTH, name_scope, op_name
from core.graph.state import STATE_DTYPES, variable_accesses
from core.model import ops as op_facts
from core.model.types import Model, Subgraph

MAX_CHILDREN = 48        # items of one group before they are chunked
FIT_NODES = 60           # a big graph opens with the deepest level of groups showing at most this
FIT_ALL_OPS = 150        # ... and a graph of at most this many ops with every group open
FRAME_HEAD = 22.0        # an open group's title bar
FRAME_PAD = 10.0
FRAME_GAP = 14.0         # under the title bar: room for the badge on top of the first card
BOX_H = HEADER_H + ROW_H + PAD   # a closed group: its name, then "N ops"
SCOPE_CATEGORY = "scope"


@dataclass
class ScopeGroup:
    name: str
    parent: int              # -1 for the subgraph itself (group 0)
    depth: int
    ops: int                 # ops in the group and under it
    first_op: int            # its first op in execution order
    direct_ops: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)


@dataclass
class _Edges:
    """Every op-level edge of the subgraph (as the flat layout has them) and, per edge, the
    lowest common group of its ends and the items of that group it joins: structure only,
    the same whichever groups are open."""
    in_tensors: list[int]
    out_tensors: list[int]
    tensor: np.ndarray       # int32 (E,)
    src: np.ndarray          # node ids (op index, or n_ops + j for the j-th input/output node)
    dst: np.ndarray
    port: np.ndarray         # fraction across the consumer's top
    out_slot: dict[int, tuple[int, int]]
    producer: dict[int, int]
    lca: np.ndarray          # group id
    item_src: np.ndarray     # node ids of the lca's items holding src / dst
    item_dst: np.ndarray


@dataclass
class ScopeHierarchy:
    subgraph: int
    groups: list[ScopeGroup]
    op_group: np.ndarray     # int32 (n_ops,): the innermost group of each op
    _edges: dict[bool, _Edges] = field(default_factory=dict, repr=False)   # by fold_producers
    _cards: dict = field(default_factory=dict, repr=False)
    _top_down: list[int] | None = field(default=None, repr=False)

    @property
    def top_down(self) -> list[int]:
        """Group ids, each after its parent."""
        if self._top_down is None:
            self._top_down = np.argsort([g.depth for g in self.groups], kind="stable").tolist()
        return self._top_down

    @property
    def has_scopes(self) -> bool:
        """Whether there is any group besides the subgraph itself."""
        return len(self.groups) > 1

    def ancestors(self, group: int) -> list[int]:
        """Group ids from the top (0) down to ``group``."""
        out = []
        while group >= 0:
            out.append(group)
            group = self.groups[group].parent
        return out[::-1]

    def path_of_op(self, op: int) -> list[int]:
        return self.ancestors(int(self.op_group[op]))

    def ops_under(self, group: int) -> list[int]:
        """Every op in ``group`` and its sub-groups."""
        out: list[int] = []
        stack = [group]
        while stack:
            g = self.groups[stack.pop()]
            out.extend(g.direct_ops)
            stack.extend(g.children)
        return sorted(out)


# -- the groups ---------------------------------------------------------------------------------
def _first_outputs(sg: Subgraph) -> list[int]:
    """Each op's first output tensor (-1 when it has none)."""
    return [op.outputs[0] if op.outputs else -1 for op in sg.operators]


def _scopes(sg: Subgraph) -> tuple[np.ndarray, list[int], list[str]]:
    """``core.graph.scopes``'s tree, flat: each op's scope id, and per scope its parent and its
    last component (scope 0: the top; ids in order of first op, a parent before its children).
    Names are keyed by their scope's text first, so each distinct scope is split once."""
    ops, tensors = sg.operators, sg.tensors
    n_t = len(tensors)
    names = [tensors[t].name if 0 <= t < n_t else op_name(op, sg)
             for t, op in zip(_first_outputs(sg), ops, strict=True)]
    # a plain name (no ';', no empty component) is in the scope its text before the last '/'
    # names (``name_scope``'s fast path); any other is keyed by its whole text, apart
    keys = [(nm.rpartition("/")[0] or nm) if ";" not in nm and "//" not in nm
            and nm[:1] != "/" and nm[-1:] != "/" else "\0" + nm for nm in names]
    first_of: dict[str, int] = {}
    key_id = [first_of.setdefault(k, len(first_of)) for k in keys]
    by_path: dict[tuple[str, ...], int] = {(): 0}
    parent, name = [-1], [""]
    sid_of_key = []
    for k in first_of:
        path = name_scope(k[1:] if k[:1] == "\0" else k + "/x")[:MAX_DEPTH]
        sid = by_path.get(path)
        if sid is None:
            up = 0
            for d in range(1, len(path) + 1):
                q = by_path.get(path[:d])
                if q is None:
                    q = by_path[path[:d]] = len(parent)
                    parent.append(up)
                    name.append(path[d - 1])
                up = q
            sid = up
        sid_of_key.append(sid)
    op_scope = np.asarray(sid_of_key, np.int64)[np.asarray(key_id, np.int64)] if ops \
        else np.zeros(0, np.int64)
    return op_scope, parent, name


def scope_hierarchy(sg: Subgraph, max_children: int = MAX_CHILDREN,
                    folded: Collection[int] = ()) -> ScopeHierarchy:
    """The groups of ``sg`` (see the module docstring). Ops in ``folded`` (drawn on their
    consumers' cards, ``core.graph.fold``) do not count when deciding what is a box: a layer's
    scope holding its op and its fp16 weights' DEQUANTIZEs is one card, not a box around it."""
    n_ops = len(sg.operators)
    op_scope, s_parent, s_name = _scopes(sg)
    n_s = len(s_parent)
    weight = np.ones(n_ops)
    if len(folded):
        weight[np.fromiter(folded, np.int64, len(folded))] = 0
    direct = np.bincount(op_scope, weights=weight, minlength=n_s).astype(np.int64)
    sp = np.asarray(s_parent, np.int64)
    total = direct.astype(np.int64).copy()
    for s in range(n_s - 1, 0, -1):       # children have larger ids
        total[sp[s]] += total[s]
    n_child = np.bincount(sp[1:], minlength=n_s) if n_s > 1 else np.zeros(n_s, np.int64)
    only_child = np.zeros(n_s, np.int64)
    only_child[sp[1:]] = np.arange(1, n_s)
    # kept scopes become groups: not a scope of one op (the op stands for itself), not a
    # scope with nothing but one sub-scope (merged into it, names joined)
    g_parent, g_name = [-1], [sg.name or f"subgraph {sg.index}"]
    up = np.zeros(n_s, np.int64)
    prefix: dict[int, str] = {}
    tot_l, dir_l, nch_l, par_l = total.tolist(), direct.tolist(), n_child.tolist(), s_parent
    for s in range(1, n_s):
        label = prefix.pop(s, "") + s_name[s]
        p = int(up[par_l[s]])
        if tot_l[s] < 2:
            up[s] = p
        elif dir_l[s] == 0 and nch_l[s] == 1:
            up[s] = p
            prefix[int(only_child[s])] = label + "/"
        else:
            up[s] = len(g_parent)
            g_parent.append(p)
            g_name.append(label)
    op_group = up[op_scope] if n_ops else np.zeros(0, np.int64)
    # an op in a chunk's name: its own scope's last component (MediaPipe's layer name)
    op_names = [s_name[k] or f"#{i}" for i, k in enumerate(op_scope.tolist())]
    groups, op_group = _chunked_groups(g_parent, g_name, op_group, max_children, op_names)
    return ScopeHierarchy(sg.index, groups, op_group.astype(np.int32))


def _chunked_groups(g_parent: list[int], g_name: list[str], op_group: np.ndarray,
                    max_children: int, op_names: Sequence[str]
                    ) -> tuple[list[ScopeGroup], np.ndarray]:
    """The groups with their items (ops and sub-groups, in execution order); a group of more
    than ``max_children`` items gets them in chunks of consecutive items, as often as needed."""
    n_g = len(g_parent)
    n_ops = len(op_group)
    first = np.full(n_g, n_ops, np.int64)
    if n_ops:
        np.minimum.at(first, op_group, np.arange(n_ops))
    gp = np.asarray(g_parent, np.int64)
    for g in range(n_g - 1, 0, -1):       # a group's first op: also its sub-groups'
        if first[g] < first[gp[g]]:
            first[gp[g]] = first[g]
    counts = np.bincount(op_group, minlength=n_g).astype(np.int64)
    total = counts.copy()
    for g in range(n_g - 1, 0, -1):
        total[gp[g]] += total[g]
    # items: (owner group, first op, code) -- code >= 0 an op, < 0 the group -code - 1
    own = np.concatenate([op_group, gp[1:]])
    key = np.concatenate([np.arange(n_ops), first[1:]])
    code = np.concatenate([np.arange(n_ops), -np.arange(2, n_g + 1)])
    order = np.lexsort((key, own))
    own_s, code_s = own[order], code[order].tolist()
    bounds = np.searchsorted(own_s, np.arange(n_g + 1)).tolist()
    groups = [ScopeGroup(g_name[g], g_parent[g], 0, int(total[g]), int(first[g]))
              for g in range(n_g)]
    op_group = op_group.copy()

    ends: dict[int, tuple[str, str]] = {}   # a chunk's first and last item names

    def first_name(c: int) -> str:
        return op_names[c] if c >= 0 else ends.get(-c - 1, (groups[-c - 1].name,))[0]

    def last_name(c: int) -> str:
        return op_names[c] if c >= 0 else ends.get(-c - 1, ("", groups[-c - 1].name))[1]

    for g in range(n_g):
        items = code_s[bounds[g]:bounds[g + 1]]
        while len(items) > max_children:
            chunks = []
            for k in range(0, len(items), max_children):
                part = items[k:k + max_children]
                if len(part) == 1:
                    chunks.append(part[0])
                    continue
                cg = len(groups)
                firsts = [c if c >= 0 else groups[-c - 1].first_op for c in part]
                ops = sum(1 if c >= 0 else groups[-c - 1].ops for c in part)
                a, b = first_name(part[0]), last_name(part[-1])
                chunk = ScopeGroup(f"{a} … {b}", g, 0, ops, min(firsts))
                groups.append(chunk)
                ends[cg] = (a, b)
                _attach(groups, op_group, cg, part)
                chunks.append(-cg - 1)
            items = chunks
        _attach(groups, op_group, g, items)
    # depths, from the top down
    stack = [0]
    while stack:
        g = stack.pop()
        for c in groups[g].children:
            groups[c].depth = groups[g].depth + 1
            stack.append(c)
    return groups, op_group


def _attach(groups: list[ScopeGroup], op_group: np.ndarray, g: int, items: list[int]) -> None:
    grp = groups[g]
    for c in items:
        if c >= 0:
            grp.direct_ops.append(c)
            op_group[c] = g
        else:
            grp.children.append(-c - 1)
            groups[-c - 1].parent = g


# -- which groups are open ----------------------------------------------------------------------
def fit_expansion(h: ScopeHierarchy, budget: int = FIT_NODES,
                  all_ops: int = FIT_ALL_OPS) -> frozenset[int]:
    """The groups open when a graph opens: all of them for a graph of at most ``all_ops`` ops;
    else the deepest level of groups that shows at most ``budget`` nodes, then, in execution
    order, the groups of the next level that still fit (the top is always open)."""
    groups = h.groups
    if groups[0].ops <= all_ops:
        return frozenset(range(len(groups)))
    opened = {0}
    frontier = list(groups[0].children)
    count = len(groups[0].direct_ops) + len(frontier)

    def grow(g: int) -> int:
        return len(groups[g].direct_ops) + len(groups[g].children) - 1
    while frontier:
        more = sum(grow(g) for g in frontier)
        if count + more > budget:
            break
        count += more
        opened.update(frontier)
        frontier = [c for g in frontier for c in groups[g].children]
    for g in sorted(frontier, key=lambda g: groups[g].first_op):
        if count + grow(g) <= budget:
            count += grow(g)
            opened.add(g)
    return frozenset(opened)


def toggled(expanded: Iterable[int], group: int) -> frozenset[int]:
    """``expanded`` with ``group`` opened, or closed when it was open (never the top)."""
    s = set(expanded) | {0}
    if group != 0:
        s.symmetric_difference_update({group})
    return frozenset(s)


def revealing(h: ScopeHierarchy, expanded: Iterable[int], op: int) -> frozenset[int]:
    """``expanded`` with every group on ``op``'s path open (to show a search hit)."""
    return frozenset(set(expanded) | set(h.path_of_op(op)))


def visible_group(h: ScopeHierarchy, expanded: Iterable[int]) -> np.ndarray:
    """Per group: the closed box that shows it (itself when it is a box), or -1 when it is
    open with all its ancestors."""
    opened = set(expanded) | {0}
    out = np.full(len(h.groups), -1, np.int32)
    for g in h.top_down:
        if g == 0:
            continue
        up = out[h.groups[g].parent]
        out[g] = up if up >= 0 else (-1 if g in opened else g)
    return out


# -- overlays and search on boxes ---------------------------------------------------------------
def box_colors(owner: np.ndarray, n_ops: int, colors: Mapping[int, str],
               ranking: Sequence[str]) -> dict[int, tuple[str, int, int]]:
    """Per box node showing ops with a colour: (its worst colour, how many of its ops have
    that colour, how many have any). Worst is latest in ``ranking`` (an overlay's legend order:
    heat ramps and verdict palettes go from good to bad); a colour not in it ranks first."""
    rank = {c: i for i, c in enumerate(ranking)}
    out: dict[int, tuple[str, int, int]] = {}
    for op, c in colors.items():
        if not 0 <= op < n_ops:
            continue
        node = int(owner[op])
        if node == op:
            continue
        cur = out.get(node)
        if cur is None:
            out[node] = (c, 1, 1)
            continue
        worst, k, total = cur
        r, rw = rank.get(c, -1), rank.get(worst, -1)
        if r > rw:
            out[node] = (c, 1, total + 1)
        else:
            out[node] = (worst, k + (c == worst), total + 1)
    return out


def hit_counts(owner: np.ndarray | None, nodes: Iterable[int], n_ops: int) -> dict[int, int]:
    """Search hits (node ids) per closed box that holds them (ops drawn as themselves or on
    their consumer's card left out)."""
    out: dict[int, int] = {}
    if owner is None:
        return out
    for n in nodes:
        if 0 <= n < n_ops and int(owner[n]) >= n_ops:
            b = int(owner[n])
            out[b] = out.get(b, 0) + 1
    return out


# -- layout -------------------------------------------------------------------------------------
def _edges(sg: Subgraph, h: ScopeHierarchy, folded: Mapping[int, FoldedProducer]) -> _Edges:
    """The flat layout's edges, in numpy: one per (tensor, consumer), from the tensor's first
    writer (a graph input node wins), consumers' ports in order of their linked inputs."""
    ops = sg.operators
    n_ops = len(ops)
    n_t = len(sg.tensors)
    in_t = [t for t in sg.inputs if t >= 0]
    out_t = [t for t in sg.outputs if t >= 0]
    producer = np.full(n_t + 1, -1, np.int64)            # [n_t]: out of range -> none
    outs = [op.outputs for op in ops]
    o_len = np.fromiter(map(len, outs), np.int64, n_ops)
    o_flat = np.fromiter(itertools.chain.from_iterable(outs), np.int64, int(o_len.sum()))
    o_op = np.repeat(np.arange(n_ops), o_len)
    ok = (o_flat >= 0) & (o_flat < n_t)
    first_w = np.unique(o_flat[ok], return_index=True)
    producer[first_w[0]] = o_op[ok][first_w[1]]
    for f in folded.values():     # drawn as a row of its consumers: no edge
        producer[f.output] = -1
    writer = producer.copy()
    for j, t in enumerate(in_t):
        if t < n_t:
            producer[t] = n_ops + j
    ins = [op.inputs for op in ops]
    i_len = np.fromiter(map(len, ins), np.int64, n_ops)
    i_flat = np.fromiter(itertools.chain.from_iterable(ins), np.int64, int(i_len.sum()))
    i_op = np.repeat(np.arange(n_ops), i_len)
    i_flat = np.where((i_flat >= 0) & (i_flat < n_t), i_flat, n_t)
    linked = producer[i_flat] >= 0
    t_l, d_l = i_flat[linked], i_op[linked]
    _, first = np.unique(d_l * (n_t + 1) + t_l, return_index=True)
    first.sort()                                          # each tensor once per consumer
    t_l, d_l = t_l[first], d_l[first]
    starts = np.searchsorted(d_l, np.arange(n_ops))
    k = np.bincount(d_l, minlength=n_ops)
    port = (np.arange(len(d_l)) - starts[d_l] + 1) / (k[d_l] + 1)
    o_arr = np.asarray(out_t, np.int64)
    o_has = (o_arr < n_t) & (producer[np.minimum(o_arr, n_t)] >= 0) if len(o_arr) \
        else np.zeros(0, bool)
    tensor = np.concatenate([t_l, o_arr[o_has]])
    src = producer[tensor]
    dst = np.concatenate([d_l, n_ops + len(in_t) + np.flatnonzero(o_has)])
    port = np.concatenate([port, np.full(int(o_has.sum()), 0.5)])
    # the producer's output slot, for the edge's start on a multi-output op
    out_slot: dict[int, tuple[int, int]] = {}
    multi = np.flatnonzero(o_len > 1).tolist()
    for t in np.unique(tensor).tolist():
        w = int(writer[t])
        if 0 <= w and producer[t] == w:
            out_slot[t] = (0, 1)
    for i in multi:
        o = outs[i]
        for t in o:
            if 0 <= t < n_t and t in out_slot and writer[t] == i:
                out_slot[t] = (o.index(t), len(o))
    prod = {int(t): int(producer[t]) for t in np.flatnonzero(producer[:n_t] >= 0)}
    lca, ia, ib = _lowest_common_groups(h, n_ops, len(in_t) + len(out_t), src, dst)
    return _Edges(in_t, out_t, tensor.astype(np.int32), src, dst, port, out_slot, prod, lca,
                  ia, ib)


def _lowest_common_groups(h: ScopeHierarchy, n_ops: int, n_io: int, src: np.ndarray,
                          dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per edge: the lowest group holding both ends, and its items (node ids) holding them;
    all edges at once, lifting the deeper end one level per step."""
    n_base = n_ops + n_io
    gpar = np.array([g.parent for g in h.groups], np.int64)
    gdep = np.array([g.depth for g in h.groups], np.int64)
    parent = np.concatenate([n_base + h.op_group.astype(np.int64), np.full(n_io, n_base),
                             n_base + np.maximum(gpar, 0)])
    depth = np.concatenate([gdep[h.op_group] + 1, np.ones(n_io, np.int64), gdep])
    a, b = src.copy(), dst.copy()
    ia, ib = a.copy(), b.copy()
    while True:
        ne = a != b
        if not ne.any():
            break
        da, db = depth[a], depth[b]
        up_a = ne & (da >= db)
        up_b = ne & (db >= da)
        ia[up_a] = a[up_a]
        a[up_a] = parent[a[up_a]]
        ib[up_b] = b[up_b]
        b[up_b] = parent[b[up_b]]
    return (a - n_base).astype(np.int32), ia, ib


def _card(h: ScopeHierarchy, sg: Subgraph, op: int, producer: Mapping[int, int],
          fold_constants: bool, state, with_options: bool, char_w: float, row_char_w: float,
          notes: Mapping[int, str]):
    key = (op, fold_constants, bool(notes), char_w, row_char_w)
    card = h._cards.get(key)
    if card is None:
        header, rows, _ = gl.op_card(sg.operators[op], sg, producer, fold_constants, state,
                                     with_options, notes)
        card = h._cards[key] = (header, rows, *gl.card_size(header, rows, char_w, row_char_w))
    return card


def _static_text(h: ScopeHierarchy, sg: Subgraph) -> tuple[list[str], list[str]]:
    """Labels and categories of every node before any is shown: op names (elided once per
    distinct name), input/output tensor names, empty box labels (filled for the boxes shown)."""
    if "static" not in h._cards:
        elided: dict[str, str] = {}
        category: dict[str, str] = {}
        labels, cats = [], []
        for op in sg.operators:
            lab = op.label
            e = elided.get(lab)
            if e is None:
                e = elided[lab] = fmt.elide(lab, MAX_LABEL)
            labels.append(e)
            c = category.get(op.op)
            if c is None:
                c = category[op.op] = op_facts.category(op.op)
            cats.append(c)
        ins = [t for t in sg.inputs if t >= 0]
        outs = [t for t in sg.outputs if t >= 0]
        for t in ins + outs:
            labels.append(fmt.elide(sg.tensors[t].name or f"tensor {t}", MAX_LABEL))
        cats += ["input"] * len(ins) + ["output"] * len(outs) + [SCOPE_CATEGORY] * len(h.groups)
        labels += [""] * len(h.groups)
        h._cards["static"] = (labels, cats)
    return h._cards["static"]


def box_label(h: ScopeHierarchy, group: int) -> str:
    return fmt.elide(h.groups[group].name, MAX_LABEL)


def _box_size(label: str, ops: int, char_w: float, row_char_w: float) -> tuple[float, float]:
    """A closed box: room for its name and, on its row, the op count and a short badge."""
    return (max(MIN_W + 40, (len(label) + 2) * char_w + 2 * PAD + 10,
                (len(f"{ops:,} ops") + 18) * row_char_w + 2 * PAD), BOX_H)


@dataclass
class _Level:
    group: int
    items: np.ndarray          # node ids, local order (items in execution order, inputs, outputs)
    x: np.ndarray              # local top-left
    y: np.ndarray
    layer: np.ndarray
    route_off: np.ndarray
    route_pts: np.ndarray
    edge_key: dict[tuple[int, int], int]   # (tensor, consumer item) -> level edge
    width: float
    height: float
    n_layers: int
    n_dummies: int


def layout_hierarchy(model: Model, subgraph: int, h: ScopeHierarchy,
                     expanded: Iterable[int], *,
                     progress: Callable[[float, str], None] | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     char_w: float = CHAR_W, row_char_w: float = ROW_CHAR_W,
                     fold_constants: bool = True, fold_producers: bool = False,
                     direction: str = "TB", order_sweeps: int = 12,
                     x_iters: int = 24) -> GraphLayout:
    """Lay out ``model.subgraphs[subgraph]`` with the groups ``expanded`` open (see the module
    docstring); progress, cancel, metrics and ``direction`` as ``layout_subgraph`` (left to
    right: every graph laid out top to bottom on swapped sizes, frames with their title
    inset on the side that becomes the top, then the whole transposed)."""
    lr = direction == "LR"
    sg = model.subgraphs[subgraph]
    check = gl.Stepper(progress, cancelled)
    timings = check.timings
    check(0.0, "building graph")
    folded = constant_producers(sg) if fold_producers else {}
    if fold_producers not in h._edges:
        h._edges[fold_producers] = _edges(sg, h, folded)
    E = h._edges[fold_producers]
    notes = {f.output: f.note for f in folded.values()}
    groups = h.groups
    n_ops = len(sg.operators)
    n_in, n_out = len(E.in_tensors), len(E.out_tensors)
    n_base = n_ops + n_in + n_out
    n_groups = len(groups)
    n = n_base + n_groups
    vis = visible_group(h, expanded)
    is_open = vis < 0
    owner_g = vis[h.op_group]
    owner = np.where(owner_g >= 0, n_base + owner_g.astype(np.int64),
                     np.arange(n_ops)).astype(np.int32)
    for f in folded.values():     # on its consumer's card, wherever that is drawn
        owner[f.op] = owner[f.consumer]
    shown = np.zeros(n, bool)
    shown[:n_ops] = owner_g < 0
    shown[list(folded)] = False
    shown[n_ops:n_base] = True
    shown[n_base:] = vis == np.arange(n_groups)
    check(0.1, "laying out scopes", "graph")

    with_options = n_ops <= gl.OPTIONS_IN_HEADER_MAX_OPS
    state = variable_accesses(sg) if any(o.op in STATE_OPS for o in sg.operators) else {}
    width = np.zeros(n)
    height = np.zeros(n)
    static_labels, cats = _static_text(h, sg)
    labels = list(static_labels)
    no_rows: list[tuple[str, str, int]] = []     # shared: never changed
    rows = [no_rows] * n
    for i in np.flatnonzero(shown[:n_ops]).tolist():
        labels[i], rows[i], width[i], height[i] = _card(h, sg, i, E.producer, fold_constants,
                                                        state, with_options, char_w, row_char_w,
                                                        notes)
    for j in range(n_in + n_out):
        width[n_ops + j] = max(MIN_W, len(labels[n_ops + j]) * row_char_w + 2 * PAD + 14)
        height[n_ops + j] = gl.IO_H
    for g in np.flatnonzero(shown[n_base:] | is_open).tolist():
        labels[n_base + g] = label = box_label(h, g)
        width[n_base + g], height[n_base + g] = _box_size(label, groups[g].ops, char_w,
                                                          row_char_w)

    if lr:
        width, height = height, width
    # an open group's contents sit inset in its frame: the title's side, then the others
    head_x, head_y = ((FRAME_HEAD + FRAME_GAP, FRAME_PAD) if lr
                      else (FRAME_PAD, FRAME_HEAD + FRAME_GAP))
    # each open group's graph, inner ones first
    open_groups = [g for g in h.top_down if is_open[g]]
    by_level: dict[int, list[int]] = {}
    lca_l = E.lca.tolist()
    for e, g in enumerate(lca_l):
        if is_open[g]:
            by_level.setdefault(g, []).append(e)
    levels: dict[int, _Level] = {}
    local = np.full(n, -1, np.int64)
    for k, g in enumerate(sorted(open_groups, key=lambda g: -groups[g].depth)):
        check(0.1 + 0.7 * k / max(len(open_groups), 1), "laying out scopes")
        grp = groups[g]
        items = sorted([o for o in grp.direct_ops if o not in folded]
                       + [n_base + c for c in grp.children],
                       key=lambda v: v if v < n_ops else groups[v - n_base].first_op)
        if g == 0:
            items += list(range(n_ops, n_base))
        items_a = np.asarray(items, np.int64)
        local[items_a] = np.arange(len(items_a))
        for c in grp.children:
            if is_open[c]:
                lv = levels[c]
                width[n_base + c] = lv.width - 40 + head_x + FRAME_PAD
                height[n_base + c] = lv.height - 40 + head_y + FRAME_PAD
        levels[g] = _lay_out_level(g, items_a, local, E, by_level.get(g, []), n_ops,
                                   n_in if g == 0 else 0, n_out if g == 0 else 0,
                                   width, height, order_sweeps, x_iters)
        local[items_a] = -1

    # placed from the top down
    check(0.85, "edge routes", "levels")
    x = np.zeros(n)
    y = np.zeros(n)
    layer = np.full(n, -1, np.int32)
    node_group = np.full(n, -1, np.int32)
    offset = {0: (0.0, 0.0)}
    frames: list[int] = []
    for g in open_groups:    # a parent before its children
        lv = levels[g]
        ox, oy = offset[g]
        x[lv.items] = lv.x + ox
        y[lv.items] = lv.y + oy
        layer[lv.items] = lv.layer
        node_group[lv.items] = g
        for c in groups[g].children:
            if is_open[c]:
                b = n_base + c
                offset[c] = (x[b] + head_x - 20.0, y[b] + head_y - 20.0)
                frames.append(c)
    # what is inside a closed box sits on it; an open group's box node is its frame
    hidden = np.flatnonzero(~shown[:n_ops])
    for arr in (x, y):
        arr[hidden] = arr[owner[hidden]]
    width[hidden] = width[owner[hidden]]
    height[hidden] = height[owner[hidden]]
    for g in range(1, n_groups):
        b = n_base + g
        if not is_open[g] and vis[g] != g:
            o = n_base + vis[g]
            x[b], y[b], width[b], height[b] = x[o], y[o], width[o], height[o]
    shown[n_base] = False                                 # the subgraph itself: no box
    shown[n_base + np.flatnonzero(is_open)] = False       # open groups are frames

    e_t, e_s, e_d, route_off, route_pts = _visible_routes(E, owner, n_ops, n_base, levels,
                                                          offset, x, y, width, height)
    root = levels[0]
    kind = np.zeros(n, np.int8)
    kind[n_ops:n_ops + n_in] = NODE_INPUT
    kind[n_ops + n_in:n_base] = NODE_OUTPUT
    kind[n_base:] = NODE_SCOPE
    ref = np.concatenate([np.arange(n_ops), E.in_tensors + E.out_tensors,
                          np.arange(n_groups)]).astype(np.int32)
    check(1.0, "done", "routes")
    timings["total"] = sum(timings.values())
    fr = np.asarray(frames, np.int32)
    fb = n_base + fr
    lay = GraphLayout(
        subgraph=subgraph, n_ops=n_ops, kind=kind, ref=ref, labels=labels, categories=cats,
        rows=rows, x=x, y=y, w=width, h=height, layer=layer, edge_tensor=e_t, edge_src=e_s,
        edge_dst=e_d, route_off=route_off, route_pts=route_pts,
        edge_box=gl._edge_boxes(route_off, route_pts), width=root.width, height=root.height,
        n_layers=root.n_layers, n_dummies=sum(lv.n_dummies for lv in levels.values()),
        timings=timings, tensor_names=[t.name for t in sg.tensors],
        edge_state=np.asarray([sg.tensors[t].dtype in STATE_DTYPES for t in e_t.tolist()],
                              bool),
        shown=shown, node_group=node_group, owner=owner, frame_group=fr,
        frame_rect=np.stack([x[fb], y[fb], width[fb], height[fb]], 1) if len(fr)
        else np.zeros((0, 4)),
        frame_labels=[f"{groups[g].name} · {groups[g].ops:,} ops" for g in frames],
        hierarchy=HierarchyState(h, frozenset(set(expanded) | {0})))
    return gl.transposed(lay) if lr else lay


@dataclass(frozen=True)
class HierarchyState:
    """What a hierarchical layout shows: the groups and which are open."""
    groups: ScopeHierarchy
    expanded: frozenset[int]


def _noop(*_a, **_k) -> None:
    return None


def _lay_out_level(g: int, items: np.ndarray, local: np.ndarray, E: _Edges, edges: list[int],
                   n_ops: int, n_in: int, n_out: int, width: np.ndarray, height: np.ndarray,
                   order_sweeps: int, x_iters: int) -> _Level:
    m = len(items)
    e = np.asarray(edges, np.int64)
    ia, ib, t = E.item_src[e], E.item_dst[e], E.tensor[e].astype(np.int64)
    # one edge per (tensor, consumer item)
    key = t * (m + 1) + local[ib]
    _, first = np.unique(key, return_index=True)
    first.sort()
    ia, ib, t, port = ia[first], ib[first], t[first], E.port[e[first]]
    port = np.where(ib < n_ops, port, 0.5)
    ls, ld = local[ia].astype(np.int32), local[ib].astype(np.int32)
    from_op = (ia < n_ops).tolist()
    out_slot = {tt: E.out_slot[tt] for tt, f in zip(t.tolist(), from_op, strict=True)
                if f and tt in E.out_slot}
    n_items = m - n_in - n_out
    kind = np.zeros(m, np.int8)
    kind[n_items:n_items + n_in] = NODE_INPUT
    kind[n_items + n_in:] = NODE_OUTPUT
    graph = gl._Graph(n_items, n_in, n_out, kind, items.astype(np.int32), [], [], [],
                      width[items].copy(), height[items].copy(), t.astype(np.int32), ls, ld,
                      port.astype(np.float64), out_slot)
    pl = gl.place(graph, _noop, order_sweeps, x_iters)
    edge_key = {(tt, d): k for k, (tt, d) in enumerate(zip(t.tolist(), ib.tolist(),
                                                          strict=True))}
    return _Level(g, items, pl.coords.x[:m].copy(), pl.coords.y[:m].copy(), pl.layer,
                  pl.route_off, pl.route_pts, edge_key, pl.width, pl.height, pl.coords.n_layers,
                  pl.lanes.total)


def _visible_routes(E: _Edges, owner: np.ndarray, n_ops: int, n_base: int,
                    levels: dict[int, _Level], offset: dict[int, tuple[float, float]],
                    x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray):
    """The drawn edges: op-level edges between the nodes shown (a box stands for its ops),
    one per (tensor, drawn source, drawn consumer), routed along their group's graph."""
    def shown(v: np.ndarray) -> np.ndarray:
        return np.where(v < n_ops, owner[np.minimum(v, max(n_ops - 1, 0))], v) if n_ops \
            else v
    rs, rd = shown(E.src), shown(E.dst)
    keep = rs != rd
    idx = np.flatnonzero(keep)
    if len(idx):
        key = np.stack([rs[idx], rd[idx], E.tensor[idx].astype(np.int64)], 1)
        _, first = np.unique(key, axis=0, return_index=True)
        idx = idx[np.sort(first)]
    off = np.zeros(len(idx) + 1, np.int64)
    pts: list[tuple[float, float]] = []
    xl, yl, wl, hl = x.tolist(), y.tolist(), w.tolist(), h.tolist()
    for k, (e, s, d) in enumerate(zip(idx.tolist(), rs[idx].tolist(), rd[idx].tolist(),
                                      strict=True)):
        g = int(E.lca[e])
        a, b, t = int(E.item_src[e]), int(E.item_dst[e]), int(E.tensor[e])
        lv = levels[g]
        if s != a:   # from inside an open group: down to its frame first
            if s < n_ops and t in E.out_slot:
                slot, kk = E.out_slot[t]
                pts.append((xl[s] + wl[s] * (slot + 1) / (kk + 1), yl[s] + hl[s]))
            else:
                pts.append((xl[s] + wl[s] / 2, yl[s] + hl[s]))
        le = lv.edge_key[(t, b)]
        ox, oy = offset[g]
        r = lv.route_pts[lv.route_off[le]:lv.route_off[le + 1]]
        pts.extend(zip((r[:, 0] + ox).tolist(), (r[:, 1] + oy).tolist(), strict=True))
        if d != b:   # into an open group: on from its frame to the op
            pf = float(E.port[e]) if d < n_ops else 0.5
            pts.append((xl[d] + wl[d] * pf, yl[d]))
        off[k + 1] = len(pts)
    return (E.tensor[idx].astype(np.int32), rs[idx].astype(np.int32), rd[idx].astype(np.int32),
            off, np.asarray(pts, np.float64).reshape(-1, 2))


def group_node(lay: GraphLayout, group: int) -> int:
    """The node id of ``group``'s box (or frame, when it is open) in a hierarchical layout."""
    assert isinstance(lay.hierarchy, HierarchyState)
    return lay.n_nodes - len(lay.hierarchy.groups.groups) + group


def frame_at(lay: GraphLayout, px: float, py: float, title_only: bool = False) -> int | None:
    """The innermost open group whose frame (or only its title bar) is under the point."""
    r = lay.frame_rect
    if not len(r):
        return None
    bottom = r[:, 1] + (FRAME_HEAD if title_only else r[:, 3])
    hit = np.flatnonzero((r[:, 0] <= px) & (px <= r[:, 0] + r[:, 2]) & (r[:, 1] <= py)
                         & (py <= bottom))
    if not len(hit):
        return None
    return int(lay.frame_group[hit[np.argmin(r[hit, 2] * r[hit, 3])]])


def breadcrumb(lay: GraphLayout, node: int | None = None,
               point: tuple[float, float] | None = None) -> list[tuple[int, str]]:
    """(group, name) from the subgraph down to where ``node`` (or else the scene ``point``)
    is: the path a breadcrumb shows."""
    st = lay.hierarchy
    if not isinstance(st, HierarchyState):
        return []
    h = st.groups
    g = 0
    if node is not None and lay.node_group is not None:
        if lay.kind[node] == NODE_SCOPE:
            g = int(lay.ref[node])
        else:
            g = max(int(lay.node_group[node]), 0)
    elif point is not None:
        g = frame_at(lay, *point) or 0
    return [(a, h.groups[a].name) for a in h.ancestors(g)]


def node_size_ops(lay: GraphLayout, node: int) -> int:
    """How many ops a drawn node stands for (1 for an op, 0 for an input/output)."""
    if lay.kind[node] == NODE_SCOPE and isinstance(lay.hierarchy, HierarchyState):
        return lay.hierarchy.groups.groups[int(lay.ref[node])].ops
    return 1 if node < lay.n_ops else 0

