"""Hostile files through the real CLI: every one ends in strict JSON (exit 0) or one printable
error line under 1,000 characters (exit 2), under a 2 GiB address-space limit."""
from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.model import hostile

LIMIT = 2 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, preexec_fn=_limit_memory)


def _strict(text: str):
    def reject(const):
        raise AssertionError(f"non-standard JSON constant {const}")
    return json.loads(text, parse_constant=reject)


def _outcome(proc: subprocess.CompletedProcess, json_mode: bool):
    """(report or None, error line or None), asserting the contract either way."""
    if proc.returncode == 0:
        assert proc.stderr == ""
        if json_mode:
            return _strict(proc.stdout), None
        assert all(line.isprintable() for line in proc.stdout.splitlines())
        return proc.stdout, None
    assert proc.returncode == 2, proc.stderr[:2000]
    assert proc.stdout == ""
    line = proc.stderr.rstrip("\n")
    assert "\n" not in line and line.isprintable() and len(line) < 1000, line[:2000]
    assert line.startswith("litelens: error: ")
    return None, line


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    out = {}
    for name, build in hostile.BUILDERS.items():
        p = d / f"{name}.tflite"
        p.write_bytes(build())
        out[name] = p
    return out


@pytest.mark.parametrize("name", list(hostile.BUILDERS))
@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_hostile_file_ends_in_json_or_one_line(hostile_files, name, json_mode):
    path = hostile_files[name]
    _outcome(_cli("report", str(path), *(["--json"] if json_mode else [])), json_mode)


@pytest.mark.parametrize("name, part", [("shared_shape", "Tensor.Shape"),
                                        ("shared_inputs", "Operator.Inputs"),
                                        ("shared_name", "Tensor.Name")])
def test_shared_tables_are_refused_before_they_amplify(hostile_files, name, part):
    report, line = _outcome(_cli("report", str(hostile_files[name]), "--json"), True)
    assert report is None
    assert "many offsets share one object" in line and part in line
    assert str(hostile_files[name]) in line


def test_huge_rank_message_is_abridged(hostile_files):
    _, line = _outcome(_cli("report", str(hostile_files["huge_rank_overflow"])), False)
    assert "overflows" in line and "rank 200,000" in line and "'huge'" in line


def test_huge_rank_of_ones_is_reported_in_full(hostile_files):
    report, _ = _outcome(_cli("report", str(hostile_files["huge_rank_ones"]), "--json"), True)
    assert report["subgraphs"][0]["tensors"][0]["shape"] == [1] * 200_000


def test_control_characters_are_escaped_in_the_error(hostile_files):
    _, line = _outcome(_cli("report", str(hostile_files["control_char_name"])), False)
    assert "\x1b" not in line and "\r" not in line
    assert r"x\n\x1b[2K\x1b[1Gok: fine\x1b[0m\r\x07" in line and "refers to buffer 99" in line


def test_control_characters_are_escaped_in_the_summary_but_kept_in_json(hostile_files):
    text, _ = _outcome(_cli("report", str(hostile_files["control_char_name_valid"])), False)
    assert r"x\n\x1b[2K" in text and "\x1b" not in text
    report, _ = _outcome(_cli("report", str(hostile_files["control_char_name_valid"]), "--json"),
                         True)
    assert report["subgraphs"][0]["tensors"][0]["name"] == hostile.ANSI_NAME  # data is exact


def test_nonfinite_numbers_become_null_with_warnings(hostile_files):
    report, _ = _outcome(_cli("report", str(hostile_files["nonfinite_numbers"]), "--json"),
                         True)  # strict: a bare NaN/Infinity constant fails the parse
    sg = report["subgraphs"][0]
    assert sg["operators"][0]["options"] == {"alpha": None}
    assert sg["tensors"][0]["quantization"]["scale"] == [None]
    assert sg["tensors"][1]["quantization"]["scale"] == [0.5, None]
    assert report["warnings"] == [
        "operator 0 LEAKY_RELU (subgraph 0): options.alpha is NaN in the file; reported as null",
        "tensor 0 'input' (subgraph 0): quantization.scale[0] is NaN in the file; reported as null",
        "tensor 1 'per_channel' (subgraph 0): quantization.scale[1] is Infinity in the file; "
        "reported as null"]
