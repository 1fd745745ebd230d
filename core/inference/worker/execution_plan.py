"""Which nodes each delegate kernel replaced, read from the runtime itself.

LiteRT's Python wrapper shows the node table but not the execution plan, and walking a delegate
node's outputs back to its inputs misses the ops whose results leave through no tensor
(ASSIGN_VARIABLE, the STRIDED_SLICE feeding it). So a do-nothing delegate is applied after the
real ones: the runtime calls its ``Prepare`` once per subgraph, in subgraph order, with that
subgraph's context; it reads the execution plan there and, for every delegate kernel in it, the
``TfLiteDelegateParams`` the runtime stored as the node's builtin data (``nodes_to_replace``), and
replaces nothing.

The structs are the TFLite C ABI of ``tflite/core/c/common.h`` (TfLiteContext, TfLiteNode,
TfLiteDelegate, TfLiteDelegateParams), declared only as far as the fields read here.
"""
from __future__ import annotations

import ctypes as C
from dataclasses import dataclass

K_TFLITE_OK = 0
K_ALLOW_DYNAMIC_TENSORS = 1   # kTfLiteDelegateFlagsAllowDynamicTensors: be called on every graph


def _ints(ptr: int | None) -> list[int]:
    """A TfLiteIntArray (int size; int data[]) as a list."""
    if not ptr:
        return []
    n = C.cast(ptr, C.POINTER(C.c_int))[0]
    return list(C.cast(ptr, C.POINTER(C.c_int * (n + 1))).contents[1:])


class _Node(C.Structure):
    _fields_ = [("inputs", C.c_void_p), ("outputs", C.c_void_p), ("intermediates", C.c_void_p),
                ("temporaries", C.c_void_p), ("user_data", C.c_void_p),
                ("builtin_data", C.c_void_p), ("custom_initial_data", C.c_void_p),
                ("custom_initial_data_size", C.c_int), ("delegate", C.c_void_p)]


class _DelegateParams(C.Structure):
    _fields_ = [("delegate", C.c_void_p), ("nodes_to_replace", C.c_void_p),
                ("input_tensors", C.c_void_p), ("output_tensors", C.c_void_p)]


_GetExecutionPlan = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_void_p))
_GetNodeAndRegistration = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.POINTER(C.POINTER(_Node)),
                                      C.POINTER(C.c_void_p))


class _Context(C.Structure):
    _fields_ = [("tensors_size", C.c_size_t), ("GetExecutionPlan", _GetExecutionPlan),
                ("tensors", C.c_void_p), ("impl_", C.c_void_p), ("ResizeTensor", C.c_void_p),
                ("ReportError", C.c_void_p), ("AddTensors", C.c_void_p),
                ("GetNodeAndRegistration", _GetNodeAndRegistration)]


_Prepare = C.CFUNCTYPE(C.c_int, C.POINTER(_Context), C.c_void_p)


class _Delegate(C.Structure):
    _fields_ = [("data_", C.c_void_p), ("Prepare", _Prepare),
                ("CopyFromBufferHandle", C.c_void_p), ("CopyToBufferHandle", C.c_void_p),
                ("FreeBufferHandle", C.c_void_p), ("flags", C.c_int64),
                ("opaque_delegate_builder", C.c_void_p)]


@dataclass
class PlanSeen:
    """One subgraph as the runtime will run it: its tensor count (to tell subgraphs apart), the
    nodes it still runs itself, and the nodes each delegate kernel replaced."""
    tensors: int
    own_nodes: list[int]
    partitions: list[list[int]]


class PlanProbe:
    """The do-nothing delegate. Keep the probe alive as long as the interpreter it was applied
    to: the runtime keeps a pointer to it."""

    def __init__(self) -> None:
        self.seen: list[PlanSeen] = []
        self._callback = _Prepare(self._prepare)
        self._delegate = _Delegate(None, self._callback, None, None, None,
                                   K_ALLOW_DYNAMIC_TENSORS, None)

    def apply(self, interpreter_wrapper) -> list[PlanSeen]:
        """Apply to ``interpreter_wrapper`` (``Interpreter._interpreter``, tensors allocated so the
        default delegates are in place); one entry per subgraph the runtime delegates, in
        subgraph order (the runtime itself leaves out validation and skippable subgraphs)."""
        self.seen = []
        interpreter_wrapper.ModifyGraphWithDelegate(C.addressof(self._delegate))
        return self.seen

    def _prepare(self, ctx_p, _delegate) -> int:
        ctx = ctx_p.contents
        plan = C.c_void_p()
        if ctx.GetExecutionPlan(ctx_p, C.byref(plan)) != K_TFLITE_OK:
            return 1
        own, parts = [], []
        for n in _ints(plan.value):
            node, reg = C.POINTER(_Node)(), C.c_void_p()
            if ctx.GetNodeAndRegistration(ctx_p, n, C.byref(node), C.byref(reg)) != K_TFLITE_OK:
                return 1
            if node.contents.delegate and node.contents.builtin_data:
                params = C.cast(node.contents.builtin_data, C.POINTER(_DelegateParams)).contents
                parts.append(sorted(_ints(params.nodes_to_replace)))
            else:
                own.append(n)
        self.seen.append(PlanSeen(int(ctx.tensors_size), own, parts))
        return K_TFLITE_OK
