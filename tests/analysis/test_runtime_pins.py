"""The delegate tables and the memory planner follow one LiteRT release; the installed wheel must
be that release, or every "checked against the runtime" claim they make is unproven."""
from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest

from core.analysis.memory import litert
from core.versions import LITERT_TABLES_VERSION, runtime_version_note

DELEGATES = Path(__file__).resolve().parents[2] / "resources" / "ops" / "delegates"
# "ai-edge-litert 2.3.0", "LiteRT 2.3.0 sources (...)"; the Edge TPU table follows its compiler
LITERT_RUNTIME = re.compile(r"\b(?:ai-edge-litert|LiteRT) (\d+\.\d+\.\d+)\b")


def _tables() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DELEGATES.glob("*.json"))}


def _declared() -> list[tuple[str, str]]:
    out = []
    for name, table in _tables().items():
        if "tool" not in table:     # tables of a target's own tool are pinned to that tool
            if "runtime" not in table:   # a target whose tool runs here (vela): no release
                assert "runs" in table, f"{name} names neither its runtime nor the tool it runs"
                continue
            out.append((name, table["runtime"]))
    out.append(("core.analysis.memory.litert.RUNTIME", litert.RUNTIME))
    return out


def test_installed_runtime_is_the_one_the_tables_follow():
    assert metadata.version("ai-edge-litert") == LITERT_TABLES_VERSION


@pytest.mark.parametrize(("where", "runtime"), _declared(), ids=[w for w, _ in _declared()])
def test_every_table_and_planner_names_the_installed_runtime(where, runtime):
    found = LITERT_RUNTIME.findall(runtime)
    if where == "edgetpu.json":   # the Edge TPU compiler's documentation, not a LiteRT release
        assert not found and "Edge TPU compiler" in runtime
        return
    assert found, f"{where}: runtime {runtime!r} names no LiteRT version"
    installed = metadata.version("ai-edge-litert")
    assert set(found) == {installed}, f"{where} follows {found}, the installed wheel is {installed}"


def test_a_different_runtime_gets_a_note():
    assert runtime_version_note(LITERT_TABLES_VERSION) is None
    assert runtime_version_note(None) is None
    assert runtime_version_note("2.4.1") == "tables follow LiteRT 2.3.0; this runtime is 2.4.1"


@pytest.mark.parametrize("name", [n for n, t in _tables().items() if "tool" in t])
def test_tool_tables_name_the_installed_tool(name):
    """A target answered by its own toolchain (TFLite Micro: tflite-micro) names the release
    its table follows; the installed one must be it (skipped when the tool is not installed)."""
    table = _tables()[name]
    try:
        installed = metadata.version(table["tool"])
    except metadata.PackageNotFoundError:
        pytest.skip(f"{table['tool']} is not installed")
    assert table["tool_version"] == installed
    assert installed in table["runtime"]
