"""What LiteRT's builtin kernels do to memory when they are prepared (``Prepare``), for the
planner to replay: which outputs leave the arena (persistent, read-only heap, dynamic), which
kernel temporaries they add (numbered as ``AddTensors`` numbers them) and their sizes, and which
ops may write their output over an input (in-place sharing).

Facts from LiteRT's ``tflite/kernels/*.cc`` (the 2.2/2.3 sources), checked against the runtime
by tests/analysis/test_memory_runtime.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

# --- in-place sharing (the registration's ``inplace_operator``) -----------------------------
# op -> (input positions that may give their buffer to output 0, data unmodified?)
INPLACE = {
    "RESHAPE": ((0,), True), "SQUEEZE": ((0,), True), "EXPAND_DIMS": ((0,), True),
    "BITCAST": ((0,), True),
    "ADD": ((0, 1), False), "SUB": ((0, 1), False), "MUL": ((0, 1), False),
    "DIV": ((0, 1), False), "SOFTMAX": ((0,), False), "DYNAMIC_UPDATE_SLICE": ((0,), False),
}

# --- output classes decided in Prepare ------------------------------------------------------
# op -> input positions that, when all constant (or already folded), make output 0 a
# persistent read-only heap tensor computed at Prepare (never in the arena). () = always.
FOLD_WHEN_CONSTANT: dict[str, tuple[int, ...] | str] = {
    "SHAPE": (), "RANK": (), "MUL": (0, 1), "GATHER": (0, 1), "STRIDED_SLICE": (0, 1, 2),
    "TILE": (0, 1), "RANGE": (0, 1, 2), "BROADCAST_ARGS": (0, 1), "CONCATENATION": "all",
    "RESHAPE": (0,),
}
# op -> input positions that must be constant for the output size to be known at Prepare;
# otherwise every output is dynamic (heap, sized at Eval) and planning stops after this op.
DYNAMIC_UNLESS_CONSTANT: dict[str, tuple[int, ...]] = {
    "ARG_MAX": (1,), "ARG_MIN": (1,), "BATCH_TO_SPACE_ND": (1, 2), "SPACE_TO_BATCH_ND": (1, 2),
    "FILL": (0,), "MIRROR_PAD": (1,), "ONE_HOT": (1,), "PAD": (1,), "PADV2": (1,),
    "RESIZE_BILINEAR": (1,), "RESIZE_NEAREST_NEIGHBOR": (1,), "SLICE": (1, 2),
    "STRIDED_SLICE": (1, 2), "TILE": (1,), "TRANSPOSE": (1,), "SPARSE_TO_DENSE": (1,),
    "SEGMENT_SUM": (0, 1), "UNSORTED_SEGMENT_SUM": (1, 2), "UNSORTED_SEGMENT_MAX": (1, 2),
    "UNSORTED_SEGMENT_MIN": (1, 2), "UNSORTED_SEGMENT_PROD": (1, 2), "WHERE": (0,),
    "EXPAND_DIMS": (1,), "BROADCAST_TO": (1,), "RANDOM_STANDARD_NORMAL": (0,),
    "RANDOM_UNIFORM": (0,), "MULTINOMIAL": (0, 1), "SPLIT": (0,), "SPLIT_V": (1, 2),
    "TOPK_V2": (1,), "MEAN": (1,), "SUM": (1,), "REDUCE_PROD": (1,), "REDUCE_MAX": (1,),
    "REDUCE_MIN": (1,), "REDUCE_ANY": (1,), "REDUCE_ALL": (1,),
}
ALWAYS_DYNAMIC = {"UNIQUE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5"}
# output 0 of these is persistent (kept across runs) when input 0 is a constant in the file
PERSISTENT_WHEN_INPUT_CONSTANT = {"DEQUANTIZE"}
ALWAYS_PERSISTENT = {"DENSIFY"}
REDUCE_OPS = {"MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY",
              "REDUCE_ALL"}
CONTROL_FLOW = {"WHILE", "IF", "CALL_ONCE"}

ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1,
            "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
            "bool": 1, "complex64": 8, "complex128": 16, "int4": 1, "uint4": 1, "int2": 1}
HEAP_TYPES = {"string", "resource", "variant"}


def nbytes(dtype: str, shape) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 0)
    return n * ITEMSIZE.get(dtype, 1)


@dataclass
class Temporary:
    """A kernel temporary: ``slot`` is its position among the tensors the kernel added."""
    slot: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    persistent: bool = False
    dynamic: bool = False

    @property
    def bytes(self) -> int:
        return nbytes(self.dtype, self.shape)


@dataclass
class Prepared:
    added: int = 0                          # tensors the kernel appended (AddTensors)
    temporaries: list[Temporary] = field(default_factory=list)


@dataclass
class View:
    """What a kernel's Prepare sees of a tensor."""
    dtype: str
    shape: tuple[int, ...]
    kind: str            # mmap | arena | persistent | persistent_ro | dynamic | custom | none
    quant_scales: tuple[float, ...] = ()
    sparse: bool = False

    @property
    def constant(self) -> bool:  # IsConstantTensor
        return self.kind == "mmap"

    @property
    def constant_or_folded(self) -> bool:  # IsConstantOrPersistentTensor
        return self.kind in ("mmap", "persistent_ro")


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _conv(opts, ins, outs, threads) -> Prepared:
    x, w = ins[0], ins[1]
    y = outs[0]
    hybrid = x.dtype == "float32" and w.dtype in ("uint8", "int8", "int4")
    dil = opts.get("dilation_w_factor", 1) != 1 or opts.get("dilation_h_factor", 1) != 1
    # the multithreaded Eigen kernel (threads != 1, float, no dilation, weights not in the
    # arena) transposes the weights once into a persistent HWCN copy instead of im2col
    multithreaded = (threads != 1 and not hybrid and not dil and w.kind != "arena"
                     and w.kind != "dynamic")
    hwcn = x.dtype == "float32" and multithreaded
    geometry = dil or opts.get("stride_w", 1) != 1 or opts.get("stride_h", 1) != 1 \
        or w.shape[1] != 1 or w.shape[2] != 1
    im2col = (not hwcn and geometry
              and (x.dtype in ("uint8", "int8", "int16") or not multithreaded))
    batches, oh, ow, cout = y.shape[0], y.shape[1], y.shape[2], w.shape[0]
    p = Prepared()
    if im2col:
        p.temporaries.append(Temporary(p.added, "im2col", "int8" if hybrid else x.dtype,
                                       (batches, oh, ow, _prod(w.shape[1:]))))
        p.added += 1
    if hwcn:
        p.temporaries.append(Temporary(p.added, "Conv_hwcn_weights", x.dtype,
                                       (_prod(w.shape[1:]), cout), persistent=True))
        p.added += 1
    if hybrid:
        groups = max(x.shape[3] // max(w.shape[3], 1), 1)
        rows = x.shape[0] * x.shape[1] * x.shape[2] * groups
        per_channel = w.dtype in ("int8", "int4") and len(set(w.quant_scales)) > 1
        for name, dt, shape, persistent in (
                ("input_quantized", "int8", x.shape, False),
                ("scaling_factors", "float32", (rows,), False),
                ("accum_scratch", "int32", (cout, batches * oh * ow), False),
        ) + ((("input_offsets", "int32", (rows,), False),
              ("Conv_row_sums", "int32", (cout,), True)) if per_channel else ()):
            p.temporaries.append(Temporary(p.added, name, dt, tuple(shape), persistent))
            p.added += 1
    return p


def _depthwise(opts, ins, outs, threads) -> Prepared:
    x, w = ins[0], ins[1]
    if not (x.dtype == "float32" and w.dtype == "int8"):
        return Prepared()
    p = Prepared(added=3)
    p.temporaries = [Temporary(0, "input_quantized", "int8", x.shape),
                     Temporary(1, "scaling_factors", "float32", (x.shape[0],)),
                     Temporary(2, "input_offsets", "int32", (x.shape[0],))]
    return p


def _fully_connected(opts, ins, outs, threads) -> Prepared:
    x, w = ins[0], ins[1]
    p = Prepared(added=6)  # always reserves six, uses them only on the hybrid path
    if not (x.dtype == "float32" and w.dtype in ("uint8", "int8", "int4", "int2")):
        return p
    units = w.shape[0]
    batch = _prod(x.shape) // max(w.shape[1], 1)
    p.temporaries = [Temporary(0, "input_quantized", "int8", x.shape),
                     Temporary(1, "scaling_factors", "float32", (batch,)),
                     Temporary(2, "accum_scratch", "int32", (units, batch)),
                     Temporary(3, "input_offsets", "int32", (batch,)),
                     Temporary(4, "row_sums", "int32", (units,), persistent=True)]
    return p


def _batch_matmul(opts, ins, outs, threads) -> Prepared:
    lhs, rhs = ins[0], ins[1]
    p = Prepared(added=7)
    swap = lambda s: tuple(s[:-2]) + (s[-1], s[-2])  # noqa: E731
    p.temporaries = [Temporary(0, "lhs_transposed", lhs.dtype, swap(lhs.shape)),
                     Temporary(1, "BatchMatMul_scratch_buffer", rhs.dtype, swap(rhs.shape),
                               persistent=rhs.constant)]
    if lhs.dtype == "float32" and rhs.dtype == "int8":
        adj_x, adj_y = opts.get("adj_x", False), opts.get("adj_y", False)
        batch = lhs.shape[-1] if adj_x else lhs.shape[-2]
        units = rhs.shape[-2] if adj_y else rhs.shape[-1]
        nb, nw = _prod(lhs.shape[:-2]), _prod(rhs.shape[:-2])
        p.temporaries += [Temporary(2, "input_quantized", rhs.dtype, lhs.shape),
                          Temporary(3, "scaling_factors", "float32", (nb * batch,)),
                          Temporary(4, "accum_scratch", "int32", (units, batch)),
                          Temporary(5, "input_offsets", "int32", (nb * batch,)),
                          Temporary(6, "row_sums", "int32", (nw * units,), persistent=True)]
    return p


_ACCUM = {"float32": "float32", "int32": "int64", "int64": "int64", "uint8": "int32",
          "int8": "int32", "int16": "int32", "bool": "bool"}


def _reduce(op):
    def prepare(opts, ins, outs, threads) -> Prepared:
        x, axis = ins[0], ins[1]
        y = outs[0]
        p = Prepared(added=4)
        axis_known = axis.constant_or_folded
        p.temporaries.append(Temporary(0, "temp_index", "int32", (len(x.shape),)))
        p.temporaries.append(Temporary(1, "resolved_axis", "int32", (_prod(axis.shape),),
                                       dynamic=not axis_known))
        if op in ("MEAN", "SUM", "REDUCE_PROD"):
            p.temporaries.append(Temporary(2, "temp_accum", _ACCUM.get(x.dtype, x.dtype),
                                           (_prod(y.shape),), dynamic=not axis_known))
        p.temporaries.append(Temporary(3, "normalized_dims", "int32", (len(x.shape),),
                                       dynamic=not x.constant_or_folded))
        return p
    return prepare


KERNEL_PREPARE: dict[str, Callable[..., Prepared]] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "FULLY_CONNECTED": _fully_connected,
    "BATCH_MATMUL": _batch_matmul,
    **{op: _reduce(op) for op in REDUCE_OPS},
}
