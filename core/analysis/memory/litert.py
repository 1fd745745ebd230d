"""LiteRT's arena plan, replayed: what ``Interpreter.allocate_tensors()`` places where.

Per subgraph, in the runtime's own order:
1. tensor classes from the file (constants read-only, strings/resources heap, variables
   persistent, the rest arena); a VAR_HANDLE's resource handle becomes a 4-byte id in the
   persistent arena when the op is prepared (so it stops nothing);
2. kernels prepared in order (``kernels.py``): outputs may leave the arena, temporaries are
   appended after the model's tensors; control flow prepares its subgraphs (their own arenas);
   preparing stops after the first op whose output size is not known (dynamic);
3. lifetimes from reference counts on the root buffer, with in-place sharing;
4. tensors sorted (whole-run first by index, then larger first, then earlier first; remaining
   ties in libstdc++'s order where the runtime is built on it, ``libstdcxx=True``, else in
   collection order: offsets may then differ) and placed best-fit, 64-byte aligned, in the main
   or the persistent arena.
Delegates are off (the plan is the builtin kernels'); ``threads`` changes CONV_2D's choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from core.analysis.memory import kernels as K
from core.analysis.memory.arena import NEVER, BestFitArena
from core.analysis.memory.libstdcxx import std_sort, unordered_set_order
from core.model import ops
from core.model.types import Model, Operator
from core.versions import LITERT_TABLES_VERSION

# what this replay follows: tflite/core/subgraph.cc (AllocateTensors, PrepareOpsStartingAt),
# arena_planner.cc and simple_memory_arena.cc of this release, checked against its wheel
RUNTIME = f"ai-edge-litert {LITERT_TABLES_VERSION}"

TENSOR_ALIGNMENT = 64
SCALAR_BYTES = 4  # inputs this small are never shared by data-modifying in-place ops


@dataclass
class Slot:
    """One runtime tensor of a subgraph (a model tensor or a kernel temporary)."""
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    kind: str                 # mmap | arena | persistent | persistent_ro | dynamic | custom | none
    bytes: int
    temporary_of: int | None = None   # node that owns this temporary

    def view(self, quant_scales=(), sparse=False, load=None) -> K.View:
        return K.View(self.dtype, self.shape, self.kind, quant_scales, sparse, load)


@dataclass
class Placement:
    index: int
    arena: str         # "main" | "persistent"
    offset: int
    bytes: int
    first_op: int
    last_op: int       # NEVER = to the end of the run
    shares: int | None = None


@dataclass
class SubgraphPlan:
    index: int
    ops: int
    planned_ops: int
    slots: list[Slot]
    placements: dict[int, Placement]
    arena_bytes: int
    persistent_bytes: int
    has_dynamic: bool
    first_use: list[int]
    last_use: list[int]
    notes: list[str] = field(default_factory=list)
    reached: bool = True      # allocated by allocate_tensors() (else: when first run)


def _options_of(op: Operator) -> dict:
    """An op's decoded options, asked for only by kernels that need them (decoding is lazy)."""
    return op.options


class LiteRtPlanner:
    def __init__(self, model: Model, threads: int = 1, libstdcxx: bool = True):
        self.model = model
        self.threads = threads
        self.libstdcxx = libstdcxx   # replay libstdc++'s tie order (see libstdcxx.py)
        self.plans: dict[int, SubgraphPlan] = {}
        self._init_base: dict[int, dict[int, int]] = {}  # subgraph -> op -> first Init tensor
        self._active: set[int] = set()  # subgraphs being prepared (control flow recursion)

    def plan(self) -> dict[int, SubgraphPlan]:
        """Subgraph 0 as ``allocate_tensors()`` plans it (with the subgraphs its prepared
        control-flow ops reach); the others (later signatures, bodies behind a dynamic op) as
        they would be planned when reached, flagged ``reached=False``."""
        self.plan_subgraph(0)
        reached = set(self.plans)
        roles: dict[int | None, dict] = {}   # None: an op without that field (a broken file)
        for sg in self.model.subgraphs:
            for op in sg.operators:
                o = op.options if op.op in K.CONTROL_FLOW else {}
                if op.op == "WHILE":
                    roles.setdefault(o.get("cond_subgraph_index"), {"drop_unused_inputs": True})
                    roles.setdefault(o.get("body_subgraph_index"), {"custom_inputs": True})
                elif op.op == "IF":
                    for k in ("then_subgraph_index", "else_subgraph_index"):
                        roles.setdefault(o.get(k), {"custom_inputs": True})
        for i in range(1, len(self.model.subgraphs)):
            if i not in self.plans:
                self.plan_subgraph(i, **roles.get(i, {}))
        for i, p in self.plans.items():
            p.reached = i in reached
        return self.plans

    # -- one subgraph ---------------------------------------------------------------------
    def plan_subgraph(self, si: int, custom_inputs: bool = False,
                      drop_unused_inputs: bool = False) -> SubgraphPlan:
        if si in self.plans:
            return self.plans[si]
        self._active.add(si)
        try:
            return self._plan_subgraph(si, custom_inputs, drop_unused_inputs)
        finally:
            self._active.discard(si)

    def _plan_subgraph(self, si: int, custom_inputs: bool, drop_unused_inputs: bool
                       ) -> SubgraphPlan:
        m = self.model
        sg = m.subgraphs[si]
        slots = [self._slot(t) for t in sg.tensors]
        inputs = list(sg.inputs)
        nodes_in = [list(op.inputs) for op in sg.operators]
        nodes_out = [list(op.outputs) for op in sg.operators]
        if drop_unused_inputs:
            used = {t for ins in nodes_in for t in ins if t >= 0} | set(sg.outputs)
            for k, t in enumerate(inputs):
                if t >= 0 and t not in used:
                    slots[t].bytes = 0
                    inputs[k] = -1
        if custom_inputs:
            for t in inputs:
                if t >= 0 and slots[t].dtype not in ("resource", "variant"):
                    slots[t].kind = "custom"
        temps: list[list[int]] = [[] for _ in sg.operators]
        notes: list[str] = []
        # kernels that reserve tensors in Init get them when the interpreter is built: after
        # the model's tensors, op by op, before anything Prepare adds
        init_base = self._init_base[si] = {}
        for i, op in enumerate(sg.operators):
            n = K.init_tensors(op.op, partial(_options_of, op), op.custom_code)
            if n:
                init_base[i] = len(slots)
                slots.extend(Slot(len(slots) + k, "", "none", (), "none", 0, temporary_of=i)
                             for k in range(n))
        planned = 0
        has_dynamic = any(slots[t].kind == "dynamic" for t in sg.outputs if t >= 0)
        for i, op in enumerate(sg.operators):
            planned = i + 1
            stop = self._prepare(si, i, op, slots, nodes_in[i], nodes_out[i], temps, notes)
            if stop:
                has_dynamic = True
                if planned < len(sg.operators):
                    notes.append(self._stop_note(i, op, slots, nodes_out[i]))
                break
        plan = self._allocate(si, sg, slots, inputs, nodes_in, nodes_out, temps, planned)
        plan.has_dynamic = has_dynamic
        plan.notes = notes
        self.plans[si] = plan
        return plan

    @staticmethod
    def _stop_note(i: int, op, slots: list[Slot], outs: list[int]) -> str:
        """Why allocate_tensors() plans only ops 0..i (PrepareOpsStartingAt stops there)."""
        dyn = [t for t in outs if t >= 0 and slots[t].kind == "dynamic"]
        what = (f"output {dyn[0]} ({slots[dyn[0]].dtype}) gets its size only when the op runs"
                if dyn else "its output shape is not known until it runs")
        return (f"allocate_tensors() plans ops 0-{i} only: op {i} ({op.op}): {what}; the runtime "
                f"prepares and places ops {i + 1}.. during each run that needs it, with the "
                "sizes known then, so they are not in this plan")

    def _slot(self, t) -> Slot:
        buf = self.model.buffers[t.buffer]
        if buf.offset is not None or buf.external or buf.data_present:
            kind = "mmap"
        elif t.dtype in K.HEAP_TYPES:
            kind = "dynamic"
        elif t.variable:
            kind = "persistent"
        else:
            kind = "arena"
        b = 0 if kind == "dynamic" else K.nbytes(t.dtype, t.shape)
        return Slot(t.index, t.name, t.dtype, tuple(t.shape), kind, b)

    def _prepare(self, si, i, op, slots, ins, outs, temps, notes) -> bool:
        """Replays node ``i``'s Prepare; True when its output size is not known (stop)."""
        name = op.op
        inv = [slots[t].view(*self._quant(si, t),
                             load=lambda t=t: self.model.tensor_data(si, t))
               if t >= 0 else K.View("none", (), "none") for t in ins]
        outv = [slots[t].view() if t >= 0 else K.View("none", (), "none") for t in outs]
        if name in K.CONTROL_FLOW:
            called = [op.options.get(k) for k in ops.subgraph_fields(name)]
            if not all(isinstance(v, int) and 0 <= v < len(self.model.subgraphs)
                       and v not in self._active for v in called):
                notes.append(f"op {i} ({name}) calls subgraphs {called}: missing, or already "
                             "being prepared (a cycle); the runtime rejects it, so its bodies "
                             "are not planned from here")
                return False
            return self._prepare_control_flow(si, op, slots, ins, outs)
        if name == "CUSTOM" and op.custom_code not in K.CUSTOM_FACTS:
            kind = ("a TensorFlow (Flex) op: the stock runtime rejects it without the Flex "
                    "delegate" if (op.custom_code or "").startswith("Flex") else
                    "a custom op: the stock runtime rejects it unless a resolver provides it")
            notes.append(f"op {i} '{op.custom_code}' is {kind}; planned as if its kernel "
                         "allocated nothing extra")
        facts = K.facts(name, op.custom_code)
        try:
            p = K.prepare_temporaries(name, lambda: op.options, inv, outv, self.threads,
                                      op.custom_code)
        except (IndexError, KeyError, TypeError, ZeroDivisionError) as e:
            # shapes or options the kernel would reject: the runtime fails; keep planning
            notes.append(f"op {i} ({name}): temporaries not predicted ({e!r})")
            p = K.Prepared()
        if p is not None:
            base = self._init_base[si].get(i, len(slots))
            for k in range(p.added):
                slots.append(Slot(base + k, "", "none", (), "none", 0, temporary_of=i))
            for tmp in p.temporaries:
                s = slots[base + tmp.slot]
                s.name, s.dtype, s.shape = tmp.name, tmp.dtype, tmp.shape
                s.kind = "dynamic" if tmp.dynamic else "persistent" if tmp.persistent else "arena"
                s.bytes = 0 if tmp.dynamic else tmp.bytes
                temps[i].append(base + tmp.slot)
        # kTfLiteOutputShapeNotKnown (e.g. RESHAPE to a computed shape): stop after this op
        shape_unknown = any(k < len(ins) and (ins[k] < 0 or not inv[k].constant_or_folded)
                            for k in facts.get("shape_unknown_unless_constant", ()))
        out0 = slots[outs[0]] if outs and outs[0] >= 0 else None
        if out0 is not None and "output_bytes" in facts:
            # the kernel sizes output 0 itself (VAR_HANDLE: a resource id), heap type or not
            out0.kind, out0.bytes = "arena", int(facts["output_bytes"])
        if out0 is not None and out0.kind == "arena":
            persistent = facts.get("persistent_output")
            if persistent == "always" or (persistent == "input0_constant"
                                          and inv and inv[0].constant):
                out0.kind = "persistent"
            fold = facts.get("folds_when_constant")
            if fold is not None:
                need = range(len(ins)) if fold == "all" else fold
                if all(k < len(ins) and ins[k] >= 0 and inv[k].constant_or_folded
                       for k in need) and not shape_unknown:
                    out0.kind = "persistent_ro"
                    out0.bytes = 0
        if shape_unknown:
            return True  # the output keeps its arena bytes
        dyn = bool(facts.get("always_dynamic"))
        need = facts.get("dynamic_unless_constant", ())
        if any(k < len(ins) and ins[k] >= 0 and not inv[k].constant_or_folded for k in need):
            dyn = True
        if dyn:
            for t in outs:
                if t >= 0 and slots[t].kind not in ("persistent_ro",):
                    slots[t].kind = "dynamic"
                    slots[t].bytes = 0
        return any(t >= 0 and slots[t].kind == "dynamic" for t in outs)

    def _quant(self, si, t):
        tt = self.model.subgraphs[si].tensors[t]
        scales = tt.quantization.scale if tt.quantization else ()
        return scales, tt.sparse

    def _prepare_control_flow(self, si, op, slots, ins, outs) -> bool:
        o = op.options
        dynamic = False
        if op.op == "WHILE":
            # the condition gets its own arenas; only the body decides the outputs' sizes
            self.plan_subgraph(o["cond_subgraph_index"], drop_unused_inputs=True)
            body_i = o["body_subgraph_index"]
            body_sg = self.model.subgraphs[body_i]
            users = {t for n in self.model.subgraphs[si].operators for t in n.inputs} | \
                set(self.model.subgraphs[si].outputs)
            for k in range(len(ins)):
                if (k < len(body_sg.inputs) and body_sg.inputs[k] == body_sg.outputs[k]
                        and k < len(outs) and outs[k] >= 0 and outs[k] not in users
                        and body_sg.tensors[body_sg.inputs[k]].dtype not in K.HEAP_TYPES):
                    slots[outs[k]].kind = "none"   # the WHILE drops this output
                    slots[outs[k]].bytes = 0
                    outs[k] = -1
            body = self.plan_subgraph(body_i, custom_inputs=True)
            dynamic = body.has_dynamic
            if not dynamic:
                for a, b in zip(body_sg.inputs, body_sg.outputs, strict=False):
                    sa, sb = body_sg.tensors[a].shape, body_sg.tensors[b].shape
                    if tuple(sa) != tuple(sb) and (sa[0] if sa else 0) + (sb[0] if sb else 0) != 1:
                        dynamic = True
                        break
        elif op.op == "IF":
            branches = [self.plan_subgraph(o["then_subgraph_index"], custom_inputs=True),
                        self.plan_subgraph(o["else_subgraph_index"], custom_inputs=True)]
            dynamic = any(b.has_dynamic for b in branches)
        elif op.op == "CALL_ONCE":
            self.plan_subgraph(o["init_subgraph_index"])
        if dynamic:
            for t in outs:
                if t >= 0:
                    slots[t].kind, slots[t].bytes = "dynamic", 0
        return dynamic

    # -- lifetimes and placement (ArenaPlanner) ---------------------------------------------
    def _allocate(self, si, sg, slots, inputs, nodes_in, nodes_out, temps, planned
                  ) -> SubgraphPlan:
        n_t = len(slots)
        n_nodes = len(sg.operators)
        outputs = [t for t in sg.outputs if t >= 0]
        variables = [t.index for t in sg.tensors if t.variable]
        graph_inputs = [t for t in inputs if t >= 0]
        refs = [0] * n_t
        for t in outputs:
            refs[t] += 1
        for t in variables:
            refs[t] += 1
        for t in graph_inputs:
            refs[t] += 1
        base_refs = list(refs)
        for ins in nodes_in:
            for t in ins:
                if t >= 0:
                    refs[t] += 1
        shared = self._in_place(sg, slots, nodes_in, nodes_out, refs, set(graph_inputs),
                                set(outputs))

        def root(t: int) -> int:
            return shared.get(t, t)
        counts = base_refs
        for ins in nodes_in:
            for t in ins:
                if t >= 0:
                    counts[root(t)] += 1
        alloc = [NEVER] * n_t
        dealloc = [NEVER] * n_t
        node_sets: list[list[int]] = [[] for _ in range(max(n_nodes, 1))]
        for t in variables + graph_inputs:
            if alloc[t] == NEVER:
                alloc[t] = 0
            node_sets[0].append(t)
        for i in range(n_nodes):
            for t in nodes_out[i]:
                if t < 0:
                    continue
                node_sets[i].append(t)
                if alloc[t] == NEVER:
                    alloc[t] = i
            for t in nodes_in[i]:
                if t >= 0:
                    r = root(t)
                    counts[r] -= 1
                    if counts[r] == 0 and alloc[r] != NEVER:
                        dealloc[r] = i
        for i in range(planned):
            for t in temps[i]:
                alloc[t] = dealloc[t] = i
                node_sets[i].append(t)
        # tensors to place: node by node, each node's set in its hash-table order
        todo = []
        for i in range(min(planned, len(node_sets)) if n_nodes else 1):
            in_set_order = (unordered_set_order(node_sets[i]) if self.libstdcxx
                            else list(dict.fromkeys(node_sets[i])))
            for t in in_set_order:
                if slots[t].kind in ("arena", "persistent"):
                    todo.append(t)
        whole = lambda t: alloc[t] == 0 and dealloc[t] == NEVER  # noqa: E731
        keys = [(0, t, 0) if whole(t) else (1, -slots[t].bytes, alloc[t]) for t in todo]
        if len(set(keys)) == len(keys):
            todo = [t for _, t in sorted(zip(keys, todo, strict=False))]
        elif not self.libstdcxx:   # ties stay in collection order (another C++ library's differ)
            todo = [t for _, _, t in sorted(zip(keys, range(len(todo)), todo, strict=False))]
        else:
            key_of = dict(zip(todo, keys, strict=False))
            std_sort(todo, lambda a, b: key_of[a] < key_of[b])
        main = BestFitArena(n_nodes, TENSOR_ALIGNMENT)
        persistent = BestFitArena(n_nodes, TENSOR_ALIGNMENT)
        placements: dict[int, Placement] = {}
        for t in todo:
            s = slots[t]
            if t in shared:
                r = shared[t]
                if slots[r].kind == "arena" and slots[r].bytes == s.bytes:
                    continue
                del shared[t]
            if s.kind == "arena":
                off = main.allocate(s.bytes, alloc[t], dealloc[t])
                placements[t] = Placement(t, "main", off, s.bytes, alloc[t], dealloc[t])
            elif s.kind == "persistent" and t not in placements:
                off = persistent.allocate(s.bytes, alloc[t], NEVER)
                placements[t] = Placement(t, "persistent", off, s.bytes, alloc[t], NEVER)
        # a sharing tensor resolves to its root's bytes even past the planned chunk: the
        # runtime resolves every tensor when the arena is (re)allocated
        for t, r in shared.items():
            if r in placements and slots[t].kind == slots[r].kind == "arena":
                p = placements[r]
                placements[t] = Placement(t, p.arena, p.offset, slots[t].bytes, alloc[t],
                                          dealloc[r], shares=r)
        return SubgraphPlan(si, n_nodes, planned, slots, placements, main.high_water_mark,
                            persistent.high_water_mark, False, alloc, dealloc)

    @staticmethod
    def _in_place(sg, slots, nodes_in, nodes_out, refs, graph_inputs, graph_outputs
                  ) -> dict[int, int]:
        """IdentifyInPlaceTensors: output 0 of an in-place op -> the root tensor it reuses."""
        shared: dict[int, int] = {}
        for i, op in enumerate(sg.operators):
            spec = K.in_place(op.op)
            outs = nodes_out[i]
            if spec is None or not outs:
                continue
            positions, unmodified = spec
            out = outs[0]
            if out < 0:
                continue
            changed = not unmodified
            chosen = -1
            ins = nodes_in[i]
            for k in range(min(3, len(ins))):
                t = ins[k]
                if t < 0 or k not in positions:
                    continue
                a, b = slots[t], slots[out]
                if changed and (a.bytes != b.bytes or a.bytes <= SCALAR_BYTES or refs[t] > 1):
                    continue
                if t in graph_inputs or out in graph_outputs:
                    continue
                if a.kind != b.kind and a.kind != "arena":
                    continue
                chosen = t
                break
            if chosen < 0:
                continue
            r = shared.get(chosen, chosen)
            if changed and refs[r] > 1:
                continue
            shared[out] = r
        return shared
