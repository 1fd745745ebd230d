"""Variable state in the graph: each READ_VARIABLE / ASSIGN_VARIABLE linked to the VAR_HANDLE it
uses and named by its variable, the handle's edges flagged as state, on the shared micro-wakeword
model (against the file's own op options) and a built two-variable ring buffer."""
from __future__ import annotations

from core.graph.layout import layout_subgraph
from core.graph.state import variable_accesses
from core.model.reader import open_model
from tests.analysis.stateful_models import streaming
from tests.conftest import shared_model_path


def test_micro_wakeword_reads_and_writes_link_to_their_handles():
    with open_model(shared_model_path("micro_wakeword_hey_jarvis")) as m:
        for sg in m.subgraphs:
            acc = variable_accesses(sg)
            handles = {op.index: op.options["shared_name"] for op in sg.operators
                       if op.op == "VAR_HANDLE"}
            producers = sg.producers()
            for op in sg.operators:
                if op.op in ("READ_VARIABLE", "ASSIGN_VARIABLE"):
                    a = acc[op.index]
                    assert a.handle_op == producers[op.inputs[0]] and a.handle_op in handles
                    assert a.variable == handles[a.handle_op]
                    assert a.kind == ("read" if op.op == "READ_VARIABLE" else "write")
        # the main graph reads 6 variables and writes each back; the init writes all 6
        main = variable_accesses(m.subgraphs[0]).values()
        assert sorted(a.variable for a in main if a.kind == "read") == \
            sorted(a.variable for a in main if a.kind == "write")
        assert len({a.variable for a in main if a.kind == "read"}) == 6
        lay = layout_subgraph(m, 0)
        sg = m.subgraphs[0]
        state_edges = {(int(s), int(d)) for s, d, f in zip(lay.edge_src, lay.edge_dst,
                                                           lay.edge_state, strict=True) if f}
        # exactly the handle -> access edges are state
        want = {(a.handle_op, a.op) for a in variable_accesses(sg).values() if a.kind != "handle"}
        assert state_edges == want
        # each read and write names its variable in a row of its card
        for a in variable_accesses(sg).values():
            if a.kind != "handle":
                assert any(shape == a.variable for _slot, shape, _t in lay.rows[a.op])


def test_built_ring_buffer_with_two_variables(tmp_path):
    path = streaming("float32", two_states=True).save(tmp_path / "two.tflite")
    with open_model(path) as m:
        acc = variable_accesses(m.subgraphs[0])
        by_var: dict[str, set[str]] = {}
        for a in acc.values():
            by_var.setdefault(a.variable, set()).add(a.kind)
        assert by_var == {"state_a": {"handle", "read", "write"},
                          "state_b": {"handle", "read", "write"}}
        init = variable_accesses(m.subgraphs[1])
        assert {a.variable for a in init.values() if a.kind == "write"} == {"state_a", "state_b"}
