"""The typed results of the op-support analysis: what ``analyze()`` returns and the GUI, the CLI
and the compare view read. JSON is made only at the edge (``to_json()``, for ``litelens support
--json`` and the ``support`` key of ``litelens report --json``); the keys and their order are the
contract in README.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OptionValue = bool | int | str   # a delegate option's value (see the table's "options")


@dataclass(frozen=True)
class OpSupport:
    """One op's verdict: supported (and in which kept partition, if any) or the reason."""
    index: int
    supported: bool
    reason: str | None
    partition: int | None      # None: on the CPU (unsupported, or its partition not kept)

    @property
    def delegated(self) -> bool:
        return self.partition is not None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "supported": self.supported, "reason": self.reason,
                "partition": self.partition}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OpSupport:
        return cls(int(d["index"]), bool(d["supported"]), d["reason"], d["partition"])


@dataclass(frozen=True)
class Blocker:
    """An unsupported op and what supporting it alone would gain."""
    op: int
    label: str
    reason: str | None
    partitions_saved: int
    ops_gained: int

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "label": self.label, "reason": self.reason,
                "partitions_saved": self.partitions_saved, "ops_gained": self.ops_gained}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Blocker:
        return cls(int(d["op"]), str(d["label"]), d["reason"], int(d["partitions_saved"]),
                   int(d["ops_gained"]))


@dataclass(frozen=True)
class SubgraphSupport:
    """One delegate's verdict on one subgraph."""
    index: int
    partitions: int
    delegated_ops: int
    total_ops: int
    delegated_ops_share: float
    delegated_macs_share: float   # the ops' share when the subgraph has no MACs
    has_macs: bool
    partition_ops: list[list[int]]
    blockers: list[Blocker]
    ops: list[OpSupport]

    @classmethod
    def from_verdicts(cls, index: int, reasons: list[str | None], partitions: list[list[int]],
                      macs: list[int], blockers: list[Blocker]) -> SubgraphSupport:
        where = {i: p for p, ops in enumerate(partitions) for i in ops}
        delegated = len(where)
        total_macs = sum(macs)
        dmacs = sum(macs[i] for i in where)
        n = len(reasons)
        ops_share = round(delegated / n, 6) if n else 0.0
        return cls(index=index, partitions=len(partitions), delegated_ops=delegated,
                   total_ops=n, delegated_ops_share=ops_share,
                   delegated_macs_share=round(dmacs / total_macs, 6) if total_macs else ops_share,
                   has_macs=total_macs > 0, partition_ops=partitions, blockers=blockers,
                   ops=[OpSupport(i, r is None, r, where.get(i)) for i, r in enumerate(reasons)])

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "partitions": self.partitions,
                "delegated_ops": self.delegated_ops, "total_ops": self.total_ops,
                "delegated_ops_share": self.delegated_ops_share,
                "delegated_macs_share": self.delegated_macs_share, "has_macs": self.has_macs,
                "partition_ops": self.partition_ops,
                "blockers": [b.to_json() for b in self.blockers],
                "ops": [o.to_json() for o in self.ops]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SubgraphSupport:
        """A subgraph's verdict as a tool-run target stored it (its cached block)."""
        return cls(index=int(d["index"]), partitions=int(d["partitions"]),
                   delegated_ops=int(d["delegated_ops"]), total_ops=int(d["total_ops"]),
                   delegated_ops_share=float(d["delegated_ops_share"]),
                   delegated_macs_share=float(d["delegated_macs_share"]),
                   has_macs=bool(d["has_macs"]),
                   partition_ops=[[int(i) for i in p] for p in d["partition_ops"]],
                   blockers=[Blocker.from_json(b) for b in d["blockers"]],
                   ops=[OpSupport.from_json(o) for o in d["ops"]])


@dataclass(frozen=True)
class Disagreement:
    """An op the prediction and the runtime place differently."""
    subgraph: int
    index: int
    predicted: bool     # delegated, as predicted
    runtime: bool       # delegated by the runtime
    reason: str | None  # the prediction's reason when it says unsupported

    def to_json(self) -> dict[str, Any]:
        return {"subgraph": self.subgraph, "index": self.index, "predicted": self.predicted,
                "runtime": self.runtime, "reason": self.reason}


@dataclass(frozen=True)
class XnnpackVerification:
    """The XNNPACK prediction against what the real delegate replaced, in every subgraph it was
    applied to (the partition counts are the primary subgraph's)."""
    runtime: str
    subgraph: int
    subgraphs: list[int]
    agree: int
    total: int
    disagree: list[Disagreement]
    predicted_partitions: int
    runtime_partitions: int
    partitions_agree: bool
    runtime_error: str | None
    target: dict[str, Any] | None = None   # the board it ran on (over SSH), if any

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "subgraph": self.subgraph,
                "subgraphs": list(self.subgraphs), "agree": self.agree,
                "total": self.total, "disagree": [d.to_json() for d in self.disagree],
                "predicted_partitions": self.predicted_partitions,
                "runtime_partitions": self.runtime_partitions,
                "partitions_agree": self.partitions_agree, "runtime_error": self.runtime_error,
                **({"target": self.target} if self.target is not None else {})}


@dataclass(frozen=True)
class TflmVerification:
    """TFLite Micro's whole-model verdict against tflite-micro itself: does it refuse (or abort
    on) the model exactly when the rules say so?"""
    runtime: str                     # "tflite-micro 0.dev..."
    predicted_refused: str | None
    runtime_refused: str | None
    runtime_error_kind: str | None
    agree: bool

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "predicted_refused": self.predicted_refused,
                "runtime_refused": self.runtime_refused,
                "runtime_error_kind": self.runtime_error_kind, "agree": self.agree}


@dataclass
class DelegateSupport:
    """One delegate's verdict on every subgraph, with the options it was computed for."""
    name: str                       # the table's key ("xnnpack"); not in the JSON (its key)
    title: str
    runtime_reference: str
    options: dict[str, OptionValue]
    control_flow: str | None
    subgraphs: list[SubgraphSupport]
    # who answered: ``core.analysis.support.targets.provenance`` (source read, or tool run)
    provenance: dict[str, Any] = field(default_factory=dict)
    whole_model: bool = False       # a target without fallback (TFLM): all ops run, or none
    refused: str | None = None      # whole-model targets: why the model will not run there
    error: str | None = None        # tool-run targets: why the tool gave no answer
    # set by the check against the real thing (XNNPACK's delegate, tflite-micro)
    verified: XnnpackVerification | TflmVerification | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "runtime_reference": self.runtime_reference,
                               "provenance": self.provenance, "options": dict(self.options),
                               "control_flow": self.control_flow,
                               "subgraphs": [s.to_json() for s in self.subgraphs]}
        if self.whole_model:
            out["refused"] = self.refused
        if self.verified is not None:
            out["verified"] = self.verified.to_json()
        return out


@dataclass
class ToolTargetSupport(DelegateSupport):
    """A tool-run target's verdict (vela, the LiteRT NPU plugin: ``core.analysis.support.
    target_run``), typed from the block the tool's run left (and the cache keeps); its JSON is
    that block, with the tool's own extras (estimate, compile, note, ...)."""
    block: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_block(cls, name: str, block: dict[str, Any]) -> ToolTargetSupport:
        return cls(name=name, title=block["title"], runtime_reference=block["runtime_reference"],
                   options=dict(block["options"]), control_flow=block.get("control_flow"),
                   subgraphs=[SubgraphSupport.from_json(s) for s in block["subgraphs"]],
                   provenance=dict(block.get("provenance") or {}), error=block.get("error"),
                   block=block)

    @property
    def estimate(self) -> dict[str, Any] | None:
        return self.block.get("estimate")

    def to_json(self) -> dict[str, Any]:
        return dict(self.block)


@dataclass
class SupportReport:
    """Every chosen delegate's verdict, in the order asked."""
    delegates: dict[str, DelegateSupport] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {name: d.to_json() for name, d in self.delegates.items()}
