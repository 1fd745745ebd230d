"""The numbers: arena and persistent bytes by planner, lower bound, weights, and the runtime's
measured arenas with the difference explained."""
from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core import format as fmt
from core.analysis.memory.result import RuntimeCheck, SubgraphMemory, TflmBlock
from core.analysis.memory.runtime import explain


class SummaryTable(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["", "bytes", "note"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        h = self.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(True)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.item(r, c).text() for c in range(3)) for r in range(self.rowCount())]

    def set_report(self, sg: SubgraphMemory, runtime: RuntimeCheck | None, threads: int,
                   tflm: TflmBlock | None = None, offsets_note: str | None = None) -> None:
        """``tflm``: the report's TFLM block (whole model), its ``runtime`` filled when TFLM was
        checked; ``offsets_note``: why planned offsets may differ from the runtime's (None:
        exact)."""
        rows: list[tuple[str, int | None, str]] = []
        lt = sg.tflite_arena
        if lt:
            rows.append(("LiteRT arena (predicted)", lt.arena_bytes,
                         f"{threads} thread(s), delegates off; peak at op {lt.peak_op}"
                         + (f"; offsets may differ: {offsets_note}" if offsets_note else "")))
            rows.append(("LiteRT arena lower bound", lt.lower_bound_bytes,
                         "most bytes alive at one op: LiteRT's lifetimes and temporaries"))
            rows.append(("LiteRT persistent arena (predicted)", lt.persistent_bytes,
                         "kept across runs: dequantized weights, HWCN weights, row sums"))
        if tflm is not None:
            rows += tflm_rows(tflm, sg.tflm_greedy.lower_bound_bytes
                              if sg.tflm_greedy is not None else None)
        rows.append(("weights (read-only, mapped)", sg.weights_bytes, "not in any arena"))
        rows.append(("ops planned at allocation", None,
                     f"{sg.planned_ops} of {sg.ops}"
                     + ("" if sg.planned_ops == sg.ops else
                        " (the rest is planned on the first run: an output size is dynamic)")))
        if runtime is not None:
            r = runtime.subgraph(sg.index)
            if runtime.error:
                rows.append(("runtime", None, f"could not allocate: {runtime.error}"))
            elif r is not None:
                for arena, label in ((r.main_arena, "runtime arena (measured)"),
                                     (r.persistent_arena, "runtime persistent (measured)")):
                    rows.append((label, arena.runtime_bytes, explain(arena)))
            x = next((s for s in runtime.xnnpack.subgraphs if s.index == sg.index), None) \
                if runtime.xnnpack is not None else None
            if x is not None:
                rows.append(("tensors XNNPACK takes out of the arena", x.bytes_out_of_arena,
                             f"{len(x.tensors_out_of_arena)} tensors; the sum of their sizes, "
                             "not XNNPACK's memory use"))
            f = runtime.xnnpack.footprint if runtime.xnnpack is not None else None
            if f is not None:
                diff = f.xnnpack_bytes - f.builtin_bytes
                rows.append(("XNNPACK footprint (measured)", f.xnnpack_bytes,
                             f"heap added by load + allocate_tensors(), "
                             f"{'+' if diff >= 0 else '-'}{fmt.size(abs(diff))} vs "
                             "builtin kernels; before any run"))
        self.setRowCount(len(rows))
        for i, (label, value, note) in enumerate(rows):
            self.setItem(i, 0, QTableWidgetItem(label))
            self.setItem(i, 1, QTableWidgetItem("" if value is None else
                                                f"{fmt.size(value)} ({value:,} B)"))
            self.setItem(i, 2, QTableWidgetItem(note))


def tflm_rows(t: TflmBlock, head_bound: int | None = None
              ) -> list[tuple[str, int | None, str]]:
    """TFLite Micro beside the LiteRT rows: head (planned as TFLM does) and its lower bound,
    tail, the arena_size to pass, and tflite-micro's own figures once checked."""
    if t.refused:
        return [("TFLite Micro", None, t.refused)]
    tail_note = "persistent, 64-bit build" + ("" if t.tail_exact else
                                              "; kernel data of " + ", ".join(t.unknown_ops) +
                                              " estimated")
    extra = t.total_bytes - t.reported_total_bytes
    while_ = {"planning": "the planner runs", "prepare": "a kernel prepares"}
    rows: list[tuple[str, int | None, str]] = [
        ("TFLM head (predicted)", t.head_bytes,
         f"all subgraphs; {t.scratch_buffers} scratch buffer(s)")]
    if head_bound is not None:
        rows.append(("TFLM head lower bound", head_bound,
                     "most bytes alive at one allocation scope: TFLM's lifetimes, scratch "
                     "buffers and sizes"))
    rows += [
        ("TFLM tail (predicted)", t.tail_bytes, tail_note),
        ("TFLM arena_size (predicted)", t.total_bytes,
         "the smallest that loads: head + tail" if t.total_bound == "final" else
         f"the smallest that loads: head + tail + {extra:,} B the load needs while "
         f"{while_[t.total_bound]}")]
    r = t.runtime
    if r is not None:
        if r["total_bytes"] is None:
            rows.append(("TFLM (tflite-micro)", None, r["refused"] or r["error"] or ""))
        else:
            rows.append(("TFLM measured with", None, r["tool"]))
            for key, label in (("head", "TFLM head (measured)"), ("tail", "TFLM tail (measured)"),
                               ("total", "TFLM head + tail (measured)")):
                diff = r[f"{key}_diff"]
                rows.append((label, r[f"{key}_bytes"],
                             "equal to the plan" if diff == 0 else f"{diff:+,} B vs the plan"))
            outs = r.get("outputs") or []
            if outs:
                worst = max((o.get("max_abs_diff", 0.0) for o in outs), default=0.0)
                rows.append(("TFLM outputs vs LiteRT", None,
                             f"{len(outs)} output(s), max |diff| {worst:.4g}"))
    return rows
