"""A run's tensors to read and keep: the outputs in full, every tensor of subgraph 0 when asked,
as tables with the metadata's labels, histograms and .npy files; real runs in real workers, checked
against LiteRT's own Interpreter."""
from __future__ import annotations

import numpy as np
import pytest

from core.fileio import OutputExists
from core.inference import tensor_values as tvs
from core.inference.config import RunConfig
from core.inference.session import run_benchmark
from core.model.builder import ModelBuilder


def _by_kind(res, kind: str) -> list[tvs.TensorValues]:
    return [t for t in res.tensors if t.kind == kind]


def test_kept_tensors_are_what_the_runtime_computes(demo_model_path):
    """Every tensor of subgraph 0 the worker kept equals what ai-edge-litert's Interpreter, keeping
    all tensors with its builtin kernels, computes for the same input; the output is the run's."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    res = run_benchmark(RunConfig(model=str(demo_model_path), runs=2, warmup=0,
                                  keep_tensors=True))
    assert res.status == "ok", res.error
    assert "every tensor of subgraph 0" in (res.tensors_note or "")
    (inp,) = _by_kind(res, "input")
    (out,) = _by_kind(res, "output")
    inter = _by_kind(res, "intermediate")
    it = Interpreter(model_path=str(demo_model_path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(inp.index, inp.array())
    it.invoke()
    details = {d["index"]: d for d in it.get_tensor_details()}
    assert inter and all(t.index in details for t in inter)
    for t in inter:
        np.testing.assert_allclose(t.array(), it.get_tensor(t.index), rtol=1e-5, atol=1e-6,
                                   err_msg=t.name)
        assert t.header() == (tuple(t.array().shape), t.array().dtype.name)
    out_index = it.get_output_details()[0]["index"]
    np.testing.assert_allclose(out.array(), it.get_tensor(out_index), rtol=1e-4, atol=1e-6)
    # the summary the worker made of the same output
    assert float(out.array().max()) == pytest.approx(res.outputs[0]["max"])


def test_a_class_vector_reads_by_score_with_its_labels(tmp_path):
    from tests.model.test_metadata import CLASSES, metadata_block, model_with_metadata
    path = model_with_metadata(tmp_path, metadata_block())
    res = run_benchmark(RunConfig(model=str(path), runs=1, warmup=0))
    (out,) = res.tensors   # outputs only: nothing else was asked for
    assert out.labels == CLASSES
    vt = tvs.value_table(out)
    assert vt.columns == ("rank", "index", "label", "value")
    values = out.array().reshape(-1)
    assert [int(r[1]) for r in vt.rows] == sorted(range(10), key=lambda i: -values[i])
    assert all(r[2] == CLASSES[int(r[1])] for r in vt.rows)
    assert [r[0] for r in vt.rows] == [str(i) for i in range(1, 11)]
    # the worker's own top-k agrees, label for label
    assert [[i, lab] for i, _v, lab in res.outputs[0]["topk"]] == \
        [[int(r[1]), r[2]] for r in vt.rows[:5]]
    assert "labels from the model's metadata (10)" in vt.note
    h = tvs.histogram(out)
    assert int(h.counts.sum()) == 10 and h.nonfinite == 0
    assert h.edges[0] <= values.min() and h.edges[-1] >= values.max()


def test_quantized_tensors_show_raw_and_real_values(shared_model):
    from ai_edge_litert.interpreter import Interpreter
    path = shared_model("mobilenet_v2_224_int8")
    res = run_benchmark(RunConfig(model=str(path), runs=1, warmup=0, keep_tensors=True))
    assert res.status == "ok", res.error
    it = Interpreter(model_path=str(path))
    quant = {d["index"]: d["quantization"] for d in it.get_tensor_details()}
    t = next(t for t in _by_kind(res, "intermediate") if t.array().dtype == np.int8)
    scale, zp = quant[t.index]
    assert (t.scale, t.zero_point) == (pytest.approx(scale), zp)
    vt = tvs.value_table(t, limit=50)
    assert vt.columns == ("at", "value", "raw") and len(vt.rows) == 50
    assert vt.rows[0][0] == "[" + ", ".join("0" for _ in t.array().shape) + "]"
    for _at, value, raw in vt.rows:
        assert float(value) == pytest.approx((int(raw) - zp) * scale, rel=1e-5, abs=1e-9)
    assert f"the first 50 of {t.array().size:,} values" in vt.note


def test_values_that_are_not_finite_are_counted_apart(build_model):
    """LOG of zeros is -inf: the table says so and the histogram counts it apart."""
    mb = ModelBuilder()
    sg = mb.subgraph("main")
    x, y = sg.tensor("x", [1, 6]), sg.tensor("y", [1, 6])
    sg.op("LOG", [x], [y])
    sg.inputs, sg.outputs = [x], [y]
    res = run_benchmark(RunConfig(model=str(build_model(mb, "log.tflite")), runs=1, warmup=0,
                                  input_source="zeros"))
    assert res.status == "ok", res.error
    (out,) = res.tensors
    vt = tvs.value_table(out)
    assert {r[3] for r in vt.rows} == {"-Infinity"}
    h = tvs.histogram(out)
    assert (h.finite, h.nonfinite, h.counts.size) == (0, 6, 0)


def test_saving_writes_a_new_file_and_never_replaces_one(demo_model_path, tmp_path):
    res = run_benchmark(RunConfig(model=str(demo_model_path), runs=1, warmup=0))
    (out,) = res.tensors
    name = tvs.npy_name(out)
    assert name == "output0_probabilities.npy"
    first = tvs.free_path(tmp_path, name)
    assert first == tmp_path / name
    tvs.save_npy(out, first)
    np.testing.assert_array_equal(np.load(first), out.array())
    before = first.read_bytes()
    with pytest.raises(OutputExists, match="already exists"):
        tvs.save_npy(out, first)
    assert first.read_bytes() == before
    assert tvs.free_path(tmp_path, name) == tmp_path / "output0_probabilities-2.npy"
    assert [p.name for p in tmp_path.iterdir()] == [name]   # no temporary file left


def test_another_subgraph_keeps_only_its_outputs(shared_model):
    res = run_benchmark(RunConfig(model=str(shared_model("multi_signature_float32")), runs=1,
                                  warmup=0, signature="encode", keep_tensors=True))
    assert res.status == "ok", res.error
    assert [t.kind for t in res.tensors] == ["output"]
    assert res.tensors[0].array().shape == (1, 8)
    assert "subgraph 0" in (res.tensors_note or "") and "'encode'" in (res.tensors_note or "")


def test_cli_saves_the_runs_tensors_and_never_replaces_one(demo_model_path, tmp_path, capsys):
    from core.cli import main
    out = tmp_path / "tensors"
    code = main(["bench", str(demo_model_path), "--runs", "1", "--warmup", "0",
                 "--keep-tensors", "--save-tensors", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    import json
    assert json.loads(captured.out)["status"] == "ok"   # stdout stays one JSON object
    files = sorted(p.name for p in out.iterdir())
    assert "output0_probabilities.npy" in files and len(files) > 3
    assert f"saved {len(files)} tensor(s) to {out}" in captured.err
    from core.model.reader import open_model
    with open_model(demo_model_path) as m:
        sg = m.subgraphs[0]
        named = {f"t{t.index}" for t in sg.tensors if not t.constant and t.index not in sg.outputs}
    assert {f.split("_")[0] for f in files} == named | {"output0"}
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # again into the same folder: refused with one line, nothing replaced
    code = main(["bench", str(demo_model_path), "--runs", "1", "--warmup", "0",
                 "--save-tensors", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "already exists" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # a file where the folder should be: refused before running
    code = main(["bench", str(demo_model_path), "--save-tensors", str(out / files[0])])
    assert code == 2 and "is not a folder" in capsys.readouterr().err
