"""Facts about TFLite operators, read from the one op catalogue ``resources/ops/catalogue.json``.

Every module that needs to know something about an operator kind (its category, the names of its
input slots, which options name other subgraphs, its options table) asks here, so a fact lives in
one data file and nowhere else. The file is read and validated once per process.

Adding a fact: put a new key into the ``ops`` entries it applies to (e.g. per-delegate support or
in-place memory behaviour) and read it with ``op_fact(op, key)``; a new top-level section (e.g.
delegate descriptions) is read with ``section(name)``. Neither needs a loader change. Keys this
module interprets are validated in ``_validate``; tests/model/test_ops_catalogue.py checks the
file against the generated schema.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from core.resources import resource_path

CATALOGUE = "ops/catalogue.json"
class CatalogueError(ValueError):
    """The op catalogue file is missing or malformed (a packaging or editing mistake)."""


_OP_KEYS_CHECKED = {"category": str, "inputs": list, "options_table": str, "subgraphs": list,
                    "subgraphs_required": bool, "memory": dict}


def _validate(data: Any, where: str) -> None:
    def fail(problem: str):
        raise CatalogueError(f"{where}: {problem}")

    if not isinstance(data, dict):
        fail("top level is not an object")
    for key in ("categories", "category_rules", "ops"):
        if not isinstance(data.get(key), dict):
            fail(f"missing or non-object section {key!r}")
    known = data["categories"]
    colors = data.get("category_colors")
    if not isinstance(colors, dict):
        fail("missing or non-object section 'category_colors'")
    for cat in known:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(colors.get(cat))):
            fail(f"category {cat!r} has no #rrggbb colour in category_colors")
    for cat in colors:
        if cat not in known:
            fail(f"category_colors names unknown category {cat!r} (known: {sorted(known)})")
    rules = data["category_rules"]
    for cat in [rules.get("default"), *rules.get("prefixes", {}).values()]:
        if cat not in known:
            fail(f"category_rules name unknown category {cat!r} (known: {sorted(known)})")
    for op, facts in data["ops"].items():
        if not isinstance(facts, dict):
            fail(f"op {op} is not an object")
        for key, kind in _OP_KEYS_CHECKED.items():
            if key in facts and not isinstance(facts[key], kind):
                fail(f"op {op}: {key} must be a {kind.__name__}")
        if "category" in facts and facts["category"] not in known:
            fail(f"op {op} has unknown category {facts['category']!r} (known: {sorted(known)})")


@lru_cache(maxsize=None)
def catalogue() -> dict[str, Any]:
    """The whole catalogue (validated); raises CatalogueError naming the file when it is broken."""
    path = resource_path(CATALOGUE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read the op catalogue: {exc}") from exc
    _validate(data, str(path))
    return data


def delegate_names() -> tuple[str, ...]:
    """Delegate keys with a support table, in display order (the catalogue's ``delegates``)."""
    return tuple(section("delegates") or ())


@lru_cache(maxsize=None)
def delegate_table(name: str) -> dict[str, Any]:
    """A delegate's support table (``ops/delegates/<name>.json`` as the catalogue names it):
    per-op facts, custom ops, options with defaults, and the source and runtime version it
    follows. Raises CatalogueError for an unknown delegate or a broken file."""
    entry = (section("delegates") or {}).get(name)
    if entry is None:
        raise CatalogueError(f"no delegate {name!r} in the op catalogue "
                             f"(known: {', '.join(delegate_names())})")
    path = resource_path(entry["table"])
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read the {name} support table: {exc}") from exc
    for key in ("source", "source_commit", "runtime", "options", "ops"):
        if key not in table:
            raise CatalogueError(f"{path}: the {name} support table has no {key!r}")
    from core.model.schema import fb
    unknown = sorted(op for op in table["ops"] if not hasattr(fb.BuiltinOperator, op))
    if unknown:
        raise CatalogueError(f"{path}: not builtin operators: {', '.join(unknown)}")
    return {**table, "title": entry["title"]}


def section(name: str) -> Any:
    """A top-level section of the catalogue, or None."""
    return catalogue().get(name)


def op_fact(op: str, key: str, default: Any = None) -> Any:
    """Any per-op fact by key (the catalogue's ``ops[op][key]``), or ``default``."""
    return catalogue()["ops"].get(op, {}).get(key, default)


def category_names() -> dict[str, str]:
    """Category key -> display name, in the catalogue's order."""
    return dict(catalogue()["categories"])


def category_colors() -> dict[str, str]:
    """Category key -> ``#rrggbb`` fill of its ops in the graph (every category has one)."""
    return dict(catalogue()["category_colors"])


def category(op: str) -> str:
    cat = op_fact(op, "category")
    if cat:
        return cat
    rules = catalogue()["category_rules"]
    for prefix, cat in rules.get("prefixes", {}).items():
        if op.startswith(prefix):
            return cat
    return rules["default"]


def slot_names(op: str) -> tuple[str, ...]:
    """Names of an operator's input slots (the schema has none); empty when unknown."""
    return tuple(op_fact(op, "inputs", ()))


def subgraph_fields(op: str) -> tuple[str, ...]:
    """Option fields (snake_case) of ``op`` that name other subgraphs."""
    return tuple(op_fact(op, "subgraphs", ()))


def subgraphs_required(op: str) -> bool:
    """True when the builtin kernel cannot run ``op`` without its subgraph fields (WHILE, IF,
    CALL_ONCE): an op missing them is a broken file, not an op that runs nothing."""
    return bool(op_fact(op, "subgraphs_required", False))


def is_control_flow(op: str) -> bool:
    """True when the op runs other subgraphs (WHILE, IF, ..., StableHLO ops with bodies)."""
    return bool(subgraph_fields(op))


@lru_cache(maxsize=1)
def runtime_control_flow() -> frozenset[str]:
    """The ops LiteRT's builtin kernels run other subgraphs for (WHILE, IF, CALL_ONCE): the ones
    that cannot run without their subgraph fields. The memory planner prepares their bodies; the
    delegates' partitioner treats them as ops with side effects."""
    return frozenset(op for op, facts in catalogue()["ops"].items()
                     if facts.get("subgraphs") and facts.get("subgraphs_required"))


def mac_formula(op: str) -> dict[str, Any] | None:
    """How to count ``op``'s multiply-accumulates (the catalogue's ``mac_formulas``; a custom
    op by its code), or None for ops without MACs."""
    return (section("mac_formulas") or {}).get(op)


def options_table(op: str) -> str:
    """The builtin options table of ``op``: the catalogue's, else CamelCase(op) + 'Options'."""
    return op_fact(op, "options_table") or "".join(
        p.capitalize() for p in op.split("_")) + "Options"


def subgraph_links(op) -> list[tuple[str, int]]:
    """[(role, subgraph index)] of an Operator that runs other subgraphs: ('body', 2), ('cond', 1).

    Fields holding a list of subgraphs (a StableHLO case) give one role per entry: ('branch 0', 3).
    Negative or missing indices are left out."""
    out = []
    for key in subgraph_fields(op.op):
        role = key.replace("_subgraph_indices", "").replace("_subgraph_index", "").replace(
            "subgraph", "called")
        v = op.options.get(key)
        if isinstance(v, int) and v >= 0:
            out.append((role, v))
        elif isinstance(v, list):
            out.extend((f"{role} {i}", x) for i, x in enumerate(v) if isinstance(x, int) and x >= 0)
    return out
