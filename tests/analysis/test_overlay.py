import json

import pytest

from core.analysis.overlay import (
    OutlineGroup,
    Overlay,
    categorical_overlay,
    heat_overlay,
    outline_groups,
)


def test_heat_overlay_steps_values_into_the_ramp():
    o = heat_overlay({0: 0.1, 1: 1.0, 2: 0.55, 3: None})
    assert o.name == "latency" and o.summary == "3 ops, max 1 ms"
    assert dict(o.colors) == {(0, 0): "#fff3b0", (0, 1): "#9d0208", (0, 2): "#f4a259"}
    assert dict(o.badges) == {(0, 0): "0.1 ms", (0, 1): "1 ms", (0, 2): "0.55 ms"}
    assert o.legend == (("0–0.2 ms", "#fff3b0"), ("0.2–0.4 ms", "#ffd166"),
                        ("0.4–0.6 ms", "#f4a259"), ("0.6–0.8 ms", "#e76f51"),
                        ("0.8–1 ms", "#9d0208"))


def test_heat_overlay_leaves_out_values_that_are_not_finite():
    o = heat_overlay({0: float("inf"), 1: 2.0, 2: float("nan"), 3: -1.0})
    assert dict(o.colors) == {(0, 1): "#9d0208"} and o.summary == "1 op, max 2 ms"


def test_heat_overlay_keys_by_subgraph_and_empty_input():
    o = heat_overlay({(2, 5): 4.0}, unit="KiB", subgraph=0, name="memory")
    assert dict(o.colors) == {(2, 5): "#9d0208"} and o.badges[(2, 5)] == "4 KiB"
    assert o.name == "memory" and o.summary == "1 op, max 4 KiB"
    empty = heat_overlay({})
    assert not empty.colors and not empty.badges and empty.legend == () and empty.groups == ()
    assert empty.summary == ""


def test_categorical_overlay_legend_in_palette_order_only_used_keys():
    palette = {"gpu": ("GPU", "#1A9850"), "cpu": ("CPU fallback", "#d73027"),
               "none": ("unsupported", "#777777")}
    verdicts = {(0, 0): "cpu", (0, 1): "gpu", (0, 2): "gpu"}
    o = categorical_overlay("delegate", verdicts, palette, summary="GPU: 2/3 ops, 1 partition")
    assert dict(o.colors) == {(0, 0): "#d73027", (0, 1): "#1a9850", (0, 2): "#1a9850"}
    assert o.legend == (("GPU", "#1a9850"), ("CPU fallback", "#d73027"))
    assert o.summary == "GPU: 2/3 ops, 1 partition"
    with pytest.raises(ValueError, match="maybe"):
        categorical_overlay("delegate", {(0, 0): "maybe"}, palette)


def test_outline_groups_follow_op_order_and_skip_ungrouped_ops():
    ops = [(0, i) for i in range(6)]
    group_of = {(0, 0): 1, (0, 1): 1, (0, 3): 2, (0, 4): 2, (0, 5): 2}
    gs = outline_groups(ops, group_of, {1: ("partition 1", "#4575b4"),
                                        2: ("partition 2", "#91bfdb"),
                                        3: ("partition 3", "#000000")})
    assert gs == (OutlineGroup("partition 1", "#4575b4", ((0, 0), (0, 1))),
                  OutlineGroup("partition 2", "#91bfdb", ((0, 3), (0, 4), (0, 5))))
    with pytest.raises(ValueError, match="no label"):
        outline_groups(ops, {(0, 0): 9}, {})


@pytest.mark.parametrize("bad", ["red", "#fff", "#12345g", "1a9850", None, "#1a98500"])
def test_colours_must_be_hex(bad):
    with pytest.raises(ValueError, match="#rrggbb"):
        Overlay("x", colors={(0, 0): bad})
    with pytest.raises(ValueError, match="#rrggbb"):
        Overlay("x", legend=[("a", bad)])
    with pytest.raises(ValueError, match="#rrggbb"):
        OutlineGroup("g", bad, ())


def test_overlay_is_frozen():
    o = Overlay("x", colors={(0, 0): "#000000"})
    with pytest.raises(AttributeError):
        o.name = "y"
    with pytest.raises(TypeError):
        o.colors[(0, 1)] = "#ffffff"


def test_to_json_is_strict_and_lists_op_records():
    o = Overlay("GPU support", "GPU: 2/3 ops, 1 partition",
                colors={(0, 2): "#1a9850", (0, 0): "#d73027"}, badges={(0, 0): "CPU"},
                groups=[OutlineGroup("GPU 1", "#1a9850", [(0, 2)])],
                legend=[("GPU", "#1a9850")], kind="delegate")
    text = json.dumps(o.to_json(), allow_nan=False)
    assert json.loads(text) == {
        "name": "GPU support", "kind": "delegate", "summary": "GPU: 2/3 ops, 1 partition",
        "legend": [{"label": "GPU", "color": "#1a9850"}],
        "ops": [{"subgraph": 0, "op": 0, "color": "#d73027", "badge": "CPU"},
                {"subgraph": 0, "op": 2, "color": "#1a9850"}],
        "groups": [{"label": "GPU 1", "color": "#1a9850", "ops": [{"subgraph": 0, "op": 2}]}]}


def test_kind_defaults_to_the_name_and_builders_pass_it_on():
    assert Overlay("latency").kind == "latency"
    assert heat_overlay({0: 1.0}, name="live memory", kind="memory").kind == "memory"
    assert heat_overlay({}, name="live memory", kind="memory").kind == "memory"


def test_heat_overlay_all_zero_values_sit_in_the_first_step():
    o = heat_overlay({0: 0.0, 1: 0.0})
    assert set(o.colors.values()) == {"#fff3b0"} and o.summary == "2 ops, max 0 ms"


def test_heat_overlay_formats_values_with_a_given_formatter():
    from core import format as fmt
    ov = heat_overlay({0: 0.0994, 1: 2.5}, text=fmt.duration_ms)
    assert ov.badges[(0, 0)] == "99.4 µs"
    assert ov.badges[(0, 1)] == "2.50 ms"
    assert ov.summary == "2 ops, max 2.50 ms"
    assert ov.legend[0][0] == "0 ms–500 µs"
