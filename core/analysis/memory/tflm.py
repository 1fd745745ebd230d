"""TensorFlow Lite Micro's arena, as its MicroAllocator lays it out: the head (non-persistent:
every planned tensor and kernel scratch buffer of every subgraph, one region) planned exactly as
its GreedyMemoryPlanner does, and the tail (persistent: what lives as long as the interpreter).

Head (micro_allocation_info.cc, greedy_memory_planner.cc):
- lifetimes are "allocation scopes": each op of the subgraph being walked opens a new scope, and
  a control-flow op (IF, WHILE, CALL_ONCE) walks its subgraphs right there, nested, before its
  inputs' last use is marked — a branch's tensors live inside the op that runs it, and a subgraph
  reached twice spans both visits; subgraph inputs are created at the scope the walk entered
  with, outputs live to the scope it leaves with;
- planned: tensors with no constant data, not variables, with bytes > 0; sizes rounded up to 16;
  kernel scratch buffers live from their op's scope (before its subgraphs) to its end;
- offline-planned offsets (``OfflineMemoryAllocation`` metadata, one array over every tensor of
  every subgraph) are placed first, where they say;
- the rest, largest first — ties in reverse order of addition (the planner fills its sort array
  from the back and bubble-sorts, which is stable) — each at the lowest offset between the
  already placed buffers whose lifetimes overlap (first fit);
- the head is the furthest byte.

Tail: the parts TFLM allocates per tensor/op/subgraph are counted exactly (eval tensors, node and
registration structs, subgraph allocations, scratch buffer handles, the persistent TfLiteTensors
the Python interpreter keeps for the model's inputs and outputs and their quantization, resource
variables); what the kernels keep in Init/Prepare (op data, per-channel multipliers) and their
parsed options follow a per-op table measured with tflite-micro (tflm.json ``persistent``). The
tail is an estimate (``tail_exact`` false): TFLM aligns each allocation as it makes it, an order
not modelled; on the shared and test models it is 0.1-6 % above TFLM's own figure.
``--runtime`` reads the real figures, ``--find-arena`` the smallest arena that works.
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from core.analysis.memory.arena import align_up
from core.model.types import Model, Operator, Subgraph

OFFLINE_METADATA = "OfflineMemoryAllocation"
ALIGNMENT = 16                 # MicroArenaBufferAlignment()
_ITEM = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int16": 2, "int32": 4,
         "uint32": 4, "uint8": 1, "uint16": 2, "int8": 1, "int64": 8, "uint64": 8, "bool": 1,
         "resource": 4, "complex64": 8, "complex128": 16, "int4": 1}

# sizes on a 64-bit build (the tflite-micro wheel): sizeof(...) of TFLM's structs
EVAL_TENSOR = 24               # TfLiteEvalTensor
NODE_AND_REGISTRATION = 64     # NodeAndRegistration
TFLITE_TENSOR = 64             # persistent TfLiteTensor (the interpreter's inputs/outputs)
SUBGRAPH_ALLOCATIONS = 16      # SubgraphAllocations
SCRATCH_HANDLE = 8             # ScratchBufferHandle
AFFINE_QUANTIZATION = 16       # TfLiteAffineQuantization, plus its int arrays
# allocator, planner, context and resource-variable objects the interpreter builds in the tail:
# the part of the tail the wheel's smallest models (one op, one subgraph) show beyond the items
# above, read from its recording allocator
FIXED_TAIL = 512


@dataclass
class TflmTensor:
    subgraph: int
    index: int              # tensor index; -1 for a kernel scratch buffer
    offset: int
    bytes: int
    first_op: int           # op index in its own subgraph (scratch: its op)
    last_op: int
    scratch_of: int | None = None   # the op a scratch buffer belongs to


@dataclass
class TflmPlan:
    buffers: list[TflmTensor]
    head_bytes: int
    tail_bytes: int
    tail_parts: dict[str, int] = field(default_factory=dict)
    tail_exact: bool = False

    @property
    def total_bytes(self) -> int:
        return self.head_bytes + self.tail_bytes


def tensor_bytes(dtype: str, shape) -> int:
    """TfLiteEvalTensorByteLength: elements × TFLM's type size (a scalar is one element)."""
    n = 1
    for d in shape:
        n *= int(d)
    return max(n, 0) * _ITEM.get(dtype, 1)


def offline_offsets(model: Model) -> dict[tuple[int, int], int]:
    """(subgraph, tensor) -> offset from the ``OfflineMemoryAllocation`` metadata: [version,
    subgraph, count, offsets...] int32, one offset per tensor of every subgraph in order (-1 =
    plan online). A count that is not the model's tensor count is TFLM's load error; ignored."""
    raw = model.metadata_bytes(OFFLINE_METADATA)
    if not raw or len(raw) < 12:
        return {}
    words = struct.unpack(f"<{len(raw) // 4}i", raw[:len(raw) // 4 * 4])
    count = words[2]
    keys = [(sg.index, t) for sg in model.subgraphs for t in range(len(sg.tensors))]
    if count != len(keys) or len(words) < 3 + count:
        return {}
    return {k: off for k, off in zip(keys, words[3:3 + count], strict=True) if off >= 0}


# -- kernel scratch buffers (RequestScratchBufferInArena in the reference kernels' Prepare) --
def scratch_requests(sg: Subgraph, op: Operator) -> list[int]:
    """Bytes of each scratch buffer the op's Prepare requests, in request order."""
    ts = sg.tensors

    def t(k: int, outputs: bool = False):
        idx = op.outputs if outputs else op.inputs
        return ts[idx[k]] if k < len(idx) and idx[k] >= 0 else None

    def elements(x) -> int:
        n = 1
        for d in x.shape:
            n *= int(d)
        return n
    x, y = t(0), t(0, True)
    name = op.op
    if name in ("MEAN", "SUM") and x is not None and y is not None:
        axis = t(1)
        out = [4 * elements(y)] if x.dtype in ("int8", "int16") else []
        return out + [4 * len(x.shape), 4 * (elements(axis) if axis is not None else 0)]
    if name in ("REDUCE_MAX", "REDUCE_MIN", "REDUCE_ALL") and x is not None:
        axis = t(1)
        return [4 * len(x.shape), 4 * (elements(axis) if axis is not None else 0)]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w = t(1)
        return [elements(w)] if w is not None and w.dtype == "int4" else []
    if name == "TRANSPOSE_CONV" and y is not None:
        data = t(2)
        out = []
        if data is not None and data.dtype == "int8":
            out.append(4 * elements(y))
        if data is not None and data.dtype == "int16":
            out.append(8 * elements(y))
            b = t(3)
            if b is not None and b.dtype == "int16":
                out.insert(0, 8 * elements(b))
        return out
    if name == "ADD_N" and y is not None and y.dtype in ("float32", "int8"):
        return [8 * len(op.inputs)]
    if name == "MIRROR_PAD" and x is not None:
        return [4 * len(x.shape), 4 * len(x.shape)]
    return []


def _control_flow_subgraphs(op: Operator) -> list[int]:
    o = op.options
    if op.op == "IF":
        return [o.get("then_subgraph_index", -1), o.get("else_subgraph_index", -1)]
    if op.op == "CALL_ONCE":
        return [o.get("init_subgraph_index", -1)]
    if op.op == "WHILE":
        return [o.get("cond_subgraph_index", -1), o.get("body_subgraph_index", -1)]
    return []


class _Lifetimes:
    """AllocationInfoBuilder::MarkAllocationLifetimes, from subgraph 0, recursing into
    control-flow subgraphs where their op runs."""

    def __init__(self, model: Model):
        self.model = model
        self.scope = 0
        self.first: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], int] = {}
        # scratch (subgraph, op) -> [first, last]
        self.scratch: dict[tuple[int, int], list[int]] = {}
        self.depth = 0

    def created(self, key, scope: int) -> None:
        self.first.setdefault(key, scope)

    def used(self, key, scope: int) -> None:
        self.last[key] = scope

    def walk(self, si: int) -> None:
        if not 0 <= si < len(self.model.subgraphs) or self.depth > 64:
            return      # a bad index or a cycle: TFLM fails to load such a model
        self.depth += 1
        sg = self.model.subgraphs[si]
        for t in sg.inputs:
            if t >= 0:
                self.created((si, t), self.scope)
                self.used((si, t), self.scope)
        for i, op in enumerate(sg.operators):
            self.scope += 1
            for t in op.outputs:
                if t >= 0:
                    self.created((si, t), self.scope)
            start = self.scope
            for sub in _control_flow_subgraphs(op):
                if sub is not None and sub >= 0:
                    self.scope += 1
                    self.walk(sub)
            for t in op.inputs:
                if t >= 0:
                    self.used((si, t), self.scope)
            for t in op.outputs:
                if t >= 0:
                    self.used((si, t), self.scope)
            span = self.scratch.get((si, i))
            if span is None:
                self.scratch[(si, i)] = [start, self.scope]
            else:
                span[1] = self.scope
        for t in sg.outputs:
            if t >= 0:
                self.created((si, t), self.scope)
                self.used((si, t), self.scope)
        self.depth -= 1


def greedy_offsets(sizes: list[int], firsts: list[int], lasts: list[int],
                   fixed: dict[int, int]) -> tuple[list[int], int]:
    """GreedyMemoryPlanner::CalculateOffsetsIfNeeded over buffers in addition order (sizes
    already rounded; ``fixed``: buffer -> offline offset). -> (offsets, furthest byte).

    TFLM walks its offset-sorted list of every placed buffer; only those alive at the same time
    matter, so they are found through a per-scope index (equal offsets in placement order, as
    the planner inserts after equals)."""
    n = len(sizes)
    offsets = [0] * n
    online = [i for i in range(n) if i not in fixed]
    # filled from the back, then a stable descending sort: equal sizes in reverse order
    order = [i for i in range(n) if i in fixed] + sorted(reversed(online),
                                                         key=lambda i: -sizes[i])
    lo = min(firsts, default=0)
    steps = (max(lasts, default=0) - lo + 1) if n else 0
    alive: list[list[int]] = [[] for _ in range(steps)]
    seq = [0] * n
    for k, i in enumerate(order):
        seq[i] = k
        f, last, size = firsts[i], lasts[i], sizes[i]
        if i in fixed:
            cand = fixed[i]
        else:
            span = range(f - lo, last - lo + 1)
            near = alive[span[0]] if len(span) == 1 else \
                list({j for s in span for j in alive[s]})
            cand = 0
            for j in sorted(near, key=lambda j: (offsets[j], seq[j])):
                if offsets[j] - cand >= size:
                    break
                cand = max(cand, offsets[j] + sizes[j])
        offsets[i] = cand
        for s in range(f - lo, last - lo + 1):
            alive[s].append(i)
    head = max((offsets[i] + sizes[i] for i in range(n)), default=0)
    return offsets, head


def plan_head(model: Model) -> tuple[list[TflmTensor], int]:
    """Every planned buffer (tensors of all subgraphs, then scratch buffers) with TFLM's offsets,
    and the head size."""
    life = _Lifetimes(model)
    life.walk(0)
    fixed_at = offline_offsets(model)
    # VAR_HANDLE's Prepare points its output at the resource id in its op data: not planned
    handles = {(sg.index, t) for sg in model.subgraphs for op in sg.operators
               if op.op == "VAR_HANDLE" for t in op.outputs}
    keys: list[tuple[int, int, int | None]] = []    # (subgraph, tensor or -1, scratch op)
    sizes: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    fixed: dict[int, int] = {}
    for sg in model.subgraphs:
        for t in sg.tensors:
            key = (sg.index, t.index)
            nb = tensor_bytes(t.dtype, t.shape)
            offline = key in fixed_at
            if t.constant or nb == 0 or (t.variable and not offline) or key in handles:
                continue
            if offline:
                fixed[len(sizes)] = fixed_at[key]
            keys.append((sg.index, t.index, None))
            sizes.append(align_up(nb, ALIGNMENT))
            firsts.append(life.first.get(key, -1))
            lasts.append(life.last.get(key, -1))
    for sg in model.subgraphs:          # Prepare runs subgraph by subgraph, op by op
        for i, op in enumerate(sg.operators):
            span = life.scratch.get((sg.index, i), [-1, -1])
            for nb in scratch_requests(sg, op):
                keys.append((sg.index, -1, i))
                sizes.append(align_up(nb, ALIGNMENT))
                firsts.append(span[0])
                lasts.append(span[1])
    offsets, head = greedy_offsets(sizes, firsts, lasts, fixed)
    local = _local_steps(model)
    out = []
    for (si, ti, owner), off, nb, f, last in zip(keys, offsets, sizes, firsts, lasts,
                                                 strict=True):
        out.append(TflmTensor(si, ti, off, nb, local(si, f), local(si, last), owner))
    return out, head


def _local_steps(model: Model):
    """scope -> op index in its own subgraph (for the per-subgraph view of the plan): the op
    whose scope is the last at or before it."""
    op_scopes: dict[int, list[int]] = {}
    scope = 0

    def mark(si: int, depth: int = 0) -> None:
        nonlocal scope
        if not 0 <= si < len(model.subgraphs) or depth > 64:
            return
        for op in model.subgraphs[si].operators:
            scope += 1
            op_scopes.setdefault(si, []).append(scope)
            for sub in _control_flow_subgraphs(op):
                if sub is not None and sub >= 0:
                    scope += 1
                    mark(sub, depth + 1)
    mark(0)

    def local(si: int, s: int) -> int:
        scopes = op_scopes.get(si)
        if not scopes:
            return 0
        return max(bisect.bisect_right(scopes, s) - 1, 0)
    return local


# -- the tail --------------------------------------------------------------------------------
def _per_channel(sg: Subgraph, op: Operator) -> int:
    """Output channels of a conv-like op (its per-channel multiplier/shift arrays)."""
    k = 1
    if k < len(op.inputs) and op.inputs[k] >= 0:
        w = sg.tensors[op.inputs[k]]
        if w.shape:
            return int(w.shape[-1] if op.op == "DEPTHWISE_CONV_2D" else w.shape[0])
    return 0


def kernel_persistent(sg: Subgraph, op: Operator, table: dict) -> tuple[int, int]:
    """(kernel bytes, builtin-options bytes) the op keeps for the interpreter's lifetime: op
    data from Init/Prepare (each allocation rounded to 16) and its parsed options, from the TFLM
    table's per-op figures."""
    fact = table.get(op.op)
    if fact is None:
        fact = table.get("_default") or {}
    total = align_up(int(fact.get("op_data", 0)), ALIGNMENT)
    per = fact.get("per_channel_arrays", 0)
    if per:
        total += per * align_up(4 * _per_channel(sg, op), ALIGNMENT)
    return total, align_up(int(fact.get("builtin", 0)), 8)


def _resource_variables(model: Model) -> int:
    """Bytes of the resource variables' buffers (MicroResourceVariables allocates each on its
    first ASSIGN_VARIABLE, sized like the value assigned), one per shared name."""
    sizes: dict[str, int] = {}
    for sg in model.subgraphs:
        name_of = {op.outputs[0]: str(op.options.get("shared_name") or "")
                   for op in sg.operators if op.op == "VAR_HANDLE" and op.outputs}
        for op in sg.operators:
            if op.op == "ASSIGN_VARIABLE" and len(op.inputs) > 1 and op.inputs[0] in name_of:
                v = sg.tensors[op.inputs[1]]
                sizes.setdefault(name_of[op.inputs[0]],
                                 align_up(tensor_bytes(v.dtype, v.shape), ALIGNMENT))
    return sum(sizes.values())


def plan_tail(model: Model, scratch_count: int) -> tuple[int, dict[str, int], bool]:
    from core.model.ops import delegate_table
    table = delegate_table("tflm").get("persistent", {})
    parts = {
        "eval_tensors": sum(EVAL_TENSOR * len(sg.tensors) for sg in model.subgraphs),
        "node_and_registration": sum(align_up(NODE_AND_REGISTRATION * len(sg.operators),
                                              ALIGNMENT) for sg in model.subgraphs),
        "subgraph_allocations": align_up(SUBGRAPH_ALLOCATIONS * len(model.subgraphs), ALIGNMENT),
        "scratch_handles": align_up(SCRATCH_HANDLE * scratch_count, ALIGNMENT)
        if scratch_count else 0,
    }
    io = 0
    quant = 0
    if model.subgraphs:
        sg0 = model.subgraphs[0]
        for t in list(sg0.inputs) + list(sg0.outputs):
            if t < 0:
                continue
            io += TFLITE_TENSOR
            q = sg0.tensors[t].quantization
            if q is not None and q.scale:
                n = len(q.scale)
                # the affine struct, its scale array and zero-point array (TfLiteIntArray)
                quant += align_up(AFFINE_QUANTIZATION, ALIGNMENT) + \
                    align_up(4 + 4 * n, ALIGNMENT)
    parts["persistent_tflite_tensors"] = io
    parts["quantization_data"] = quant
    variables = sum(align_up(tensor_bytes(t.dtype, t.shape), ALIGNMENT)
                    for sg in model.subgraphs for t in sg.tensors if t.variable)
    parts["variable_tensors"] = variables
    parts["resource_variables"] = _resource_variables(model)
    kernels = builtin = 0
    for sg in model.subgraphs:
        for op in sg.operators:
            k, b = kernel_persistent(sg, op, table)
            kernels += k
            builtin += b
    parts["kernel_data"] = kernels
    parts["builtin_options"] = builtin
    parts["allocator_objects"] = FIXED_TAIL
    # the allocations are aligned one by one as they are made, an order not modelled here
    return align_up(sum(parts.values()), ALIGNMENT), parts, False


def plan_tflm(model: Model) -> TflmPlan:
    buffers, head = plan_head(model)
    scratch = sum(1 for b in buffers if b.index < 0)
    tail, parts, exact = plan_tail(model, scratch)
    return TflmPlan(buffers, head, tail, parts, exact)
