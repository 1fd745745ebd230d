"""An independent reading of a verified model through the flatbuffers package's generated
accessors (one Python call per field), to check the reader's columnar numpy reads against.
Rows are compared by ``repr`` so that NaN scales compare equal to themselves."""
from __future__ import annotations

import math

from core.model import schema
from core.model.schema import fb
from core.model.types import Model


def _ints(obj, name: str) -> tuple[int, ...] | None:
    if getattr(obj, f"{name}IsNone")():
        return None
    return tuple(int(x) for x in getattr(obj, f"{name}AsNumpy")())


def _floats(obj, name: str) -> tuple[float, ...]:
    if getattr(obj, f"{name}IsNone")():
        return ()
    return tuple(float(x) for x in getattr(obj, f"{name}AsNumpy")())


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")


def _quant(q) -> tuple | None:
    if q is None:
        return None
    scale, zp = _floats(q, "Scale"), _ints(q, "ZeroPoint") or ()
    lo, hi = _floats(q, "Min"), _floats(q, "Max")
    if not (scale or zp or lo or hi or q.DetailsType()):
        return None
    return scale, zp, q.QuantizedDimension(), lo, hi


def accessor_rows(data) -> list[tuple]:
    """Per subgraph: its name, inputs, outputs, and a row per tensor and operator, as the
    generated accessors read them."""
    m = fb.Model.GetRootAs(data, 0)
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        custom = oc.CustomCode()
        codes.append((schema.builtin_op_name(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())),
                      None if custom is None else _text(custom), oc.Version()))
    members1 = schema.union_members("BuiltinOptions")
    members2 = schema.union_members("BuiltinOptions2")
    sizes = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        sizes.append(b.Size() if b.Offset() > 1 else b.DataLength())
    out = []
    for si in range(m.SubgraphsLength()):
        sg = m.Subgraphs(si)
        tensors = []
        for ti in range(sg.TensorsLength()):
            t = sg.Tensors(ti)
            shape = _ints(t, "Shape") or ()
            sig = _ints(t, "ShapeSignature")
            dtype, bits = schema.tensor_type(t.Type())
            elements = 0 if any(d < 0 for d in shape) else math.prod(shape)
            size = sizes[t.Buffer()]
            tensors.append((ti, si, _text(t.Name()), shape, shape if sig is None else sig,
                            dtype, (elements * bits + 7) // 8 if bits else size, size > 0,
                            t.Buffer(), bool(t.IsVariable()),
                            bool(t.HasRank()), t.Sparsity() is not None,
                            _quant(t.Quantization())))
        ops = []
        for oi in range(sg.OperatorsLength()):
            op = sg.Operators(oi)
            name, custom, version = codes[op.OpcodeIndex()]
            t1, t2 = op.BuiltinOptionsType(), op.BuiltinOptions2Type()
            table = members1.get(t1) if t1 else members2.get(t2) if t2 else None
            ops.append((oi, si, op.OpcodeIndex(), name, custom, version,
                        _ints(op, "Inputs") or (), _ints(op, "Outputs") or (),
                        _ints(op, "Intermediates") or (), table))
        out.append((_text(sg.Name()), _ints(sg, "Inputs") or (), _ints(sg, "Outputs") or (),
                    tensors, ops))
    return out


def reader_rows(model: Model) -> list[tuple]:
    """The same rows from what ``open_model`` returned."""
    out = []
    for sg in model.subgraphs:
        tensors = []
        for t in sg.tensors:
            q = t.quantization
            tensors.append((t.index, t.subgraph, t.name, t.shape, t.shape_signature, t.dtype,
                            t.bytes, t.constant, t.buffer, t.variable, t.has_rank, t.sparse,
                            None if q is None else (q.scale, q.zero_point,
                                                    q.quantized_dimension, q.min, q.max)))
        ops = [(op.index, op.subgraph, op.opcode_index, op.op, op.custom_code, op.version,
                op.inputs, op.outputs, op.intermediates, op.options_table)
               for op in sg.operators]
        out.append((sg.name, sg.inputs, sg.outputs, tensors, ops))
    return out


def accessor_buffers(data) -> list[tuple]:
    """(index, size, file offset of the data or None, external, data vector present) per
    buffer, through the generated accessors."""
    m = fb.Model.GetRootAs(data, 0)
    out = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.Offset() > 1:  # stored past the flatbuffer
            out.append((i, b.Size(), b.Offset() if b.Size() else None, True, False))
        elif b.DataLength():
            out.append((i, b.DataLength(), b._tab.Vector(b._tab.Offset(4)), False, True))
        else:
            out.append((i, 0, None, False, not b.DataIsNone()))
    return out


def mismatch(model: Model, data) -> str | None:
    """The first row where the reader and the generated accessors disagree, or None."""
    buffers = [(b.index, b.size, b.offset, b.external, b.data_present) for b in model.buffers]
    if buffers != accessor_buffers(data):
        return f"buffers differ: {buffers[:5]!r}... != {accessor_buffers(data)[:5]!r}..."
    ours, theirs = reader_rows(model), accessor_rows(data)
    if len(ours) != len(theirs):
        return f"{len(ours)} subgraphs, accessors {len(theirs)}"
    for si, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if repr(a[:3]) != repr(b[:3]):
            return f"subgraph {si}: {a[:3]!r} != {b[:3]!r}"
        for kind, xs, ys in (("tensor", a[3], b[3]), ("operator", a[4], b[4])):
            if len(xs) != len(ys):
                return f"subgraph {si}: {len(xs)} {kind}s, accessors {len(ys)}"
            for x, y in zip(xs, ys, strict=True):
                if repr(x) != repr(y):
                    return f"subgraph {si} {kind}: {x!r} != {y!r}"
    return None
