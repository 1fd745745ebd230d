"""Dtypes on the graph (core/graph/dtypes.py): edge classes and int/float crossings, on a model
built here and on the shared dynamic-range model."""
from __future__ import annotations

import numpy as np

from core.graph import dtypes
from core.graph.layout import layout_subgraph
from core.model.builder import ModelBuilder
from core.model.reader import open_model


def _mixed(build_model):
    """float → QUANTIZE → int8 ADD → DEQUANTIZE → float FULLY_CONNECTED with int8 weights."""
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    q = {"scale": [0.1], "zero_point": [0]}
    x = sg.tensor("x", [1, 4])
    xq = sg.tensor("xq", [1, 4], "int8", quant=q)
    sg.op("QUANTIZE", [x], [xq])
    c = sg.tensor("c", [1, 4], "int8", data=np.ones((1, 4), np.int8), quant=q)
    yq = sg.tensor("yq", [1, 4], "int8", quant=q)
    sg.op("ADD", [xq, c], [yq], {"fused_activation_function": "NONE"})
    y = sg.tensor("y", [1, 4])
    sg.op("DEQUANTIZE", [yq], [y])
    w = sg.tensor("w", [4, 4], "int8", data=np.ones((4, 4), np.int8), quant=q)
    z = sg.tensor("z", [1, 4])
    sg.op("FULLY_CONNECTED", [y, w, -1], [z], {"fused_activation_function": "NONE"})
    sg.inputs, sg.outputs = [x], [z]
    return open_model(build_model(mb))


def test_crossings_and_edge_classes(build_model):
    m = _mixed(build_model)
    sg = m.subgraphs[0]
    assert dtypes.boundaries(sg) == {0: dtypes.TO_INT, 2: dtypes.TO_FLOAT, 3: dtypes.HYBRID}
    lay = layout_subgraph(m, 0)
    cls = dtypes.edge_classes(lay, sg)
    by_tensor = {sg.tensors[int(t)].name: dtypes.CLASSES[c]
                 for t, c in zip(lay.edge_tensor.tolist(), cls.tolist(), strict=True)}
    assert by_tensor == {"x": "float32", "xq": "int8", "yq": "int8", "y": "float32",
                         "z": "float32"}


def test_dynamic_range_model(shared_model):
    m = open_model(shared_model("transformer_encoder_dynint8"))
    sg = m.subgraphs[0]
    marks = dtypes.boundaries(sg)
    hybrid = [op for op, kind in marks.items() if kind == dtypes.HYBRID]
    # every op reading a float activation and an int8 constant, as the reader has them
    expected = [op.index for op in sg.operators
                if op.inputs and sg.tensors[op.inputs[0]].dtype == "float32"
                and not sg.tensors[op.inputs[0]].constant
                and any(t >= 0 and sg.tensors[t].dtype == "int8" and sg.tensors[t].constant
                        for t in op.inputs[1:])]
    assert sorted(hybrid) == expected and len(hybrid) == 6
    assert all(sg.operators[op].op == "FULLY_CONNECTED" for op in hybrid)
