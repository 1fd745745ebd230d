"""core.fileio: outputs get the permissions any new file gets; JSON is strict; no write ever
replaces a file that appeared meanwhile."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import stat

import pytest

from core.fileio import dumps_json, finite_or_null, write_text
from core.inference.export import export_results


@pytest.fixture(scope="module")
def bench_result(demo_model_path):
    """A real run of the demo model (two runs in the worker), as the Run panel exports it."""
    from core.inference.config import RunConfig
    from core.inference.session import run_benchmark
    res = run_benchmark(RunConfig(model=str(demo_model_path), runs=2))
    assert res.status == "ok", res.error
    return res


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_normal_permissions(tmp_path, umask, expected, bench_result):
    old = os.umask(umask)
    try:
        text = write_text(tmp_path / "notes.txt", "hi")
        exported = export_results([("run", bench_result)], tmp_path / "results.json")
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


def test_exported_results_with_nan_outputs_are_strict_json(tmp_path, bench_result):
    y = dict(bench_result.outputs[0], mean=math.nan, max=3.0)
    res = dataclasses.replace(bench_result, outputs=[y])
    p = export_results([("run", res)], tmp_path / "r.json")
    loaded = json.loads(p.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert loaded[0]["outputs"][0]["mean"] is None and loaded[0]["outputs"][0]["max"] == 3.0


def test_a_file_that_appears_during_the_write_is_never_replaced(tmp_path):
    from core.fileio import OutputExists, atomic_path
    out = tmp_path / "result.bin"
    with pytest.raises(OutputExists, match="appeared at the output path") as caught:
        with atomic_path(out) as tmp:
            open(tmp, "wb").write(b"ours")
            out.write_bytes(b"theirs")   # another program takes the name meanwhile
    assert str(out) in str(caught.value)
    assert out.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.bin"]   # temp file removed


def test_an_existing_file_is_refused_unless_the_user_confirmed(tmp_path):
    from core.fileio import OutputExists, write_text
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    with pytest.raises(OutputExists, match="already exists"):
        write_text(out, "new")
    assert out.read_text() == "mine"
    write_text(out, "new", overwrite=True)   # a save dialog asked
    assert out.read_text() == "new"


def test_a_confirmed_file_that_changes_during_the_write_is_kept(tmp_path):
    from core.fileio import OutputExists, atomic_path
    out = tmp_path / "export.csv"
    out.write_text("old")
    with pytest.raises(OutputExists, match="changed while LiteLens was writing"):
        with atomic_path(out, overwrite=True) as tmp:
            open(tmp, "w").write("ours")
            out.unlink()
            out.write_text("someone else's, written meanwhile")
    assert out.read_text() == "someone else's, written meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_written_through_renameat2_where_hard_links_are_refused(tmp_path, monkeypatch):
    """A filesystem without hard links (EPERM from link(2), as on FAT): the kernel's
    no-replace rename publishes the file, and still never replaces one that appeared."""
    import errno

    from core.fileio import OutputExists, atomic_path

    def no_links(src, dst, *a, **kw):
        raise OSError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_links)
    out = tmp_path / "a.txt"
    with atomic_path(out) as tmp:
        open(tmp, "w").write("ours")
    assert out.read_text() == "ours"
    taken = tmp_path / "b.txt"
    with pytest.raises(OutputExists):
        with atomic_path(taken) as tmp:
            open(tmp, "w").write("ours")
            taken.write_text("theirs")
    assert taken.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
