"""The numbers: arena and persistent bytes by planner, lower bound, weights, and the runtime's
measured arenas with the difference explained."""
from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core import format as fmt
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

    def set_report(self, sg: dict, runtime: dict | None, threads: int) -> None:
        rows: list[tuple[str, int | None, str]] = []
        lt = sg["planners"].get("tflite_arena")
        if lt:
            rows.append(("LiteRT arena (predicted)", lt["arena_bytes"],
                         f"{threads} thread(s), delegates off; peak at op {lt['peak_op']}"))
            rows.append(("LiteRT persistent arena (predicted)", lt["persistent_bytes"],
                         "kept across runs: dequantized weights, HWCN weights, row sums"))
        tg = sg["planners"].get("tflm_greedy")
        if tg:
            rows.append(("TFLM greedy arena", tg["arena_bytes"],
                         "one region for all subgraphs; 16-byte sizes, first fit, no sharing"))
        rows.append(("lower bound (max live bytes)", sg["lower_bound_bytes"],
                     "most bytes alive at one op (LiteRT lifetimes, temporaries included)"))
        rows.append(("weights (read-only, mapped)", sg["weights_bytes"], "not in any arena"))
        rows.append(("ops planned at allocation", None,
                     f"{sg['planned_ops']} of {sg['ops']}"
                     + ("" if sg["planned_ops"] == sg["ops"] else
                        " (the rest is planned on the first run: an output size is dynamic)")))
        if runtime is not None:
            r = next((s for s in runtime.get("subgraphs", []) if s["index"] == sg["index"]),
                     None)
            if runtime.get("error"):
                rows.append(("runtime", None, f"could not allocate: {runtime['error']}"))
            elif r is not None:
                for key, label in (("main_arena", "runtime arena (measured)"),
                                   ("persistent_arena", "runtime persistent (measured)")):
                    rows.append((label, r[key]["runtime_bytes"], explain(r[key])))
            x = next((s for s in runtime.get("xnnpack", {}).get("subgraphs", [])
                      if s["index"] == sg["index"]), None)
            if x is not None:
                rows.append(("XNNPACK (default) takes out", x["bytes_out_of_arena"],
                             f"{len(x['tensors_out_of_arena'])} tensors leave the arena "
                             "(sum of their sizes)"))
        self.setRowCount(len(rows))
        for i, (label, value, note) in enumerate(rows):
            self.setItem(i, 0, QTableWidgetItem(label))
            self.setItem(i, 1, QTableWidgetItem("" if value is None else
                                                f"{value:,} ({fmt.size(value)})"))
            self.setItem(i, 2, QTableWidgetItem(note))
