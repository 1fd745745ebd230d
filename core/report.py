"""The JSON report: the contract between core, CLI, GUI and tests (``litelens report --json``)."""
from __future__ import annotations

from typing import Any

from core import __version__
from core.model import Model


def model_report(model: Model) -> dict[str, Any]:
    """Everything the reader knows about a model, as plain JSON-able data."""
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
    }


def op_histogram(model: Model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            counts[op.label] = counts.get(op.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def weights_bytes(model: Model) -> int:
    return sum(b.size for b in model.buffers)


def summary_text(model: Model) -> str:
    """The human summary ``litelens report`` prints without --json."""
    lines = [f"{model.path}",
             f"  size        {human_size(model.size_bytes)} ({model.size_bytes} bytes), weights "
             f"{human_size(weights_bytes(model))}",
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
