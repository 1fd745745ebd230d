"""The runtime's own answer for XNNPACK, and the comparison with our prediction.

The check runs as the worker job ``xnnpack_placement`` (a native crash must not take the caller
down); this module starts it and compares."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from core.errors import ModelError
from core.inference.ssh_target import SshTarget


def runtime_placement(path: str, interpreter_options: dict[str, Any] | None = None,
                      timeout: float = 120.0, target: SshTarget | None = None,
                      shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    """What the real XNNPACK delegate did with the model: ``{"runtime", "subgraph", "nodes",
    "delegate_nodes", "partitions", "allocation_error", "options"}`` for the primary subgraph,
    and ``"subgraphs": [{"subgraph", "partitions"}]`` for every subgraph it delegated.
    ``interpreter_options``: clustering / node_fusion (see ``analyze.interpreter_options``);
    ``shapes``: inputs resized to these before the delegate is applied (``--shape``).
    A model the runtime cannot load, a crash or a timeout becomes a ModelError. ``target``: a
    board over SSH (``TargetError`` when it cannot run); ``"target"`` is then added."""
    from core.inference.config import RunConfig
    from core.inference.remote import run_job
    cfg = RunConfig(model=str(path), timeout_s=timeout,
                    delegate_options=dict(interpreter_options or {}),
                    shapes={k: list(v) for k, v in shapes.items()} if shapes else None)
    result = run_job(cfg, "xnnpack_placement", target)
    if result["placement"] is None:
        raise ModelError(path, "the runtime could not check XNNPACK: "
                               f"{result['error'] or result['status']}")
    if "target" in result:
        return {**result["placement"], "target": result["target"]}
    return result["placement"]


def compare(predicted: dict[str, Any], placement: dict[str, Any]) -> dict[str, Any]:
    """Prediction (the analyze() entry for xnnpack) vs the runtime, in every subgraph the runtime
    delegated (``placement["subgraphs"]``; CALL_ONCE init and control-flow bodies included).
    ``agree``/``total`` count ops over those subgraphs; ``disagree`` names each op's subgraph;
    the partition counts are the primary subgraph's, ``partitions_agree`` holds for all."""
    checked = placement.get("subgraphs") or [{"subgraph": placement["subgraph"],
                                              "partitions": placement["partitions"]}]
    disagree: list[dict[str, Any]] = []
    total, parts_agree = 0, True
    for seen in checked:
        sg = predicted["subgraphs"][seen["subgraph"]]
        real = {i for p in seen["partitions"] for i in p}
        total += len(sg["ops"])
        parts_agree &= sg["partitions"] == len(seen["partitions"])
        for o in sg["ops"]:
            ours = o["partition"] is not None
            theirs = o["index"] in real
            if ours != theirs:
                disagree.append({"subgraph": seen["subgraph"], "index": o["index"],
                                 "predicted": ours, "runtime": theirs, "reason": o["reason"]})
    primary = predicted["subgraphs"][placement["subgraph"]]
    return {"runtime": placement["runtime"], "subgraph": placement["subgraph"],
            "subgraphs": [s["subgraph"] for s in checked],
            "agree": total - len(disagree), "total": total, "disagree": disagree,
            "predicted_partitions": primary["partitions"],
            "runtime_partitions": placement["delegate_nodes"],
            "partitions_agree": parts_agree,
            "runtime_error": placement["allocation_error"],
            **({"target": placement["target"]} if "target" in placement else {})}


def verdict_line(v: dict[str, Any]) -> str:
    """'checked against LiteRT 2.3.0: 282/282 agree, 1 partition'."""
    p = v["runtime_partitions"]
    text = (f"checked against {v['runtime']}: {v['agree']}/{v['total']} agree, "
            f"{p} partition{'s' if p != 1 else ''}")
    if not v["partitions_agree"]:
        text += f" (predicted {v['predicted_partitions']})"
    if v.get("target"):
        text += f" on {v['target']['address']}"
    return text


def disagreement_line(d: dict[str, Any]) -> str:
    """'op 12: predicted delegated, runtime CPU' (one entry of ``compare()["disagree"]``)."""
    def where(delegated: bool) -> str:
        return "delegated" if delegated else "CPU"
    where_op = f"subgraph {d['subgraph']} op {d['index']}" if d.get("subgraph") else f"op {d['index']}"
    return f"{where_op}: predicted {where(d['predicted'])}, runtime {where(d['runtime'])}"



def proven_by_runtime(predicted: dict[str, Any]) -> dict[str, Any]:
    """The XNNPACK block's provenance once ``compare`` checked it against the real delegate."""
    from core.analysis.support.targets import provenance
    v = predicted["verified"]
    runtime, _, version = v["runtime"].partition(" ")
    return provenance("tool", f"{runtime} XNNPACK delegate", version or None,
                      f"prediction checked: {verdict_line(v)}")
