"""``litelens support --delegate <target>``: the JSON block of a tool-run target (Ethos-U through
vela, the Intel NPU plugin), its text, and the answers it refuses to make up."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.inference.toolchains import vela_version

ROOT = Path(__file__).resolve().parents[2]
BLOCK_KEYS = {"title", "runtime_reference", "options", "control_flow", "provenance", "subgraphs"}
SUBGRAPH_KEYS = {"index", "partitions", "delegated_ops", "total_ops", "ops", "partition_ops",
                 "blockers", "delegated_macs_share"}


def _cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    import os
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELENS_CACHE_DIR": str(tmp_path / "c")}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)


@pytest.mark.skipif(vela_version() is None, reason="ethos-u-vela is not installed")
def test_ethos_u_json_block_has_the_contract(shared_model, tmp_path):
    path = shared_model("micro_wakeword_hey_jarvis")
    r = _cli("support", str(path), "--delegate", "ethos-u55-128", "--delegate", "nnapi",
             "--delegate", "npu-intel", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["support"]
    block = out["ethos-u55-128"]
    assert BLOCK_KEYS <= set(block)
    assert set(block["estimate"]) >= {"sram_bytes", "offchip_bytes", "cycles", "inference_ms",
                                      "system_config", "tool"}
    assert block["estimate"]["tool"] == f"ethos-u-vela {vela_version()}"
    assert [sg["index"] for sg in block["subgraphs"]] == [0, 1]   # every subgraph
    for sg in block["subgraphs"]:
        assert SUBGRAPH_KEYS <= set(sg)
    assert out["nnapi"]["provenance"]["kind"] == "source"
    assert "deprecat" in out["nnapi"]["provenance"]["deprecated"]
    assert BLOCK_KEYS <= set(out["npu-intel"])


@pytest.mark.skipif(vela_version() is None, reason="ethos-u-vela is not installed")
def test_text_says_proven_or_unverified_per_column(shared_model, tmp_path):
    r = _cli("support", str(shared_model("mobilenet_v2_224_int8")), "--delegate",
             "ethos-u85-256", "--delegate", "hexagon", "--delegate", "xnnpack", "--verify",
             tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"proven here by ethos-u-vela {vela_version()}" in r.stdout
    assert "proven here by LiteRT XNNPACK delegate" in r.stdout
    assert "unverified: follows LiteRT's Hexagon delegate source" in r.stdout
    assert "deprecated: LiteRT deprecates the Hexagon delegate" in r.stdout
    assert "estimated @ 1000 MHz" in r.stdout


def test_unknown_target_and_soc_are_one_line(shared_model, tmp_path):
    path = str(shared_model("sine_float"))
    for args in (("--delegate", "ethos-u99"), ("--delegate", "npu-qualcomm:SM0000")):
        r = _cli("support", path, *args, tmp_path=tmp_path)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def _without_vela(tmp_path) -> Path:
    """A site folder with every package of this Python's site-packages but ethos-u-vela
    (symlinks), for a ``python -S`` that adds it as its only site."""
    import sysconfig
    site = Path(sysconfig.get_paths()["purelib"])
    shim = tmp_path / "site-without-vela"
    shim.mkdir()
    for entry in site.iterdir():
        if entry.name == "ethosu" or entry.name.startswith("ethos_u_vela"):
            continue
        (shim / entry.name).symlink_to(entry)
    return shim


def test_without_vela_the_block_says_how_to_install(shared_model, tmp_path):
    """The CLI in a Python whose packages are this venv's but ethos-u-vela: the Ethos-U block
    says how to install it, answers nothing, and the exit code says so."""
    import os
    shim = _without_vela(tmp_path)
    boot = ("import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); "
            "sys.argv[0] = 'litelens'; runpy.run_module('core.cli', run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELENS_CACHE_DIR": str(tmp_path / "c")}
    probe = subprocess.run([sys.executable, "-S", "-c", boot.replace(
        "runpy.run_module('core.cli', run_name='__main__')",
        "import importlib.util as u; from core.inference.toolchains import vela_version; "
        "print(u.find_spec('ethosu'), vela_version(), u.find_spec('numpy') is not None)"),
        str(shim)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert probe.stdout.split() == ["None", "None", "True"], probe.stderr
    r = subprocess.run([sys.executable, "-S", "-c", boot, str(shim), "support",
                        str(shared_model("sine_float")), "--delegate", "ethos-u55-64", "--json"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    # the block is printed, but no answer is no pass: exit 1 with one line naming the model
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "sine_float" in r.stderr and "ethos-u55-64" in r.stderr
    block = json.loads(r.stdout)["support"]["ethos-u55-64"]
    assert block["subgraphs"] == [] and block["estimate"] is None
    assert "pip install ethos-u-vela" in block["error"]
    assert block["provenance"]["kind"] == "none"
    text = subprocess.run([sys.executable, "-S", "-c", boot, str(shim), "support",
                           str(shared_model("sine_float")), "--delegate", "ethos-u55-64"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert text.returncode == 1, text.stderr
    assert "pip install ethos-u-vela" in text.stdout


def test_intel_soc_as_option_or_suffix(shared_model, tmp_path):
    from core.analysis.support.npu_plugin import sdk_status, vendor_facts
    if sdk_status(vendor_facts("npu-intel")[1])[0]:
        pytest.skip("the Intel OpenVINO SDK is not installed")
    path = str(shared_model("sine_float"))
    by_option = _cli("support", path, "--delegate", "npu-intel", "--option", "soc=PTL",
                     "--json", tmp_path=tmp_path)
    by_id = _cli("support", path, "--delegate", "npu-intel:PTL", "--json", tmp_path=tmp_path)
    assert by_option.returncode == 0 and by_id.returncode == 0, by_option.stderr + by_id.stderr
    a = json.loads(by_option.stdout)["support"]["npu-intel"]
    b = json.loads(by_id.stdout)["support"]["npu-intel:PTL"]
    assert a["title"] == b["title"] == "LiteRT NPU plugin: Intel OpenVINO (PTL)"
    assert a["options"]["soc"] == b["options"]["soc"] == "PTL"
    bad = _cli("support", path, "--delegate", "npu-intel", "--option", "soc=XYZ",
               tmp_path=tmp_path)
    assert bad.returncode == 2 and "unknown SoC 'XYZ'" in bad.stderr


def _intel_ready() -> None:
    from core.analysis.support.npu_plugin import sdk_status, vendor_facts
    if sdk_status(vendor_facts("npu-intel")[1])[0]:
        pytest.skip("the Intel OpenVINO SDK is not installed")


def test_compile_failure_of_a_partition_in_json_and_text(tmp_path):
    """--compile on a model whose first partition OpenVINO's compiler rejects (a CONV_2D kernel
    wider than its stored input): the analysis itself succeeds (exit 0); the JSON says the
    compile failed, which partition and ops, and those ops are off the NPU; the text summary
    counts only the partition that compiles and says which one failed and why."""
    from tests.analysis.target_models import conv_wider_than_input
    _intel_ready()
    path = str(conv_wider_than_input(4).save(tmp_path / "conv.tflite"))
    r = _cli("support", path, "--delegate", "npu-intel", "--compile", "--json",
             tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    block = json.loads(r.stdout)["support"]["npu-intel"]
    assert block["error"] is None
    c = block["compile"]
    assert set(c) >= {"ok", "device", "error", "failed_partitions"} and c["ok"] is False
    assert [(f["subgraph"], f["partition"], f["ops"]) for f in c["failed_partitions"]] == \
        [(0, 0, [0, 1])]
    sg = block["subgraphs"][0]
    assert [o["supported"] for o in sg["ops"]] == [False, False, False, True, True]
    assert (sg["delegated_ops"], sg["partitions"]) == (2, 1)
    text = _cli("support", path, "--delegate", "npu-intel", "--compile", tmp_path=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    summary = next(ln for ln in lines if ln.startswith("LiteRT NPU plugin: Intel OpenVINO"))
    assert "2/5 ops, 1 partition;" in summary
    compile_line = next(ln for ln in lines if ln.strip().startswith("compile (device cpu)"))
    assert "failed: 1 of 2 partitions failed to compile" in compile_line
    assert "(ops 0-1): Kernel after dilation has size (dim: 16)" in compile_line


def test_melspectrogram_partitions_fail_to_compile(tmp_path):
    """openWakeWord's melspectrogram.tflite (the wheel of openwakeword 0.5.0 ships it under
    openwakeword/resources/models/; not kept here), when LITELENS_MELSPECTROGRAM names it: its
    dynamic input is stored as [1, 1], so both 512-wide STFT convolutions fail OpenVINO's shape
    check and their partitions (ops 0-3 and 5-9) are off the NPU; the mel filter bank and log
    partition compiles."""
    import os
    path = os.environ.get("LITELENS_MELSPECTROGRAM")
    if not path or not Path(path).is_file():
        pytest.skip("set LITELENS_MELSPECTROGRAM to openWakeWord's melspectrogram.tflite (in the "
                    "openwakeword 0.5.0 wheel) to run this check")
    _intel_ready()
    r = _cli("support", path, "--delegate", "npu-intel", "--compile", "--json",
             tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    block = json.loads(r.stdout)["support"]["npu-intel"]
    failed = block["compile"]["failed_partitions"]
    assert [f["ops"] for f in failed] == [[0, 1, 2, 3], [5, 6, 7, 8, 9]]
    assert all("Kernel after dilation has size (dim: 512)" in f["error"] for f in failed)
    assert block["subgraphs"][0]["partition_ops"] == [list(range(11, 26))]


def test_run_line_says_a_nan_figure_instead_of_crashing():
    """The worker's strict JSON sends a NaN output difference as null: the --run line names it
    rather than failing to format it."""
    from core.analysis.support.npu_plugin import run_line
    line = run_line({"device": "cpu", "fully_accelerated": True, "npu_median_ms": 0.5,
                     "xnnpack_median_ms": 1.0, "runs": 3,
                     "outputs": [{"name": "y", "max_abs": None, "ref_max_abs": 2.0,
                                  "cosine": 0.0}]})
    assert "y max abs not a number (of 2)" in line and "cosine 0.000000" in line
