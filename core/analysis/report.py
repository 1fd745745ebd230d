"""The JSON report: the contract between core, CLI, GUI and tests (``litelens report --json``)."""
from __future__ import annotations

from typing import Any

from core import __version__
from core import format as fmt
from core.model.metadata import model_metadata
from core.model.types import Model


def model_report(model: Model) -> dict[str, Any]:
    """Everything the reader knows about a model, as plain JSON-able data, with the tensor
    memory plan (``memory``, as ``litelens memory --json`` gives it at one thread) and
    ``metadata``, the decoded TFLITE_METADATA block (None when the model has none)."""
    from core.analysis.memory import memory_report
    meta = model_metadata(model)
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
        "metadata": meta.to_json() if meta.present else None,
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
        meta = model_metadata(model)
        about = [v for v in (meta.name, meta.version and f"version {meta.version}",
                             meta.author and f"by {meta.author}", meta.license) if v]
        if about:
            lines.append(f"              {'; '.join(about)}")
        lines += [f"  warning     metadata: {w}" for w in meta.warnings]
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
        sections += metadata_sections(model)
    hist = op_histogram(model)
    if hist:
        sections.append(("Operator types", [(k, str(v)) for k, v in hist.items()]))
    return sections


def _floats_text(values: list[float] | None) -> str:
    if not values:
        return ""
    shown = ", ".join(f"{v:g}" for v in values[:4])
    return f"[{shown}{', …' if len(values) > 4 else ''}]"


def _labels_text(labels: list[str]) -> str:
    head = ", ".join(labels[:5])
    return f"{len(labels):,}: {head}{', …' if len(labels) > 5 else ''}"


def _file_text(f) -> str:
    size = fmt.size(f.size_bytes) if f.size_bytes is not None else "not packed in the model"
    bits = [f.type.replace("_", " ").lower(), size]
    if f.locale:
        bits.append(f.locale)
    return f"{f.name} ({', '.join(bits)})" + (f" — {f.description}" if f.description else "")


def _tensor_metadata_rows(ti) -> list[tuple[str, str]]:
    rows = [(k, v) for k, v in (
        ("Description", ti.description or ""), ("Content", ti.content or ""),
        ("Dimensions", ", ".join(ti.dimension_names or [])),
        ("Normalization", f"(x − {_floats_text(ti.mean)}) / {_floats_text(ti.std)}"
         if ti.mean or ti.std else ""),
        ("Range (stats)", f"{_floats_text(ti.min)} … {_floats_text(ti.max)}"
         if ti.min or ti.max else ""),
        ("Score threshold", f"{ti.score_threshold:g}" if ti.score_threshold is not None else ""),
        ("Score calibration", ti.score_calibration or ""),
        ("Labels", _labels_text(ti.labels) if ti.labels else ""),
        ("Value labels", _labels_text(ti.value_labels) if ti.value_labels else "")) if v]
    rows += [("File", _file_text(f)) for f in ti.files]
    return rows


def metadata_sections(model: Model) -> list[tuple[str, list[tuple[str, str]]]]:
    """The model's metadata buffers and the decoded TFLITE_METADATA, for the info panel."""
    meta = model_metadata(model)
    rows = [(k, v) for k, v in (("Name", meta.name), ("Version", meta.version),
                                ("Author", meta.author), ("License", meta.license),
                                ("Description", meta.description),
                                ("Parser version", meta.min_parser_version)) if v]
    rows += [("File", _file_text(f)) for f in meta.files]
    rows += [("Warning", w) for w in meta.warnings]
    rows += [(f"Buffer {m.name}", fmt.size(model.buffers[m.buffer].size))
             for m in model.metadata]
    sections = [("Metadata", rows)]
    for k, sg in enumerate(meta.subgraphs):
        where = f" (subgraph {k})" if len(meta.subgraphs) > 1 else ""
        for kind, infos in (("input", sg.inputs), ("output", sg.outputs)):
            for ti in infos:
                tr = _tensor_metadata_rows(ti)
                if tr:
                    sections.append((f"Metadata: {kind} '{ti.name or '?'}'{where}", tr))
        extra = [("Description", sg.description)] if sg.description else []
        extra += [("File", _file_text(f)) for f in sg.files]
        extra += [("Custom", f"{c['name']} ({fmt.size(c['size_bytes'])})") for c in sg.custom]
        if extra:
            sections.append((f"Metadata: subgraph {k}" + (f" '{sg.name}'" if sg.name else ""),
                             extra))
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
