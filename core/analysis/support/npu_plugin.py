"""LiteRT NPU compiler plugins as targets (``npu-intel``, ``npu-qualcomm:SM8650`` ...): one adapter
over the plugin's partition step, for any vendor whose plugin and SDK are really present here.

The wheel's ``apply_plugin_main`` runs in the worker (job ``npu_plugin``) on a copy with stamped
tensor names; its output maps back to op indices (``core.analysis.support.compiled``), so each op
is on the NPU (in a ``DISPATCH_OP`` partition) or left on the CPU, for every subgraph. The
plugin says nothing about why an op stays on the CPU, so the reason is that it did not select
it. ``compile_check`` runs the plugin's compile step too (``--cmd=apply``), which fails for a
whole partition the vendor compiler rejects even after the partitioner took it.

Before anything runs, ``sdk_status`` looks at what is installed (the pip package that brings the
vendor SDK, the libraries that must be in it; an install whose download was blocked leaves the
package empty) and the block names exactly what is missing. The worker then tries the plugin
library itself, so a plugin that does not load here (an undefined symbol) says so in the loader's
words.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from core.analysis.support.analyze import subgraph_macs
from core.analysis.support.compiled import REMOVED, CompiledOp, Placement, placement
from core.analysis.support.graph import SubgraphView
from core.analysis.support.result import SubgraphSupport
from core.analysis.support.targets import (
    cache_key,
    cached,
    npu_table,
    provenance,
    split_id,
    stage_reporter,
    store,
)
from core.errors import ModelError
from core.inference.toolchains import dist_version as _version
from core.inference.toolchains import package_dir as _package_dir
from core.model.types import Model

NOT_SELECTED = "not selected by the plugin's partitioner (stays on the CPU)"
COMPILE_FAILED = "its partition failed to compile (stays on the CPU): {reason}"


def vendor_facts(name: str, soc_option: str | None = None) -> tuple[str, dict[str, Any], str]:
    """(vendor key, its table entry, the SoC) of ``npu-<vendor>[:SOC]``, the SoC also given as
    the ``soc`` option (which wins); ValueError for an SoC the plugin does not know."""
    base, soc = split_id(name)
    key = base.removeprefix("npu-")
    vendor = npu_table()["vendors"][key]
    soc = soc_option or soc or vendor["default_soc"]
    if soc not in vendor["socs"]:
        raise ValueError(f"{base}: unknown SoC {soc!r} (one of {', '.join(vendor['socs'])})")
    return key, vendor, soc


def sdk_status(vendor: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(what is missing, library folders the plugin needs on its path) for a vendor's SDK."""
    sdk = vendor["sdk"]
    missing: list[str] = []
    lib_path: list[str] = []
    if _version(sdk["package"]) is None:
        missing.append(f"{sdk['package']} is not installed")
    if "runtime_package" in sdk:
        have = _version(sdk["runtime_package"])
        if have != sdk["runtime_version"]:
            missing.append(f"{sdk['runtime_package']} {sdk['runtime_version']} (the version the "
                           f"plugin links) is {'at ' + have if have else 'not installed'}")
        libs = _package_dir(sdk["runtime_package"])
        if libs is not None and (libs / "libs").is_dir():
            lib_path.append(str(libs / "libs"))
    elif sdk.get("module") and _version(sdk["package"]) is not None:
        root = _package_dir(sdk["module"])
        found = {p.name: p.parent for p in root.rglob("*.so*")} if root else {}
        absent = [lib for lib in sdk["libs"] if lib not in found]
        if absent:
            missing.append(f"{sdk['package']} is installed but its SDK is empty: no "
                           f"{', '.join(absent)} under {root} (the vendor download at install "
                           "time did not happen)")
        lib_path += sorted({str(d) for d in found.values()})
    return missing, lib_path


def _block(name: str, vendor: dict[str, Any], soc: str) -> dict[str, Any]:
    litert = _version("ai-edge-litert")
    return {"title": f"LiteRT NPU plugin: {vendor['title']} ({soc})",
            "runtime_reference": f"ai-edge-litert {litert} apply_plugin_main run here",
            "options": {"soc": soc}, "control_flow": None,
            "provenance": provenance("tool", "ai-edge-litert apply_plugin_main", litert,
                                     "the plugin's own partition"),
            "error": None, "subgraphs": [], "compile": None}


def _run(model: Model, vendor: dict[str, Any], soc: str, cmd: str, lib_path: list[str],
         flags: list[str], timeout: float,
         progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    from core.inference.config import RunConfig
    from core.inference.session import run_npu_plugin
    params = {"dir": vendor["dir"], "manufacturer": vendor["manufacturer"], "soc": soc,
              "cmd": cmd, "flags": flags, "lib_path": lib_path}
    result = run_npu_plugin(RunConfig(model=str(model.path), timeout_s=timeout), params,
                            model=model,
                            on_message=stage_reporter(progress, f"{vendor['title']} plugin"))
    if result["plugin"] is None:
        raise ModelError(model.path, "the NPU plugin could not run: "
                                     f"{result['error'] or result['status']}")
    return result["plugin"]


def _failure(run: dict[str, Any]) -> str:
    if run["load_error"]:
        return f"the plugin library does not load here: {run['load_error']}"
    errors = [ln for ln in run["lines"] if ln.startswith(("ERROR", "E0", "F0"))] or run["lines"]
    return "; ".join(errors[-3:]) or f"apply_plugin_main exited with code {run['returncode']}"


def analyze_npu(model: Model, name: str, options: dict[str, Any] | None = None,
                timeout: float = 600.0, use_cache: bool = True, compile_check: bool = False,
                progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The block of NPU target ``name``. ``compile_check``: also compile every partition
    (``"compile"``: {"ok", "device", "error"})."""
    key_name, vendor, soc = vendor_facts(name, (options or {}).get("soc") or None)
    opts = {k: v["default"] for k, v in vendor.get("options", {}).items()}
    opts.update(options or {})
    block = _block(name, vendor, soc)
    block["options"].update(opts)
    block["options"]["soc"] = soc
    missing, lib_path = sdk_status(vendor)
    if missing:
        loads = _run(model, vendor, soc, "load", lib_path, [], timeout)
        if loads["load_error"]:
            missing.append(f"the plugin library does not load here: {loads['load_error']}")
        block["error"] = (f"the {vendor['title']} SDK is not really present: "
                          f"{'; '.join(missing)}. Install: {vendor['sdk']['install']}")
        block["provenance"] = provenance("none", note="no answer: the vendor SDK is missing")
        return block
    litert = _version("ai-edge-litert") or "?"
    key = cache_key(model.sha256, f"npu-{key_name}:{soc}",
                    {**opts, "compile": compile_check}, litert)
    if use_cache and (hit := cached(key)) is not None:
        return hit
    run = _run(model, vendor, soc, "partition", lib_path, [], timeout, progress)
    if not run["ok"]:
        block["error"] = f"the plugin could not partition the model: {_failure(run)}"
        block["provenance"]["kind"] = "none"
    else:
        views = [SubgraphView(model, sg) for sg in model.subgraphs]
        compiled = [[CompiledOp.from_json(o) for o in sg["ops"]] for sg in run["compiled"]]
        dispatch = npu_table()["partition_op"]
        place = placement(views, compiled,
                          lambda op: op.op == dispatch or op.custom == dispatch)
        if compile_check and any(place.partitions):
            block["compile"] = compile_partitions(model, vendor, soc, opts, lib_path, timeout,
                                                  progress)
            block["compile"]["failed_partitions"] = failed_partitions(
                views, compiled, place, block["compile"].pop("partitions"))
        elif compile_check:     # the tool's apply step fails when there is nothing to compile
            block["compile"] = {"ok": True, "device": opts.get("compile_device"),
                                "error": None, "note": "no partition to compile",
                                "failed_partitions": []}
        fill(block, model, views, place, run, (block["compile"] or {}).get("failed_partitions"))
    store(key, block)
    return block


def compile_partitions(model: Model, vendor: dict[str, Any], soc: str, opts: dict[str, Any],
                       lib_path: list[str], timeout: float = 600.0,
                       progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """The plugin's compile step (``--cmd=apply``) over every partition: {"ok", "device",
    "error", "partitions"}. A partition the partitioner took can still fail here as a whole;
    then ``partitions`` is the worker's compile of each partition alone (else None)."""
    device = opts.get("compile_device")
    flags = [f"--intel_openvino_graph_backends={device}"] if device and \
        vendor["dir"] == "intel_openvino" else []
    run = _run(model, vendor, soc, "apply", lib_path, flags, timeout, progress)
    return {"ok": run["ok"], "device": device,
            "error": None if run["ok"] else _failure(run), "partitions": run.get("partitions")}


def compiler_reason(lines: list[str]) -> str:
    """The vendor compiler's own words from a failed compile's log lines: its first error (the
    later ones only say that the step failed), without the log tag. An OpenVINO validation error
    is cut to its reason and the node it names; the failed check's source location and operand
    dump would hide the reason in a line too long to read."""
    errors = [ln for ln in lines if ln.startswith(("ERROR", "E0", "F0"))]
    if not errors:
        return "; ".join(lines[-3:]) or "the compile step failed without a message"
    text = re.sub(r"^ERROR: \[[^\]]*\]\s*", "", errors[0])
    node = re.search(r"While validating node .* with friendly_name '([^']*)':\s*(.+)$", text)
    if node:
        return f"{node.group(2)} (OpenVINO node {node.group(1)})"
    return re.sub(r"Check '.*' failed at \S+:\d+:\s*", "", text)


def failed_partitions(views: list[SubgraphView], compiled: list[list[CompiledOp]],
                      place: Placement, alone: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The partitions whose body failed to compile on its own: [{"subgraph", "partition" (its
    index in the placement), "ops", "error"}]. A body (an outlined subgraph of the partitioned
    model) is the partition whose original ops produce the tensors its ops write."""
    found = []
    for body in alone or []:
        if body["ok"] or body["subgraph"] >= len(compiled):
            continue
        made = {tuple(r) for op in compiled[body["subgraph"]] for r in op.outputs if r}
        for s, parts in enumerate(place.partitions):
            producers = {views[s].producer(t) for (where, t) in made if where == s}
            for p, ops in enumerate(parts):
                if producers & set(ops):
                    found.append({"subgraph": s, "partition": p, "ops": list(ops),
                                  "error": compiler_reason(body["lines"])})
    return found


def fill(block: dict[str, Any], model: Model, views: list[SubgraphView], place: Placement,
         run: dict[str, Any], failed: list[dict[str, Any]] | None = None) -> None:
    """The per-op answer from the plugin's placement; the ops of a partition that failed to
    compile are off the NPU, with the compiler's reason."""
    macs = subgraph_macs(model)
    gone = REMOVED.format(tool="the plugin", where="the NPU")
    rejected = [{i: COMPILE_FAILED.format(reason=f["error"]) for f in failed or []
                 if f["subgraph"] == s for i in f["ops"]} for s in range(len(views))]
    dropped = [{f["partition"] for f in failed or [] if f["subgraph"] == s}
               for s in range(len(views))]
    block["subgraphs"] = [
        SubgraphSupport.from_verdicts(
            v.subgraph.index,
            [NOT_SELECTED if i in place.cpu[s] else gone if i in place.removed[s]
             else rejected[s].get(i) for i in range(len(v.ops))],
            [ops for p, ops in enumerate(place.partitions[s]) if p not in dropped[s]],
            macs[s], []).to_json()
        for s, v in enumerate(views)]
    block["tool_counts"] = run["counts"]
    if place.unmatched:
        block["note"] = ("the plugin's output has CPU ops that match no op of the model: "
                         + ", ".join(sorted(set(place.unmatched))))


def run_against_xnnpack(model: Model, soc: str = "LNL", runs: int = 20,
                        timeout: float = 600.0) -> dict[str, Any]:
    """Compile ``model`` with the Intel plugin for OpenVINO's CPU device, run it through the
    plugin's dispatch library (LiteRT CompiledModel, NPU accelerator) and with XNNPACK on the
    same inputs: ``{"npu_median_ms", "xnnpack_median_ms", "fully_accelerated", "outputs":
    [{"name", "shape", "max_abs", "ref_max_abs", "cosine"}], "device", "soc", "runs"}``."""
    from core.inference.config import RunConfig
    from core.inference.session import run_npu_plugin
    result = run_npu_plugin(RunConfig(model=str(model.path), timeout_s=timeout),
                            {"cmd": "run", "soc": soc, "device": "cpu", "runs": runs},
                            model=model)
    if result["npu_run"] is None:
        raise ModelError(model.path, "the Intel NPU dispatch run failed: "
                                     f"{result['error'] or result['status']}")
    return result["npu_run"]


def _figure(v: float | None) -> str:
    """A figure of the run's comparison; None is a NaN the worker's strict JSON sent as null."""
    return "not a number" if v is None else f"{v:.3g}"


def run_line(r: dict[str, Any]) -> str:
    """'dispatch (OpenVINO cpu via LiteRT NPU accelerator): 0.79 ms median vs XNNPACK 2.1 ms;
    outputs vs XNNPACK: regressors max abs 1.28 (of 153), cosine 0.99999'."""
    from core import format as fmt
    outs = "; ".join(f"{o['name']} max abs {_figure(o['max_abs'])} (of "
                     f"{_figure(o['ref_max_abs'])})"
                     + (f", cosine {o['cosine']:.6f}" if o["cosine"] is not None else "")
                     for o in r["outputs"])
    return (f"ran through the plugin's dispatch library (OpenVINO {r['device']} device, "
            f"{'fully' if r['fully_accelerated'] else 'partly'} on the NPU accelerator): "
            f"{fmt.duration_ms(r['npu_median_ms'])} median vs XNNPACK "
            f"{fmt.duration_ms(r['xnnpack_median_ms'])} ({r['runs']} runs); outputs vs "
            f"XNNPACK: {outs}")
