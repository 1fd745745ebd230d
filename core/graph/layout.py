"""Layered (top-to-bottom) dataflow layout of one subgraph, in numpy, for graphs of any size.

The graph: operators are nodes; the subgraph's inputs and outputs are nodes too; every tensor
read by an operator and written by another node is an edge (one per tensor and consumer);
inputs no node writes (weights, biases, variables) are folded into the consuming node as compact
rows, as Netron does.

The layout is Sugiyama-style, every phase vectorised so that 50k-op graphs lay out in seconds;
``layout_subgraph`` runs the phases in order, one function each:

1. graph (``_build_graph``): nodes, their text and size, one edge per (tensor, consumer), the
   producer of a tensor being ``Subgraph.producers()`` (graph input nodes first);
2. layering (``_longest_path_layers``): longest path from the sources in execution order (TFLite
   orders operators topologically), then sources pulled down next to their first consumer;
3. lanes (``_lanes``): one chain of dummy nodes per tensor that spans more than one layer (shared
   by all its consumers), so long residual branches run as straight vertical lanes beside the
   main path;
4. ordering (``_initial_key``, ``_order``): barycentric sweeps (down, up, ...) done for all layers
   at once (Jacobi style, one ``lexsort`` per sweep) instead of layer by layer;
5. coordinates (``_coordinates``, ``_x_coordinates``): iterated weighted neighbour averaging,
   overlaps removed with a segmented cumulative max/min (again all layers at once); y from the
   layer heights;
6. routes (``_routes``, ``_edge_boxes``): polylines through the dummies, drawn as cubic curves
   with vertical tangents (``route_curve`` samples the same curve for hit tests).

The result, ``GraphLayout``, holds flat numpy arrays plus the strings to draw; it also answers
the view's questions (which nodes are visible, which node or edge is under a point) and searches.
Nothing here imports Qt: the GUI only paints.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from core import format as fmt
from core.graph.fold import FoldedProducer, constant_producers
from core.graph.state import STATE_DTYPES, VariableAccess, variable_accesses
from core.model import ops as op_facts
from core.model.types import Model, Operator, Subgraph

NODE_OP, NODE_INPUT, NODE_OUTPUT, NODE_SCOPE = 0, 1, 2, 3   # NODE_SCOPE: a collapsed box

# Geometry, in scene units (1 unit = 1 px at zoom 1).
HEADER_H = 22.0
ROW_H = 15.0
PAD = 5.0
MIN_W = 84.0
CHAR_W = 8.2       # header text (bold, ~9 pt); the GUI draws with a font of about this advance
ROW_CHAR_W = 5.2   # row text (~8 pt)
IO_H = 26.0
LAYER_GAP = 34.0
NODE_SEP = 26.0
DUMMY_W = 10.0
MAX_LABEL = 40
STATE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})
STATE_ROW = {"read": "reads", "write": "writes"}   # the row naming the variable an op uses
OPTIONS_IN_HEADER_MAX_OPS = 20_000

class LayoutCancelled(Exception):
    """Raised by ``layout_subgraph`` when its ``cancelled`` callback returns True."""


@dataclass
class GraphLayout:
    """Positions and routes of one subgraph's graph. Node ids: ops first (node id == op index),
    then graph inputs, then graph outputs. Coordinates are top-left corners, in scene units."""
    subgraph: int
    n_ops: int
    kind: np.ndarray            # int8 (N,): NODE_OP / NODE_INPUT / NODE_OUTPUT
    ref: np.ndarray             # int32 (N,): op index, or tensor index for input/output nodes
    labels: list[str]           # header text
    categories: list[str]       # ops.category, "input" or "output"
    rows: list[list[tuple[str, str, int]]]  # folded rows per node: (slot, shape text, tensor)
    x: np.ndarray               # float64 (N,) left
    y: np.ndarray               # float64 (N,) top
    w: np.ndarray
    h: np.ndarray
    layer: np.ndarray           # int32 (N,)
    edge_tensor: np.ndarray     # int32 (E,)
    edge_src: np.ndarray        # int32 (E,) node ids
    edge_dst: np.ndarray
    route_off: np.ndarray       # int64 (E+1,): edge e's points are route_pts[off[e]:off[e+1]]
    route_pts: np.ndarray       # float64 (P, 2)
    edge_box: np.ndarray        # float64 (E, 4): xmin, ymin, xmax, ymax of the route
    width: float
    height: float
    n_layers: int
    n_dummies: int
    timings: dict[str, float] = field(default_factory=dict)
    tensor_names: list[str] = field(default_factory=list)  # of the subgraph, for search
    # bool (E,): the edge carries a state handle (a VAR_HANDLE's resource tensor to the ops
    # that read and write the variable), drawn as state
    edge_state: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # the name-scope hierarchy's (core.graph.hierarchy); a flat layout has none of them
    shown: np.ndarray | None = None       # bool (N,): drawn (ops in a collapsed box are not)
    node_group: np.ndarray | None = None  # int32 (N,): the scope group whose frame holds it
    owner: np.ndarray | None = None       # int32 (n_ops,): the node that shows each op
    frame_group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    frame_rect: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # x, y, w, h
    frame_labels: list[str] = field(default_factory=list)
    hierarchy: object = None              # the ScopeHierarchy laid out, with its expansion
    horizontal: bool = False              # laid out left to right (edges leave a node's right)
    _by_y: np.ndarray | None = field(default=None, repr=False)
    _y_sorted: np.ndarray | None = field(default=None, repr=False)
    _max_h: float = 0.0

    # -- sizes --
    @property
    def n_nodes(self) -> int:
        return len(self.kind)

    @property
    def n_edges(self) -> int:
        return len(self.edge_src)

    def nbytes(self) -> int:
        arrays = (self.kind, self.ref, self.x, self.y, self.w, self.h, self.layer,
                  self.edge_tensor, self.edge_src, self.edge_dst, self.route_off, self.route_pts,
                  self.edge_box)
        return int(sum(a.nbytes for a in arrays))

    def input_node(self, tensor: int) -> int | None:
        hit = np.nonzero((self.kind == NODE_INPUT) & (self.ref == tensor))[0]
        return int(hit[0]) if len(hit) else None

    def output_node(self, tensor: int) -> int | None:
        hit = np.nonzero((self.kind == NODE_OUTPUT) & (self.ref == tensor))[0]
        return int(hit[0]) if len(hit) else None

    def shows(self, node: int) -> bool:
        """Whether ``node`` is drawn (not inside a collapsed scope box)."""
        return self.shown is None or bool(self.shown[node])

    def shown_node(self, node: int) -> int:
        """The drawn node that shows ``node``: itself, or the collapsed box an op is in."""
        if self.owner is not None and node < self.n_ops:
            return int(self.owner[node])
        return node

    def node_rect(self, node: int) -> tuple[float, float, float, float]:
        return float(self.x[node]), float(self.y[node]), float(self.w[node]), float(self.h[node])

    def route(self, edge: int) -> np.ndarray:
        return self.route_pts[self.route_off[edge]:self.route_off[edge + 1]]

    def edges_of_tensor(self, tensor: int) -> np.ndarray:
        return np.nonzero(self.edge_tensor == tensor)[0]

    # -- culling & hit tests --
    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        """Node ids sorted by top y, and those y (built on first use)."""
        if self._by_y is None or self._y_sorted is None:
            ids = np.arange(len(self.y)) if self.shown is None else np.flatnonzero(self.shown)
            self._by_y = ids[np.argsort(self.y[ids], kind="stable")]
            self._y_sorted = self.y[self._by_y]
            self._max_h = float(self.h[ids].max()) if len(ids) else 0.0
        return self._by_y, self._y_sorted

    def visible_nodes(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Ids of nodes whose rectangle meets the scene rectangle (binary search on y)."""
        by_y, y_sorted = self._index()
        lo = np.searchsorted(y_sorted, y0 - self._max_h, "left")
        hi = np.searchsorted(y_sorted, y1, "right")
        cand = by_y[lo:hi]
        keep = ((self.x[cand] <= x1) & (self.x[cand] + self.w[cand] >= x0)
                & (self.y[cand] + self.h[cand] >= y0))
        return cand[keep]

    def visible_edges(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        b = self.edge_box
        return np.nonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))[0]

    def node_at(self, px: float, py: float) -> int | None:
        hit = self.visible_nodes(px, py, px, py)
        return int(hit[0]) if len(hit) else None

    def edge_at(self, px: float, py: float, tol: float = 4.0) -> int | None:
        """The edge whose drawn curve passes within ``tol`` of the point (nearest), or None."""
        cand = self.visible_edges(px - tol, py - tol, px + tol, py + tol)
        best, best_d = None, tol
        for e in cand:
            c = route_curve(self.route(int(e)), horizontal=self.horizontal)
            a, b = c[:-1], c[1:]
            ab = b - a
            ap = np.array([px, py]) - a
            denom = np.maximum((ab * ab).sum(1), 1e-12)
            t = np.clip((ap * ab).sum(1) / denom, 0, 1)
            d = np.sqrt(((a + ab * t[:, None] - [px, py]) ** 2).sum(1)).min()
            if d <= best_d:
                best, best_d = int(e), d
        return best


def route_curve(pts: np.ndarray, steps: int = 8, horizontal: bool = False) -> np.ndarray:
    """Points on the drawn route: between consecutive points a cubic Bézier whose control points
    sit half-way down vertically (vertical tangents; horizontal ones in a left-to-right
    layout), as the view draws it."""
    if len(pts) < 2:
        return pts
    p, q = pts[:-1], pts[1:]
    c1, c2 = curve_controls(pts, horizontal)
    t = np.linspace(0, 1, steps + 1)[:, None, None]
    u = 1 - t
    curve = u ** 3 * p + 3 * u * u * t * c1 + 3 * u * t * t * c2 + t ** 3 * q  # (steps+1, S, 2)
    out = curve[:-1].transpose(1, 0, 2).reshape(-1, 2)
    return np.vstack([out, pts[-1:]])


def curve_controls(pts: np.ndarray, horizontal: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The Bézier control points the view uses between consecutive route points."""
    p, q = pts[:-1], pts[1:]
    if horizontal:
        dx = (q[:, 0] - p[:, 0]) / 2
        return np.stack([p[:, 0] + dx, p[:, 1]], 1), np.stack([q[:, 0] - dx, q[:, 1]], 1)
    dy = (q[:, 1] - p[:, 1]) / 2
    return np.stack([p[:, 0], p[:, 1] + dy], 1), np.stack([q[:, 0], q[:, 1] - dy], 1)


def transposed(lay: GraphLayout) -> GraphLayout:
    """A layout made top to bottom on nodes with their width and height swapped, turned into
    its left-to-right form: x and y swapped for nodes, routes, frames and the extent (the
    nodes' own sizes are swapped back)."""
    swap = np.array([1, 0])
    return dataclasses.replace(
        lay, x=lay.y, y=lay.x, w=lay.h, h=lay.w, route_pts=lay.route_pts[:, swap],
        edge_box=lay.edge_box[:, [1, 0, 3, 2]] if len(lay.edge_box) else lay.edge_box,
        frame_rect=lay.frame_rect[:, [1, 0, 3, 2]] if len(lay.frame_rect) else lay.frame_rect,
        width=lay.height, height=lay.width, horizontal=True, _by_y=None, _y_sorted=None)


# ---------------------------------------------------------------------------------------------
def _header(op, with_options: bool = True) -> str:
    text = fmt.elide(op.label, MAX_LABEL)
    if not with_options or not op.options_table:
        return text
    act = op.options.get("fused_activation_function")
    if isinstance(act, str) and act not in ("NONE", ""):
        text += f" · {act}"
    return text


def op_card(op: Operator, sg: Subgraph, producer: Mapping[int, int], fold_constants: bool,
            state: Mapping[int, VariableAccess], with_options: bool,
            notes: Mapping[int, str] | None = None
            ) -> tuple[str, list[tuple[str, str, int]], list[int]]:
    """An op's card: its header, its folded rows (constants no node writes, the variable it
    reads or writes) and the tensors that come in as edges (``producer`` has them), each once.
    ``notes``: what a row says after its name (a folded producer's "fp16 weights")."""
    tensors = sg.tensors
    header = _header(op, with_options)
    slots = op_facts.slot_names(op.op)
    folded: list[tuple[str, str, int]] = []
    linked: list[int] = []
    seen: set[int] = set()
    for s, t in enumerate(op.inputs):
        if t < 0:
            continue
        if t in producer:
            if t not in seen:
                seen.add(t)
                linked.append(t)
        elif fold_constants or (notes and t in notes):
            name = slots[s] if s < len(slots) else fmt.short_name(tensors[t].name)
            if notes and t in notes:
                name = f"{name} · {notes[t]}"
            folded.append((name, fmt.shape(tensors[t].shape), t))
    access = state.get(op.index)
    if access is not None and access.variable and access.kind != "handle":
        # the row's tensor is the handle's resource (linked by the state edge too)
        folded.append((STATE_ROW[access.kind], fmt.elide(access.variable, MAX_LABEL),
                       op.inputs[0]))
    return header, folded, linked


def card_size(header: str, rows: Sequence[tuple[str, str, int]], char_w: float,
              row_char_w: float) -> tuple[float, float]:
    """Width and height of a card with this header and these rows."""
    # 6 characters for the gap and the shape's brackets, 2.5 more because the shape's digits
    # and × are wider than the mean advance: at 6 a 'Kernel ⟨24×1×1×24⟩' row came out 0.8 px
    # short and its name was cut to 'Ker…'
    row_w = max((len(a) + len(b) + 8.5 for a, b, _ in rows), default=0) * row_char_w
    return (max(MIN_W, len(header) * char_w + 2 * PAD + 10, row_w + 2 * PAD),
            HEADER_H + (len(rows) * ROW_H + PAD if rows else 0))


# where each phase starts on the progress bar: shares of the measured time on big graphs
# (building the graph is ~40% of a 100k-op layout; at 10% the bar sat at 0 and then jumped)
P_LAYERING, P_DUMMIES, P_ORDERING, P_COORDS, P_ROUTES = 0.35, 0.42, 0.5, 0.68, 0.85
GRAPH_PROGRESS_EVERY = 4096   # ops between progress reports while building the graph


@dataclass
class _Graph:
    """The graph phase's result: the nodes (ops, then graph inputs, then graph outputs) with
    their text and size, and one edge per (tensor, consumer)."""
    n_ops: int
    n_in: int
    n_out: int
    kind: np.ndarray
    ref: np.ndarray
    labels: list[str]
    cats: list[str]
    rows: list[list[tuple[str, str, int]]]
    width: np.ndarray
    height: np.ndarray
    edge_tensor: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_port: np.ndarray                  # fraction across the consumer's top edge
    out_slot: dict[int, tuple[int, int]]   # tensor -> (output slot, n outputs) of its producer

    @property
    def n(self) -> int:
        return len(self.kind)


@dataclass
class _Lanes:
    """The lanes phase's result: one chain of dummy nodes per tensor spanning more than one
    layer (node ids from ``n`` on), and the one-layer edges (U -> V) of the graph with the
    dummies."""
    total: int                       # dummies
    dummy_start: dict[int, int]      # tensor -> node id of its first dummy (layer of src + 1)
    d_src: np.ndarray                # per dummy: the real node its chain hangs from
    all_layer: np.ndarray            # layer of every node, dummies included
    all_w: np.ndarray                # width of every node, dummies included
    direct: np.ndarray               # per edge: drawn straight (no lane)
    U: np.ndarray
    V: np.ndarray


@dataclass
class _Coords:
    """The coordinates phase's result: every node's centre x and top-left (x, y); each
    layer's top and height."""
    cx: np.ndarray
    x: np.ndarray
    y: np.ndarray
    layer_top: np.ndarray
    layer_h: np.ndarray
    n_layers: int


@dataclass
class _Placed:
    """Phases 2-6 on a ``_Graph``: layers, lanes, coordinates, routes, the scene extent."""
    layer: np.ndarray
    lanes: _Lanes
    coords: _Coords
    route_off: np.ndarray
    route_pts: np.ndarray
    edge_box: np.ndarray
    width: float
    height: float


def place(g: _Graph, step: Step, order_sweeps: int = 12, x_iters: int = 24,
          max_dummies: int = 2_000_000) -> _Placed:
    """Phases 2 to 6 (layering to routes) of a built graph; ``step`` as in ``layout_subgraph``
    (the hierarchy lays out each open scope's graph through here)."""
    layer = _longest_path_layers(g.n, g.edge_src, g.edge_dst, g.n_ops)
    step(P_DUMMIES, "dummy nodes", "layering")
    lanes = _lanes(g, layer, max_dummies)
    step(P_ORDERING, "ordering", "dummies")
    order = _order(lanes.all_layer, lanes.U, lanes.V, _initial_key(g, lanes), order_sweeps, step)
    step(P_COORDS, "coordinates", "ordering")
    c = _coordinates(g, layer, lanes, order, x_iters, step)
    step(P_ROUTES, "edge routes", "coordinates")
    route_off, route_pts = _routes(g.edge_src, g.edge_dst, g.edge_tensor, g.edge_port,
                                   lanes.direct, lanes.dummy_start, g.out_slot, lanes.all_layer,
                                   c.cx, c.x, c.y, g.width, g.height, c.layer_top, c.layer_h,
                                   g.kind)
    edge_box = _edge_boxes(route_off, route_pts)
    gw, gh = _extent(g, lanes, c)
    return _Placed(layer, lanes, c, route_off, route_pts, edge_box, gw, gh)


Step = Callable[..., None]


class Stepper:
    """A layout's ``step(fraction, phase, done=None)``: raises ``LayoutCancelled`` when
    ``cancelled()`` says so, reports ``progress(fraction, phase)``, and when a phase named
    ``done`` has just ended records its seconds in ``timings`` (shared by the flat and the
    scope-hierarchy layouts, so both time and cancel the same way)."""

    def __init__(self, progress: Callable[[float, str], None] | None,
                 cancelled: Callable[[], bool] | None) -> None:
        self.progress, self.cancelled = progress, cancelled
        self.timings: dict[str, float] = {}
        self._since = time.perf_counter()

    def __call__(self, frac: float, phase: str, done: str | None = None) -> None:
        if done:
            now = time.perf_counter()
            self.timings[done] = now - self._since
            self._since = now
        if self.cancelled is not None and self.cancelled():
            raise LayoutCancelled(phase)
        if self.progress is not None:
            self.progress(frac, phase)


def layout_subgraph(model: Model, subgraph: int = 0, *,
                    progress: Callable[[float, str], None] | None = None,
                    cancelled: Callable[[], bool] | None = None,
                    order_sweeps: int = 12, x_iters: int = 24,
                    max_dummies: int = 2_000_000, char_w: float = CHAR_W,
                    row_char_w: float = ROW_CHAR_W, fold_constants: bool = True,
                    fold_producers: bool = False, direction: str = "TB") -> GraphLayout:
    """Lay out ``model.subgraphs[subgraph]``. ``progress(fraction, phase)`` is called between
    phases; ``cancelled()`` is polled and raises ``LayoutCancelled`` when it returns True.
    ``char_w``/``row_char_w``: mean advance of a header / row character in the view's fonts
    (node widths are estimated from them). ``fold_constants=False`` leaves the weights/bias rows
    out of the op cards (View → Weights on Nodes off). ``fold_producers``: ops that read only
    constants (``core.graph.fold``: a DEQUANTIZE of fp16 weights) become rows of their
    consumers' cards; they stay nodes, not ``shown``, their ``owner`` the consumer.
    ``direction="LR"``: layers from left to right (for tall graphs), through ``transposed``."""
    sg: Subgraph = model.subgraphs[subgraph]
    lr = direction == "LR"
    step = Stepper(progress, cancelled)
    timings = step.timings

    step(0.0, "building graph")
    folded = constant_producers(sg) if fold_producers else {}
    g = _build_graph(sg, step, char_w, row_char_w, fold_constants, folded)
    step(P_LAYERING, "layering", "graph")
    n = g.n
    keep = np.ones(n, bool)
    keep[list(folded)] = False
    if lr:   # laid out top to bottom on swapped sizes, then transposed
        g.width, g.height = g.height, g.width
    pl = place(g if not folded else _kept(g, keep), step, order_sweeps, x_iters, max_dummies)
    c, lanes = pl.coords, pl.lanes
    route_off, route_pts, edge_box = pl.route_off, pl.route_pts, pl.edge_box
    gw, gh = pl.width, pl.height
    x, y = np.zeros(n), np.zeros(n)
    layer = np.full(n, -1, np.int32)
    m = int(keep.sum())
    x[keep], y[keep], layer[keep] = c.x[:m], c.y[:m], pl.layer
    owner = None
    if folded:   # a folded producer sits on its consumer's card
        owner = np.arange(g.n_ops, dtype=np.int32)
        for f in folded.values():
            owner[f.op] = f.consumer
        hid = np.flatnonzero(~keep)
        x[hid], y[hid] = x[owner[hid]], y[owner[hid]]
        g.width[hid], g.height[hid] = g.width[owner[hid]], g.height[owner[hid]]
    step(1.0, "done", "routes")
    timings["total"] = sum(timings.values())
    lay = GraphLayout(subgraph=subgraph, n_ops=g.n_ops, kind=g.kind, ref=g.ref,
                       labels=g.labels, categories=g.cats, rows=g.rows, x=x,
                       y=y, w=g.width, h=g.height, layer=layer,
                       shown=keep if folded else None, owner=owner,
                       edge_tensor=g.edge_tensor, edge_src=g.edge_src, edge_dst=g.edge_dst,
                       route_off=route_off, route_pts=route_pts, edge_box=edge_box, width=gw,
                       height=gh, n_layers=c.n_layers, n_dummies=lanes.total, timings=timings,
                       tensor_names=[t.name for t in sg.tensors],
                       edge_state=np.asarray([sg.tensors[t].dtype in STATE_DTYPES
                                              for t in g.edge_tensor.tolist()], bool))
    return transposed(lay) if lr else lay


def _kept(g: _Graph, keep: np.ndarray) -> _Graph:
    """``g`` without the nodes not kept (folded producers: they have no edges), renumbered."""
    new_id = np.cumsum(keep) - 1
    n_ops = int(keep[:g.n_ops].sum())
    return _Graph(n_ops, g.n_in, g.n_out, g.kind[keep], g.ref[keep], [], [], [],
                  g.width[keep], g.height[keep], g.edge_tensor,
                  new_id[g.edge_src].astype(np.int32), new_id[g.edge_dst].astype(np.int32),
                  g.edge_port, g.out_slot)


def _build_graph(sg: Subgraph, step: Step, char_w: float, row_char_w: float,
                 fold_constants: bool, folded: Mapping[int, FoldedProducer]) -> _Graph:
    """Phase 1 (graph): nodes, their header text, folded rows and size, and the edges. A tensor's
    producer is the graph input node when it is a graph input, else ``Subgraph.producers()``
    (the first writer, as the runtime's memory planner has it); tensors without a producer
    (weights, biases, variables) are folded into their consumers as rows."""
    ops = sg.operators
    tensors = sg.tensors
    n_ops = len(ops)
    in_tensors = [t for t in sg.inputs if t >= 0]
    out_tensors = [t for t in sg.outputs if t >= 0]
    n = n_ops + len(in_tensors) + len(out_tensors)

    kind = np.zeros(n, np.int8)
    ref = np.empty(n, np.int32)
    ref[:n_ops] = np.arange(n_ops)
    kind[n_ops:n_ops + len(in_tensors)] = NODE_INPUT
    kind[n_ops + len(in_tensors):] = NODE_OUTPUT
    ref[n_ops:] = in_tensors + out_tensors

    writers = sg.producers()
    notes = {f.output: f.note for f in folded.values()}
    for t in notes:
        writers.pop(t, None)
    inputs = {t: n_ops + j for j, t in enumerate(in_tensors)}
    producer: dict[int, int] = {**writers, **inputs}   # a graph input node wins over an op
    out_slot: dict[int, tuple[int, int]] = {}  # tensor -> (slot, n outputs) for ports
    for t, op_index in writers.items():
        if t not in inputs:
            outs = ops[op_index].outputs
            out_slot[t] = (0, 1) if len(outs) == 1 else (outs.index(t), len(outs))

    labels: list[str] = []
    cats: list[str] = []
    rows: list[list[tuple[str, str, int]]] = []
    width = np.empty(n)
    height = np.empty(n)
    e_t: list[int] = []
    e_s: list[int] = []
    e_d: list[int] = []
    e_port: list[float] = []  # fraction across the consumer's top edge
    # the fused activation in the header needs the options decoded (~40 us an op): skipped on
    # very big graphs, where it would dominate the layout time
    with_options = n_ops <= OPTIONS_IN_HEADER_MAX_OPS
    # variable ops name their variable in a row: the state they read or write
    state = variable_accesses(sg) if any(op.op in STATE_OPS for op in ops) else {}
    for op in ops:
        if op.index % GRAPH_PROGRESS_EVERY == GRAPH_PROGRESS_EVERY - 1:
            step(P_LAYERING * op.index / max(n_ops, 1), "building graph")
        header, rows_k, linked = op_card(op, sg, producer, fold_constants, state, with_options,
                                         notes)
        k = len(linked)
        for j, t in enumerate(linked):
            e_t.append(t)
            e_s.append(producer[t])
            e_d.append(op.index)
            e_port.append((j + 1) / (k + 1))
        labels.append(header)
        cats.append(op_facts.category(op.op))
        rows.append(rows_k)
        width[op.index], height[op.index] = card_size(header, rows_k, char_w, row_char_w)
    for j, t in enumerate(in_tensors + out_tensors):
        node = n_ops + j
        tt = tensors[t]
        label = fmt.elide(tt.name or f"tensor {t}", MAX_LABEL)
        labels.append(label)
        cats.append("input" if node < n_ops + len(in_tensors) else "output")
        rows.append([])
        # the pill's round ends take its height; names run a little wider than the mean
        # advance (at +2 PAD + 14 'serving_default_image:0' came out 7 px short, cut)
        width[node] = max(MIN_W, len(label) * row_char_w * 1.1 + IO_H + PAD)
        height[node] = IO_H
        if node >= n_ops + len(in_tensors) and t in producer:
            e_t.append(t)
            e_s.append(producer[t])
            e_d.append(node)
            e_port.append(0.5)
    return _Graph(n_ops, len(in_tensors), len(out_tensors), kind, ref, labels, cats, rows,
                  width, height, np.asarray(e_t, np.int32), np.asarray(e_s, np.int32),
                  np.asarray(e_d, np.int32), np.asarray(e_port, np.float64), out_slot)


def _lanes(g: _Graph, layer: np.ndarray, max_dummies: int) -> _Lanes:
    """Phase 3 (lanes): one chain of dummies per tensor spanning more than one layer, shared by
    all its consumers (past ``max_dummies`` the longest become direct curves), then the
    one-layer edges the ordering and x placement work on."""
    n, n_edges = g.n, len(g.edge_src)
    e_t = g.edge_tensor.tolist()
    t_src: dict[int, int] = {}
    t_maxl: dict[int, int] = {}
    for s, d, t in zip(g.edge_src.tolist(), g.edge_dst.tolist(), e_t, strict=False):
        t_src[t] = s
        ld = int(layer[d])
        if ld > t_maxl.get(t, -1):
            t_maxl[t] = ld
    spans = {t: t_maxl[t] - int(layer[s]) - 1 for t, s in t_src.items()}
    long_t = [t for t, sp in spans.items() if sp > 0]
    total = sum(spans[t] for t in long_t)
    if total > max_dummies:  # keep lanes for the shorter ones; the longest become direct curves
        long_t.sort(key=lambda t: spans[t])
        acc, keep = 0, []
        for t in long_t:
            if acc + spans[t] > max_dummies:
                break
            acc += spans[t]
            keep.append(t)
        long_t, total = keep, acc
    dummy_start: dict[int, int] = {}
    d_layer = np.empty(total, np.int32)
    d_src = np.empty(total, np.int32)
    pos = 0
    for t in long_t:
        sp = spans[t]
        s = t_src[t]
        dummy_start[t] = n + pos
        d_layer[pos:pos + sp] = np.arange(layer[s] + 1, layer[s] + 1 + sp)
        d_src[pos:pos + sp] = s
        pos += sp
    n_all = n + total
    all_layer = np.concatenate([layer, d_layer]).astype(np.int32)
    all_w = np.concatenate([g.width, np.full(total, DUMMY_W)])

    # proper (one-layer) edges of the layout graph, with weights for straightening
    pu: list[np.ndarray] = []
    pv: list[np.ndarray] = []
    if total:
        ids = np.arange(n, n_all, dtype=np.int32)
        # first dummy of each chain hangs from its source; the others from the previous dummy
        first = np.zeros(total, bool)
        first[[dummy_start[t] - n for t in long_t]] = True
        prev = np.where(first, d_src, ids - 1)
        pu.append(prev)
        pv.append(ids)
    lu = layer[g.edge_src]
    lv = layer[g.edge_dst]
    has_lane = np.array([t in dummy_start for t in e_t], bool) if n_edges else np.zeros(0, bool)
    lane_src = np.full(n_edges, -1, np.int64)
    if n_edges and has_lane.any():
        starts = np.array([dummy_start.get(t, -1) for t in e_t], np.int64)
        # the dummy just above the consumer: start + (layer[dst] - layer[src] - 2)
        lane_src = np.where(has_lane & (lv - lu > 1), starts + (lv - lu - 2), -1)
    direct = lane_src < 0
    pu.append(np.where(direct, g.edge_src, lane_src).astype(np.int32))
    pv.append(g.edge_dst)
    U = np.concatenate(pu)
    V = np.concatenate(pv)
    # direct edges spanning several layers (past the dummy budget) don't constrain ordering well
    proper = all_layer[V] - all_layer[U] == 1
    U, V = U[proper], V[proper]
    pair = np.unique(U.astype(np.int64) * n_all + V)
    U, V = (pair // n_all).astype(np.int32), (pair % n_all).astype(np.int32)
    return _Lanes(total, dummy_start, d_src, all_layer, all_w, direct, U, V)


def _initial_key(g: _Graph, lanes: _Lanes) -> np.ndarray:
    """Phase 4 (ordering): the starting order within each layer: ops in execution order, graph
    inputs before them, outputs after, each lane just after the node it hangs from."""
    n_ops, n_in, n = g.n_ops, g.n_in, g.n
    key = np.empty(n + lanes.total)
    key[:n_ops] = np.arange(n_ops)
    key[n_ops:n_ops + n_in] = -1.0 - np.arange(n_in)[::-1]
    key[n_ops + n_in:n] = n_ops + np.arange(g.n_out)
    if lanes.total:
        key[n:] = key[lanes.d_src] + 0.5
    return key


def _coordinates(g: _Graph, layer: np.ndarray, lanes: _Lanes, order: np.ndarray, x_iters: int,
                 step: Step) -> _Coords:
    """Phase 5 (coordinates): y from the layer heights (each node centred in its layer), x from
    ``_x_coordinates``; the whole picture shifted to a 20-unit margin on the left."""
    n, all_layer = g.n, lanes.all_layer
    n_all = n + lanes.total
    n_layers = int(all_layer.max()) + 1 if n_all else 0
    layer_h = np.zeros(max(n_layers, 1))
    if n:
        np.maximum.at(layer_h, layer, g.height)
    layer_top = np.concatenate([[0.0], np.cumsum(layer_h + LAYER_GAP)])[:max(n_layers, 1)] + 20.0
    all_h = np.concatenate([g.height, np.zeros(lanes.total)])
    cx = _x_coordinates(order, all_layer, lanes.all_w, lanes.U, lanes.V, n, x_iters, step)
    x = cx - lanes.all_w / 2
    ymid = layer_top[all_layer] + layer_h[all_layer] / 2
    y = ymid - all_h / 2
    if n_all:
        shift = 20.0 - x.min()
        x += shift
        cx += shift
    return _Coords(cx, x, y, layer_top, layer_h, n_layers)


def _edge_boxes(route_off: np.ndarray, route_pts: np.ndarray) -> np.ndarray:
    """Bounding box (xmin, ymin, xmax, ymax) of each edge's route, for culling."""
    if len(route_off) <= 1:
        return np.zeros((0, 4))
    seg = route_off[:-1]
    return np.stack([np.minimum.reduceat(route_pts[:, 0], seg),
                     np.minimum.reduceat(route_pts[:, 1], seg),
                     np.maximum.reduceat(route_pts[:, 0], seg),
                     np.maximum.reduceat(route_pts[:, 1], seg)], 1)


def _extent(g: _Graph, lanes: _Lanes, c: _Coords) -> tuple[float, float]:
    """Width and height of the scene: every node and lane, with a 20-unit margin."""
    n = g.n
    gw = float((c.x[:n] + g.width).max()) + 20.0 if n else 100.0
    if lanes.total:
        gw = max(gw, float(c.cx[n:].max()) + 20.0)
    gh = float((c.y[:n] + g.height).max()) + 20.0 if n else 100.0
    return gw, gh


def _longest_path_layers(n: int, src: np.ndarray, dst: np.ndarray, n_ops: int) -> np.ndarray:
    """Longest path from the sources; sources then sit one layer above their first consumer."""
    layer = [0] * n
    preds: list[list[int]] = [[] for _ in range(n)]
    for s, d in zip(src.tolist(), dst.tolist(), strict=False):
        preds[d].append(s)
    # execution order is topological for ops; inputs come first and outputs last
    io = range(n_ops, n)
    order = ([i for i in io if not preds[i]] + list(range(n_ops))
             + [i for i in io if preds[i]])
    is_topo = all(s >= n_ops or s < d for s, d in zip(src.tolist(), dst.tolist(), strict=False) if d < n_ops)
    if not is_topo:
        order = _kahn(n, src, dst)
    for v in order:
        p = preds[v]
        if p:
            layer[v] = max(layer[u] for u in p) + 1
    layer_a = np.asarray(layer, np.int32)
    # output nodes: one layer below their producer (set above via preds); sources pulled down
    has_pred = np.zeros(n, bool)
    has_pred[dst] = True
    if len(src):
        min_succ = np.full(n, np.iinfo(np.int32).max, np.int64)
        np.minimum.at(min_succ, src, layer_a[dst])
        pull = ~has_pred & (min_succ < np.iinfo(np.int32).max)
        layer_a[pull] = (min_succ[pull] - 1).astype(np.int32)
    if n:
        layer_a -= layer_a.min()
    return layer_a


def _kahn(n: int, src: np.ndarray, dst: np.ndarray) -> list[int]:
    indeg = np.bincount(dst, minlength=n).tolist()
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, d in zip(src.tolist(), dst.tolist(), strict=False):
        succ[s].append(d)
    ready = [i for i in range(n) if indeg[i] == 0]
    out: list[int] = []
    while ready:
        v = ready.pop()
        out.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    if len(out) < n:  # a cycle (invalid model): append the rest in index order
        seen = set(out)
        out += [i for i in range(n) if i not in seen]
    return out


def _ranks(order: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Position of each node within its layer, given the global (layer, position) order."""
    counts = np.bincount(layer, minlength=int(layer.max()) + 1 if len(layer) else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(order), np.float64)
    rank[order] = np.arange(len(order)) - starts[layer[order]]
    return rank


def _order(layer, U, V, key, sweeps, step) -> np.ndarray:
    """Barycentric ordering, all layers at once: each sweep sorts every layer by the mean
    position of the nodes' neighbours in the layer above (down sweeps) or below (up sweeps)."""
    n = len(layer)
    order = np.lexsort((key, layer))
    if n == 0 or len(U) == 0:
        return order
    for i in range(sweeps):
        pos = _ranks(order, layer)
        if i % 2 == 0:
            s = np.bincount(V, weights=pos[U], minlength=n)
            c = np.bincount(V, minlength=n)
        else:
            s = np.bincount(U, weights=pos[V], minlength=n)
            c = np.bincount(U, minlength=n)
        bary = np.where(c > 0, s / np.maximum(c, 1), pos)
        order = np.lexsort((pos, bary, layer))
        step(P_ORDERING + (P_COORDS - P_ORDERING) * (i + 1) / sweeps, "ordering")
    return order


def _push(c: np.ndarray, D: np.ndarray, span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In sorted (layer, position) order with D the minimal offsets from each layer's first
    node: the closest positions >= c (pushed right) and <= c (pushed left) that keep every
    pair of neighbours in a layer at least their separation apart; segmented cumulative
    max/min, all layers at once (``span`` = layer * big keeps the layers apart)."""
    v = c - D
    right = np.maximum.accumulate(v + span) - span + D
    left = np.minimum.accumulate((v + span)[::-1])[::-1] - span + D
    return right, left


def _x_coordinates(order, layer, w, U, V, n_real, iters, step) -> np.ndarray:
    """Centres: each node pulled to the weighted mean of its neighbours (long-edge lanes pull
    harder, to stay straight). Overlaps are then removed in two steps so that lanes give way to
    real nodes: real nodes first, among themselves, with room kept for the lanes between them
    (average of the right- and left-pushed solutions); then the lane dummies, clamped between
    their real neighbours."""
    n = len(layer)
    if n == 0:
        return np.zeros(0)
    L = layer[order]
    hw = w[order] / 2
    same = np.zeros(n, bool)
    same[1:] = L[1:] == L[:-1]
    is_dummy = order >= n_real
    gap = np.where(same[1:], hw[:-1] + hw[1:] + NODE_SEP, 0.0)
    gap = np.where(same[1:] & is_dummy[1:] & is_dummy[:-1], DUMMY_W + 6, gap)
    D = np.concatenate([[0.0], np.cumsum(gap)])
    layer_start = np.maximum.accumulate(np.where(~same, np.arange(n), 0))
    D = D - D[layer_start]                     # offsets from the layer's first node
    big = float(D.max() + 1e6) * 4 + 1e6
    span = L.astype(np.float64) * big
    real = ~is_dummy
    D_r, span_r = D[real], span[real]
    inf = np.inf

    cx = np.empty(n)
    cx[order] = D  # packed to the left, in order
    if not len(U):
        return cx
    dummy_u = U >= n_real
    dummy_v = V >= n_real
    # weight of the pull on U from V (wu) and on V from U (wv): lanes pull each other hard,
    # a lane is pulled by its real end nodes, a real node hardly by its lanes
    both = dummy_u & dummy_v
    wu = np.where(both, 8.0, np.where(dummy_u, 2.0, np.where(dummy_v, 0.15, 1.0)))
    wv = np.where(both, 8.0, np.where(dummy_v, 2.0, np.where(dummy_u, 0.15, 1.0)))
    deg = np.bincount(U, weights=wu, minlength=n) + np.bincount(V, weights=wv, minlength=n)
    for i in range(iters):
        s = (np.bincount(U, weights=wu * cx[V], minlength=n)
             + np.bincount(V, weights=wv * cx[U], minlength=n))
        want = np.where(deg > 0, s / np.maximum(deg, 1e-9), cx)
        want = (0.3 * cx + 0.7 * want)[order]
        # real nodes
        r, left = _push(want[real], D_r, span_r)
        xr = (r + left) / 2
        # lanes: between the real neighbours' bounds, then apart from each other
        vr = np.full(n, -inf)
        vr[real] = xr - D_r
        lo = np.maximum.accumulate(vr + span) - span + D
        vr[real] = xr - D_r
        vr2 = np.full(n, inf)
        vr2[real] = xr - D_r
        hi = np.minimum.accumulate((vr2 + span)[::-1])[::-1] - span + D
        c = np.clip(want, lo, hi)
        c[real] = xr
        r, left = _push(c, D, span)
        c = np.clip((r + left) / 2, lo, hi)
        c[real] = xr
        cx[order] = c
        if i % 6 == 5:
            step(P_COORDS + (P_ROUTES - P_COORDS) * (i + 1) / iters, "coordinates")
    return cx


def _routes(src, dst, tensor, port, direct, dummy_start, out_slot, layer, cx, x, y, w, h,
            layer_top, layer_h, kind):
    n_edges = len(src)
    off = np.zeros(n_edges + 1, np.int64)
    pts: list[tuple[float, float]] = []
    cx_l = cx.tolist()
    x_l, y_l, w_l, h_l = x.tolist(), y.tolist(), w.tolist(), h.tolist()
    lay = layer.tolist()
    top_l = layer_top.tolist()
    lh_l = layer_h.tolist()
    kinds = kind.tolist()
    for e, (s, d, t, pf, dr) in enumerate(zip(src.tolist(), dst.tolist(), tensor.tolist(),
                                              port.tolist(), direct.tolist(), strict=False)):
        if kinds[s] == NODE_OP and t in out_slot:
            slot, k = out_slot[t]
            sx = x_l[s] + w_l[s] * (slot + 1) / (k + 1)
        else:
            sx = cx_l[s]
        pts.append((sx, y_l[s] + h_l[s]))
        if not dr:
            first = dummy_start[t]
            for j in range(lay[d] - lay[s] - 1):
                dn = first + j
                ly = lay[dn]
                pts.append((cx_l[dn], top_l[ly]))
                pts.append((cx_l[dn], top_l[ly] + lh_l[ly]))
        dx = x_l[d] + w_l[d] * pf if kinds[d] == NODE_OP else cx_l[d]
        pts.append((dx, y_l[d]))
        off[e + 1] = len(pts)
    return off, np.asarray(pts, np.float64).reshape(-1, 2)
