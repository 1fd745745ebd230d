"""The verifier's walk: breadth-first, as its docstring says, so of two corruptions the one
nearest the root is the one reported; and the schema's field layout carries no dead fields."""
from __future__ import annotations

import dataclasses
import struct

import pytest

from core.errors import ModelError
from core.model import schema
from core.model.reader import open_bytes
from core.model.samples import demo_model
from core.model.schema import fb


def _table_pos(obj) -> int:
    return obj._tab.Pos


def _break_vtable(data: bytearray, pos: int) -> None:
    """Point a table's vtable far past the end of the file (its soffset is int32 at ``pos``)."""
    struct.pack_into("<i", data, pos, -(len(data) * 4))


def test_the_corruption_nearest_the_root_is_reported_first(tmp_path):
    data = bytearray(demo_model().save(tmp_path / "demo.tflite").read_bytes())
    model = fb.Model.GetRootAs(bytes(data), 0)
    op_code = model.OperatorCodes(0)                 # Model -> OperatorCode: depth 2
    sg = model.Subgraphs(0)
    op = next(sg.Operators(i) for i in range(sg.OperatorsLength())
              if sg.Operators(i).BuiltinOptions() is not None)
    options = op.BuiltinOptions()                    # Model -> Subgraph -> Operator -> options: 4
    _break_vtable(data, options.Pos)
    _break_vtable(data, _table_pos(op_code))
    with pytest.raises(ModelError) as e:
        open_bytes(bytes(data), "two-corruptions.tflite")
    # the schema lists OperatorCodes first, so a depth-first (LIFO) walk reaches it last
    assert "OperatorCode table" in str(e.value), str(e.value)


def test_union_type_fields_are_found_by_name_not_by_a_stored_slot():
    # the verifier reads a union's type from its companion "<name>Type" scalar field; a Field
    # keeps nothing else about it
    assert "type_slot" not in {f.name for f in dataclasses.fields(schema.Field)}
    for table in sorted(schema.table_names()):
        fields = {f.name: f for f in schema.fields_of(table)}
        for f in fields.values():
            if f.kind == "union":
                assert fields[f.name + "Type"].kind == "scalar", (table, f.name)
