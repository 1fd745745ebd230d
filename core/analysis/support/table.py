"""The shared reading of a delegate's per-op table (GPU, NNAPI, Edge TPU, Hexagon, Core ML): each
op entry names the conditions its source checks, as data. Fields (all optional):

  max_version      highest op version the delegate takes
  types            type classes (from the table's "type_classes") allowed for input 0
  inputs           per input index, the dtypes allowed (Hexagon style)
  const_inputs     input indices that must be constant
  runtime_inputs   [min, max] count of non-constant inputs
  outputs          [min, max] count of outputs
  activation       fused activations allowed
  max_rank         highest rank of any input or output
  check            name of a delegate-specific predicate (in the delegate's module)
  reason           the op is never taken, for this reason

Delegate modules call ``op_reason`` per op after their own graph-wide checks."""
from __future__ import annotations

from typing import Callable, Mapping

from core.analysis.support.common import Reason, activation_reason, custom_reason
from core.analysis.support.graph import SubgraphView
from core.model.types import Operator

Check = Callable[[SubgraphView, Operator, dict, dict], Reason]


def allowed_types(facts: dict, classes: list[str]) -> set[str]:
    out: set[str] = set()
    table = facts.get("type_classes", {})
    for c in classes:
        out.update(table.get(c, [c]))
    return out


def op_reason(view: SubgraphView, op: Operator, facts: dict, opts: dict,
              checks: Mapping[str, Check], unknown: str,
              const_like: frozenset[int] | set[int] = frozenset()) -> Reason:
    """Reason the delegate leaves ``op`` (None: it takes it). ``const_like``: tensors the
    delegate treats as constant though the file computes them (dequantized fp16 weights)."""
    if op.op == "CUSTOM":
        fact = facts.get("custom_ops", {}).get(op.custom_code or "")
        if fact is None:
            return custom_reason(op)
    else:
        fact = facts["ops"].get(op.op)
        if fact is None:
            return unknown.format(op=op.op)
    if "reason" in fact:
        return fact["reason"]
    ts = view.tensors
    if op.version > fact.get("max_version", 1 << 30):
        return f"op version {op.version} > {fact['max_version']}"
    if "outputs" in fact:
        lo, hi = fact["outputs"]
        if not lo <= len(op.outputs) <= hi:
            return f"{len(op.outputs)} outputs (expects {lo}..{hi})"
    if "runtime_inputs" in fact:
        n = sum(1 for t in op.inputs if t >= 0 and not ts[t].constant and t not in const_like)
        lo, hi = fact["runtime_inputs"]
        if not lo <= n <= hi:
            return f"{n} non-constant inputs (expects {lo}..{hi})"
    if "types" in fact and op.inputs and op.inputs[0] >= 0:
        t = ts[op.inputs[0]]
        if t.dtype not in allowed_types(facts, fact["types"]):
            return f"input 0 is {t.dtype}"
    for i, dtypes in enumerate(fact.get("inputs", ())):
        if i >= len(op.inputs):
            return f"input {i} is missing"
        if op.inputs[i] < 0:
            if "none" not in dtypes:
                return f"input {i} is missing"
            continue
        if ts[op.inputs[i]].dtype not in dtypes:
            return f"input {i} is {ts[op.inputs[i]].dtype}"
    for i in fact.get("const_inputs", ()):
        ti = op.inputs[i] if i < len(op.inputs) else -1
        if ti >= 0 and not ts[ti].constant and ti not in const_like:
            return f"input {i} is not constant"
    if "activation" in fact:
        r = activation_reason(op, frozenset(fact["activation"]))
        if r:
            return r
    if "max_rank" in fact:
        for role, idx in (("input", op.inputs), ("output", op.outputs)):
            for k, ti in enumerate(idx):
                if ti >= 0 and len(ts[ti].shape) > fact["max_rank"]:
                    return f"{role} {k} has rank {len(ts[ti].shape)} > {fact['max_rank']}"
    if "check" in fact:
        return checks[fact["check"]](view, op, fact, opts)
    return None


def runtime_tensors(view: SubgraphView, op: Operator, const_like=frozenset()):
    """(role, tensor) for the op's non-constant inputs and its outputs."""
    ts = view.tensors
    for k, t in enumerate(op.inputs):
        if t >= 0 and not ts[t].constant and t not in const_like:
            yield f"input {k}", ts[t]
    for k, t in enumerate(op.outputs):
        if t >= 0:
            yield ("output" if len(op.outputs) == 1 else f"output {k}"), ts[t]

