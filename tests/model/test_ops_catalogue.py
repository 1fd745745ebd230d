"""The op catalogue (resources/ops/catalogue.json) agrees with the generated TFLite schema."""
from __future__ import annotations

import json
import re

import pytest

from core.errors import ModelError
from core.model import ops, schema
from core.model.builder import ModelBuilder
from core.model.reader import open_model
from core.model.schema import fb


@pytest.fixture
def fresh_catalogue():
    """Re-read the catalogue around a test that points LITELENS_RESOURCES elsewhere."""
    ops.catalogue.cache_clear()
    yield
    ops.catalogue.cache_clear()


def _builtin_ops() -> set[str]:
    return {k for k in vars(fb.BuiltinOperator) if not k.startswith("_")}


def test_every_catalogue_op_is_a_builtin_operator():
    unknown = set(ops.catalogue()["ops"]) - _builtin_ops()
    assert not unknown, f"not in the schema's BuiltinOperator: {sorted(unknown)}"


def test_every_category_is_known_and_named():
    names = ops.category_names()
    assert set(names) == {"layer", "activation", "pool", "norm", "shape", "quant", "control",
                          "custom", "stablehlo", "math"}
    assert all(isinstance(v, str) and v for v in names.values())
    for op in _builtin_ops():
        assert ops.category(op) in names


def test_categories_of_representative_ops():
    assert ops.category("CONV_2D") == "layer"
    assert ops.category("RELU6") == "activation"
    assert ops.category("WHILE") == "control"
    assert ops.category("CUSTOM") == "custom"
    assert ops.category("STABLEHLO_ADD") == "stablehlo"          # by prefix
    assert ops.category("STABLEHLO_CONVOLUTION") == "layer"      # listed beats the prefix
    assert ops.category("ADD") == "math"                          # the default
    assert ops.slot_names("CONV_2D") == ("input", "filter", "bias")
    assert ops.slot_names("ADD") == ()


def test_options_tables_exist_in_the_schema():
    tables = schema.table_names()
    for op in ops.catalogue()["ops"]:
        if ops.op_fact(op, "options_table"):
            assert ops.options_table(op) in tables, op
    assert ops.options_table("CONV_2D") == "Conv2DOptions"
    assert ops.options_table("ADD") == "AddOptions"          # derived: CamelCase + Options


def _subgraph_fields_in_schema(table: str) -> set[str]:
    obj = getattr(fb, table + "T")()
    return {schema.snake(k) for k in vars(obj) if "subgraph" in k.lower()}


def test_subgraph_fields_are_the_options_tables_real_fields():
    covered = set()
    for op in ops.catalogue()["ops"]:
        fields = ops.subgraph_fields(op)
        if not fields:
            continue
        table = ops.options_table(op)
        assert set(fields) == _subgraph_fields_in_schema(table), (op, table)
        covered.add(table)
    # and no options table of the schema names subgraphs without an op saying so
    for union in ("BuiltinOptions", "BuiltinOptions2"):
        for table in schema.union_members(union).values():
            if _subgraph_fields_in_schema(table):
                assert table in covered, f"{table} names subgraphs but no catalogue op uses it"


def test_control_flow_ops_are_the_ones_that_run_subgraphs():
    for op in ("WHILE", "IF", "CALL_ONCE", "CALL", "STABLEHLO_WHILE"):
        assert ops.is_control_flow(op)
    for op in ("CONV_2D", "ADD", "CUSTOM", "STABLEHLO_ADD"):
        assert not ops.is_control_flow(op)


def test_only_ops_that_run_subgraphs_can_require_them():
    required = {op for op, facts in ops.catalogue()["ops"].items()
                if facts.get("subgraphs_required")}
    assert required == {"WHILE", "IF", "CALL_ONCE"}
    assert all(ops.is_control_flow(op) for op in required)
    assert not ops.subgraphs_required("CALL") and not ops.subgraphs_required("CONV_2D")


def _write(tmp_path, data) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "catalogue.json").write_text(json.dumps(data))


def test_unknown_category_is_a_clear_error(tmp_path, monkeypatch, fresh_catalogue):
    data = json.loads(ops.resource_path(ops.CATALOGUE).read_text())
    data["ops"]["CONV_2D"]["category"] = "convolutions"
    _write(tmp_path, data)
    monkeypatch.setenv("LITELENS_RESOURCES", str(tmp_path))
    with pytest.raises(ops.CatalogueError, match=r"catalogue\.json: op CONV_2D has unknown "
                                                 r"category 'convolutions'"):
        ops.category("CONV_2D")


def test_every_category_has_a_colour():
    colors = ops.category_colors()
    assert set(colors) == set(ops.category_names())
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colors.values())
    # distinct: a category painted like another one could not be told apart on the graph
    assert len(set(colors.values())) == len(colors)


def test_a_category_without_a_colour_is_a_clear_error(tmp_path, monkeypatch, fresh_catalogue):
    """A new category without a colour would silently paint its ops grey: refused at load."""
    data = json.loads(ops.resource_path(ops.CATALOGUE).read_text())
    data["categories"]["attention"] = "Attention"
    data["ops"]["BATCH_MATMUL"]["category"] = "attention"
    _write(tmp_path, data)
    monkeypatch.setenv("LITELENS_RESOURCES", str(tmp_path))
    with pytest.raises(ops.CatalogueError, match=r"category 'attention' has no #rrggbb colour"):
        ops.category("BATCH_MATMUL")


def test_missing_or_broken_file_is_a_clear_error(tmp_path, monkeypatch, fresh_catalogue):
    monkeypatch.setenv("LITELENS_RESOURCES", str(tmp_path))
    with pytest.raises(ops.CatalogueError, match="cannot read the op catalogue"):
        ops.catalogue()
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "catalogue.json").write_text('{"ops": {')
    ops.catalogue.cache_clear()
    with pytest.raises(ops.CatalogueError, match="cannot read the op catalogue"):
        ops.catalogue()


def test_extra_facts_need_no_loader_change(tmp_path, monkeypatch, fresh_catalogue):
    data = json.loads(ops.resource_path(ops.CATALOGUE).read_text())
    data["ops"]["CONV_2D"]["in_place"] = False
    data["delegates"] = {"gpu": "OpenCL / OpenGL"}
    _write(tmp_path, data)
    monkeypatch.setenv("LITELENS_RESOURCES", str(tmp_path))
    assert ops.op_fact("CONV_2D", "in_place") is False
    assert ops.op_fact("ADD", "in_place", "unknown") == "unknown"
    assert ops.section("delegates") == {"gpu": "OpenCL / OpenGL"}


def _stablehlo_case_model() -> ModelBuilder:
    """Subgraph 0 runs a STABLEHLO_CASE choosing between subgraphs 1 and 2 (each an identity)."""
    mb = ModelBuilder()
    main = mb.subgraph("main")
    idx = main.tensor("index", [], "int32")
    x = main.tensor("x", [2], "float32")
    y = main.tensor("y", [2], "float32")
    main.op("STABLEHLO_CASE", [idx, x], [y], {"branch_subgraph_indices": [1, 2]})
    main.inputs, main.outputs = [idx, x], [y]
    for name in ("branch_a", "branch_b"):
        sg = mb.subgraph(name)
        a = sg.tensor("a", [2], "float32")
        sg.inputs, sg.outputs = [a], [a]
    return mb


def test_subgraph_links_of_a_list_field(tmp_path):
    path = _stablehlo_case_model().save(tmp_path / "case.tflite")
    with open_model(path) as model:
        op = model.subgraphs[0].operators[0]
        assert ops.subgraph_links(op) == [("branch 0", 1), ("branch 1", 2)]


def test_reader_rejects_a_subgraph_index_past_the_end(tmp_path):
    """Checked for every op the catalogue says runs subgraphs, list fields included."""
    mb = _stablehlo_case_model()
    mb.subgraphs[0].ops[0].options = ("StablehloCaseOptions", {"branch_subgraph_indices": [1, 7]})
    path = mb.save(tmp_path / "bad_case.tflite")
    with pytest.raises(ModelError, match=r"branch_subgraph_indices is \[1, 7\] but the model has "
                                         r"3 subgraphs"):
        open_model(path)
