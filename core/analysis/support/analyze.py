"""Op support per delegate for a whole model: which ops each delegate takes, why not, the
partitions it forms, the share of ops and MACs it gets, and the blockers worth removing.

``analyze(model)`` returns a ``SupportReport`` (``core.analysis.support.result``): the GUI shows it,
the CLI prints its ``to_json()`` under ``"support"``."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from core.analysis.support import partition as part
from core.analysis.support.common import Reason
from core.analysis.support.compute import subgraph_compute
from core.analysis.support.graph import SubgraphView
from core.analysis.support.result import (
    Blocker,
    DelegateSupport,
    OptionValue,
    SubgraphSupport,
    SupportReport,
)
from core.analysis.support.targets import provenance
from core.errors import ModelError
from core.model.ops import delegate_names, delegate_table
from core.model.types import Model

DELEGATES: tuple[str, ...] = delegate_names()
MAX_BLOCKER_TRIALS = 12          # exact "what if this op were supported" re-partitions per graph
BLOCKER_BUDGET = 240_000         # ... and at most this many op visits for them (big graphs: fewer)


def delegate_facts(name: str) -> dict[str, Any]:
    """The delegate's table, read through the op catalogue, or a tool-run target's facts
    (``targets``: title, short, options); ValueError for an unknown name."""
    if name in DELEGATES:
        return delegate_table(name)
    from core.analysis.support.targets import is_target, target_facts, target_ids
    if is_target(name):
        return target_facts(name)
    raise ValueError(f"unknown delegate {name!r} (one of {', '.join(DELEGATES + target_ids())})")


def short_name(name: str) -> str:
    """The delegate's name for a column or a menu ("Edge TPU"; the title may be longer)."""
    return delegate_facts(name)["short"]


def _rules(name: str) -> Callable[[SubgraphView, dict, dict], list[Reason]]:
    return importlib.import_module(f"core.analysis.support.{name}").evaluate


def default_options(name: str) -> dict[str, Any]:
    return {k: v["default"] for k, v in delegate_facts(name)["options"].items()}


def interpreter_options(name: str, opts: dict[str, Any]) -> dict[str, Any]:
    """The options of ``opts`` that are interpreter settings (the runtime check applies them)."""
    table = delegate_facts(name)["options"]
    return {k: v for k, v in opts.items() if table.get(k, {}).get("interpreter")}


def flags_the_runtime_check_ignores(name: str, opts: dict[str, Any]) -> list[str]:
    """Options of ``opts`` changed from their defaults that the runtime check cannot apply (the
    wheel's delegate runs with its default flags; only interpreter settings are passed on), so a
    comparison with them set would be meaningless."""
    defaults, inter = default_options(name), interpreter_options(name, opts)
    return sorted(k for k, v in opts.items() if k not in inter and v != defaults[k])


def parse_options(pairs: list[str], delegates: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``K=V`` strings -> per-delegate options; a key applies to every chosen delegate that has it
    and must exist in at least one. Values: true/false, integers, or text."""
    out: dict[str, dict[str, Any]] = {d: {} for d in delegates}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not K=V")
        owners = [d for d in delegates if key in delegate_facts(d)["options"]]
        if not owners:
            known = sorted({k for d in delegates for k in delegate_facts(d)["options"]})
            raise ValueError(f"unknown option {key!r} for {', '.join(delegates)} "
                             f"(known: {', '.join(known)})")
        for d in owners:
            out[d][key] = _coerce(raw.strip(), delegate_facts(d)["options"][key]["default"], key)
    return out


def _coerce(raw: str, default: Any, key: str) -> Any:
    if isinstance(default, bool):
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"option {key} wants true/false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"option {key} wants an integer, got {raw!r}") from None
    return raw


def _partitions(kind: str, deps, supported: list[bool], opts: dict[str, Any]) -> list[list[int]]:
    if kind == "prefix":
        return part.prefix(supported)
    greedy, fusion = opts.get("clustering", True), opts.get("node_fusion", True)

    def form(mask: list[bool]) -> list[list[int]]:
        if greedy and fusion:
            return part.partition(deps, mask)
        return part.partition_sweeps(deps, mask, greedy, fusion)
    parts = form(supported)
    if kind == "helper" or opts.get("max_delegated_partitions", 0) > 0 or \
            opts.get("min_nodes_per_partition", 0) > 1:
        chosen = part.select(parts, int(opts.get("max_delegated_partitions", 0)),
                             int(opts.get("min_nodes_per_partition", 0)))
        if len(chosen) != len(parts):
            keep = set().union(*chosen) if chosen else set()
            parts = form([i in keep for i in range(len(supported))])
    return parts


def _blockers(kind: str, deps: list[list[int]], reasons: list[Reason], parts: list[list[int]],
              opts: dict[str, OptionValue], view: SubgraphView) -> list[Blocker]:
    """Unsupported ops ranked by how many partitions fewer (and ops more) the delegate would
    have if that op alone were supported. Tried exactly on the ops next to delegated ones."""
    delegated = {i for p in parts for i in p}
    if not delegated:
        return []
    near: list[tuple[int, int]] = []
    for i, r in enumerate(reasons):
        if r is None:
            continue
        touch = sum(1 for p in deps[i] if p in delegated)
        touch += sum(1 for t in view.ops[i].outputs if t >= 0
                     for c in view.consumers(t) if c in delegated)
        if touch:
            near.append((-touch, i))
    near.sort()
    supported = [r is None for r in reasons]
    out: list[Blocker] = []
    trials = max(1, min(MAX_BLOCKER_TRIALS, BLOCKER_BUDGET // max(1, len(reasons))))
    for _, i in near[:trials]:
        supported[i] = True
        trial = _partitions(kind, deps, supported, opts)
        supported[i] = False
        gained = sum(map(len, trial)) - len(delegated)
        saved = len(parts) - len(trial)
        if saved > 0 or gained > 1:
            op = view.ops[i]
            out.append(Blocker(i, op.label, reasons[i], saved, gained))
    out.sort(key=lambda b: (-b.partitions_saved, -b.ops_gained, b.op))
    return out


def analyze_delegate(model: Model, name: str, options: dict[str, Any] | None = None,
                     views: list[SubgraphView] | None = None,
                     macs: list[list[int]] | None = None) -> DelegateSupport:
    facts = delegate_facts(name)
    opts = default_options(name)
    opts.update(options or {})
    views = views or [SubgraphView(model, sg) for sg in model.subgraphs]
    macs = macs or subgraph_macs(model)
    evaluate = _rules(name)
    kind = facts.get("partitioning", "graph")
    if kind == "whole_model":
        subgraphs = _whole_model(views, macs, [evaluate(v, opts, facts) for v in views])
    else:
        subgraphs = []
        for view, sg_macs in zip(views, macs, strict=False):
            reasons = evaluate(view, opts, facts)
            deps = view.deps
            parts = _partitions(kind, deps, [r is None for r in reasons], opts)
            blockers = _blockers(kind, deps, reasons, parts, opts, view)
            subgraphs.append(SubgraphSupport.from_verdicts(view.subgraph.index, reasons, parts,
                                                           sg_macs, blockers))
    said = facts.get("provenance") or {"note": f"follows {facts['source']}", "deprecated": None}
    out = DelegateSupport(name=name, title=facts["title"],
                          runtime_reference=f"{facts['source']} @ {facts['source_commit']}; "
                                            f"{facts['runtime']}",
                          options=opts, control_flow=facts.get("control_flow"),
                          subgraphs=subgraphs,
                          provenance=provenance("source", note=said["note"],
                                                deprecated=said["deprecated"]),
                          whole_model=kind == "whole_model")
    if out.whole_model:
        # a target with no fallback (TFLM): the model runs whole or not at all
        out.refused = whole_model_refusal(model, out)
    return out


def _whole_model(views: list[SubgraphView], macs: list[list[int]],
                 reasons: list[list[Reason]]) -> list[SubgraphSupport]:
    """Every op of every subgraph runs on the target, or none does: one partition per subgraph
    when nothing anywhere is refused; otherwise no partitions and every refused op a blocker."""
    runs = all(r is None for rs in reasons for r in rs)
    out = []
    for view, sg_macs, rs in zip(views, macs, reasons, strict=False):
        parts = [list(range(len(rs)))] if runs and rs else []
        blockers = [Blocker(i, view.ops[i].label, r, 0, 0)
                    for i, r in enumerate(rs) if r is not None]
        out.append(SubgraphSupport.from_verdicts(view.subgraph.index, rs, parts, sg_macs,
                                                 blockers))
    return out


def whole_model_refusal(model: Model, block: DelegateSupport) -> str | None:
    """'will not run on TFLite Micro: op 3 SELECT: no TFLM kernel registered; ...' for a
    whole-model target's verdict, None when every op of every subgraph is taken."""
    refused = [(sg.index, o) for sg in block.subgraphs for o in sg.ops if not o.supported]
    if not refused:
        return None
    shown = "; ".join(
        f"{'' if s == 0 else f'subgraph {s} '}op {o.index} "
        f"{model.subgraphs[s].operators[o.index].label}: {o.reason}"
        for s, o in refused[:3])
    more = f" (+{len(refused) - 3} more)" if len(refused) > 3 else ""
    return f"will not run on {block.title}: {shown}{more}"


def subgraph_macs(model: Model) -> list[list[int]]:
    """MACs per op, per subgraph (the weights of ``delegated_macs_share``)."""
    return [[c.macs for c in subgraph_compute(sg)] for sg in model.subgraphs]


def analyze(model: Model, delegates: tuple[str, ...] = DELEGATES,
            options: dict[str, dict[str, Any]] | None = None,
            macs: list[list[int]] | None = None) -> SupportReport:
    """Each delegate's verdict (the report's ``support`` key as JSON). ``macs``: the
    caller's ``subgraph_macs(model)`` when it shows them too (computed here otherwise)."""
    options = options or {}
    views = [SubgraphView(model, sg) for sg in model.subgraphs]
    macs = macs or subgraph_macs(model)
    try:
        return SupportReport({d: analyze_delegate(model, d, options.get(d), views, macs)
                              for d in delegates})
    except (IndexError, KeyError) as e:   # a tensor index past the table, a missing input
        raise ModelError(model.path, f"cannot check delegate support: malformed graph ({e})") \
            from e


def _gain(b: Blocker) -> str:
    """What supporting blocker ``b`` alone would gain: ' (supporting it: 2 partitions fewer, 5
    more ops delegated)'."""
    parts = []
    if b.partitions_saved:
        parts.append(f"{b.partitions_saved} partition{'s' if b.partitions_saved != 1 else ''}"
                     " fewer")
    if b.ops_gained:
        parts.append(f"{b.ops_gained} more op{'s' if b.ops_gained != 1 else ''} delegated")
    return f" (supporting it: {', '.join(parts)})" if parts else ""


def summary_line(result: DelegateSupport, subgraph: int = 0) -> str:
    """'GPU: 61/65 ops, 3 partitions; first unsupported: op 3 CAST (input 0 is int64);
    costliest blocker: op 12 GATHER (supporting it: 2 partitions fewer, 9 more ops delegated);
    98.0% of MACs delegated'. The first unsupported op is the first in op order; the costliest
    blocker (``SubgraphSupport.blockers[0]``) is the one whose support alone would gain most,
    named when it is another op. A tool-run target without an answer (tool missing, model
    refused) gives its error."""
    if result.whole_model:     # a whole-model target: it runs the model or it does not
        if result.refused:
            return result.refused
        n = sum(sg.total_ops for sg in result.subgraphs)
        return f"{result.title}: runs the whole model ({n} ops in {len(result.subgraphs)} " \
               "subgraph(s))"
    if result.error:
        return f"{result.title}: {result.error}"
    sg = result.subgraphs[subgraph]
    text = (f"{result.title}: {sg.delegated_ops}/{sg.total_ops} ops, "
            f"{sg.partitions} partition{'s' if sg.partitions != 1 else ''}")
    first = next((o for o in sg.ops if not o.supported), None)
    if first is not None:   # in op order: the first op the delegate cannot take
        label = next((f" {b.label}" for b in sg.blockers if b.op == first.index), "")
        text += f"; first unsupported: op {first.index}{label} ({first.reason})"
    elif sg.delegated_ops < sg.total_ops:
        cpu = next(o for o in sg.ops if o.partition is None)
        text += f"; first CPU op: {cpu.index} (not in a kept partition)"
    if sg.blockers and (first is None or sg.blockers[0].op != first.index):
        # blockers are ranked by what supporting one alone would gain, not by position
        b = sg.blockers[0]
        text += f"; costliest blocker: op {b.op} {b.label}{_gain(b)}"
    if sg.has_macs:
        text += f"; {sg.delegated_macs_share:.1%} of MACs delegated"
    return text
