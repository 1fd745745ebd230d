"""Offset assignment: LiteRT's best-fit arena, TFLM's greedy first-fit, and the lower bound.

All three take buffers with inclusive node lifetimes ``[first, last]`` and return byte offsets;
two buffers may share bytes only when their lifetimes do not overlap.
"""
from __future__ import annotations

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
        if len(span) == 1:
            near = self.alive[span[0]]
        else:
            near = {j for s in span for j in self.alive[s]}
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


def greedy_first_fit(sizes: list[int], firsts: list[int], lasts: list[int],
                     fixed: dict[int, int] | None = None,
                     alignment: int = 16) -> tuple[list[int], int]:
    """TFLM's GreedyMemoryPlanner: sizes rounded up to ``alignment``, buffers with offline
    offsets (``fixed``: buffer -> offset) placed first where they say, then the rest largest
    first (ties by buffer order), each at the lowest offset that fits between the already
    placed buffers whose lifetimes overlap (first fit). Returns (offsets, arena bytes)."""
    fixed = fixed or {}
    n = len(sizes)
    rounded = [align_up(s, alignment) for s in sizes]
    offsets = [0] * n
    # placed buffers indexed by the steps they live in: an overlap query reads only the steps
    # of the new buffer's lifetime (lifetimes are short in real graphs)
    steps = (max(lasts) + 1) if n else 0
    alive: list[list[int]] = [[] for _ in range(steps)]

    def place(i: int, off: int) -> None:
        offsets[i] = off
        if rounded[i]:
            for s in range(firsts[i], lasts[i] + 1):
                alive[s].append(i)

    for i, off in fixed.items():
        place(i, off)
    order = sorted((i for i in range(n) if i not in fixed), key=lambda i: (-rounded[i], i))
    for i in order:
        size = rounded[i]
        if lasts[i] - firsts[i] == 0:
            near = alive[firsts[i]]
        else:
            near = {j for s in range(firsts[i], lasts[i] + 1) for j in alive[s]}
        candidate = 0
        for start, end in sorted((offsets[j], offsets[j] + rounded[j]) for j in near):
            if candidate + size <= start:
                break
            candidate = max(candidate, end)
        place(i, candidate)
    arena = max((o + r for o, r in zip(offsets, rounded, strict=False)), default=0)
    return offsets, arena


def live_bytes(sizes: list[int], firsts: list[int], lasts: list[int], steps: int) -> np.ndarray:
    """Bytes alive at each step 0..steps-1 (lifetimes inclusive, open ends clipped)."""
    delta = np.zeros(steps + 1, np.int64)
    for s, f, last in zip(sizes, firsts, lasts, strict=False):
        if s and f < steps:
            delta[max(f, 0)] += s
            delta[min(last, steps - 1) + 1] -= s
    return np.cumsum(delta[:-1])
