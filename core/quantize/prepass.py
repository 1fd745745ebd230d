"""What a model needs before ai-edge-quantizer can really quantize it, and the rewrite that does it.

The quantizer (0.10) silently does nothing, or fails, on models shaped the way many real
converters write them, so the pre-pass fixes those shapes first and says what it did:
- weights stored as float16 constants behind DEQUANTIZE (MediaPipe): the quantizer never touches
  them; they are folded into float32 constants so the recipe sees ordinary float weights;
- op codes kept only in ``deprecated_builtin_code`` (``builtin_code`` 0, older converters): the
  quantizer reads ``builtin_code`` and sees every op as ADD; the real code is copied over;
- no SignatureDef: static (calibrated) recipes need one; a "serving_default" signature over
  subgraph 0's inputs and outputs is added;
- a subgraph without an operators vector (valid, and the runtime runs it): the quantizer iterates
  it unconditionally and stops with a TypeError; an empty vector is written instead.
Static recipes also run the model during calibration, which fails on WHILE loops and on custom or
Flex ops the stock runtime cannot resolve: ``static_warnings`` names them before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.model import schema
from core.model.builder import rewrite
from core.model.schema import fb
from core.model.types import Model

SIGNATURE_KEY = "serving_default"
_FLOAT16 = fb.TensorType.FLOAT16


@dataclass
class Prepass:
    # (subgraph, op index) of each float16-weight DEQUANTIZE
    fold_fp16: list[tuple[int, int]] = field(default_factory=list)
    deprecated_codes: list[str] = field(default_factory=list)  # op names fixed
    add_signature: bool = False
    no_operators: list[int] = field(default_factory=list)     # subgraphs without the vector
    warnings: list[str] = field(default_factory=list)         # static-recipe hazards

    @property
    def needed(self) -> bool:
        return bool(self.fold_fp16 or self.deprecated_codes or self.add_signature
                    or self.no_operators)

    def steps(self) -> list[str]:
        """What the pre-pass does, in words the user reads."""
        out = []
        if self.fold_fp16:
            out.append(f"folded {len(self.fold_fp16)} float16 weight(s) behind DEQUANTIZE into "
                       "float32 constants (the quantizer does not touch float16 weights)")
        if self.deprecated_codes:
            out.append(f"copied deprecated_builtin_code into builtin_code for "
                       f"{len(self.deprecated_codes)} op code(s) "
                       f"({', '.join(self.deprecated_codes)}); the quantizer reads only "
                       "builtin_code")
        if self.add_signature:
            out.append(f"added a SignatureDef '{SIGNATURE_KEY}' over subgraph 0's inputs and "
                       "outputs (static recipes need one)")
        if self.no_operators:
            out.append(f"wrote an empty operators vector into subgraph(s) "
                       f"{', '.join(map(str, self.no_operators))}, which had none (the "
                       "quantizer cannot read a subgraph without one)")
        return out


def plan(model: Model) -> Prepass:
    """Inspect a model (``core.model.reader``) and list what the pre-pass must change."""
    p = Prepass()
    for si, sg in enumerate(model.subgraphs):
        for op in sg.operators:
            if op.op != "DEQUANTIZE" or len(op.inputs) != 1 or op.inputs[0] < 0 or \
                    len(op.outputs) != 1 or op.outputs[0] < 0:
                continue
            src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            if src.constant and src.dtype == "float16" and dst.dtype == "float32":
                p.fold_fp16.append((si, op.index))
    p.deprecated_codes = sorted({name for name, old, new in _opcode_codes(model)
                                 if new < old})
    if not model.signatures:
        p.add_signature = True
    raw = fb.Model.GetRootAs(model._data, 0)
    p.no_operators = [si for si in range(raw.SubgraphsLength())
                      if raw.Subgraphs(si).OperatorsIsNone()]
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.op == "WHILE":
                p.warnings.append("the model has WHILE loops: the quantizer's calibration "
                                  "fails on them")
            elif op.op == "CUSTOM":
                kind = "Flex (Select TF)" if (op.custom_code or "").startswith("Flex") \
                    else "custom"
                p.warnings.append(f"{kind} op {op.custom_code!r}: calibration runs the model "
                                  "with the stock runtime, which may not resolve it")
    p.warnings = list(dict.fromkeys(p.warnings))
    return p


def _opcode_codes(model: Model) -> list[tuple[str, int, int]]:
    """(op name, deprecated_builtin_code, builtin_code) per operator code, from the raw table."""
    m = fb.Model.GetRootAs(model._data, 0)
    out = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        old, new = oc.DeprecatedBuiltinCode(), oc.BuiltinCode()
        out.append((schema.builtin_op_name(max(old, new)), old, new))
    return out


def apply(data: bytes, p: Prepass) -> bytes:
    """The model bytes with the planned changes made (``data`` itself is not modified)."""
    if not p.needed:
        return data

    def edit(m: Any) -> None:
        for oc in m.operatorCodes or []:
            oc.builtinCode = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        for si, oi in sorted(p.fold_fp16, reverse=True):
            sg = m.subgraphs[si]
            op = sg.operators[oi]
            src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            raw = m.buffers[src.buffer].data
            half = np.frombuffer(np.asarray(raw, np.uint8).tobytes(), np.float16)
            m.buffers.append(fb.BufferT())
            m.buffers[-1].data = np.frombuffer(half.astype(np.float32).tobytes(), np.uint8)
            dst.buffer = len(m.buffers) - 1
            del sg.operators[oi]
        for si in p.no_operators:
            m.subgraphs[si].operators = []
        _drop_unread_float16(m)
        if p.add_signature:
            sg = m.subgraphs[0]
            sig = fb.SignatureDefT()
            sig.signatureKey = SIGNATURE_KEY
            sig.subgraphIndex = 0
            sig.inputs = [_tensor_map(sg, i) for i in _items(sg.inputs)]
            sig.outputs = [_tensor_map(sg, i) for i in _items(sg.outputs)]
            m.signatureDefs = [sig]

    return rewrite(data, edit)


def _items(vector: Any) -> list:
    """A vector of the object API as a list: absent (None), a list, or a numpy array."""
    return [] if vector is None else list(vector)


def _tensor_map(sg: Any, index: int) -> Any:
    tm = fb.TensorMapT()
    name = sg.tensors[index].name
    tm.name = name.decode() if isinstance(name, bytes) else name
    tm.tensorIndex = index
    return tm


def _drop_unread_float16(m: Any) -> None:
    """Remove the float16 constants no op reads any more (their float32 copies replaced them),
    with their buffers, and renumber the tensors. An unread tensor without data would otherwise
    stay in the graph, and the quantizer's calibration reads every tensor.

    The object API leaves a vector the file does not have as None (a subgraph without an
    operators vector is valid, and the runtime runs it), so every one is read through
    ``_items``."""
    for si, sg in enumerate(_items(m.subgraphs)):
        operators = _items(sg.operators)
        read = {int(t) for op in operators
                for t in _items(op.inputs) + _items(op.intermediates)}
        read |= {int(t) for t in _items(sg.inputs) + _items(sg.outputs)}
        drop = {ti for ti, t in enumerate(_items(sg.tensors)) if t.type == _FLOAT16 and t.buffer
                and ti not in read}
        if not drop:
            continue
        for ti in drop:
            m.buffers[sg.tensors[ti].buffer].data = None
        new: dict[int, int] = {}
        for ti in range(len(sg.tensors)):
            if ti not in drop:
                new[ti] = len(new)
        sg.tensors = [t for ti, t in enumerate(sg.tensors) if ti not in drop]

        def renumber(idx, new=new):
            return None if idx is None else [new[i] if i >= 0 else i for i in idx]
        for op in operators:
            op.inputs, op.outputs = renumber(op.inputs), renumber(op.outputs)
            op.intermediates = renumber(op.intermediates)
        sg.inputs, sg.outputs = renumber(sg.inputs), renumber(sg.outputs)
        for sig in m.signatureDefs or []:
            if sig.subgraphIndex == si:
                for tm in list(sig.inputs or []) + list(sig.outputs or []):
                    tm.tensorIndex = new[tm.tensorIndex]
