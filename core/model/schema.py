"""The TFLite schema as LiteLens sees it.

The generated flatbuffer module that ships inside the ai-edge-litert wheel is the single source of
truth: the reader uses its lazy accessors, the builder its ``*Start/*Add/*End`` functions, and the
verifier a field table *derived from that same module* (below), so a newer wheel with new tables or
fields is verified without anyone editing a hand-written copy of ``schema.fbs``.

How the field table is derived: for every table ``T`` the module has ``TAddField(builder, value)``
functions. Calling one with a recording stand-in for the flatbuffers Builder tells the vtable slot
and whether the field is a scalar (and its width) or an offset. For offset fields the accessor
``T.Field``'s byte code names what it dereferences (``String``, ``Vector``, ``Indirect``, ``Union``)
and which table class it constructs; ``TStartFieldVector`` tells a vector's element width.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core.fileio import TFLITE_IDENTIFIER

try:
    from ai_edge_litert import schema_py_generated as fb
except ImportError:  # a worker under a TensorFlow-only Python: TF ships the same generated module
    from tensorflow.lite.python import schema_py_generated as fb

FILE_IDENTIFIER = TFLITE_IDENTIFIER

_SCALAR_SLOT_SIZES = {
    "PrependBoolSlot": 1, "PrependByteSlot": 1, "PrependUint8Slot": 1, "PrependInt8Slot": 1,
    "PrependUint16Slot": 2, "PrependInt16Slot": 2,
    "PrependUint32Slot": 4, "PrependInt32Slot": 4, "PrependFloat32Slot": 4,
    "PrependUint64Slot": 8, "PrependInt64Slot": 8, "PrependFloat64Slot": 8,
}


@dataclass(frozen=True)
class Field:
    name: str          # accessor name in the generated module, e.g. "Inputs"
    slot: int          # vtable slot (0-based)
    kind: str          # scalar | string | table | vector | vector_table | vector_string | union
    size: int = 4      # scalar width, or vector element width
    target: str = ""   # table class name (table / vector_table) or union enum name (union)
    default: float = 0   # scalars: the value an absent field has
    signed: bool = False
    floating: bool = False


class _Recorder:
    """Stands in for flatbuffers.Builder and records the one call a generated function makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        def record(*args):
            self.calls.append((name, args))
            return 0
        return record


def _record(fn, *args) -> tuple[str, tuple]:
    rec = _Recorder()
    fn(rec, *args)
    if len(rec.calls) != 1:
        raise RuntimeError(f"unexpected generated code in {fn.__name__}: {rec.calls}")
    return rec.calls[0]


def _is_table_class(name: str, obj) -> bool:
    return (isinstance(obj, type) and hasattr(obj, "Init") and "_tab" in getattr(obj, "__slots__", ())
            and callable(getattr(fb, name + "Start", None)))


@lru_cache(maxsize=None)
def table_names() -> frozenset[str]:
    return frozenset(n for n, o in vars(fb).items() if _is_table_class(n, o))


def _union_enum_for(table: str, field: str) -> str:
    if callable(getattr(fb, field + "Creator", None)):
        return field
    # e.g. QuantizationParameters.Details -> QuantizationDetails: ask the object API's unpacker.
    tcls = getattr(fb, table + "T")
    creators = [n[: -len("Creator")] for n in tcls._UnPack.__code__.co_names if n.endswith("Creator")]
    own = {f for f in creators if hasattr(getattr(fb, table), f)}
    rest = [c for c in dict.fromkeys(creators) if c not in own]
    if len(rest) != 1:
        raise RuntimeError(f"cannot tell which union {table}.{field} holds: {creators}")
    return rest[0]


@lru_cache(maxsize=None)
def fields_of(table: str) -> tuple[Field, ...]:
    """The fields of a generated table class, derived from the generated code itself."""
    cls = getattr(fb, table)
    prefix = table + "Add"
    tables = table_names()
    out: list[Field] = []
    for fn_name, fn in vars(fb).items():
        if not fn_name.startswith(prefix) or not callable(fn):
            continue
        name = fn_name[len(prefix):]
        accessor = getattr(cls, name, None)
        if accessor is None:  # a function of another table whose name starts the same way
            continue
        method, args = _record(fn, 0)
        slot = args[0]
        if method in _SCALAR_SLOT_SIZES:
            out.append(Field(name, slot, "scalar", _SCALAR_SLOT_SIZES[method], default=args[2],
                             signed="Int" in method, floating="Float" in method))
            continue
        if method != "PrependUOffsetTRelativeSlot":
            raise RuntimeError(f"{table}.{name}: unsupported slot kind {method}")
        names = accessor.__code__.co_names
        targets = [n for n in names if n in tables]
        if "Union" in names:
            out.append(Field(name, slot, "union", 4, _union_enum_for(table, name)))
        elif "Vector" in names:
            if "String" in names:
                out.append(Field(name, slot, "vector_string"))
            elif "Indirect" in names and targets:
                out.append(Field(name, slot, "vector_table", 4, targets[0]))
            else:
                start = getattr(fb, f"{table}Start{name}Vector")
                _, (elem_size, _n, _align) = _record(start, 1)
                out.append(Field(name, slot, "vector", elem_size))
        elif "String" in names:
            out.append(Field(name, slot, "string"))
        elif targets:
            out.append(Field(name, slot, "table", 4, targets[0]))
        else:
            raise RuntimeError(f"{table}.{name}: cannot classify offset field")
    by_name = {f.name: f for f in out}
    fixed = []
    for f in out:
        if f.kind == "union":
            f = Field(f.name, f.slot, f.kind, f.size, f.target, by_name[f.name + "Type"].slot)
        fixed.append(f)
    return tuple(sorted(fixed, key=lambda f: f.slot))


@lru_cache(maxsize=None)
def field(table: str, name: str) -> Field:
    for f in fields_of(table):
        if f.name == name:
            return f
    raise KeyError(f"{table} has no field {name}")


@lru_cache(maxsize=None)
def union_members(enum_name: str) -> dict[int, str]:
    """Union type value -> table class name (values whose member has no table are left out)."""
    enum = getattr(fb, enum_name)
    tables = table_names()
    return {v: k for k, v in vars(enum).items() if isinstance(v, int) and k in tables}


@lru_cache(maxsize=None)
def enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(fb, enum_name)
    return {v: k for k, v in vars(enum).items() if isinstance(v, int) and not k.startswith("_")}


def builtin_op_name(code: int) -> str:
    return enum_names("BuiltinOperator").get(code, f"UNKNOWN_{code}")


# TensorType -> (numpy-style name, bits per element; 0 for types with no fixed width)
TENSOR_TYPES: dict[str, tuple[str, int]] = {
    "FLOAT32": ("float32", 32), "FLOAT16": ("float16", 16), "INT32": ("int32", 32),
    "UINT8": ("uint8", 8), "INT64": ("int64", 64), "STRING": ("string", 0), "BOOL": ("bool", 8),
    "INT16": ("int16", 16), "COMPLEX64": ("complex64", 64), "INT8": ("int8", 8),
    "FLOAT64": ("float64", 64), "COMPLEX128": ("complex128", 128), "UINT64": ("uint64", 64),
    "RESOURCE": ("resource", 0), "VARIANT": ("variant", 0), "UINT32": ("uint32", 32),
    "UINT16": ("uint16", 16), "INT4": ("int4", 4), "BFLOAT16": ("bfloat16", 16),
    "INT2": ("int2", 2), "UINT4": ("uint4", 4),
}


@lru_cache(maxsize=None)
def tensor_type(code: int) -> tuple[str, int]:
    """TensorType code -> (numpy-style dtype name, bits per element or 0)."""
    name = enum_names("TensorType").get(code)
    if name is None:
        return (f"unknown_{code}", 0)
    return TENSOR_TYPES.get(name, (name.lower(), 0))


_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


@lru_cache(maxsize=4096)
def snake(name: str) -> str:
    """Object-API names to schema names: dilationWFactor -> dilation_w_factor."""
    return _CAMEL.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", name)).lower()
