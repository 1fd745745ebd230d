"""The runtime's own answer for XNNPACK, and the comparison with our prediction.

The check runs as the worker job ``xnnpack_placement`` (a native crash must not take the caller
down); this module starts it and compares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from core.analysis.support.result import DelegateSupport, Disagreement, XnnpackVerification
from core.errors import ModelError
from core.inference.ssh_target import SshTarget


@dataclass(frozen=True)
class SubgraphPlacement:
    subgraph: int
    partitions: list[list[int]]       # the node indices each delegate kernel replaced


@dataclass(frozen=True)
class RuntimePlacement:
    """What the real XNNPACK delegate did (the worker's answer, typed)."""
    runtime: str                      # "LiteRT 2.3.0"
    subgraph: int                     # the primary subgraph
    partitions: list[list[int]]       # ... its partitions
    delegate_nodes: int               # ... its DELEGATE nodes
    allocation_error: str | None      # prepare failed after delegation (placement still counts)
    options: dict[str, Any]           # the interpreter options the check ran with
    subgraphs: list[SubgraphPlacement]   # every subgraph the delegate was applied to
    target: dict[str, Any] | None = None   # the board it ran on (over SSH), if any


def runtime_placement(path: str, interpreter_options: dict[str, Any] | None = None,
                      timeout: float = 120.0, target: SshTarget | None = None,
                      shapes: Mapping[str, Sequence[int]] | None = None) -> RuntimePlacement:
    """What the real XNNPACK delegate did with the model: the primary subgraph's placement, and
    the partitions of every subgraph it delegated (``subgraphs``).
    ``interpreter_options``: clustering / node_fusion (see ``analyze.interpreter_options``);
    ``shapes``: inputs resized to these before the delegate is applied (``--shape``).
    A model the runtime cannot load, a crash or a timeout becomes a ModelError. ``target``: a
    board over SSH (``TargetError`` when it cannot run)."""
    from core.inference.config import RunConfig
    from core.inference.remote import run_xnnpack_placement
    cfg = RunConfig(model=str(path), timeout_s=timeout,
                    delegate_options=dict(interpreter_options or {}),
                    shapes={k: list(v) for k, v in shapes.items()} if shapes else None)
    result = run_xnnpack_placement(cfg, target)
    if result["placement"] is None:
        raise ModelError(path, "the runtime could not check XNNPACK: "
                               f"{result['error'] or result['status']}")
    p = result["placement"]   # the worker pipe's JSON, typed here at the edge

    def parts(raw: list) -> list[list[int]]:
        return [[int(i) for i in part] for part in raw]
    seen = p.get("subgraphs") or [{"subgraph": p["subgraph"], "partitions": p["partitions"]}]
    return RuntimePlacement(runtime=str(p["runtime"]), subgraph=int(p["subgraph"]),
                            partitions=parts(p["partitions"]),
                            delegate_nodes=int(p["delegate_nodes"]),
                            allocation_error=p["allocation_error"],
                            options=dict(p.get("options") or {}),
                            subgraphs=[SubgraphPlacement(int(s["subgraph"]),
                                                         parts(s["partitions"])) for s in seen],
                            target=result.get("target"))


def compare(predicted: DelegateSupport, placement: RuntimePlacement) -> XnnpackVerification:
    """Prediction (the analyze() entry for xnnpack) vs the runtime, in every subgraph the runtime
    delegated (``placement.subgraphs``; CALL_ONCE init and control-flow bodies included).
    ``agree``/``total`` count ops over those subgraphs; ``disagree`` names each op's subgraph;
    the partition counts are the primary subgraph's, ``partitions_agree`` holds for all."""
    disagree: list[Disagreement] = []
    total, parts_agree = 0, True
    for seen in placement.subgraphs:
        sg = predicted.subgraphs[seen.subgraph]
        real = {i for p in seen.partitions for i in p}
        total += len(sg.ops)
        parts_agree &= sg.partitions == len(seen.partitions)
        disagree += [Disagreement(seen.subgraph, o.index, o.delegated, o.index in real, o.reason)
                     for o in sg.ops if o.delegated != (o.index in real)]
    primary = predicted.subgraphs[placement.subgraph]
    return XnnpackVerification(runtime=placement.runtime, subgraph=placement.subgraph,
                               subgraphs=[s.subgraph for s in placement.subgraphs],
                               agree=total - len(disagree), total=total, disagree=disagree,
                               predicted_partitions=primary.partitions,
                               runtime_partitions=placement.delegate_nodes,
                               partitions_agree=parts_agree,
                               runtime_error=placement.allocation_error,
                               target=placement.target)


def verdict_line(v: XnnpackVerification) -> str:
    """'checked against LiteRT 2.3.0: 282/282 agree, 1 partition'."""
    p = v.runtime_partitions
    text = (f"checked against {v.runtime}: {v.agree}/{v.total} agree, "
            f"{p} partition{'s' if p != 1 else ''}")
    if not v.partitions_agree:
        text += f" (predicted {v.predicted_partitions})"
    if v.target:
        text += f" on {v.target['address']}"
    return text


def disagreement_line(d: Disagreement) -> str:
    """'op 12: predicted delegated, runtime CPU' (one entry of ``compare().disagree``)."""
    def where(delegated: bool) -> str:
        return "delegated" if delegated else "CPU"
    where_op = f"subgraph {d.subgraph} op {d.index}" if d.subgraph else f"op {d.index}"
    return f"{where_op}: predicted {where(d.predicted)}, runtime {where(d.runtime)}"


def proven_by_runtime(v: XnnpackVerification) -> dict[str, Any]:
    """The XNNPACK verdict's provenance once ``compare`` checked it against the real delegate."""
    from core.analysis.support.targets import provenance
    runtime, _, version = v.runtime.partition(" ")
    return provenance("tool", f"{runtime} XNNPACK delegate", version or None,
                      f"prediction checked: {verdict_line(v)}")
