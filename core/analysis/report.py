"""The JSON report: the contract between core, CLI, GUI and tests (``litelens report --json``)."""
from __future__ import annotations

from typing import Any

from core import __version__
from core import format as fmt
from core.model.types import Model


def model_report(model: Model) -> dict[str, Any]:
    """Everything the reader knows about a model, as plain JSON-able data, with the tensor
    memory plan (``memory``, as ``litelens memory --json`` gives it at one thread)."""
    from core.analysis.memory import memory_report
    sigs = []
    for s in model.signatures:
        ts = model.subgraphs[s.subgraph].tensors
        sigs.append({"key": s.key, "subgraph": s.subgraph,
                     "inputs": {k: ts[i].to_json() for k, i in s.inputs.items()},
                     "outputs": {k: ts[i].to_json() for k, i in s.outputs.items()}})
    return {
        "litelens_version": __version__,
        "model": {
            "path": model.path,
            "size_bytes": model.size_bytes,
            "sha256": model.sha256,
            "schema_version": model.schema_version,
            "description": model.description,
            "min_runtime_version": model.min_runtime_version,
            "metadata": [m.name for m in model.metadata],
            "signatures": sigs,
        },
        "subgraphs": [
            {"index": sg.index, "name": sg.name, "inputs": list(sg.inputs),
             "outputs": list(sg.outputs),
             "operators": [op.to_json() for op in sg.operators],
             "tensors": [t.to_json() for t in sg.tensors]}
            for sg in model.subgraphs
        ],
        "memory": memory_report(model),
    }


def op_histogram(model: Model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            counts[op.label] = counts.get(op.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def weights_bytes(model: Model) -> int:
    return sum(b.size for b in model.buffers)


def summary_text(model: Model) -> str:
    """The human summary ``litelens report`` prints without --json."""
    lines = [f"{model.path}",
             f"  size        {fmt.size(model.size_bytes)} ({model.size_bytes} bytes), weights "
             f"{fmt.size(weights_bytes(model))}",
             f"  schema      v{model.schema_version}; min runtime "
             f"{model.min_runtime_version or 'not recorded'}"]
    if model.description:
        lines.append(f"  description {model.description}")
    if model.metadata:
        lines.append(f"  metadata    {', '.join(m.name for m in model.metadata)}")
    lines.append(f"  subgraphs   {len(model.subgraphs)}; operators {model.op_count}; tensors "
                 f"{model.tensor_count}; parsed in {model.parse_seconds * 1000:.1f} ms")
    for sg in model.subgraphs:
        lines.append(f"  [{sg.index}] {sg.name or '(unnamed)'}: {len(sg.operators)} ops, "
                     f"{len(sg.tensors)} tensors")
        for kind, idx in (("in ", sg.inputs), ("out", sg.outputs)):
            for i in idx:
                t = sg.tensors[i]
                lines.append(f"      {kind} {t.name} {list(t.shape)} {t.dtype}")
    for s in model.signatures:
        lines.append(f"  signature   '{s.key}' (subgraph {s.subgraph}): "
                     f"{', '.join(s.inputs)} -> {', '.join(s.outputs)}")
    hist = op_histogram(model)
    if hist:
        lines.append("  operators   " + ", ".join(f"{k} x{v}" for k, v in list(hist.items())[:12])
                     + (" ..." if len(hist) > 12 else ""))
    return "\n".join(lines)


def _tensor_brief(t) -> str:
    return f"{t.name} [{fmt.shape(t.shape_signature)}] {t.dtype}"


def info_sections(model: Model) -> list[tuple[str, list[tuple[str, str]]]]:
    """The model-info panel's content: (section title, [(key, value)]) — rendered by the GUI."""
    general = [("File", model.path),
               ("Size", f"{fmt.size(model.size_bytes)} ({model.size_bytes:,} bytes)"),
               ("Weights", f"{fmt.size(weights_bytes(model))} in "
                           f"{sum(1 for b in model.buffers if b.size)} buffers"
                           + (" (external, past the flatbuffer)"
                              if any(b.external for b in model.buffers) else "")),
               ("Schema version", str(model.schema_version)),
               ("Min runtime", model.min_runtime_version or "not recorded"),
               ("Operators", f"{model.op_count:,} in {len(model.subgraphs)} subgraph(s)"),
               ("Tensors", f"{model.tensor_count:,}"),
               ("Parse time", fmt.duration_ms(model.parse_seconds * 1000))]
    if model.description:
        general.insert(1, ("Description", model.description))
    sections = [("Model", general)]
    for s in model.signatures:
        ts = model.subgraphs[s.subgraph].tensors
        rows = [("Subgraph", str(s.subgraph))]
        rows += [(f"in: {k}", _tensor_brief(ts[i])) for k, i in s.inputs.items()]
        rows += [(f"out: {k}", _tensor_brief(ts[i])) for k, i in s.outputs.items()]
        sections.append((f"Signature '{s.key}'", rows))
    for sg in model.subgraphs:
        rows = [("Operators", str(len(sg.operators))), ("Tensors", str(len(sg.tensors)))]
        rows += [("input", _tensor_brief(sg.tensors[i])) for i in sg.inputs]
        rows += [("output", _tensor_brief(sg.tensors[i])) for i in sg.outputs]
        sections.append((f"Subgraph {sg.index}" + (f" '{sg.name}'" if sg.name else ""), rows))
    if model.metadata:
        sections.append(("Metadata", [(m.name, fmt.size(model.buffers[m.buffer].size))
                                      for m in model.metadata]))
    hist = op_histogram(model)
    if hist:
        sections.append(("Operator types", [(k, str(v)) for k, v in hist.items()]))
    return sections


def options_summary(options: dict) -> str:
    """One line for a table cell: 'padding=SAME stride_w=2 ...' (nested values abbreviated)."""
    parts = []
    for k, v in options.items():
        if isinstance(v, list) and len(v) > 6:
            v = f"[{', '.join(map(str, v[:6]))}, ...]"
        elif isinstance(v, dict):
            v = "{...}"
        parts.append(f"{k}={v}")
    return " ".join(parts)


def tensor_kind(t) -> str:
    return "variable" if t.variable else "constant" if t.constant else "activation"
