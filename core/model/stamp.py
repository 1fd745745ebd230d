"""A copy of a model whose tensors carry unique names that say where they came from.

Tools that rewrite a model (vela, LiteRT's NPU compiler plugins) keep tensor names but not op
indices, and a model's own names can repeat or be empty. Every tensor of the copy is named
``ll<subgraph>t<tensor>``; a name the tool prints or writes back (``ll0t129``, or one it derived,
``ll0t129_act``) then leads to the original tensor, and through its producer to the original op.
"""
from __future__ import annotations

import re

from core.model.builder import rewrite

_STAMP = re.compile(rb"ll(\d+)t(\d+)(?!\d)")
_STAMP_TEXT = re.compile(r"ll(\d+)t(\d+)(?!\d)")
STAMPED_NAME = re.compile(r"\bll(\d+)t(\d+)(?!\d)(?:_[A-Za-z]\w*)?")  # in a tool's text, with a suffix it derived


def stamped_copy(data: bytes) -> bytes:
    """``data`` (a whole .tflite) with every tensor renamed ``ll<subgraph>t<tensor>``.
    ValueError for a model whose weights lie past the flatbuffer (the object API cannot)."""
    def edit(model_t) -> None:
        for s, sg in enumerate(model_t.subgraphs or []):
            for i, t in enumerate(sg.tensors or []):
                t.name = f"ll{s}t{i}".encode()
    return rewrite(data, edit)


def stamped_tensor(name: str | bytes | None) -> tuple[int, int] | None:
    """(subgraph, tensor) of a stamped name, or of a name a tool derived from one by a suffix
    (``ll0t12_act``); None for any other name."""
    if not name:
        return None
    m = (_STAMP if isinstance(name, bytes) else _STAMP_TEXT).match(name)  # type: ignore[arg-type]
    return (int(m.group(1)), int(m.group(2))) if m else None


def compiled_ops(path) -> list[dict]:
    """The ops of a model a tool wrote from a stamped copy, per subgraph: ``{"op", "custom",
    "inputs", "outputs"}`` with each tensor as [original subgraph, tensor], or None for a tensor
    the tool made (a command stream, scratch, a partition's bytecode). Plain JSON: it crosses the
    worker pipe."""
    from core.model.reader import open_model

    def ref(sg, t: int) -> list[int] | None:
        where = stamped_tensor(sg.tensors[t].name) if t >= 0 else None
        return list(where) if where else None
    with open_model(path) as model:
        return [{"ops": [{"op": op.op, "custom": op.custom_code,
                          "inputs": [ref(sg, t) for t in op.inputs],
                          "outputs": [ref(sg, t) for t in op.outputs]}
                         for op in sg.operators]}
                for sg in model.subgraphs]
