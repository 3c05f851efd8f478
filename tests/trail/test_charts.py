"""The report's inline SVG charts: the error budget burn-down."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from engine.trail.charts import burn_down

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)
SPAN = (START, END, "2024-01-01 00:00", "2024-02-01 00:00")
SVG = "{http://www.w3.org/2000/svg}"


def test_a_burn_down_falls_from_the_budget_to_what_is_left() -> None:
    points = [
        (START, 44.64),
        (START + timedelta(days=10), 44.64),
        (START + timedelta(days=11), 29.64),
    ]
    svg = burn_down("checkout <b>", SPAN, points, 44.64, even=True)
    root = ET.fromstring(svg)  # noqa: S314 - our own output; well-formed, the title escaped
    assert root.attrib["aria-label"] == "checkout <b>"
    line = root.find(f"{SVG}polyline")
    assert line is not None
    assert line.attrib["class"] == "burn"
    xs = [float(p.split(",")[0]) for p in line.attrib["points"].split()]
    ys = [float(p.split(",")[1]) for p in line.attrib["points"].split()]
    assert xs == sorted(xs)
    assert ys[0] == ys[1] < ys[2]  # lower on the page is less budget
    assert root.find(f"{SVG}line[@class='even']") is not None
    assert "29.6 min left" in svg
    assert "<script" not in svg


def test_a_spent_budget_goes_below_zero_in_red_and_a_rolling_one_has_no_even_line() -> None:
    points = [(START, 44.64), (START + timedelta(days=3), -10.0)]
    svg = burn_down("spent", SPAN, points, 44.64, even=False)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    line = root.find(f"{SVG}polyline")
    assert line is not None
    assert line.attrib["class"] == "burn spent"
    zero = root.find(f"{SVG}line[@class='axis']")
    assert zero is not None
    last_y = float(line.attrib["points"].split()[-1].split(",")[1])
    assert last_y > float(zero.attrib["y1"])  # below the zero line
    assert root.find(f"{SVG}line[@class='even']") is None
    assert "-10 min left" in svg
