"""Tool-run targets against the tools themselves: the Ethos-U placement against vela's own output
file (run here on the untouched model, read back with the reader) and the Intel NPU placement
against the plugin's own partition (apply_plugin_main on the untouched model: its output file and
the counts it logs). Real shared models and models built for the purpose (int8 with a float PRELU,
int8 IF, fp16 weights, a kernel parameter the NPU refuses)."""
from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.analysis.support.target_run import analyze_target
from core.inference.toolchains import litert_dir, plugin_library, vela_version
from core.model.reader import open_model
from tests.analysis import target_models
from tests.analysis.memory_models import fp16_model

needs_vela = pytest.mark.skipif(vela_version() is None, reason="ethos-u-vela is not installed")
SHARED = ["micro_wakeword_hey_jarvis", "mobilenet_v2_224_int8", "multi_signature_float32",
          "transformer_encoder_dynint8"]
BUILT = {"int8_prelu_float": target_models.int8_prelu_float,
         "int8_refused_stride": target_models.int8_refused_stride,
         "int8_if": target_models.int8_if, "fp16": fp16_model}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    # each test computes its answers (a cache hit would not run the tool)
    monkeypatch.setenv("LITELENS_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def model_path(request, shared_model, tmp_path):
    name = request.param
    if name in BUILT:
        return BUILT[name]().save(tmp_path / f"{name}.tflite")
    return shared_model(name)


def _signature(sg, op) -> tuple:
    """An op as the tool writes it back: kind and the names of its tensors (vela and LiteRT keep
    the model's names; ops without outputs are told apart by their inputs)."""
    names = tuple(sg.tensors[t].name for t in op.outputs if t >= 0)
    if not names:
        names = ("in",) + tuple(sg.tensors[t].name for t in op.inputs if t >= 0)
    return (op.op, names)


def _ours(block: dict, model) -> tuple[collections.Counter, list[int]]:
    cpu: collections.Counter = collections.Counter()
    parts = []
    for s, sg in enumerate(block["subgraphs"]):
        m = model.subgraphs[s]
        for o in sg["ops"]:
            if o["partition"] is None and not (o["reason"] or "").startswith("not in"):
                cpu[_signature(m, m.operators[o["index"]])] += 1
        parts.append(sg["partitions"])
    return cpu, parts


def _theirs(out: Path, accelerator_op) -> tuple[collections.Counter, list[int]]:
    cpu: collections.Counter = collections.Counter()
    parts = []
    with open_model(out) as m:
        for sg in m.subgraphs:
            n = 0
            for op in sg.operators:
                if accelerator_op(op):
                    n += 1
                else:
                    cpu[_signature(sg, op)] += 1
            parts.append(n)
    return cpu, parts


def _vela(path: Path, out: Path, accelerator: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from ethosu.vela.vela import main; "
                                                 "sys.exit(main())", str(path), "--output-dir",
                           str(out), "--accelerator-config", accelerator],
                          capture_output=True, text=True)


@needs_vela
@pytest.mark.parametrize("model_path", SHARED + list(BUILT), indirect=True)
def test_ethos_u_cpu_ops_are_vela_output_file(model_path, tmp_path):
    with open_model(model_path) as model:
        block = analyze_target(model, "ethos-u55-128")
        run = _vela(model_path, tmp_path / "vela", "ethos-u55-128")
        outs = list((tmp_path / "vela").glob("*_vela.tflite"))
        if run.returncode != 0 or not outs:
            assert block["error"] and block["subgraphs"] == []
            assert block["provenance"]["kind"] == "none"
            return
        assert block["error"] is None
        assert block["provenance"] == {**block["provenance"], "kind": "tool",
                                       "tool": "ethos-u-vela", "version": vela_version()}
        ours = _ours(block, model)
        # subgraphs past the model's own would be vela's; it keeps the model's subgraphs
        theirs = _theirs(outs[0], lambda op: op.custom_code == "ethos-u")
        assert ours[0] == theirs[0]
        assert ours[1] == theirs[1][:len(ours[1])]
        assert [sg["index"] for sg in block["subgraphs"]] == list(range(len(model.subgraphs)))
        n_cpu = re.search(r"CPU operators = (\d+)", run.stdout)
        if len(model.subgraphs) == 1 and n_cpu:   # the text report covers the first subgraph
            assert sum(ours[0].values()) <= int(n_cpu.group(1))


@needs_vela
@pytest.mark.parametrize("model_path", ["int8_prelu_float"], indirect=True)
def test_float_prelu_puts_three_ops_per_prelu_on_the_cpu_with_vela_reasons(model_path):
    with open_model(model_path) as model:
        block = analyze_target(model, "ethos-u55-128")
        ops = block["subgraphs"][0]["ops"]
        kinds = [model.subgraphs[0].operators[o["index"]].op for o in ops
                 if o["partition"] is None]
    assert sorted(kinds) == sorted(["DEQUANTIZE", "PRELU", "QUANTIZE"] * 2)
    reasons = {o["reason"] for o in ops if o["partition"] is None}
    assert any("Float32" in r for r in reasons)
    assert not any(re.search(r"\bll\d+t\d+", r) for r in reasons)   # the model's own names


@needs_vela
@pytest.mark.parametrize("model_path", ["int8_refused_stride"], indirect=True)
def test_refused_kernel_parameter_carries_vela_reason(model_path, tmp_path):
    run = _vela(model_path, tmp_path / "vela", "ethos-u55-128")
    said = [ln for ln in run.stdout.splitlines() if ln.startswith("Reason")]
    with open_model(model_path) as model:
        block = analyze_target(model, "ethos-u55-128")
    sg = block["subgraphs"][0]
    refused = [o for o in sg["ops"] if o["partition"] is None]
    assert [o["index"] for o in refused] == [1]
    assert said and refused[0]["reason"].startswith(said[0].removeprefix("Reason: "))
    assert sg["partitions"] == 2


@needs_vela
@pytest.mark.parametrize("model_path", ["int8_if"], indirect=True)
def test_per_op_estimates_say_which_subgraphs_vela_reports(model_path, tmp_path):
    """An IF with NPU ops in all three subgraphs (Ethos-U85 compiles it): vela's summary counts
    every NPU op, its per-layer CSV only one subgraph's; the block gives per-op figures for what
    the CSV has, lists the other NPU ops as without one and says so."""
    import csv
    with open_model(model_path) as model:
        block = analyze_target(model, "ethos-u85-256")
    run = subprocess.run([sys.executable, "-c", "import sys; from ethosu.vela.vela import main; "
                                                "sys.exit(main())", str(model_path), "--output-dir",
                          str(tmp_path / "vela"), "--accelerator-config", "ethos-u85-256",
                          "--verbose-performance"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    npu_said = int(re.search(r"NPU operators = (\d+)", run.stdout).group(1))
    rows = [r for r in csv.DictReader(open(next((tmp_path / "vela").glob("*_per-layer.csv")),
                                           encoding="utf-8")) if r["Target"] == "NPU"]
    e = block["estimate"]
    npu_ours = sum(1 for sg in block["subgraphs"] for o in sg["ops"] if o["partition"] is not None)
    missing = sum(len(m["npu_ops"]) for m in e["per_op_missing"])
    assert npu_ours == npu_said == len(e["per_op"]) + missing
    assert len(e["per_op"]) == len(rows) < npu_said
    assert sum(p["cycles"] for p in e["per_op"]) == sum(int(r["Op Cycles"]) for r in rows)
    assert len(e["per_op_subgraphs"]) == 1 and missing
    figured = {(p["subgraph"], p["index"]) for p in e["per_op"]}
    assert not figured & {(m["subgraph"], i) for m in e["per_op_missing"] for i in m["npu_ops"]}
    for m in e["per_op_missing"]:
        assert f"subgraph {m['subgraph']} ({len(m['npu_ops'])} NPU op" in e["per_op_note"]


@needs_vela
@pytest.mark.parametrize("model_path", ["mobilenet_v2_224_int8"], indirect=True)
def test_ethos_u_estimates_are_vela_summary(model_path, tmp_path):
    import csv
    with open_model(model_path) as model:
        block = analyze_target(model, "ethos-u65-256", {"system_config": "Ethos_U65_High_End",
                                                        "memory_mode": "Dedicated_Sram"})
    out = tmp_path / "vela"
    subprocess.run([sys.executable, "-c", "import sys; from ethosu.vela.vela import main; "
                                          "sys.exit(main())", str(model_path), "--output-dir",
                    str(out), "--accelerator-config", "ethos-u65-256", "--system-config",
                    "Ethos_U65_High_End", "--memory-mode", "Dedicated_Sram",
                    "--verbose-performance"], check=True, capture_output=True)
    row = next(csv.DictReader(open(next(out.glob("*_summary_*.csv")), encoding="utf-8")))
    e = block["estimate"]
    assert e["cycles"] == int(float(row["cycles_total"]))
    assert e["inference_ms"] == pytest.approx(float(row["inference_time"]) * 1000)
    assert e["sram_bytes"] == pytest.approx(float(row["sram_memory_used"]) * 1024, abs=1)
    assert e["system_config"] == "Ethos_U65_High_End" and e["memory_mode"] == "Dedicated_Sram"
    assert e["clock_hz"] == float(row["core_clock"])
    per_op = {p["index"]: p["cycles"] for p in e["per_op"]}
    layers = list(csv.DictReader(open(next(out.glob("*_per-layer.csv")), encoding="utf-8")))
    assert sum(per_op.values()) == sum(int(r["Op Cycles"]) for r in layers if r["Target"] == "NPU")
    assert len(per_op) == len(model.subgraphs[0].operators)   # every op of a fully-NPU model


@needs_vela
def test_cached_answer_is_reused_and_options_change_it(shared_model):
    path = shared_model("micro_wakeword_hey_jarvis")
    with open_model(path) as model:
        first = analyze_target(model, "ethos-u55-64")
        again = analyze_target(model, "ethos-u55-64")
        other = analyze_target(model, "ethos-u55-64", {"optimise": "Size"})
    assert again == first
    assert other["options"]["optimise"] == "Size" and first["options"]["optimise"] == "Performance"


# -- LiteRT NPU plugin (Intel OpenVINO) --------------------------------------------------------
def _plugin_ready() -> bool:
    from core.analysis.support.npu_plugin import sdk_status, vendor_facts
    return litert_dir() is not None and not sdk_status(vendor_facts("npu-intel")[1])[0]


needs_intel = pytest.mark.skipif(not _plugin_ready(), reason="the Intel OpenVINO SDK (ai-edge-"
                                 "litert-sdk-intel + openvino) is not installed")


def _partition(path: Path, out: Path, cmd: str = "partition", *flags: str):
    lib = plugin_library("intel_openvino")
    return subprocess.run([str(litert_dir() / "tools" / "apply_plugin_main"), f"--cmd={cmd}",
                           f"--model={path}", f"--libs={lib.parent}",
                           "--soc_manufacturer=IntelOpenVINO", "--soc_model=LNL", f"--o={out}",
                           *flags], capture_output=True, text=True)


@needs_intel
@pytest.mark.parametrize("model_path", SHARED + list(BUILT) + ["sine_float", "hand_recrop"],
                         indirect=True)
def test_intel_placement_is_the_plugin_partition(model_path, tmp_path):
    with open_model(model_path) as model:
        block = analyze_target(model, "npu-intel")
        run = _partition(model_path, tmp_path / "p.tflite")
        log = run.stdout + run.stderr
        assert block["title"] == "LiteRT NPU plugin: Intel OpenVINO (LNL)"
        assert block["error"] is None and block["provenance"]["kind"] == "tool"
        counts = {int(m.group(1)): (int(m.group(2)), int(m.group(3)), int(m.group(4)))
                  for m in re.finditer(r"Partitioned subgraph<(\d+)>, selected (\d+) ops, from a "
                                       r"total of (\d+) ops\. resulted in (\d+) partitions", log)}
        for sg in block["subgraphs"]:
            selected, total, parts = counts[sg["index"]]
            assert (sg["total_ops"], sg["partitions"]) == (total, parts)
            removed = sum(1 for o in sg["ops"] if (o["reason"] or "").startswith("not in"))
            assert sg["delegated_ops"] + removed == selected or sg["delegated_ops"] == selected
        ours = _ours(block, model)
        n = len(model.subgraphs)
        theirs = _theirs(tmp_path / "p.tflite", lambda op: op.label == "DISPATCH_OP")
        # the plugin outlines each partition into a subgraph of its own after the model's
        assert ours[1] == theirs[1][:n]
        with open_model(tmp_path / "p.tflite") as out:
            own = collections.Counter(_signature(sg, op) for sg in out.subgraphs[:n]
                                      for op in sg.operators if op.label != "DISPATCH_OP")
        assert ours[0] == own


@needs_intel
def test_missing_vendor_sdk_is_named_not_guessed(shared_model):
    with open_model(shared_model("sine_float")) as model:
        for name in ("npu-qualcomm:SM8650", "npu-mediatek", "npu-google_tensor", "npu-samsung"):
            block = analyze_target(model, name)
            from core.analysis.support.npu_plugin import sdk_status, vendor_facts
            missing, _ = sdk_status(vendor_facts(name)[1])
            if not missing:
                continue     # that vendor's SDK is really here: its answer is checked above
            assert block["subgraphs"] == [] and block["provenance"]["kind"] == "none"
            assert all(m in block["error"] for m in missing)
    from core.inference.worker.jobs.npu_plugin import load_error
    lib = plugin_library("samsung")
    if lib is not None and load_error(lib):
        assert load_error(lib) in analyze_target(model, "npu-samsung")["error"]


@needs_intel
@pytest.mark.parametrize("model_path", ["int8_prelu_float"], indirect=True)
def test_compile_action_agrees_with_the_plugin_apply(model_path, tmp_path):
    from core.analysis.support.npu_plugin import analyze_npu
    with open_model(model_path) as model:
        block = analyze_npu(model, "npu-intel", compile_check=True)
    run = _partition(model_path, tmp_path / "c.tflite", "apply",
                     "--intel_openvino_graph_backends=cpu")
    compiled = (tmp_path / "c.tflite").is_file() and (tmp_path / "c.tflite").stat().st_size > 0
    assert block["compile"]["ok"] == (run.returncode == 0 and compiled)
    assert block["compile"]["device"] == "cpu"


@pytest.mark.parametrize("vendor", ["intel", "qualcomm", "mediatek", "google_tensor", "samsung"])
def test_soc_lists_are_the_installed_litert_targets(vendor):
    """The SoCs each npu-<vendor> id accepts are the ones the installed wheel's AOT targets
    name (ai_edge_litert/aot/vendors/<dir>/target.py)."""
    import importlib

    from core.analysis.support.targets import npu_table
    entry = npu_table()["vendors"][vendor]
    target = importlib.import_module(f"ai_edge_litert.aot.vendors.{entry['dir']}.target")
    socs = {s.value for s in target.SocModel} - {"ALL"}
    assert set(entry["socs"]) == socs
    assert entry["manufacturer"] in {m.value for m in target.SocManufacturer}


@needs_intel
def test_intel_dispatch_run_matches_xnnpack(shared_model):
    """The model compiled by the Intel plugin for OpenVINO's CPU device runs through LiteRT's
    NPU accelerator and the plugin's dispatch library, close to XNNPACK's outputs."""
    from core.analysis.support.npu_plugin import run_against_xnnpack
    with open_model(shared_model("face_detection_short_range")) as model:
        r = run_against_xnnpack(model, runs=3)
    assert r["fully_accelerated"] and r["device"] == "cpu"
    assert r["npu_median_ms"] > 0 and r["xnnpack_median_ms"] > 0
    assert [o["name"] for o in r["outputs"]] == ["regressors", "classificators"]
    for o in r["outputs"]:
        assert o["cosine"] > 0.999 and o["max_abs"] < 0.05 * o["ref_max_abs"]


@needs_intel
def test_bench_backend_npu_intel(shared_model):
    import json
    r = subprocess.run([sys.executable, "-m", "core.cli", "bench",
                        str(shared_model("hand_recrop")), "--backend", "compiled", "--delegate",
                        "npu-intel", "--runs", "3", "--json"], capture_output=True, text=True)
    out = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr[-500:]
    assert out["status"] == "ok" and out["delegate"] == "npu-intel"
    assert out["latency_ms"]["runs"] == 3


@needs_intel
@pytest.mark.parametrize("width", [4, 16])
def test_partition_the_compiler_rejects_is_off_the_npu(width, tmp_path):
    """A CONV_2D whose 16-wide kernel is wider than its stored input (4): the plugin's partitioner
    takes it, OpenVINO's compiler rejects its partition as a whole (the tool's own apply fails,
    in its own words), so those ops are off the NPU with that reason, and the other partition
    stays on it. At a 16-wide input the same model compiles and every selected op stays."""
    from core.analysis.support.npu_plugin import analyze_npu
    path = target_models.conv_wider_than_input(width).save(tmp_path / "conv.tflite")
    run = _partition(path, tmp_path / "c.tflite", "apply", "--intel_openvino_graph_backends=cpu")
    log = run.stdout + run.stderr
    written = (tmp_path / "c.tflite").is_file() and (tmp_path / "c.tflite").stat().st_size > 0
    parted = _partition(path, tmp_path / "p.tflite")
    assert parted.returncode == 0, parted.stderr
    with open_model(tmp_path / "p.tflite") as out:
        dispatches = [op.index for op in out.subgraphs[0].operators if op.label == "DISPATCH_OP"]
        kept = [op.label for op in out.subgraphs[0].operators if op.label != "DISPATCH_OP"]
    assert len(dispatches) == 2 and kept == ["SQUEEZE"]     # both sides of the SQUEEZE taken
    with open_model(path) as model:
        block = analyze_npu(model, "npu-intel", compile_check=True)
    sg = block["subgraphs"][0]
    ops = {o["index"]: o for o in sg["ops"]}
    assert not ops[2]["supported"] and "partitioner" in ops[2]["reason"]
    assert ops[3]["supported"] and ops[4]["supported"]
    if width >= 16:
        assert written and "Kernel after dilation" not in log
        assert block["compile"]["ok"] and block["compile"]["failed_partitions"] == []
        assert sg["delegated_ops"] == 4 and sg["partition_ops"] == [[0, 1], [3, 4]]
        return
    reason = ("Kernel after dilation has size (dim: 16) larger than the data shape after "
              "padding (dim: 4)")
    assert not written and reason in log                    # the tool's own verdict
    assert block["compile"]["ok"] is False and reason in block["compile"]["error"]
    [failed] = block["compile"]["failed_partitions"]
    assert (failed["subgraph"], failed["ops"]) == (0, [0, 1]) and reason in failed["error"]
    for i in (0, 1):
        assert not ops[i]["supported"] and ops[i]["partition"] is None
        assert "failed to compile" in ops[i]["reason"] and reason in ops[i]["reason"]
    assert (sg["delegated_ops"], sg["partitions"], sg["partition_ops"]) == (2, 1, [[3, 4]])
    assert sg["delegated_macs_share"] == 0.0                # the CONV_2D holds every MAC
