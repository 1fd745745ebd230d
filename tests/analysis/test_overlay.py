from core.analysis.overlay import RAMP, heat_overlay


def test_heat_overlay_orders_colours_by_value():
    o = heat_overlay({0: 0.1, 1: 1.0, 2: 0.55, 3: None})
    assert set(o["colors"]) == {0, 1, 2}
    assert o["colors"][1] == RAMP[-1] and o["colors"][0] == RAMP[0]
    assert RAMP.index(o["colors"][0]) < RAMP.index(o["colors"][2]) < RAMP.index(o["colors"][1])
    assert o["badges"][1] == "1 ms"
    assert len(o["legend"]) == len(RAMP) and o["legend"][-1][0].endswith("1 ms")


def test_heat_overlay_empty():
    assert heat_overlay({}) == {"colors": {}, "badges": {}, "legend": []}
