"""Arm Ethos-U targets (``ethos-u55-128`` ...), answered by vela itself.

Vela runs in the worker (job ``ethos_u``); this module turns its record into the same per-delegate
block as the rule delegates (every subgraph, each op NPU or CPU with vela's reason, the
partitions), plus vela's estimates::

    "estimate": {"sram_bytes", "offchip_bytes", "cycles", "inference_ms", "system_config",
                 "memory_mode", "accelerator", "clock_hz", "tool", "covers",
                 "per_op_subgraphs", "per_op_missing": [{"subgraph", "npu_ops"}],
                 "per_op_note", "per_op": [{"subgraph", "index", "cycles", "ms"}]}

The placement comes from vela's ``*_vela.tflite`` (``core.analysis.support.compiled``), so it
covers every subgraph; the model's estimates come from vela's summary; per op, from its
per-layer CSV, which covers one subgraph only: ``per_op_subgraphs`` names it, ``per_op_missing``
lists the NPU ops (per subgraph) it gives no figure for, ``per_op_note`` says so.
Without vela installed, or when vela refuses the model, the block has no subgraphs and says why
in ``error`` (no answer is made up).
"""
from __future__ import annotations

from typing import Any, Callable

from core.analysis.overlay import KIND_DELEGATE, Overlay, heat_overlay
from core.analysis.support.analyze import subgraph_macs
from core.analysis.support.compiled import REMOVED, CompiledOp, Placement, placement
from core.analysis.support.graph import SubgraphView
from core.analysis.support.result import SubgraphSupport
from core.analysis.support.targets import (
    cache_key,
    cached,
    ethos_u_table,
    provenance,
    stage_reporter,
    store,
    target_facts,
)
from core.errors import ModelError
from core.inference.toolchains import vela_version
from core.model.types import Model

ON_CPU = "left on the CPU by vela"


def resolved_options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults, the caller's options, and the accelerator's own system config / memory mode
    where left empty."""
    facts = target_facts(name)
    opts = {k: v["default"] for k, v in facts["options"].items()}
    opts.update(options or {})
    acc = ethos_u_table()["accelerators"][name]
    opts["system_config"] = opts["system_config"] or acc["system_config"]
    opts["memory_mode"] = opts["memory_mode"] or acc["memory_mode"]
    return opts


def _block(name: str, opts: dict[str, Any], version: str | None) -> dict[str, Any]:
    facts = target_facts(name)
    return {"title": facts["title"],
            "runtime_reference": f"ethos-u-vela {version} run here" if version else
            "ethos-u-vela (not installed)",
            "options": opts, "control_flow": None,
            "provenance": provenance("tool", "ethos-u-vela", version,
                                     "vela's own placement and estimates"),
            "error": None, "estimate": None, "subgraphs": []}


def analyze_ethos_u(model: Model, name: str, options: dict[str, Any] | None = None,
                    timeout: float = 600.0, use_cache: bool = True,
                    progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The block of target ``name`` (an Ethos-U accelerator id) for ``model``; ``progress``
    hears the worker's stages."""
    opts = resolved_options(name, options)
    version = vela_version()
    block = _block(name, opts, version)
    if version is None:
        block["error"] = f"ethos-u-vela is not installed: {ethos_u_table()['install']}"
        block["provenance"] = provenance("none", note="no answer: vela is not installed")
        return block
    key = cache_key(model.sha256, name, opts, version)
    if use_cache and (hit := cached(key)) is not None:
        return hit
    from core.inference.config import RunConfig
    from core.inference.session import run_ethos_u
    params = {"accelerator": name, "system_config": opts["system_config"],
              "memory_mode": opts["memory_mode"], "optimise": opts["optimise"],
              "config": opts["vela_config"]}
    result = run_ethos_u(RunConfig(model=str(model.path), timeout_s=timeout), params,
                         model=model,
                         on_message=stage_reporter(progress, f"vela for {name}"))
    vela = result["vela"]
    if vela is None:
        raise ModelError(model.path, f"vela could not run: {result['error'] or result['status']}")
    if not vela["ok"]:
        block["error"] = f"vela could not compile the model: {vela['failure']}"
        block["provenance"]["kind"] = "none"
    else:
        fill(block, model, vela)
    store(key, block)
    return block


def fill(block: dict[str, Any], model: Model, vela: dict[str, Any]) -> None:
    """Put vela's record (the ``ethos_u`` job's ``vela`` message) into ``block``."""
    views = [SubgraphView(model, sg) for sg in model.subgraphs]
    compiled = [[CompiledOp.from_json(o) for o in sg["ops"]] for sg in vela["compiled"]]
    partition_op = ethos_u_table()["partition_op"]
    place = placement(views, compiled,
                      lambda op: op.op == "CUSTOM" and op.custom == partition_op)
    reasons = _reasons(views, place, vela["reasons"])
    macs = subgraph_macs(model)
    block["subgraphs"] = [SubgraphSupport.from_verdicts(v.subgraph.index, reasons[s],
                                                        place.partitions[s], macs[s],
                                                        []).to_json()
                          for s, v in enumerate(views)]
    npu = [[i for i in range(len(v.ops)) if i not in place.cpu[s] and i not in place.removed[s]]
           for s, v in enumerate(views)]
    block["estimate"] = _estimate(views, vela, block["options"], npu)
    if place.unmatched:
        block["note"] = ("vela's output has CPU ops that match no op of the model: "
                         + ", ".join(sorted(set(place.unmatched))))


def _unstamped(views: list[SubgraphView], text: str) -> str:
    """vela's text with each stamped tensor name back to the model's own ("tensor 12 'x'")."""
    from core.model.stamp import STAMPED_NAME

    def name(m) -> str:
        s, t = int(m.group(1)), int(m.group(2))
        if s >= len(views) or t >= len(views[s].tensors):
            return m.group(0)
        own = views[s].tensors[t].name
        return f"tensor {t} '{own}'" if own else f"tensor {t}"
    return STAMPED_NAME.sub(name, text)


def _reasons(views: list[SubgraphView], place: Placement,
             warnings: list[dict[str, Any]]) -> list[list[str | None]]:
    from core.model.stamp import stamped_tensor
    said: dict[tuple[int, int], str] = {}
    by_kind: dict[str, str] = {}
    for w in warnings:
        ref = stamped_tensor(w["ofm"])
        text = _unstamped(views, w["reason"]) if w["reason"] else ON_CPU
        if ref and ref[0] < len(views) and (p := views[ref[0]].producer(ref[1])) is not None:
            said.setdefault((ref[0], p), text)
        else:
            by_kind.setdefault(w["op"], text)   # an op without outputs (ASSIGN_VARIABLE)
    out = []
    for s, v in enumerate(views):
        gone = REMOVED.format(tool="vela", where="the NPU")
        out.append([gone if i in place.removed[s] else None if i not in place.cpu[s] else
                    said.get((s, i)) or by_kind.get(op.op) or ON_CPU
                    for i, op in enumerate(v.ops)])
    return out


def _estimate(views: list[SubgraphView], vela: dict[str, Any], opts: dict[str, Any],
              npu: list[list[int]]) -> dict[str, Any]:
    """vela's summary for the model, and per op what its per-layer CSV gives. That CSV covers
    one subgraph of a multi-subgraph model (the one vela compiled last), so the NPU ops of the
    others have no per-op figure: ``per_op_missing`` lists them, ``per_op_note`` says so; none
    is made up."""
    s = vela.get("summary") or {}
    clock = float(s.get("core_clock") or 0.0)
    per_op: dict[tuple[int, int], float] = {}
    for row in vela.get("layers") or []:
        ref = row["tensor"]
        if not ref or row["target"] != "NPU" or ref[0] >= len(views):
            continue
        p = views[ref[0]].producer(ref[1])
        if p is not None:
            per_op[(ref[0], p)] = per_op.get((ref[0], p), 0.0) + row["cycles"]

    without = {sg: [i for i in ops if (sg, i) not in per_op] for sg, ops in enumerate(npu)}
    missing = [{"subgraph": sg, "npu_ops": ops} for sg, ops in without.items() if ops]
    covered = sorted({k[0] for k in per_op})
    note = None
    if missing:
        where = ", ".join(f"subgraph {sg} ({len(ops)} NPU op{'s' * (len(ops) > 1)})"
                          for sg, ops in without.items() if ops)
        note = ("vela's per-layer report has figures for "
                + (("subgraph " + ", ".join(map(str, covered))) if covered else "no op")
                + f" only; none for {where}: those ops keep no per-op estimate")

    def kib(key: str) -> int | None:
        return int(round(float(s[key]) * 1024)) if key in s else None
    offchip = [kib(k) for k in ("off_chip_flash_memory_used", "dram_memory_used")]
    return {"sram_bytes": kib("sram_memory_used"),
            "offchip_bytes": sum(x for x in offchip if x is not None)
            if any(x is not None for x in offchip) else None,
            "cycles": int(s["cycles_total"]) if "cycles_total" in s else None,
            "inference_ms": round(float(s["inference_time"]) * 1000, 6)
            if "inference_time" in s else None,
            "system_config": opts["system_config"], "memory_mode": opts["memory_mode"],
            "accelerator": s.get("accelerator_configuration"),
            "clock_hz": clock or None, "tool": f"ethos-u-vela {vela['version']}",
            "covers": "the model (vela's network summary)",
            "per_op_subgraphs": sorted({k[0] for k in per_op}),
            "per_op_missing": missing, "per_op_note": note,
            "per_op": [{"subgraph": k[0], "index": k[1], "cycles": int(c),
                        "ms": round(c / clock * 1000, 6) if clock else None}
                       for k, c in sorted(per_op.items())]}


def estimate_line(block: dict[str, Any]) -> str:
    """'estimated @ 500 MHz: 1.4 MiB SRAM, 3.5 MiB off-chip, 7.89M cycles, 15.8 ms/inference
    (Ethos_U55_High_End_Embedded, Shared_Sram; ethos-u-vela 5.2.0)'."""
    from core import format as fmt
    e = block["estimate"]
    clock = f" @ {e['clock_hz'] / 1e6:g} MHz" if e["clock_hz"] else ""
    parts = []
    if e["sram_bytes"] is not None:
        parts.append(f"{fmt.size(e['sram_bytes'])} SRAM")
    if e["offchip_bytes"] is not None:
        parts.append(f"{fmt.size(e['offchip_bytes'])} off-chip")
    if e["cycles"] is not None:
        parts.append(f"{fmt.count(e['cycles'])} cycles")
    if e["inference_ms"] is not None:
        parts.append(f"{fmt.duration_ms(e['inference_ms'])}/inference")
    line = (f"estimated{clock}: {', '.join(parts)} "
            f"({e['system_config']}, {e['memory_mode']}; {e['tool']})")
    return line + (f"; {e['per_op_note']}" if e.get("per_op_note") else "")


def estimate_overlay(block: dict[str, Any]) -> Overlay:
    """vela's per-op estimated latency as a heat overlay, labelled with the accelerator and its
    clock ("Arm Ethos-U55-128 (vela) estimated latency @ 500 MHz"). Ops the per-layer report
    does not cover keep their colour."""
    from core import format as fmt
    e = block.get("estimate") or {}
    clock = f" @ {e['clock_hz'] / 1e6:g} MHz" if e.get("clock_hz") else ""
    name = f"{block['title']} estimated latency{clock}"
    values = {(p["subgraph"], p["index"]): p["ms"] for p in e.get("per_op") or ()
              if p["ms"] is not None}
    summary = (estimate_line(block) if e else block.get("error") or "no estimate")
    return heat_overlay(values, name=name, summary=summary, text=fmt.duration_ms,
                        kind=KIND_DELEGATE)
