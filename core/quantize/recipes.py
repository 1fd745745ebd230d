"""The one-click recipes, as ai-edge-quantizer recipe lists (plain JSON the user can edit and save).

Each recipe is the quantizer's own format: a list of ``{"regex", "operation", "algorithm_key",
"op_config"}`` entries, where ``regex`` matches an op's output tensor name ("scope") and the last
matching entry wins. Keeping ops float appends ``no_quantize`` entries; float model I/O for a
static recipe appends ``no_quantize`` entries for the INPUT and OUTPUT pseudo-ops.

Blockwise int4 is not offered: measured with ai-edge-quantizer 0.10, the blockwise granularities
are accepted and then silently dropped for the weight-only recipes (the weights stay float), so a
one-click button would only produce a "nothing to quantize" result.
"""
from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.fileio import dumps_json, write_text


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    static: bool          # needs calibration data (activations quantized)
    expect: str           # what the user should expect, in one line


def _weights(num_bits: int, dtype: str = "INT", granularity: str = "CHANNELWISE") -> dict:
    return {"num_bits": num_bits, "symmetric": True, "granularity": granularity, "dtype": dtype}


def _entry(op_config: dict, algorithm: str = "min_max_uniform_quantize") -> dict:
    return {"regex": ".*", "operation": "*", "algorithm_key": algorithm, "op_config": op_config}


_ACTIVATIONS = {"num_bits": 8, "symmetric": False, "granularity": "TENSORWISE", "dtype": "INT"}

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("dynamic_int8", "Dynamic range int8", False,
           "int8 weights, float activations quantized on the fly: ~4x smaller, faster on CPU"),
    Recipe("weight_only_int8", "Weight-only int8", False,
           "int8 weights dequantized to float before each op: ~4x smaller, float compute"),
    Recipe("weight_only_int4", "Weight-only int4", False,
           "int4 weights dequantized to float: ~7x smaller, larger error"),
    Recipe("float16", "Float16 weights", False,
           "float16 weights dequantized to float32: ~2x smaller, tiny error"),
    Recipe("full_int8", "Full integer int8", True,
           "int8 weights and activations from calibration: ~4x smaller, integer-only kernels"),
    Recipe("int16x8", "16x8 (int16 activations)", True,
           "int8 weights, int16 activations from calibration: more accurate than int8"),
)}


def aeq_recipe(name: str, keep_float: list[str] | tuple[str, ...] = (),
               float_io: bool = False) -> list[dict]:
    """The ai-edge-quantizer recipe for one of ``RECIPES``.

    ``keep_float``: regexes of op output tensor names to leave float; ``float_io``: for static
    recipes, keep the model's inputs and outputs float (otherwise they become int8/int16)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r} (use {', '.join(RECIPES)})")
    if name == "dynamic_int8":
        entries = [_entry({"weight_tensor_config": _weights(8), "compute_precision": "INTEGER",
                           "explicit_dequantize": False})]
    elif name in ("weight_only_int8", "weight_only_int4"):
        bits = 8 if name.endswith("int8") else 4
        entries = [_entry({"weight_tensor_config": _weights(bits), "compute_precision": "FLOAT",
                           "explicit_dequantize": True})]
    elif name == "float16":
        entries = [_entry({"weight_tensor_config": _weights(16, "FLOAT", "TENSORWISE"),
                           "compute_precision": "FLOAT", "explicit_dequantize": True},
                          "float_casting")]
    else:
        act = dict(_ACTIVATIONS)
        if name == "int16x8":
            act.update(num_bits=16, symmetric=True)
        entries = [_entry({"activation_tensor_config": act, "weight_tensor_config": _weights(8),
                           "compute_precision": "INTEGER", "explicit_dequantize": False})]
    return with_options(entries, keep_float, float_io and RECIPES[name].static)


def with_options(entries: list[dict], keep_float=(), float_io: bool = False) -> list[dict]:
    """``entries`` plus no_quantize entries for ``keep_float`` scopes and, with ``float_io``,
    for the model's INPUT and OUTPUT."""
    out = copy.deepcopy(list(entries))
    for rx in keep_float:
        try:
            re.compile(rx)
        except re.error as e:
            raise ValueError(f"bad --keep-float regex {rx!r}: {e}") from None
        out.append({"regex": rx, "operation": "*", "algorithm_key": "no_quantize"})
    if float_io:
        for pseudo in ("INPUT", "OUTPUT"):
            out.append({"regex": ".*", "operation": pseudo, "algorithm_key": "no_quantize"})
    return out


def is_static(entries: list[dict]) -> bool:
    """Whether a recipe quantizes activations (and so needs calibration)."""
    return any((e.get("op_config") or {}).get("activation_tensor_config")
               and e.get("algorithm_key") != "no_quantize" for e in entries)


def op_scope(output_names: list[str]) -> str:
    """The name the quantizer matches recipe regexes against: the op's output tensor names,
    each followed by ';' (ai-edge-quantizer's ``get_op_scope``)."""
    return "".join(f"{n};" for n in output_names if n)


def keep_float_regex(tensor_names: list[str]) -> str:
    """One regex that matches the scopes of the ops whose (first) output tensor has one of these
    names (the "keep these N ops float" re-run)."""
    return "^(?:" + "|".join(re.escape(n) for n in tensor_names) + ");"


def load_recipe(path: str | os.PathLike) -> list[dict]:
    """An edited recipe saved as JSON: a list of entries, each with regex/operation/
    algorithm_key. Raises ValueError naming the file and the problem."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the recipe ({e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON recipe ({e})") from None
    if not isinstance(entries, list) or not entries or not all(
            isinstance(e, dict) and {"regex", "operation", "algorithm_key"} <= set(e)
            for e in entries):
        raise ValueError(f"{path}: a recipe is a non-empty JSON list of objects with regex, "
                         "operation and algorithm_key (ai-edge-quantizer's format)")
    return entries


def save_recipe(path: str | os.PathLike, entries: list[dict], *, overwrite: bool = False) -> Path:
    """``overwrite``: the user confirmed replacing the file there (a save dialog)."""
    return write_text(path, dumps_json(entries, indent=1) + "\n", overwrite=overwrite)
