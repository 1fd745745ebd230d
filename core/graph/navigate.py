"""Keyboard moves between the nodes of a laid-out graph: along edges (down to a consumer, up to
a producer) and across a layer (left/right neighbour). Pure arithmetic on the layout, so the
graph view only maps keys to directions."""
from __future__ import annotations

import numpy as np

from core.graph.layout import GraphLayout

DIRECTIONS = ("up", "down", "left", "right")


def neighbour(lay: GraphLayout, node: int, direction: str) -> int | None:
    """The node a move from ``node`` lands on, or None when there is none that way.

    down/up follow the node's outgoing/incoming edges to the linked node nearest in x (the one
    the eye follows); left/right step to the nearest node of the same layer on that side."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    cx = lay.x + lay.w / 2
    if direction in ("down", "up"):
        ends = (lay.edge_dst[lay.edge_src == node] if direction == "down"
                else lay.edge_src[lay.edge_dst == node])
        ends = np.unique(ends)
        if not len(ends):
            return None
        return int(ends[np.lexsort((lay.y[ends], np.abs(cx[ends] - cx[node])))[0]])
    same = np.flatnonzero(lay.layer[:lay.n_nodes] == lay.layer[node])
    dx = cx[same] - cx[node]
    side = same[(dx < 0) if direction == "left" else (dx > 0)]
    if not len(side):
        return None
    return int(side[np.argmin(np.abs(cx[side] - cx[node]))])
