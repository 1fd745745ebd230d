"""Worker jobs: the registry, a job other than bench run for real, the open Model handed in, and
what the worker process imports when it starts."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import core.model.reader
from core.inference.config import RunConfig
from core.inference.session import ROOT, bench_session, run_benchmark, run_tensor_details
from core.inference.worker import jobs
from core.model.reader import open_model


def _worker(config_line: str) -> tuple[list[dict], int]:
    """Start ``python -m core.inference.worker`` by hand with one config line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "core.inference.worker"], input=config_line + "\n",
                       capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=60)
    return [json.loads(ln) for ln in p.stdout.splitlines()], p.returncode


def test_unknown_job_is_a_clear_error_from_the_worker():
    msgs, code = _worker(json.dumps({"job": "memory_plann", "model": "x.tflite"}))
    assert code == 3
    assert msgs == [{"t": "error", "kind": "config",
                     "message": "worker: unknown job 'memory_plann' (known jobs: "
                                + ", ".join(jobs.JOBS) + ")"}]


def test_config_that_is_not_an_object_is_refused():
    msgs, code = _worker("[1, 2]")
    assert code == 2 and msgs[0]["kind"] == "config"


def test_every_registered_job_has_both_halves():
    for name in jobs.JOBS:
        mod = jobs.load(name)
        assert callable(mod.run), name
        assert {"fold", "where", "result"} <= set(vars(mod.Folder)), name
        assert mod.Folder.JOB == name   # the name the session sends is the module's


@pytest.mark.parametrize("delegate,resolver", [
    ("xnnpack", "AUTO"),
    # the builtin kernels add their own scratch tensors (im2col...) after the model's
    ("builtin", "BUILTIN_WITHOUT_DEFAULT_DELEGATES")])
def test_tensor_details_job_reports_what_the_runtime_sees(demo_model_path, delegate, resolver):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    r = run_tensor_details(RunConfig(model=str(demo_model_path), delegate=delegate))
    assert r["status"] == "ok", r["error"]
    assert r["backend"].startswith("ai-edge-litert ")
    it = Interpreter(model_path=str(demo_model_path),
                     experimental_op_resolver_type=getattr(OpResolverType, resolver))
    it.allocate_tensors()
    expected = it.get_tensor_details()
    assert [t["index"] for t in r["tensors"]] == [int(d["index"]) for d in expected]
    assert [t["name"] for t in r["tensors"]] == [d["name"] for d in expected]
    assert [t["shape"] for t in r["tensors"]] == [list(map(int, d["shape"])) for d in expected]
    assert [t["dtype"] for t in r["tensors"]] == [np.dtype(d["dtype"]).name for d in expected]
    # the model's own tensors come first, named as LiteLens' reader finds them in subgraph 0
    with open_model(demo_model_path) as m:
        names = [t.name for t in m.subgraphs[0].tensors]
    assert [t["name"] for t in r["tensors"][:len(names)]] == names


def test_tensor_details_of_a_quantized_model_carry_scale_and_zero_point(shared_model):
    path = shared_model("mobilenet_v2_224_int8")
    r = run_tensor_details(RunConfig(model=str(path)))
    assert r["status"] == "ok", r["error"]
    with open_model(path) as m:
        per_tensor = [t for t in m.subgraphs[0].tensors
                      if t.quantization and len(t.quantization.scale) == 1]
    rows = {t["name"]: t for t in r["tensors"]}
    assert len(per_tensor) > 50
    for t in per_tensor:
        assert rows[t.name]["dtype"] == t.dtype, t.name
        assert rows[t.name]["scale"] == pytest.approx(t.quantization.scale[0]), t.name
        assert rows[t.name]["zero_point"] == t.quantization.zero_point[0], t.name


def test_an_open_model_is_not_read_again(demo_model_path, monkeypatch):
    real, calls = core.model.reader.open_model, []

    def counting_open_model(*args, **kw):
        calls.append(args)
        return real(*args, **kw)
    monkeypatch.setattr(core.model.reader, "open_model", counting_open_model)
    cfg = RunConfig(model=str(demo_model_path), runs=2, warmup=0)
    # path only (the CLI): the session reads the file itself, for the inputs and the labels
    by_path = run_benchmark(cfg)
    assert by_path.status == "ok" and len(calls) == 2
    calls.clear()
    with real(demo_model_path) as model:
        handed = run_benchmark(cfg, model=model)
    assert handed.status == "ok", handed.error
    assert calls == []
    assert handed.inputs == by_path.inputs
    assert [o["shape"] for o in handed.outputs] == [o["shape"] for o in by_path.outputs]


def test_worker_starts_with_stdlib_numpy_and_backend_only():
    """Another interpreter (a numpy<2 venv with tflite-runtime) has no LiteLens dependencies:
    the worker's entry and its jobs must not import core.model or flatbuffers to start."""
    code = ("import json, sys, core.inference.worker.__main__, core.inference.worker.jobs.bench, "
            "core.inference.worker.jobs.tensor_details\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('core', 'flatbuffers', 'ai_edge_litert', 'tensorflow', 'PySide6'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
                         check=True, timeout=60).stdout
    loaded = json.loads(out)
    assert "core.inference.worker.jobs.bench" in loaded  # the probe itself worked
    # core.format and core.fileio are stdlib only: printable error messages, strict JSON lines
    assert [m for m in loaded if m not in ("core", "core.errors", "core.format", "core.fileio",
                                           "core.inference")
            and not m.startswith("core.inference.")] == []


def test_runtime_profiler_gets_subgraph_order_when_a_signature_reorders_inputs(tmp_path):
    """A signature may list subgraph 0's inputs in another order; the bench feeds it in that
    order, the runtime profiler (which maps names itself) needs subgraph 0's."""
    from core.inference.worker.jobs.profile import subgraph0_arrays
    from core.model.builder import ModelBuilder
    mb = ModelBuilder()
    sg = mb.subgraph()
    a, b = sg.tensor("a", [1, 4]), sg.tensor("b", [1, 1])
    y = sg.tensor("y", [1, 4])
    sg.op("SUB", [a, b], [y])
    sg.inputs, sg.outputs = [a, b], [y]
    mb.signature("sub", 0, {"b": b, "a": a}, {"y": y})
    path = mb.save(tmp_path / "sub.tflite")
    cfg = RunConfig(model=str(path), signature="sub", runs=2, warmup=0, profile=True,
                    delegate="builtin")
    s = bench_session(cfg)
    assert s.input_tensors == [b, a]  # the bench's own order: the signature's
    with open_model(path) as model:
        arrays = [np.zeros((1, 1), np.float32), np.ones((1, 4), np.float32)]  # b, a
        wcfg = {"signature": "sub", "input_tensors": s.input_tensors}
        ordered = subgraph0_arrays(wcfg, model, arrays)
        assert [x.shape for x in ordered] == [(1, 4), (1, 1)]
        assert subgraph0_arrays({"signature": None, "input_tensors": [b, a]}, model,
                                arrays) == arrays
    s.start().run_to_end()
    r = s.job.result()
    assert r.status == "ok", r.error
    # the C API ran it (one sub-µs op: too fast for its resolution, so single-op timing took over)
    assert r.summary is not None and "ops faster than its 1 µs resolution" in r.summary.method
