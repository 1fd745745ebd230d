"""Dtypes on the graph: each edge's dtype class (how the view styles it) and the ops where a
graph crosses between int8 and float: QUANTIZE (float → int), DEQUANTIZE of a computed tensor
(int → float; a DEQUANTIZE of a constant is weights, not a crossing) and hybrid ops (float
activations in, int8 constant weights: dynamic-range quantization)."""
from __future__ import annotations

import numpy as np

from core.graph.layout import GraphLayout
from core.model.types import Subgraph

# edge classes, in legend order
CLASSES = ("float32", "float16", "int8", "int16", "int32 / int64", "bool / other")
_CLASS_OF = {"float32": 0, "float64": 0, "float16": 1, "bfloat16": 1, "int8": 2, "uint8": 2,
             "int4": 2, "int16": 3, "uint16": 3, "int32": 4, "int64": 4, "uint32": 4,
             "uint64": 4}
_INT = frozenset({"int8", "uint8", "int4", "int16", "uint16"})
_FLOAT = frozenset({"float32", "float16", "bfloat16", "float64"})

TO_INT, TO_FLOAT, HYBRID = "float → int", "int → float", "hybrid"
BOUNDARIES = (TO_INT, TO_FLOAT, HYBRID)


def dtype_class(dtype: str) -> int:
    """Index into ``CLASSES`` of a tensor dtype."""
    return _CLASS_OF.get(dtype, len(CLASSES) - 1)


def edge_classes(lay: GraphLayout, sg: Subgraph) -> np.ndarray:
    """int8 (E,): the dtype class of each drawn edge's tensor."""
    classes = np.fromiter((dtype_class(t.dtype) for t in sg.tensors), np.int8, len(sg.tensors))
    return classes[lay.edge_tensor] if lay.n_edges else np.zeros(0, np.int8)


def boundaries(sg: Subgraph) -> dict[int, str]:
    """By op index: the ops where the graph crosses between integer and float tensors."""
    tensors = sg.tensors
    out: dict[int, str] = {}
    for op in sg.operators:
        ins = [tensors[t] for t in op.inputs if 0 <= t < len(tensors)]
        outs = [tensors[t] for t in op.outputs if 0 <= t < len(tensors)]
        if not ins or not outs:
            continue
        if op.op == "QUANTIZE" and ins[0].dtype in _FLOAT and outs[0].dtype in _INT:
            out[op.index] = TO_INT
        elif (op.op == "DEQUANTIZE" and ins[0].dtype in _INT and outs[0].dtype in _FLOAT
              and not ins[0].constant):
            out[op.index] = TO_FLOAT
        elif (ins[0].dtype in _FLOAT and not ins[0].constant and outs[0].dtype in _FLOAT
              and any(t.constant and t.dtype in _INT for t in ins[1:])):
            out[op.index] = HYBRID
    return out
