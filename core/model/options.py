"""Builtin operator options <-> plain dicts with schema field names and enum values as names.

Decoding goes through the generated module's union creators (one small options table per op, never
the whole model through the object API); encoding goes through the same ``*OptionsT.Pack``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.model import schema
from core.model.schema import fb

# Option fields whose integers are enum values (object-API attribute name -> enum class name).
_ENUM_FIELDS = {
    "padding": "Padding",
    "fusedActivationFunction": "ActivationFunctionType",
    "weightsFormat": "FullyConnectedOptionsWeightsFormat",
    "kernelType": "LSTMKernelType",
    "combiner": "CombinerType",
    "reduceFunction": "ReduceWindowFunction",
    "algorithm": "RngAlgorithm",
    "comparisonDirection": "StablehloComparisonDirection",
    "compareType": "StablehloComparisonType",
    "precisionConfig": "StablehloPrecisionConfig",
    "compositeAttributesFormat": "CustomOptionsFormat",
    "idxOutType": "TensorType", "inDataType": "TensorType", "outDataType": "TensorType",
    "outType": "TensorType", "outputType": "TensorType", "keyDtype": "TensorType",
    "valueDtype": "TensorType", "quantizedBiasType": "TensorType",
}
_TABLE_ENUM_FIELDS = {
    ("MirrorPadOptions", "mode"): "MirrorPadMode",
    ("LSHProjectionOptions", "type"): "LSHProjectionType",
}

def _enum_for(table: str, attr: str) -> str | None:
    return _TABLE_ENUM_FIELDS.get((table, attr), _ENUM_FIELDS.get(attr))


def _plain(value: Any, enum: str | None) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (int, np.integer)):
        if enum:
            return schema.enum_names(enum).get(int(value), int(value))
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return [_plain(v, enum) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v, enum) for v in value]
    if hasattr(value, "__dict__"):  # a nested object-API table
        return object_to_dict(type(value).__name__[:-1], value)
    return value


def object_to_dict(table: str, obj: Any) -> dict[str, Any]:
    return {schema.snake(k): _plain(v, _enum_for(table, k)) for k, v in vars(obj).items()}


def decode(union: str, type_code: int, table) -> tuple[str | None, dict[str, Any]]:
    """Decode one union member (``table`` is the flatbuffers Table the accessor returned)."""
    name = schema.union_members(union).get(type_code)
    if name is None or table is None:
        return name, {}
    creator = getattr(fb, union + "Creator")
    return name, object_to_dict(name, creator(type_code, table))


def encode(builder, table: str, values: dict[str, Any]) -> tuple[str, int, int]:
    """Pack an options table from a dict; returns (union name, union type code, offset)."""
    for union in ("BuiltinOptions", "BuiltinOptions2"):
        code = getattr(getattr(fb, union), table, None)
        if code is not None:
            break
    else:
        raise ValueError(f"{table} is not a builtin options table")
    obj = getattr(fb, table + "T")()
    attrs = {schema.snake(k): k for k in vars(obj)}
    for key, value in values.items():
        if key not in attrs:
            raise ValueError(f"{table} has no field {key!r} (fields: {sorted(attrs)})")
        attr = attrs[key]
        enum = _enum_for(table, attr)
        if enum and isinstance(value, str):
            value = getattr(getattr(fb, enum), value)
        elif enum and isinstance(value, (list, tuple)):
            value = [getattr(getattr(fb, enum), v) if isinstance(v, str) else v for v in value]
        setattr(obj, attr, value)
    return union, code, obj.Pack(builder)
