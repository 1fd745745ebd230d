"""TFLM's GreedyMemoryPlanner over the same model: one region for every subgraph, sizes rounded
to 16 bytes, largest first, first fit, no in-place sharing, offline offsets honoured.

TFLM's own kernel scratch buffers differ from LiteRT's temporaries and are not modelled; the
plan covers the model's non-constant tensors.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from core.analysis.memory import kernels as K
from core.analysis.memory.arena import greedy_first_fit
from core.model.types import Model

OFFLINE_METADATA = "OfflineMemoryAllocation"


@dataclass
class TflmTensor:
    subgraph: int
    index: int
    offset: int
    bytes: int
    first_op: int
    last_op: int


def offline_offsets(model: Model) -> dict[tuple[int, int], int]:
    """(subgraph, tensor) -> offset from the ``OfflineMemoryAllocation`` metadata
    ([version, subgraph, count, offsets...] int32; -1 = plan online)."""
    raw = model.metadata_bytes(OFFLINE_METADATA)
    if not raw or len(raw) < 12:
        return {}
    words = struct.unpack(f"<{len(raw) // 4}i", raw[:len(raw) // 4 * 4])
    sg, count = words[1], words[2]
    return {(sg, i): off for i, off in enumerate(words[3:3 + count]) if off >= 0}


def plan_tflm(model: Model) -> tuple[list[TflmTensor], int]:
    """All subgraphs on one timeline (subgraph after subgraph), one shared region."""
    sizes, firsts, lasts, keys, local = [], [], [], [], []
    step = 0
    for sg in model.subgraphs:
        n = len(sg.operators)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for t in sg.inputs:
            if t >= 0:
                first[t] = 0
        for i, op in enumerate(sg.operators):
            for t in op.inputs:
                if t >= 0:
                    last[t] = i
            for t in op.outputs:
                if t >= 0:
                    first.setdefault(t, i)
                    last.setdefault(t, i)
        for t in sg.outputs:
            if t >= 0:
                last[t] = max(n - 1, 0)
                first.setdefault(t, 0)
        for t, f in first.items():
            tt = sg.tensors[t]
            if tt.constant or tt.variable or tt.dtype in K.HEAP_TYPES:
                continue
            sizes.append(K.nbytes(tt.dtype, tt.shape))
            firsts.append(step + f)
            lasts.append(step + max(last.get(t, f), f))
            keys.append((sg.index, t))
            local.append((f, max(last.get(t, f), f)))
        step += max(n, 1)
    fixed_at = offline_offsets(model)
    fixed = {i: fixed_at[k] for i, k in enumerate(keys) if k in fixed_at}
    offsets, arena = greedy_first_fit(sizes, firsts, lasts, fixed)
    out = [TflmTensor(k[0], k[1], o, s, f, last)
           for k, o, s, (f, last) in zip(keys, offsets, sizes, local, strict=False)]
    return out, arena
