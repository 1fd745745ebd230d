"""What a quantize result means for integer-only targets: the ops it leaves float are named in
the report as CPU fallback on Ethos-U and TFLite Micro, and vela itself, run on the written
model, places those ops on the CPU."""
from __future__ import annotations

import numpy as np
import pytest

from core.inference.toolchains import vela_version
from core.model.samples import demo_model
from core.quantize.report import summary_lines
from core.quantize.run import QuantizeRequest, quantize


@pytest.mark.skipif(vela_version() is None, reason="ethos-u-vela is not installed")
def test_kept_float_ops_are_named_and_vela_places_them_on_the_cpu(tmp_path, monkeypatch):
    from core.analysis.support.target_run import analyze_target
    from core.model.reader import open_model
    from core.quantize.recipes import keep_float_regex
    monkeypatch.setenv("LITELENS_CACHE_DIR", str(tmp_path / "cache"))
    src = demo_model().save(tmp_path / "demo.tflite")
    cal = tmp_path / "cal.npz"
    with open_model(src) as m:
        t = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
        np.savez(cal, x=np.random.default_rng(0).uniform(0, 1, (3, *t.shape)).astype(np.float32))
        conv = next(op for op in m.subgraphs[0].operators if op.op == "CONV_2D")
        name = m.subgraphs[0].tensors[conv.outputs[0]].name
    r = quantize(QuantizeRequest(str(src), "full_int8", calibration=str(cal), samples=3,
                                 keep_float=[keep_float_regex([name])],
                                 output=str(tmp_path / "q.tflite")))
    assert r.failure is None, r.failure
    assert r.kept_float
    note = [ln for ln in summary_lines(r) if "CPU fallback on Ethos-U" in ln]
    assert len(note) == 1
    for k in r.kept_float:
        assert k.op in note[0]
    with open_model(r.output) as out:
        block = analyze_target(out, "ethos-u55-128")
        on_cpu = {out.subgraphs[0].operators[o["index"]].op
                  for o in block["subgraphs"][0]["ops"] if o["partition"] is None}
    assert {k.op for k in r.kept_float} <= on_cpu
