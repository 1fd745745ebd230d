"""core.fileio: outputs get the permissions any new file gets; JSON is strict."""
from __future__ import annotations

import json
import math
import os
import stat

import pytest

from core.fileio import dumps_json, finite_or_null, write_text
from core.inference.export import export_results


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_normal_permissions(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        text = write_text(tmp_path / "notes.txt", "hi")
        exported = export_results([("run", {"status": "ok"})], tmp_path / "results.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(text.stat().st_mode) == expected
    assert stat.S_IMODE(exported.stat().st_mode) == expected


def test_json_is_strict():
    with pytest.raises(ValueError):
        dumps_json({"x": math.nan})
    assert dumps_json({"x": 1.5}) == '{"x": 1.5}'


def test_nonfinite_values_become_null_and_are_named():
    found: list[str] = []
    out = finite_or_null({"a": [1.0, math.inf], "b": {"c": -math.inf, "d": math.nan}, "e": "x"},
                         "", found)
    assert out == {"a": [1.0, None], "b": {"c": None, "d": None}, "e": "x"}
    assert found == ["a[1] is Infinity", "b.c is -Infinity", "b.d is NaN"]


def test_exported_results_with_nan_outputs_are_strict_json(tmp_path):
    res = {"status": "ok", "outputs": [{"name": "y", "mean": math.nan, "max": 3.0}]}
    p = export_results([("run", res)], tmp_path / "r.json")
    loaded = json.loads(p.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert loaded[0]["outputs"][0] == {"name": "y", "mean": None, "max": 3.0}
