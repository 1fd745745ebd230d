"""The one producer map (``Subgraph.producers``) on a malformed file with two writers of a
tensor, checked against what the real LiteRT interpreter does with that file."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.support.graph import SubgraphView
from core.graph.layout import layout_subgraph
from core.model.builder import ModelBuilder
from core.model.reader import open_model


def _two_writers(build_model):
    """op 0 RELU writes t, op 1 ABS reads it, op 2 NEG writes t again, op 3 ABS reads it."""
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    a, t = sg.tensor("a", [1, 4]), sg.tensor("t", [1, 4])
    between, after = sg.tensor("between", [1, 4]), sg.tensor("after", [1, 4])
    sg.op("RELU", [a], [t])
    sg.op("ABS", [t], [between])
    sg.op("NEG", [a], [t])
    sg.op("ABS", [t], [after])
    sg.inputs, sg.outputs = [a], [between, after]
    return build_model(mb, "two_writers.tflite"), t


def test_the_runtime_gives_the_first_writers_value_to_the_reader_in_between(build_model):
    """What the rule rests on: LiteRT runs such a file; the reader between the two writers gets
    the first writer's value (its buffer is allocated at the first writer)."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    path, _ = _two_writers(build_model)
    it = litert.Interpreter(model_path=str(path))
    it.allocate_tensors()
    x = np.array([[1, -2, 3, -4]], np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    out = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    assert out["between"].tolist() == np.maximum(x, 0).tolist()     # RELU's, the first writer
    assert out["after"].tolist() == np.abs(x).tolist()


def test_first_writer_is_the_producer_everywhere(build_model):
    path, t = _two_writers(build_model)
    model = open_model(path)
    sg = model.subgraphs[0]
    assert sg.producers()[t] == 0                 # the first writer, not the last (op 2)
    assert SubgraphView(model, sg).producer(t) == 0          # the support rules' view
    lay = layout_subgraph(model, 0)
    edges = lay.edges_of_tensor(t)
    assert set(lay.edge_src[edges].tolist()) == {0}          # the graph draws t from op 0
    assert set(lay.edge_dst[edges].tolist()) == {1, 3}
    model.close()
