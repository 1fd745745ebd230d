"""A model at a chosen input shape, as the runtime sees it after resizing and allocating.

``--shape NAME=D,D,...`` (bench, memory, quantize, support; one parser: ``inputs.parse_shapes``)
gives dynamic inputs their real size. The analyses then need every tensor's shape at that size:
the runtime's own shape propagation gives it — the ``tensor_details`` job resizes the inputs,
allocates (every kernel's Prepare computes its output shapes) and reports each tensor of
subgraph 0. ``resized_model`` returns a copy of the model whose subgraph-0 tensors carry those
shapes (signatures unchanged), which the planners and delegate rules read like any model.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

from core.errors import ModelError
from core.format import printable
from core.inference.inputs import InputError, dynamic_inputs, input_specs
from core.model.schema import TENSOR_TYPES
from core.model.types import Model

_BITS = dict(TENSOR_TYPES.values())


def check_shapes(model: Model, shapes: Mapping[str, Sequence[int]]) -> None:
    """InputError naming the input when a ``--shape`` does not fit the model (unknown name, other
    rank, a fixed dimension changed)."""
    input_specs(model, shapes)


def dynamic_note(model: Model, shapes: Mapping[str, Sequence[int]] | None, what: str) -> str:
    """One sentence for the dynamic inputs of subgraph 0 that ``shapes`` leaves unset: which
    input, its signature, the stored shape ``what`` uses instead, and the option to give
    ('' when there is none)."""
    unset = [(n, sig) for n, sig in dynamic_inputs(model) if n not in (shapes or {})]
    if not unset:
        return ""
    sg = model.subgraphs[0]
    stored = {sg.tensors[i].name: list(sg.tensors[i].shape) for i in sg.inputs}
    parts = [f"input '{printable(n, 80)}' is dynamic (shape signature {sig}); {what} uses the "
             f"stored shape {stored[n]}" for n, sig in unset]
    example = " ".join(f"--shape {printable(n, 80)}=" + ",".join(
        "D" if d < 0 else str(d) for d in sig) for n, sig in unset)
    return "; ".join(parts) + f"; set the real shape with {example}"


def runtime_shapes(path: str, shapes: Mapping[str, Sequence[int]],
                   timeout: float = 300.0) -> dict[int, list[int]]:
    """Tensor index -> shape in subgraph 0 after the runtime resized the inputs to ``shapes``
    and allocated (delegates off). ModelError when the runtime cannot."""
    from core.inference.config import RunConfig
    from core.inference.session import run_tensor_details
    cfg = RunConfig(model=str(path), delegate="builtin", shapes={k: list(v) for k, v in
                                                                   shapes.items()},
                    input_source="zeros", timeout_s=timeout)
    result = run_tensor_details(cfg)
    if result["error"] or not result["tensors"]:
        raise ModelError(path, "the runtime could not resize the model to "
                               f"{_shapes_text(shapes)}: {result['error'] or result['status']}")
    return {t["index"]: t["shape"] for t in result["tensors"]}


def resized_model(model: Model, shapes: Mapping[str, Sequence[int]] | None) -> Model:
    """``model`` itself when ``shapes`` is empty; else a copy whose subgraph-0 tensors have the
    shapes the runtime gives them at ``shapes`` (InputError for a shape that does not fit)."""
    if not shapes:
        return model
    try:
        check_shapes(model, shapes)
    except InputError as e:
        msg = str(e)
        msg = msg[len(model.path) + 2:] if msg.startswith(f"{model.path}: ") else msg
        raise ModelError(model.path, f"--shape: {msg}") from None
    seen = runtime_shapes(model.path, shapes)
    sg = model.subgraphs[0]
    tensors = []
    for t in sg.tensors:
        shape = tuple(seen.get(t.index, t.shape))
        if shape == tuple(t.shape):
            tensors.append(t)
            continue
        bits = _BITS.get(t.dtype, 0)
        nbytes = (math.prod(shape) * bits + 7) // 8 if bits else t.bytes
        tensors.append(dataclasses.replace(t, shape=shape, bytes=nbytes))
    first = dataclasses.replace(sg, tensors=tensors)
    # the copy shares the original's file mapping; only the original closes it
    return dataclasses.replace(model, subgraphs=[first, *model.subgraphs[1:]], _closer=None)


def stored_at_shape(path: str, shapes: Mapping[str, Sequence[int]]) -> bytes:
    """The model file at ``path`` with subgraph 0's stored tensor shapes set to the runtime's at
    ``shapes`` (shape signatures, with their -1, unchanged). For tools that allocate a model at
    its stored shape before they feed it (the quantizer's calibration): a dynamic model whose
    stored shape cannot run (1 sample where a frame needs 400) then runs at the given one."""
    import numpy as np

    from core.model.builder import rewrite
    seen = runtime_shapes(path, shapes)

    def edit(model_t) -> None:
        for i, t in enumerate(model_t.subgraphs[0].tensors or []):
            if i in seen and t.shape is not None and len(seen[i]) == len(t.shape):
                t.shape = np.asarray(seen[i], np.int32)
    with open(path, "rb") as fh:
        return rewrite(fh.read(), edit)


def _shapes_text(shapes: Mapping[str, Sequence[int]]) -> str:
    return ", ".join(f"{printable(k, 80)}={','.join(map(str, v))}" for k, v in shapes.items())
