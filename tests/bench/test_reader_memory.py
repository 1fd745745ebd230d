"""Opening a multi-signature model with external weights keeps RSS flat: measured in fresh
processes, against the bytes the weights take, with a control showing that reading a weight's
values does show up (bench_reader measures the same at 5 GiB for BENCHMARKS.md)."""
from __future__ import annotations

import numpy as np

from core.model.reader import open_model
from core.model.samples import multi_signature_heavy
from tests.bench.bench_reader import litert_rss, walk_rss


def test_rss_stays_flat_opening_and_walking_a_multi_signature_model(tmp_path):
    path = multi_signature_heavy(384 << 20, layers=4).save(tmp_path / "multi.tflite",
                                                           external_buffers=True)
    ours = walk_rss(path, touch=True)
    assert ours["signatures"] == ["prefill", "decode"]
    weights = ours["weights"]
    assert weights > 350 << 20
    assert ours["after_open"] - ours["before"] < weights / 20
    assert ours["after_walk"] - ours["before"] < weights / 20
    # the control: summing one layer's weights (a quarter of them) makes them resident
    assert ours["after_touch"] - ours["after_walk"] > ours["touched_bytes"] / 2
    # LiteRT's own constructor on the file: it maps the weights too, and knows both signatures
    theirs = litert_rss(path)
    assert theirs["signatures"] == ["prefill", "decode"]
    assert theirs["after_open"] - theirs["before"] < weights / 20


def test_the_multi_signature_model_runs_in_litert_on_the_weights_the_reader_maps(tmp_path):
    from ai_edge_litert.interpreter import Interpreter
    path = multi_signature_heavy(4 << 20, layers=3).save(tmp_path / "small.tflite",
                                                         external_buffers=True)
    interpreter = Interpreter(model_path=str(path))
    with open_model(path) as m:
        assert all(b.external for b in m.buffers if b.size)
        for sig in m.signatures:
            sg = m.subgraphs[sig.subgraph]
            x = np.random.default_rng(sig.subgraph).random(sg.tensors[sig.inputs["input"]].shape,
                                                          dtype=np.float32)
            expected = x
            for op in sg.operators:  # FULLY_CONNECTED + RELU, on the reader's zero-copy views
                w = m.tensor_data(sig.subgraph, op.inputs[1])
                expected = np.maximum(expected @ w.T, 0)
            got = interpreter.get_signature_runner(sig.key)(input=x)["output"]
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
