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
    """

    def __init__(self, capacity: int, alignment: int = 64):
        self.alignment = alignment
        self.first = np.empty(max(capacity, 1), np.int64)
        self.last = np.empty(max(capacity, 1), np.int64)
        self.offset = np.empty(max(capacity, 1), np.int64)
        self.end = np.empty(max(capacity, 1), np.int64)
        self.n = 0
        self.high_water_mark = 0

    def allocate(self, size: int, first: int, last: int) -> int:
        if size == 0:
            return 0
        k = self.n
        al = self.alignment
        best, best_fit = -1, None
        current = 0
        if k:
            hit = np.flatnonzero((self.last[:k] >= first) & (self.first[:k] <= last))
            if hit.size:
                # walk by offset; equal offsets in insertion order (the runtime inserts after
                # equals with upper_bound)
                hit = hit[np.lexsort((hit, self.offset[hit]))]
                offs = self.offset[hit].tolist()
                ends = self.end[hit].tolist()
                for off, end in zip(offs, ends):
                    aligned = -(-current // al) * al
                    if aligned + size <= off and (best_fit is None or off - aligned < best_fit):
                        best, best_fit = aligned, off - current
                    if end > current:
                        current = end
                    if best_fit == 0:
                        break
        if best < 0:
            best = -(-current // al) * al
        if k == len(self.first):
            self._grow()
        self.first[k], self.last[k], self.offset[k], self.end[k] = first, last, best, best + size
        self.n = k + 1
        self.high_water_mark = max(self.high_water_mark, best + size)
        return best

    def _grow(self) -> None:
        for name in ("first", "last", "offset", "end"):
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.empty_like(arr)]))


def greedy_first_fit(sizes: list[int], firsts: list[int], lasts: list[int],
                     fixed: dict[int, int] | None = None,
                     alignment: int = 16) -> tuple[list[int], int]:
    """TFLM's GreedyMemoryPlanner: sizes rounded up to ``alignment``, buffers with offline
    offsets (``fixed``: buffer -> offset) placed first where they say, then the rest largest
    first (ties by buffer order), each at the lowest offset that fits between the already
    placed buffers whose lifetimes overlap (first fit). Returns (offsets, arena bytes)."""
    fixed = fixed or {}
    n = len(sizes)
    rounded = np.array([align_up(s, alignment) for s in sizes], np.int64)
    first = np.asarray(firsts, np.int64)
    last = np.asarray(lasts, np.int64)
    offsets = np.zeros(n, np.int64)
    placed = np.zeros(n, bool)
    for i, off in fixed.items():
        offsets[i] = off
        placed[i] = True
    order = sorted((i for i in range(n) if i not in fixed), key=lambda i: (-rounded[i], i))
    for i in order:
        size = int(rounded[i])
        hit = np.flatnonzero(placed & (last >= first[i]) & (first <= last[i]) & (rounded > 0))
        candidate = 0
        if hit.size:
            starts = offsets[hit]
            k = np.argsort(starts, kind="stable")
            for start, end in zip(starts[k].tolist(), (starts + rounded[hit])[k].tolist()):
                if candidate + size <= start:
                    break
                candidate = max(candidate, end)
        offsets[i] = candidate
        placed[i] = True
    arena = int((offsets + rounded).max()) if n else 0
    return offsets.tolist(), arena


def live_bytes(sizes: list[int], firsts: list[int], lasts: list[int], steps: int) -> np.ndarray:
    """Bytes alive at each step 0..steps-1 (lifetimes inclusive, open ends clipped)."""
    delta = np.zeros(steps + 1, np.int64)
    for s, f, l in zip(sizes, firsts, lasts):
        if s and f < steps:
            delta[max(f, 0)] += s
            delta[min(l, steps - 1) + 1] -= s
    return np.cumsum(delta[:-1])
