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

Tail (single_arena_buffer_allocator.cc): TFLM grows it down from the arena's end, aligning each
allocation as it makes it, so it is replayed allocation by allocation in TFLM's order with each
struct's size and alignment on the wheel's 64-bit build: the allocator objects, resource
variables, eval tensors, node structs, every op's parsed options, every kernel's Init then
Prepare data (op data, per-channel multipliers, LUTs, output dims), scratch buffer handles,
variable tensors, then the interpreter's input/output TfLiteTensors and their quantization
(tflm.json ``persistent``). Exact (``tail_exact``) when every op's kernel is in the table.

The smallest ``arena_size`` (``total_bytes``) is more than head + tail when the load needs more
for a while: during a kernel's Prepare the head holds the scratch buffer requests and the
kernel's tensors as temp TfLiteTensors (with their quantization), and while the greedy planner
runs it holds one AllocationInfo per tensor and scratch buffer plus the planner's own arrays (40
bytes per planned buffer). ``total_bound`` names the stage that sets it. ``--runtime`` reads the
real figures, ``--find-arena`` searches the smallest arena with one process per try.
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
    total_bytes: int        # the smallest arena_size TFLM loads and runs the model in
    total_bound: str        # the stage that sets it: "final", "planning" or "prepare"
    tail_parts: dict[str, int] = field(default_factory=dict)
    tail_exact: bool = False
    unknown_ops: list[str] = field(default_factory=list)

    @property
    def reported_total_bytes(self) -> int:
        """What TFLM's recording allocator prints as its total: head + tail after the load."""
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
@dataclass
class _Tail:
    """The persistent section as SingleArenaBufferAllocator grows it: from the arena's end
    (16-aligned: the arena's start is, and ``arena_size`` is a multiple of 16) downwards, each
    allocation at ``AlignPointerDown(tail - size, alignment)``; so the bytes used become
    ``align_up(used + size, alignment)``, the padding going to the part that asked."""
    used: int = 0
    parts: dict[str, int] = field(default_factory=dict)

    def take(self, part: str, size: int, align: int) -> None:
        grown = align_up(self.used + size, align)
        self.parts[part] = self.parts.get(part, 0) + grown - self.used
        self.used = grown


def _quantized(t) -> int:
    """Channels of a tensor TFLM gives quantization params (scale and zero point both set),
    0 if none."""
    q = t.quantization
    return len(q.scale) if q is not None and q.scale and q.zero_point else 0


def _tflite_tensor(tail: _Tail, structs: dict, t, part: str) -> None:
    """A persistent TfLiteTensor and its quantization (the affine struct and a zero-point
    TfLiteIntArray; the scales stay in the flatbuffer)."""
    tail.take(part, *structs["TfLiteTensor"])
    channels = _quantized(t)
    if channels:
        tail.take("quantization_data", *structs["TfLiteAffineQuantization"])
        tail.take("quantization_data", 4 + 4 * channels, 4)


def _temp_tensor_bytes(structs: dict, t, at: int) -> int:
    """Where the temp section ends after a kernel's Prepare takes ``t`` as a temp TfLiteTensor
    (the struct, then its quantization) from ``at``."""
    size, align = structs["TfLiteTensor"]
    at = align_up(at, align) + size
    channels = _quantized(t)
    if channels:
        size, align = structs["TfLiteAffineQuantization"]
        at = align_up(at, align) + size
        at = align_up(at, 4) + 4 + 4 * channels
    return at


def _kernel_allocations(sg: Subgraph, op: Operator, spec: dict) -> tuple[list[int], list[int]]:
    """(Init, Prepare) persistent allocations of the op's kernel, in bytes (each 16-aligned)."""
    ts = sg.tensors

    def tensor(k: int, outputs: bool = False):
        idx = op.outputs if outputs else op.inputs
        return ts[idx[k]] if k < len(idx) and idx[k] >= 0 else None
    x, w, y = tensor(0), tensor(1), tensor(0, True)
    prepare = list(spec.get("prepare", []))
    if x is not None and x.dtype == "int8":
        prepare += spec.get("prepare_int8", [])
    if y is not None and y.dtype == "int8" and op.op == "ADD_N":
        prepare = prepare + spec.get("prepare_int8_output", [])
    if x is not None and x.dtype == "int16":
        prepare += spec.get("prepare_int16_input", [])
    arrays = spec.get("per_channel_arrays", 0)
    if spec.get("per_channel_arrays_if_per_channel") and w is not None and \
            x is not None and x.dtype != "float32" and w.quantization is not None and \
            len(w.quantization.scale) > 1:
        arrays = spec["per_channel_arrays_if_per_channel"]
    if arrays:
        prepare += [4 * _per_channel(sg, op)] * arrays
    if spec.get("batch_matmul_transposes") and x is not None and w is not None:
        if x.dtype in ("int8", "int16"):
            prepare.append(28)                    # QuantizationOpDataBatchMatmul
        for operand, transposed in ((x, op.options.get("adj_x")),
                                    (w, not op.options.get("adj_y"))):
            if transposed:
                prepare += [24, 4 + 4 * len(operand.shape),
                            tensor_bytes(operand.dtype, operand.shape)]
    if spec.get("prepare_output_dims") and y is not None:
        prepare.append(4 + 4 * len(y.shape))      # CreateWritableTensorDimsWithCopy
    return list(spec.get("init", [])), prepare


def _per_channel(sg: Subgraph, op: Operator) -> int:
    """Output channels of a conv-like op (its per-channel multiplier/shift arrays)."""
    if len(op.inputs) > 1 and op.inputs[1] >= 0:
        w = sg.tensors[op.inputs[1]]
        if w.shape:
            if op.op == "DEPTHWISE_CONV_2D":
                return int(w.shape[-1])
            if op.op == "FULLY_CONNECTED" and w.quantization is not None:
                return len(w.quantization.scale)
            return int(w.shape[0])
    return 0


def _resource_names(model: Model) -> dict[tuple[int, int], str]:
    """(subgraph, VAR_HANDLE output) -> the resource's shared name."""
    return {(sg.index, op.outputs[0]): str(op.options.get("shared_name") or "")
            for sg in model.subgraphs for op in sg.operators
            if op.op == "VAR_HANDLE" and op.outputs}


@dataclass
class TailPlan:
    bytes: int
    parts: dict[str, int]
    exact: bool
    unknown_ops: list[str]
    # the arena the load needs while the temp section is at its largest (see plan_arena)
    prepare_need: int
    planning_need: int


def plan_tail(model: Model, planned: int) -> TailPlan:
    """TFLM's persistent allocations in the order the Python interpreter makes them
    (interpreter_wrapper.cc, RecordingMicroAllocator::Create, MicroAllocator::
    StartModelAllocation, MicroInterpreter::AllocateTensors, FinishModelAllocation), with their
    sizes on the wheel's 64-bit build (``tflm.json`` ``persistent``); and what the temp section
    needs on top while it is largest: during a kernel's Prepare (its tensors as temp
    TfLiteTensors) and while the planner runs (``planned`` buffers)."""
    from core.model.ops import delegate_table
    table = delegate_table("tflm")["persistent"]
    structs = {k: tuple(v) for k, v in table["structs"].items()}
    builtin = table["builtin_data"]
    kernels = table["kernels"]
    no_data = set(table["no_persistent_data"])
    tail = _Tail()
    for struct_name in ("RecordingSingleArenaBufferAllocator", "GreedyMemoryPlanner",
                        "RecordingMicroAllocator"):
        tail.take("allocator_objects", *structs[struct_name])
    names = _resource_names(model)
    shared = sorted(set(names.values()))
    if shared:      # MicroResourceVariables::Create, through the allocator (16-aligned)
        tail.take("resource_variables", structs["MicroResourceVariables"][0], ALIGNMENT)
        tail.take("resource_variables", structs["MicroResourceVariable"][0] * len(shared),
                  ALIGNMENT)
    tail.take("allocator_objects", *structs["MicroBuiltinDataAllocator"])
    size, align = structs["SubgraphAllocations"]
    tail.take("subgraph_allocations", size * len(model.subgraphs), align)
    size, align = structs["TfLiteEvalTensor"]
    for sg in model.subgraphs:
        tail.take("eval_tensors", size * len(sg.tensors), align)
    size, align = structs["NodeAndRegistration"]
    for sg in model.subgraphs:
        tail.take("node_and_registration", size * len(sg.operators), align)
    unknown: list[str] = []
    for sg in model.subgraphs:      # parse every op's builtin options
        for op in sg.operators:
            if op.op in builtin:
                tail.take("builtin_options", *builtin[op.op])
    allocations = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            name = op.custom_code or op.op if op.op == "CUSTOM" else op.op
            spec = kernels.get(name)
            if spec is None and name not in no_data:
                unknown.append(name)
                spec = kernels["_default"]
            elif spec is not None and spec.get("unmodelled"):
                unknown.append(name)
            allocations[(sg.index, op.index)] = _kernel_allocations(sg, op, spec or {})
    for sg in model.subgraphs:      # every kernel's Init
        for op in sg.operators:
            for nb in allocations[(sg.index, op.index)][0]:
                tail.take("kernel_data", nb, ALIGNMENT)
    # every kernel's Prepare; the head holds the scratch buffer requests (room for 12 more
    # each time) and the kernel's tensors as temp TfLiteTensors
    req_size, req_align = structs["ScratchBufferRequest"]
    per_op = table["max_scratch_buffers_per_op"]
    allocated: set[str] = set()
    requested = 0
    prepare_need = 0
    for sg in model.subgraphs:
        for op in sg.operators:
            # the temp section is checked against the tail as it is when the kernel takes its
            # tensors (its own persistent allocations are checked against the head only)
            at = req_size * (requested + per_op)
            for ti in list(op.inputs) + list(op.outputs):
                if ti >= 0:
                    at = _temp_tensor_bytes(structs, sg.tensors[ti], at)
            prepare_need = max(prepare_need, at + tail.used)
            for nb in allocations[(sg.index, op.index)][1]:
                tail.take("kernel_data", nb, ALIGNMENT)
            if op.op == "ASSIGN_VARIABLE" and len(op.inputs) > 1:
                resource = names.get((sg.index, op.inputs[0]))
                if resource is not None and resource not in allocated:
                    allocated.add(resource)
                    v = sg.tensors[op.inputs[1]]
                    tail.take("resource_variables", tensor_bytes(v.dtype, v.shape), ALIGNMENT)
            requested += len(scratch_requests(sg, op))
    if requested:
        size, align = structs["ScratchBufferHandle"]
        tail.take("scratch_handles", size * requested, align)
    offline = offline_offsets(model)
    for sg in model.subgraphs:      # AllocateVariables (offline-planned ones are in the head)
        for t in sg.tensors:
            if t.variable and (sg.index, t.index) not in offline:
                tail.take("variable_tensors", tensor_bytes(t.dtype, t.shape), ALIGNMENT)
    # the planner's temp section: the requests, the subgraph offsets, one AllocationInfo per
    # tensor of every subgraph and per scratch buffer, then the greedy planner's arrays
    tensors = sum(len(sg.tensors) for sg in model.subgraphs)
    temp = req_size * (requested + per_op)
    temp = align_up(temp, 8) + 8 * len(model.subgraphs)
    size, align = structs["AllocationInfo"]
    temp = align_up(temp, align) + size * (tensors + requested)
    planning_need = align_up(temp, ALIGNMENT) + table["greedy_bytes_per_buffer"] * planned + \
        align_up(tail.used, ALIGNMENT)
    if model.subgraphs:             # the interpreter's input and output TfLiteTensors
        sg0 = model.subgraphs[0]
        for ids in (sg0.inputs, sg0.outputs):
            tail.take("persistent_tflite_tensors", 8 * len(ids), ALIGNMENT)
            for ti in ids:
                _tflite_tensor(tail, structs, sg0.tensors[ti], "persistent_tflite_tensors")
    return TailPlan(tail.used, tail.parts, not unknown, sorted(set(unknown)), prepare_need,
                    planning_need)


def plan_tflm(model: Model) -> TflmPlan:
    buffers, head = plan_head(model)
    tail = plan_tail(model, len(buffers))
    # the smallest arena_size: the largest of what the load needs at each stage (a kernel's
    # Prepare, the planner, the final head + tail), in 16-byte steps
    need = {"final": head + tail.bytes, "prepare": tail.prepare_need,
            "planning": tail.planning_need}
    bound = max(need, key=lambda k: need[k])
    return TflmPlan(buffers, head, tail.bytes, align_up(need[bound], ALIGNMENT), bound,
                    tail.parts, tail.exact, tail.unknown_ops)
