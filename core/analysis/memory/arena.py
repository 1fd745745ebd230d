"""Offset assignment: LiteRT's best-fit arena and the lower bound (TFLM's greedy planner is in
``tflm.py``).

Both take buffers with inclusive node lifetimes ``[first, last]`` and return byte offsets;
two buffers may share bytes only when their lifetimes do not overlap.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

NEVER = 2**31 - 1  # the runtime's "no node" (INT32_MAX): alive to the end


def align_up(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


class BestFitArena:
    """LiteRT's ``SimpleMemoryArena::Allocate``: each new buffer goes into the tightest gap left
    between already placed buffers whose lifetimes overlap its own (walked by offset), or after
    the last of them; offsets are aligned, the arena's size is the high-water mark.

    One quirk is kept on purpose: a gap is accepted when its *aligned* slack beats the best
    *unaligned* slack seen so far, as the runtime compares them.

    ``steps`` (the subgraph's op count) lets the overlap query read only the steps a buffer
    lives in; lifetimes past the last step (NEVER) are clipped to it.
    """

    def __init__(self, steps: int, alignment: int = 64):
        self.alignment = alignment
        self.steps = max(steps, 1)
        self.alive: list[list[int]] = [[] for _ in range(self.steps)]
        self.offset: list[int] = []
        self.end: list[int] = []
        self.high_water_mark = 0

    def _span(self, first: int, last: int) -> range:
        return range(min(max(first, 0), self.steps - 1), min(last, self.steps - 1) + 1)

    def allocate(self, size: int, first: int, last: int) -> int:
        if size == 0:
            return 0
        al = self.alignment
        span = self._span(first, last)
        near: Iterable[int] = (self.alive[span[0]] if len(span) == 1 else
                               {j for s in span for j in self.alive[s]})
        best, best_fit = -1, None
        current = 0
        # walk by offset; equal offsets in insertion order (the runtime inserts after equals)
        for j in sorted(near, key=lambda j: (self.offset[j], j)):
            off = self.offset[j]
            aligned = -(-current // al) * al
            if aligned + size <= off and (best_fit is None or off - aligned < best_fit):
                best, best_fit = aligned, off - current
            if self.end[j] > current:
                current = self.end[j]
            if best_fit == 0:
                break
        if best < 0:
            best = -(-current // al) * al
        k = len(self.offset)
        self.offset.append(best)
        self.end.append(best + size)
        for s in span:
            self.alive[s].append(k)
        self.high_water_mark = max(self.high_water_mark, best + size)
        return best


def live_bytes(sizes: list[int], firsts: list[int], lasts: list[int], steps: int) -> np.ndarray:
    """Bytes alive at each step 0..steps-1 (lifetimes inclusive, open ends clipped)."""
    delta = np.zeros(steps + 1, np.int64)
    for s, f, last in zip(sizes, firsts, lasts, strict=False):
        if s and f < steps:
            delta[max(f, 0)] += s
            delta[min(last, steps - 1) + 1] -= s
    return np.cumsum(delta[:-1])
