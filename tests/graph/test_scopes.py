"""The name-scope tree (core/graph/scopes.py) on models named the way Keras, the MLIR converter and
MediaPipe name tensors, built here, and on the shared real models."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main
from core.graph.scopes import MAX_DEPTH, UNNAMED, name_scope, scope_tree
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from tests.conftest import all_shared_models, shared_model_path


@pytest.mark.parametrize("name, scope", [
    ("model/block_3/conv/Conv2D", ("model", "block_3", "conv")),          # Keras / TF
    ("model/block_3/conv/BiasAdd;model/block_3/conv/Conv2D", ("model", "block_3", "conv")),
    ("m/block_3_relu/Relu6;m/block_3_conv/Conv2D;m/block_3_bn/mul", ("m",)),   # MLIR fused
    ("a/relu/Relu;b/conv/Conv2D", ("a", "relu")),        # no common scope: the first part's
    ("dense/MatMul;Relu", ("dense",)),
    ("model/embedding/GatherV2;", ("model", "embedding")),   # the converter's trailing ';'
    ("conv2d/Kernel_dequantize", ("conv2d",)),          # MediaPipe: weights under the layer
    ("conv2d", ("conv2d",)),                             # ... and the layer's own output
    ("StatefulPartitionedCall:0", ("StatefulPartitionedCall:0",)),
    ("a//b/", ("a",)),
    ("", (UNNAMED,)), (";", (UNNAMED,)),
])
def test_name_scope(name, scope):
    assert name_scope(name) == scope


def chain(names: list[str], unnamed_last: bool = False) -> ModelBuilder:
    """A chain of RELUs whose outputs carry ``names``; with ``unnamed_last`` one more op
    (ASSIGN_VARIABLE-like: no output) is left without a name through an empty tensor name."""
    mb = ModelBuilder()
    sg = mb.subgraph()
    prev = sg.tensor("input", [1, 4])
    sg.inputs = [prev]
    for n in names + ([""] if unnamed_last else []):
        out = sg.tensor(n, [1, 4])
        sg.op("RELU", [prev], [out])
        prev = out
    sg.outputs = [prev]
    return mb


def tree_json(path) -> list[dict]:
    with open_model(path) as m:
        return [n.to_json() for n in scope_tree(m.subgraphs[0])]


def node(name: str, ops: int, *children: dict) -> dict:
    return {"name": name, "ops": ops, "children": list(children)}


def test_keras_names(build_model):
    names = ["model/block_1/conv/Conv2D", "model/block_1/conv/BiasAdd", "model/block_1/relu/Relu",
             "model/block_2/conv/Conv2D", "model/block_2/relu/Relu", "model/head/dense/MatMul",
             "Identity"]
    assert tree_json(build_model(chain(names))) == [
        node("model", 6,
             node("block_1", 3, node("conv", 2), node("relu", 1)),
             node("block_2", 2, node("conv", 1), node("relu", 1)),
             node("head", 1, node("dense", 1))),
        node("Identity", 1)]


def test_mlir_fused_names(build_model):
    names = ["net/stem_relu/Relu6;net/stem/Conv2D",
             "net/block_1/expand_relu/Relu6;net/block_1/expand/Conv2D;net/block_1/expand_bn/mul",
             "net/block_1/project/Conv2D",
             "net/block_1/add/add;net/block_1/project_bn/mul",
             "net/pool/Mean;", "StatefulPartitionedCall:0"]
    assert tree_json(build_model(chain(names))) == [
        node("net", 5, node("block_1", 3, node("project", 1)), node("pool", 1)),
        node("StatefulPartitionedCall:0", 1)]


def test_mediapipe_names(build_model):
    # MediaPipe names each layer's output after the layer and its fp16 weights under it
    names = ["conv2d/Kernel_dequantize", "conv2d/Bias_dequantize", "conv2d", "activation",
             "depthwise_conv2d/Kernel_dequantize", "depthwise_conv2d", "add__xeno_compat__1",
             "classificators"]
    assert tree_json(build_model(chain(names, unnamed_last=True))) == [
        node("conv2d", 3), node("activation", 1), node("depthwise_conv2d", 2),
        node("add__xeno_compat__1", 1), node("classificators", 1), node(UNNAMED, 1)]


def test_op_indices_and_recursive_counts(build_model):
    names = ["a/b/x", "a/y", "a/b/c/z", "q"]
    with open_model(build_model(chain(names))) as m:
        (a, q) = scope_tree(m.subgraphs[0])
    assert (a.op_indices, a.children[0].op_indices, a.children[0].children[0].op_indices,
            q.op_indices) == ([1], [0], [2], [3])
    assert a.children[0].children[0].path == ("a", "b", "c")


def test_report_json_scopes(build_model, capsys):
    path = build_model(chain(["model/dense/MatMul", "model/dense/Relu", "Identity"]))
    assert main(["report", str(path), "--json", "--compact"]) == 0
    sg = json.loads(capsys.readouterr().out)["subgraphs"][0]
    assert sg["scopes"] == [node("model", 2, node("dense", 2)), node("Identity", 1)]


def test_a_hostile_depth_is_cut(build_model, capsys):
    path = build_model(chain(["/".join(["s"] * 20_000) + "/op", "x/y"]))
    assert main(["report", str(path), "--json", "--compact"]) == 0
    (deep, xy) = json.loads(capsys.readouterr().out)["subgraphs"][0]["scopes"]
    depth = 0
    while deep["children"]:
        (deep,) = deep["children"]
        depth += 1
    assert depth + 1 == MAX_DEPTH and deep["ops"] == 1 and xy == node("x", 1)


def _check(nodes: list[dict]) -> None:
    for n in nodes:
        assert set(n) == {"name", "ops", "children"} and n["name"]
        assert n["ops"] >= max(1, sum(c["ops"] for c in n["children"]))
        _check(n["children"])


@pytest.mark.parametrize("name", all_shared_models())
def test_shared_models_scopes_cover_every_op(name):
    # (report --json's scopes on every shared model: tests/cli/test_json_contract.py)
    with open_model(shared_model_path(name)) as m:
        for sg in m.subgraphs:
            tree = [n.to_json() for n in scope_tree(sg)]
            assert sum(n["ops"] for n in tree) == len(sg.operators)
            _check(tree)


def test_shared_keras_model_tree(shared_model):
    # the transformer encoder's ops sit under its Keras model's scope, by layer
    with open_model(shared_model("transformer_encoder_dynint8")) as m:
        top = scope_tree(m.subgraphs[0])
        ops = len(m.subgraphs[0].operators)
    names = [n.name for n in top]
    assert names[0] == "transformer_encoder_1" and top[0].ops >= ops - 1
    layers = {c.name for c in top[0].children}
    assert {"embedding_1", "multi_head_attention_1", "layer_normalization_1"} <= layers


def test_shared_mediapipe_model_groups_weights_with_layers(shared_model):
    # every DEQUANTIZE of a MediaPipe model's fp16 weights is in its layer's scope with the layer
    with open_model(shared_model("face_detection_short_range")) as m:
        sg = m.subgraphs[0]
        top = scope_tree(sg)
    by_op = {i: n for n in top for i in n.op_indices}
    for op in sg.operators:
        if op.op == "DEQUANTIZE":
            scope = by_op[op.index]
            assert any(sg.operators[i].op != "DEQUANTIZE" for i in scope.op_indices), scope.name
    np.testing.assert_equal(sum(n.ops for n in top), len(sg.operators))
