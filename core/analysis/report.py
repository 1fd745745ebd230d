"""The model report: everything the reader knows about a model, typed (``ModelReport``), and its
JSON (``ModelReport.to_json()``, ``litelens report --json``: the contract other tools and the tests
use); the info panel's sections; the text summary."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from core import __version__
from core import format as fmt
from core.analysis.totals import ModelTotals, Totals, model_totals
from core.fileio import finite_or_null
from core.format import printable
from core.graph.scopes import ScopeNode, scope_tree
from core.model.metadata import ModelMetadata, model_metadata
from core.model.types import Model, Operator, Subgraph, Tensor

if TYPE_CHECKING:
    from core.analysis.memory.result import MemoryReport
    from core.analysis.support.result import SupportReport

MAX_WARNINGS = 200  # a hostile file can have a NaN in every scale: list the first, count the rest


class _Warnings:
    """Collects what the report had to change (non-finite numbers -> null), naming where."""

    def __init__(self):
        self.items: list[str] = []
        self.seen: set[str] = set()
        self.more = 0

    def finite(self, value, what: str):
        found: list[str] = []
        out = finite_or_null(value, "", found)
        for f in found:
            w = f"{what}: {f} in the file; reported as null"
            if w in self.seen:
                continue
            self.seen.add(w)
            if len(self.items) < MAX_WARNINGS:
                self.items.append(w)
            else:
                self.more += 1
        return out

    def as_list(self) -> list[str]:
        tail = [f"... and {self.more} more non-finite values"] if self.more else []
        return self.items + tail


def tensor_where(t: Tensor) -> str:
    return f"tensor {t.index} '{printable(t.name, 120)}' (subgraph {t.subgraph})"


def op_where(op: Operator) -> str:
    return f"operator {op.index} {printable(op.label, 60)} (subgraph {op.subgraph})"


def nonfinite_quantization_warnings(model: Model) -> list[str]:
    """Non-finite quantization numbers in the file (cheap: no option decoding), for the info panel."""
    w = _Warnings()
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.quantization is not None:
                q = t.quantization
                w.finite({"quantization": {"scale": list(q.scale), "min": list(q.min),
                                           "max": list(q.max)}}, tensor_where(t))
    return w.as_list()


@dataclass(frozen=True)
class SignatureReport:
    key: str
    subgraph: int
    inputs: dict[str, Tensor]    # signature name -> tensor of ``subgraph``
    outputs: dict[str, Tensor]


@dataclass(frozen=True)
class ModelSummary:
    path: str
    size_bytes: int
    sha256: str
    schema_version: int
    description: str
    min_runtime_version: str | None
    metadata: list[str]          # names of the model's metadata buffers
    signatures: list[SignatureReport]


@dataclass
class ModelReport:
    """What ``litelens report --json`` prints, typed. ``subgraphs`` are the reader's, with their
    operators' options already decoded (the report outlives the model's mmap)."""
    model: ModelSummary
    subgraphs: list[Subgraph]
    memory: MemoryReport                # at one thread, as ``litelens memory --json`` gives it
    metadata: ModelMetadata | None      # the decoded TFLITE_METADATA block, when there is one
    support: SupportReport | None = None
    litelens_version: str = __version__
    totals: ModelTotals | None = None
    scopes: list[list[ScopeNode]] = field(default_factory=list)   # per subgraph: top-level nodes

    def to_json(self) -> dict[str, Any]:
        """The JSON contract. Numbers the file stores as NaN/Infinity (a quantization scale, an
        option such as LeakyRelu alpha, a metadata statistic) become null, and ``warnings``
        names each one."""
        w = _Warnings()

        def tensors(named: dict[str, Tensor]) -> dict[str, Any]:
            return {k: w.finite(t.to_json(), tensor_where(t)) for k, t in named.items()}
        m = self.model
        out: dict[str, Any] = {
            "litelens_version": self.litelens_version,
            "model": {
                "path": m.path, "size_bytes": m.size_bytes, "sha256": m.sha256,
                "schema_version": m.schema_version, "description": m.description,
                "min_runtime_version": m.min_runtime_version, "metadata": list(m.metadata),
                "signatures": [{"key": s.key, "subgraph": s.subgraph,
                                "inputs": tensors(s.inputs), "outputs": tensors(s.outputs)}
                               for s in m.signatures]},
            "subgraphs": [
                {"index": sg.index, "name": sg.name, "inputs": list(sg.inputs),
                 "outputs": list(sg.outputs),
                 "operators": [w.finite(op.to_json(), op_where(op)) for op in sg.operators],
                 "tensors": [w.finite(t.to_json(), tensor_where(t)) for t in sg.tensors],
                 **self._subgraph_extras(k)}
                for k, sg in enumerate(self.subgraphs)],
            "memory": w.finite(self.memory.to_json(), "memory plan"),
            # from the raw values, not ModelMetadata.to_json(): that has already nulled what
            # the warnings must name
            "metadata": (w.finite(asdict(self.metadata), "metadata")
                         if self.metadata is not None else None),
            "warnings": w.as_list(),
        }
        if self.support is not None:
            out["support"] = finite_or_null(self.support.to_json())
        if self.totals is not None:
            out["totals"] = self.totals.model.to_json()
        return out

    def _subgraph_extras(self, k: int) -> dict[str, Any]:
        """The keys after a subgraph's ``tensors``: its totals and name scopes, when computed."""
        extras: dict[str, Any] = {}
        if self.totals is not None:
            extras["totals"] = self.totals.subgraphs[k].to_json()
        if self.scopes:
            extras["scopes"] = [n.to_json() for n in self.scopes[k]]
        return extras


def model_report(model: Model, support: bool = False) -> ModelReport:
    """Everything the reader knows about a model, with the tensor memory plan at one thread,
    the decoded metadata, the totals (parameters, MACs, weight bytes), each subgraph's name-scope
    tree, and with ``support`` every delegate's op support."""
    from core.analysis.memory import memory_report
    meta = model_metadata(model)
    for sg in model.subgraphs:   # decoded now: the report is read after the model is closed
        for op in sg.operators:
            _ = op.options
    sigs = []
    for s in model.signatures:
        ts = model.subgraphs[s.subgraph].tensors
        sigs.append(SignatureReport(s.key, s.subgraph,
                                    {k: ts[i] for k, i in s.inputs.items()},
                                    {k: ts[i] for k, i in s.outputs.items()}))
    summary = ModelSummary(path=model.path, size_bytes=model.size_bytes, sha256=model.sha256,
                           schema_version=model.schema_version,
                           description=model.description,
                           min_runtime_version=model.min_runtime_version,
                           metadata=[m.name for m in model.metadata], signatures=sigs)
    support_report = None
    if support:
        from core.analysis.support.analyze import analyze
        support_report = analyze(model)
    return ModelReport(model=summary, subgraphs=list(model.subgraphs),
                       memory=memory_report(model), metadata=meta if meta.present else None,
                       support=support_report, totals=model_totals(model),
                       scopes=[scope_tree(sg) for sg in model.subgraphs])


def op_histogram(model: Model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            counts[op.label] = counts.get(op.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def weights_bytes(model: Model) -> int:
    return sum(b.size for b in model.buffers)


def totals_text(t: Totals) -> str:
    """'3,474,008 params (float32), 301M MACs, 602M FLOPs, weights 13.3 MiB'."""
    kinds = ", ".join(t.params_by_dtype)
    return (f"{t.params:,} params" + (f" ({kinds})" if kinds else "")
            + f", {fmt.count(t.macs)} MACs, {fmt.count(t.flops)} FLOPs, "
              f"weights {fmt.size(t.weight_bytes)}")


def summary_text(model: Model) -> str:
    """The human summary ``litelens report`` prints without --json. Text from the file is escaped
    (``printable``) so it cannot move the cursor or fake lines on the terminal."""
    lines = [f"{printable(model.path)}",
             f"  size        {fmt.size(model.size_bytes)} ({model.size_bytes} bytes), weights "
             f"{fmt.size(weights_bytes(model))}",
             f"  schema      v{model.schema_version}; min runtime "
             f"{printable(model.min_runtime_version or 'not recorded', 40)}"]
    if model.description:
        lines.append(f"  description {printable(model.description, 300)}")
    if model.metadata:
        lines.append(f"  metadata    {printable(', '.join(m.name for m in model.metadata), 300)}")
        meta = model_metadata(model)
        about = [v for v in (meta.name, meta.version and f"version {meta.version}",
                             meta.author and f"by {meta.author}", meta.license) if v]
        if about:
            lines.append(f"              {printable('; '.join(about), 300)}")
        lines += [f"  warning     metadata: {printable(w, 300)}" for w in meta.warnings]
    lines.append(f"  subgraphs   {len(model.subgraphs)}; operators {model.op_count}; tensors "
                 f"{model.tensor_count}; parsed in {model.parse_seconds * 1000:.1f} ms")
    totals = model_totals(model)
    lines.append(f"  totals      {totals_text(totals.model)}")
    for sg in model.subgraphs:
        lines.append(f"  [{sg.index}] {printable(sg.name, 120) or '(unnamed)'}: "
                     f"{len(sg.operators)} ops, {len(sg.tensors)} tensors")
        if len(model.subgraphs) > 1:
            lines.append(f"      totals {totals_text(totals.subgraphs[sg.index])}")
        for kind, idx in (("in ", sg.inputs), ("out", sg.outputs)):
            for i in idx:
                t = sg.tensors[i]
                q = fmt.quantization(t.quantization)
                lines.append(f"      {kind} {printable(t.name, 120)} "
                             f"{fmt.shape_and_signature(t.shape, t.shape_signature)} {t.dtype}"
                             + (f" {q}" if q else ", not quantized"))
    for s in model.signatures:
        lines.append(f"  signature   '{printable(s.key, 120)}' (subgraph {s.subgraph}): "
                     f"{printable(', '.join(s.inputs), 300)} -> "
                     f"{printable(', '.join(s.outputs), 300)}")
    hist = op_histogram(model)
    if hist:
        lines.append("  operators   " + ", ".join(f"{printable(k, 60)} x{v}"
                                                  for k, v in list(hist.items())[:12])
                     + (" ..." if len(hist) > 12 else ""))
    warnings = nonfinite_quantization_warnings(model)
    for line in warnings[:5]:
        lines.append(f"  warning     {line}")
    if len(warnings) > 5:
        lines.append(f"  warning     ... {len(warnings) - 5} more (see --json)")
    return "\n".join(lines)


def _tensor_brief(t) -> str:
    return (f"{printable(t.name, 200)} "
            f"{fmt.shape_and_signature(t.shape, t.shape_signature, '×')} {t.dtype}")


class InfoSection(NamedTuple):
    """One block of the model-info panel: a title and its (key, value) rows."""
    title: str
    rows: list[tuple[str, str]]


def info_sections(model: Model) -> list[InfoSection]:
    """The model-info panel's content — rendered by the GUI."""
    totals = model_totals(model)
    general = [("File", printable(model.path)),
               ("Size", f"{fmt.size(model.size_bytes)} ({model.size_bytes:,} bytes)"),
               ("Weights", f"{fmt.size(weights_bytes(model))} in "
                           f"{sum(1 for b in model.buffers if b.size)} buffers"
                           + (" (external, past the flatbuffer)"
                              if any(b.external for b in model.buffers) else "")),
               ("Schema version", str(model.schema_version)),
               ("Min runtime", model.min_runtime_version or "not recorded"),
               ("Operators", f"{model.op_count:,} in {len(model.subgraphs)} subgraph(s)"),
               ("Totals", totals_text(totals.model)),
               ("Tensors", f"{model.tensor_count:,}"),
               ("Parse time", fmt.duration_ms(model.parse_seconds * 1000))]
    if model.description:
        general.insert(1, ("Description", printable(model.description, 2000)))
    sections = [("Model", general)]
    for s in model.signatures:
        ts = model.subgraphs[s.subgraph].tensors
        rows = [("Subgraph", str(s.subgraph))]
        rows += [(f"in: {printable(k, 120)}", _tensor_brief(ts[i])) for k, i in s.inputs.items()]
        rows += [(f"out: {printable(k, 120)}", _tensor_brief(ts[i]))
                 for k, i in s.outputs.items()]
        sections.append((f"Signature '{printable(s.key, 120)}'", rows))
    for sg in model.subgraphs:
        rows = [("Operators", str(len(sg.operators))), ("Tensors", str(len(sg.tensors))),
                ("Totals", totals_text(totals.subgraphs[sg.index]))]
        rows += [("input", _tensor_brief(sg.tensors[i])) for i in sg.inputs]
        rows += [("output", _tensor_brief(sg.tensors[i])) for i in sg.outputs]
        sections.append((f"Subgraph {sg.index}" + (f" '{printable(sg.name, 120)}'" if sg.name
                                                   else ""), rows))
    if model.metadata:
        sections += metadata_sections(model)
    hist = op_histogram(model)
    if hist:
        sections.append(("Operator types", [(printable(k, 120), str(v)) for k, v in hist.items()]))
    warnings = nonfinite_quantization_warnings(model)
    if warnings:
        sections.insert(1, ("Warnings", [(f"{i + 1}", w) for i, w in enumerate(warnings)]))
    # every title, key and value may hold file text (metadata names, labels, file names, the
    # runtime version string): one printable pass here covers the rows built above and below
    return [InfoSection(printable(title, 200),
                        [(printable(k, 200), printable(v, 2000)) for k, v in rows])
            for title, rows in sections]


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
            v = f"[{', '.join(map(fmt.number, v[:6]))}, ...]"
        elif isinstance(v, list):
            v = f"[{', '.join(map(fmt.number, v))}]"
        elif isinstance(v, dict):
            v = "{...}"
        else:
            v = fmt.number(v)
        parts.append(f"{k}={printable(v, 200)}")
    return " ".join(parts)


def tensor_kind(t) -> str:
    return "variable" if t.variable else "constant" if t.constant else "activation"
