"""Targets answered by their own toolchain run here (Arm Ethos-U through vela, LiteRT NPU compiler
plugins), beside the rule-table delegates of ``analyze``: their ids, facts tables, options, the
cache of their answers, and how each block says where its answer comes from.

A tool's answer takes about a second (vela) and never changes for the same file, options and tool
version, so it is cached by the model's sha256 plus those (``LITELENS_CACHE_DIR``, else
``$XDG_CACHE_HOME/litelens`` or ``~/.cache/litelens``).
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from core.fileio import dumps_json, write_text
from core.resources import resource_path

CACHE_FORMAT = 2     # bump when a cached block's shape changes


@lru_cache(maxsize=None)
def _table(name: str) -> dict[str, Any]:
    return json.loads(resource_path(f"ops/delegates/{name}.json").read_text(encoding="utf-8"))


def ethos_u_table() -> dict[str, Any]:
    return _table("ethos_u")


def npu_table() -> dict[str, Any]:
    return _table("npu_plugins")


ETHOS_U: tuple[str, ...] = tuple(ethos_u_table()["accelerators"])


def npu_ids() -> tuple[str, ...]:
    """``npu-<vendor>`` for every vendor of the plugins table."""
    return tuple(f"npu-{v}" for v in npu_table()["vendors"])


def split_id(name: str) -> tuple[str, str | None]:
    """``npu-qualcomm:SM8650`` -> ("npu-qualcomm", "SM8650"); other ids have no SoC."""
    base, _, soc = name.partition(":")
    return base, soc or None


def is_target(name: str) -> bool:
    return name in ETHOS_U or split_id(name)[0] in npu_ids()


def target_ids() -> tuple[str, ...]:
    return ETHOS_U + npu_ids()


def target_facts(name: str) -> dict[str, Any]:
    """The facts a target's column needs: title, short name, options (with defaults)."""
    base, soc = split_id(name)
    if base in ETHOS_U:
        t = ethos_u_table()
        acc = t["accelerators"][base]
        return {"title": acc["title"], "short": acc["short"], "options": t["options"],
                "source": t["source"]}
    if base in npu_ids():
        t = npu_table()
        vendor = t["vendors"][base.removeprefix("npu-")]
        soc = soc or vendor["default_soc"]
        if soc not in vendor["socs"]:
            raise ValueError(f"{base}: unknown SoC {soc!r} (one of {', '.join(vendor['socs'])})")
        return {"title": f"LiteRT NPU plugin: {vendor['title']} ({soc})",
                "short": f"NPU {vendor['short']}", "options": {**t["options"],
                                                               **vendor.get("options", {})},
                "source": t["source"]}
    raise ValueError(f"unknown target {name!r} (one of {', '.join(target_ids())})")


def provenance(kind: str, tool: str | None = None, version: str | None = None,
               note: str = "", deprecated: str | None = None) -> dict[str, Any]:
    """How a column's answer was obtained: ``kind`` "tool" (a tool run here gave it: ``tool``
    and ``version``), "source" (it follows the sources named in ``note``, nothing here ran) or
    "none" (the tool is missing or refused the model: no answer, the block's ``error`` says why);
    ``deprecated``: what the runtime says of the delegate, or None."""
    return {"kind": kind, "tool": tool, "version": version, "note": note,
            "deprecated": deprecated}


def provenance_line(p: dict[str, Any]) -> str:
    """'proven here by vela 5.2.0' / 'unverified: follows ...' (+ the deprecation)."""
    if p["kind"] == "tool":
        text = f"proven here by {p['tool']} {p['version']}"
    elif p["kind"] == "none":
        text = p["note"]
    else:
        text = f"unverified: {p['note']}"
    if p.get("deprecated"):
        text += f"; deprecated: {p['deprecated']}"
    return text


def provenance_tag(p: dict[str, Any]) -> str:
    """The few words a column or summary line carries on screen: 'proven here by vela 5.2.0',
    'unverified: follows its source', with '; deprecated' where it is (the full
    ``provenance_line`` goes in the tooltip)."""
    if p["kind"] == "tool":
        text = f"proven here by {p['tool']} {p['version']}"
    elif p["kind"] == "none":
        text = "no answer"
    else:
        text = "unverified: follows its source"
    return text + ("; deprecated" if p.get("deprecated") else "")


def stage_reporter(progress: Callable[[float, str], None] | None,
                   what: str) -> Callable[[dict], None] | None:
    """A worker ``on_message`` that reports each stage the job enters as progress text."""
    if progress is None:
        return None
    stages = {"stamp": 0.1, "vela": 0.3, "partition": 0.3, "apply": 0.3, "load_plugin": 0.2,
              "read": 0.9}
    call = progress

    def on_message(m: dict) -> None:
        if m.get("t") == "stage" and m.get("stage") in stages:
            call(stages[m["stage"]], f"{what}: {m['stage']}")
    return on_message


# -- cache ------------------------------------------------------------------------------------
def cache_dir() -> Path:
    env = os.environ.get("LITELENS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "litelens"


def cache_key(sha256: str, target: str, options: dict[str, Any], tool_version: str) -> str:
    blob = dumps_json({"format": CACHE_FORMAT, "model": sha256, "target": target,
                       "options": options, "tool": tool_version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached(key: str) -> dict[str, Any] | None:
    path = cache_dir() / "targets" / f"{key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None     # unreadable or half-written by an old version: computed again


def store(key: str, block: dict[str, Any]) -> None:
    path = cache_dir() / "targets" / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, dumps_json(block), overwrite=True)   # our own cache entry, renewed
    except OSError:
        pass            # a read-only home: the answer is still given, only not kept

