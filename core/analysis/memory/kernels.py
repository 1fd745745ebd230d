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

from core.model import ops, schema


# Per-op facts (in-place sharing, outputs folded at Prepare or left dynamic, persistent outputs,
# the temporaries rule) are data in the op catalogue, under each op's "memory" key.
def facts(op: str, custom_code: str | None = None) -> dict:
    if op == "CUSTOM":
        return CUSTOM_FACTS.get(custom_code or "", {})
    return ops.op_fact(op, "memory", None) or {}


def in_place(op: str) -> tuple[tuple[int, ...], bool] | None:
    """(input positions that may give their buffer to output 0, data unmodified?) or None."""
    f = facts(op).get("in_place")
    return (tuple(f["inputs"]), bool(f.get("data_unmodified"))) if f else None


# ops whose Prepare plans other subgraphs (the catalogue's control-flow ops the runtime runs)
CONTROL_FLOW = ops.runtime_control_flow()

# bytes per element as the runtime allocates them: sub-byte types take a whole byte
ITEMSIZE = {name: max(bits, 8) // 8 for name, bits in schema.TENSOR_TYPES.values() if bits}
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
    """What Prepare adds. ``added`` tensors are appended now (AddTensors in Prepare); kernels
    that reserved theirs in Init (the catalogue's ``init_tensors``) use slots counted from those
    and add none."""
    added: int = 0
    temporaries: list[Temporary] = field(default_factory=list)


def init_tensors(op: str, opts: Callable[[], dict], custom_code: str | None = None) -> int:
    """Tensors the kernel's Init reserves when the interpreter is built: before any Prepare,
    for every op, in op order (so they are numbered first)."""
    n = facts(op, custom_code).get("init_tensors", 0)
    if n and op == "LSTM" and opts().get("kernel_type") == "BASIC":
        return 0  # the basic LSTM kernel reserves nothing
    return n


@dataclass
class View:
    """What a kernel's Prepare sees of a tensor."""
    dtype: str
    shape: tuple[int, ...]
    kind: str            # mmap | arena | persistent | persistent_ro | dynamic | custom | none
    quant_scales: tuple[float, ...] = ()
    sparse: bool = False
    load: Callable[[], object] | None = field(default=None, repr=False)  # constant's data

    @property
    def values(self):
        """The constant's data (numpy) when it is a constant in the file, else None."""
        return self.load() if self.load is not None and self.kind == "mmap" else None

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


def _conv(op, opts, ins, outs, threads) -> Prepared:
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


def _depthwise(op, opts, ins, outs, threads) -> Prepared:
    x, w = ins[0], ins[1]
    if not (x.dtype == "float32" and w.dtype == "int8"):
        return Prepared()
    p = Prepared(added=3)
    p.temporaries = [Temporary(0, "input_quantized", "int8", x.shape),
                     Temporary(1, "scaling_factors", "float32", (x.shape[0],)),
                     Temporary(2, "input_offsets", "int32", (x.shape[0],))]
    return p


def _fully_connected(op, opts, ins, outs, threads) -> Prepared:
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


def _batch_matmul(op, opts, ins, outs, threads) -> Prepared:
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


def _transpose_conv(op, opts, ins, outs, threads) -> Prepared:
    """Inputs: output shape, weights, data. col2im, transposed weights and the quantized path's
    scratch live on the heap (dynamic); the hybrid path quantizes its input in the arena."""
    w, x = ins[1], ins[2]
    p = Prepared(added=2)  # col2im, transposed weights (the optimized kernel)
    if x.dtype in ("uint8", "int8", "int16"):
        p.added += 1       # scratch
    if x.dtype == "float32" and w.dtype == "int8":
        rows = _prod(x.shape) // max(w.shape[3], 1)
        base = p.added
        p.temporaries = [Temporary(base, "input_quantized", "int8", x.shape),
                         Temporary(base + 1, "scaling_factors", "float32", (rows,)),
                         Temporary(base + 2, "input_offsets", "int32", (rows,))]
        p.added += 3
    return p


def _add_n(op, opts, ins, outs, threads) -> Prepared:
    """One scratch of thread_count × input elements (thread_count: half the inputs, at least
    one, at most the interpreter's threads)."""
    x = ins[0]
    workers = min(max(1, len(ins) // 2), max(threads, 1))
    return Prepared(temporaries=[Temporary(0, "scratch", x.dtype, (workers * _prod(x.shape),))])


def _svdf(op, opts, ins, outs, threads) -> Prepared:
    x, wf = ins[0], ins[1]
    full_integer = x.dtype == "int8"
    batch, filters = x.shape[0], wf.shape[0]
    temps = [Temporary(0, "scratch", "int32" if full_integer else "float32", (batch, filters))]
    if full_integer:
        temps.append(Temporary(1, "output_temp", "int32", (filters // max(opts.get("rank", 1),
                                                                            1), batch)))
    return Prepared(temporaries=temps)


def _sequence_lstm(op, opts, ins, outs, threads) -> Prepared:
    """UNIDIRECTIONAL_SEQUENCE_LSTM: a scratch [batch, cells × (4 with CIFG, else 5) + 16];
    the hybrid kernel (float input, int8 weights) adds quantized copies of the input and states,
    scaling factors, recovered cell weights, an accumulator, zero points and persistent row
    sums. The integer (8x8→16) kernel's scratch is not modelled."""
    x, w_out = ins[0], ins[4]
    batch = x.shape[1] if opts.get("time_major") else x.shape[0]
    cells = w_out.shape[0]
    cifg = ins[1].kind == "none"
    temps = [Temporary(0, "scratch_buffer", x.dtype,
                       (batch, cells * (4 if cifg else 5) + 16))]
    if x.dtype == "float32" and w_out.dtype in ("int8", "uint8"):
        n_output = ins[8].shape[1]
        rows = (6 if cifg else 8) + (-(-n_output // cells) if ins[16].kind != "none" else 0)
        q = w_out.dtype
        temps += [Temporary(1, "input_quantized", q, x.shape),
                  Temporary(2, "output_state_quantized", q, ins[18].shape),
                  Temporary(3, "cell_state_quantized", q, ins[19].shape),
                  Temporary(4, "input_scaling_factors", "float32", (batch,)),
                  Temporary(5, "output_state_scaling_factors", "float32", (batch,)),
                  Temporary(6, "product_scaling_factors", "float32", (batch,)),
                  Temporary(7, "recovered_cell_weights", "float32", (cells,)),
                  Temporary(8, "accum_scratch", "int32", (cells, batch)),
                  Temporary(9, "input_zero_points", "float32", (batch,)),
                  Temporary(10, "output_state_zero_points", "float32", (batch,)),
                  Temporary(11, "Lstm_row_sums", "int32", (rows, cells), persistent=True)]
    return Prepared(temporaries=temps)


def _conv_3d(op, opts, ins, outs, threads) -> Prepared:
    """CONV_3D: an im2col [batch, d, h, w, kd*kh*kw*cin] unless the filter is 1×1×1 with unit
    strides and no dilation. Filter layout [kd, kh, kw, cin, cout]."""
    x, w, y = ins[0], ins[1], outs[0]
    dil = any(opts.get(k, 1) != 1 for k in ("dilation_d_factor", "dilation_h_factor",
                                              "dilation_w_factor"))
    geometry = dil or any(opts.get(k, 1) != 1 for k in ("stride_d", "stride_h", "stride_w")) \
        or tuple(w.shape[:3]) != (1, 1, 1)
    if not geometry:
        return Prepared()
    return Prepared(added=1, temporaries=[Temporary(
        0, "im2col", x.dtype, tuple(y.shape[:4]) + (_prod(w.shape[:4]),))])


def _detection_postprocess(op, opts, ins, outs, threads) -> Prepared:
    """TFLite_Detection_PostProcess (a custom op the builtin resolver provides): decoded boxes
    [boxes, 4] and scores [boxes, classes + background], both float32, reserved in Init."""
    boxes = ins[0].shape[1]
    return Prepared(temporaries=[Temporary(0, "decoded_boxes", "float32", (boxes, 4)),
                                 Temporary(1, "scores", "float32", (boxes, ins[1].shape[2]))])


# custom ops whose kernels ship with LiteRT's builtin resolver (the catalogue lists builtins)
CUSTOM_FACTS = {"TFLite_Detection_PostProcess": {"init_tensors": 2,
                                                 "temporaries": "detection_postprocess"}}


def _rfft2d(op, opts, ins, outs, threads) -> Prepared:
    """RFFT2D: four working areas sized from the (constant) FFT length; double buffers are
    allocated as int64."""
    fft = ins[1].values
    if fft is None:  # computed FFT length: sized at Eval on the heap
        return Prepared(added=4, temporaries=[Temporary(k, "fft_work", "int32", (), dynamic=True)
                                              for k in range(4)])
    h, w = int(fft.reshape(-1)[0]), int(fft.reshape(-1)[1])
    work = max(h, w // 2)
    return Prepared(added=4, temporaries=[
        Temporary(0, "fft_integer_working_area", "int32", (2 + int(work ** 0.5),)),
        Temporary(1, "fft_double_working_area", "int64", (work // 2 + w // 4,)),
        Temporary(2, "fft_input_output_rows", "int64", (h,)),
        Temporary(3, "fft_input_output_data", "int64", (h, w + 2))])


def _lstm(op, opts, ins, outs, threads) -> Prepared:
    """LSTM (full kernel, float): one scratch [batch, cells × (4 with CIFG, else 5)]; its
    hybrid and integer temporaries are not modelled (the slots are reserved in Init)."""
    x, w_out = ins[0], ins[4]
    if opts.get("kernel_type") == "BASIC" or x.dtype != "float32" or w_out.dtype != "float32":
        return Prepared()
    cells = w_out.shape[0]
    cifg = ins[1].kind == "none"
    return Prepared(temporaries=[Temporary(0, "scratch_buffer", x.dtype,
                                           (x.shape[0], cells * (4 if cifg else 5)))])


_ACCUM = {"float32": "float32", "int32": "int64", "int64": "int64", "uint8": "int32",
          "int8": "int32", "int16": "int32", "bool": "bool"}


def _reduce(op, opts, ins, outs, threads) -> Prepared:
    """Reduce ops (MEAN, SUM, ...): index scratch, resolved axes, an accumulator for
    MEAN/SUM/PROD, normalized dims; sized at Prepare only when axes (and input) are constant."""
    x, axis = ins[0], ins[1]
    y = outs[0]
    p = Prepared(added=4)
    axis_known = axis.constant_or_folded
    p.temporaries.append(Temporary(0, "temp_index", "int32", (len(x.shape),)))
    p.temporaries.append(Temporary(1, "resolved_axis", "int32", (_prod(axis.shape),),
                                   dynamic=not axis_known))
    if facts(op).get("accumulator"):
        p.temporaries.append(Temporary(2, "temp_accum", _ACCUM.get(x.dtype, x.dtype),
                                       (_prod(y.shape),), dynamic=not axis_known))
    p.temporaries.append(Temporary(3, "normalized_dims", "int32", (len(x.shape),),
                                   dynamic=not x.constant_or_folded))
    return p


# the catalogue's "temporaries" rule name -> what that kernel's Prepare adds
TEMPORARIES: dict[str, Callable[..., Prepared]] = {
    "conv_2d": _conv, "depthwise_conv_2d": _depthwise, "fully_connected": _fully_connected,
    "batch_matmul": _batch_matmul, "reduce": _reduce, "transpose_conv": _transpose_conv,
    "add_n": _add_n, "svdf": _svdf, "unidirectional_sequence_lstm": _sequence_lstm,
    "conv_3d": _conv_3d, "detection_postprocess": _detection_postprocess, "lstm": _lstm,
    "rfft2d": _rfft2d,
}


def prepare_temporaries(op: str, options: Callable[[], dict], ins, outs, threads,
                        custom_code: str | None = None) -> Prepared | None:
    """What ``op``'s Prepare adds, or None for kernels without temporaries; ``options`` is
    called only then (decoding every op's options would dominate planning big graphs)."""
    rule = facts(op, custom_code).get("temporaries")
    return TEMPORARIES[rule](op, options(), ins, outs, threads) if rule else None
