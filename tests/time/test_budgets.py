"""Error budgets, with figures worked out by hand (engine/time/budgets.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.documents.loader import load_text
from engine.documents.model import identify
from engine.time.budgets import (
    Outage,
    Slo,
    Window,
    burn_down,
    compute,
    month_of,
    month_window,
    outages,
    slos,
)

JAN = datetime(2024, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def incident(
    name: str, detected: str, resolved: str | None = None, *, downtime: str | None = None,
    sla: bool | None = None, environment: str | None = None,
) -> Outage:  # fmt: skip
    spec: dict[str, Any] = {
        "title": "Errors", "severity": "SEV-2", "services": ["checkout"], "detectedAt": detected,
    }  # fmt: skip
    if resolved:
        spec["resolvedAt"] = resolved
    if environment:
        spec["environment"] = environment
    impact = {k: v for k, v in (("downtime", downtime), ("slaImpact", sla)) if v is not None}
    if impact:
        spec["impact"] = impact
    body = {"apiVersion": "changegate/v1", "kind": "Incident", "metadata": {"name": name}}
    body["spec"] = spec
    documents, problems = identify(load_text(yaml.safe_dump(body), Path("i.yaml")))
    assert problems == []
    found = outages(documents)
    assert len(found) == (0 if environment not in {None, "production"} else 1)
    return found[0] if found else None  # type: ignore[return-value]


CHECKOUT = Slo("checkout", 99.9)


def test_the_seed_example_99_9_over_a_30_4_day_month() -> None:
    # 0.1% of 30.4 days (43,776 minutes) is 43.776 minutes, shown 43.8; 15 + 5 used leave
    # 23.776 (23.8), 54.3% (54%); 25,000 minutes into the period the budget for the time gone
    # is 0.1% of it, 25 minutes, and 20 used is a burn rate of 0.8x
    seed = Window(JAN, JAN + timedelta(days=30.4), "January")
    portal = Slo("portal", 99.9)
    day = timedelta(days=1)
    used = [
        Outage("INC-1", ("portal",), JAN + 2 * day, JAN + 2 * day + timedelta(hours=1), 15, True),
        Outage("INC-2", ("portal",), JAN + 9 * day, None, 5.0, True),
    ]
    budget = compute(portal, used, JAN + timedelta(minutes=25_000), "UTC", seed)
    assert budget.allowed == pytest.approx(43.776)
    assert (budget.used, round(budget.left, 3)) == (20.0, 23.776)
    assert round(budget.remaining, 4) == 0.5431
    assert budget.burn_rate == pytest.approx(0.8)
    assert budget.summary == (
        "portal's error budget for January: 23.8 of 43.8 minutes left (54%), burn rate 0.8x"
    )
    assert (budget.exhausted, budget.low) == (False, False)


def test_a_calendar_month_has_its_real_length_in_the_configs_zone() -> None:
    assert month_window(2024, 1, "UTC").minutes == 31 * 1440  # 44.64 min at 99.9%
    assert month_window(2024, 2, "UTC").minutes == 29 * 1440  # 41.76
    march = month_window(2024, 3, "Europe/Berlin")  # clocks go forward: 743 hours
    assert (march.start, march.end) == (at("2024-02-29T23:00:00Z"), at("2024-03-31T22:00:00Z"))
    in_march = compute(CHECKOUT, [], at("2024-03-10T00:00:00Z"), "Europe/Berlin")
    assert in_march.allowed == pytest.approx(44.58)
    # 00:30 UTC on 1 February is still January in New York
    assert month_of(at("2024-02-01T00:30:00Z"), "America/New_York").label == "2024-01"


def test_an_incident_spanning_two_months_charges_each_its_share() -> None:
    # 23:15 to 00:15 UTC over the new year of February: 45 minutes in January, 15 in February
    plain = incident("INC-1", "2024-01-31T23:15:00Z", "2024-02-01T00:15:00Z")
    now = at("2024-03-01T00:00:00Z")
    jan, feb = month_window(2024, 1, "UTC"), month_window(2024, 2, "UTC")
    assert compute(CHECKOUT, [plain], now, "UTC", jan).used == pytest.approx(45.0)
    assert compute(CHECKOUT, [plain], now, "UTC", feb).used == pytest.approx(15.0)
    # a recorded downtime of 20 minutes is shared the same way: 15 and 5
    shared = incident("INC-2", "2024-01-31T23:15:00Z", "2024-02-01T00:15:00Z", downtime="20m")
    assert compute(CHECKOUT, [shared], now, "UTC", jan).used == pytest.approx(15.0)
    assert compute(CHECKOUT, [shared], now, "UTC", feb).used == pytest.approx(5.0)


def test_an_open_incident_is_charged_until_now() -> None:
    open_one = incident("INC-1", "2024-01-20T10:00:00Z")
    budget = compute(CHECKOUT, [open_one], at("2024-01-20T12:00:00Z"), "UTC")
    assert budget.used == pytest.approx(120.0)
    assert budget.exhausted  # 120 of 44.64
    assert budget.charges[0].resolved is None
    # on 1 February at 01:00 it has charged all of January since the 20th (16,680 minutes,
    # capped at nothing more than January has) and 60 minutes of February
    later = at("2024-02-01T01:00:00Z")
    assert compute(CHECKOUT, [open_one], later, "UTC", month_window(2024, 1, "UTC")).used == 16_680
    assert compute(CHECKOUT, [open_one], later, "UTC").used == pytest.approx(60.0)
    # one resolved after the instant judged counts only up to it: an hour of a four-hour span
    # that records 60 minutes of downtime is 15 minutes
    resolving = incident("INC-2", "2024-01-20T10:00:00Z", "2024-01-20T14:00:00Z", downtime="60m")
    partly = compute(CHECKOUT, [resolving], at("2024-01-20T11:00:00Z"), "UTC")
    assert partly.used == pytest.approx(15.0)
    # and one detected after the instant judged has not happened yet
    assert compute(CHECKOUT, [resolving], at("2024-01-20T09:00:00Z"), "UTC").used == 0.0


def test_sla_impact_false_and_other_environments_charge_nothing() -> None:
    excluded = incident("INC-1", "2024-01-10T10:00:00Z", "2024-01-10T11:00:00Z", sla=False)
    counted = incident("INC-2", "2024-01-11T10:00:00Z", "2024-01-11T10:10:00Z", sla=True)
    assert incident("INC-3", "2024-01-12T10:00:00Z", environment="staging") is None
    budget = compute(CHECKOUT, [excluded, counted], at("2024-01-20T00:00:00Z"), "UTC")
    assert budget.used == pytest.approx(10.0)
    assert [(c.incident, c.minutes, c.note) for c in budget.charges] == [
        ("INC-1", 0.0, "slaImpact: false, so none of its 60.0 minutes count"),
        ("INC-2", pytest.approx(10.0), ""),
    ]
    assert budget.as_cel()["incidents"] == ["INC-2"]


def test_no_period_is_charged_more_than_it_has() -> None:
    feb = month_window(2024, 2, "UTC")
    years = incident("INC-1", "2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    budget = compute(CHECKOUT, [years], at("2024-03-01T00:00:00Z"), "UTC", feb)
    assert budget.used == 29 * 1440
    # a downtime longer than the incident (it began before it was detected) is charged, but
    # never past the month's length, even one too long for Python to hold
    longer = incident("INC-2", "2024-02-10T10:00:00Z", "2024-02-10T10:10:00Z", downtime="2h")
    huge = incident(
        "INC-3", "2024-02-11T10:00:00Z", "2024-02-11T10:00:00Z", downtime="9" * 20 + "d"
    )
    now = at("2024-03-01T00:00:00Z")
    assert compute(CHECKOUT, [longer], now, "UTC", feb).used == pytest.approx(120.0)
    assert compute(CHECKOUT, [huge], now, "UTC", feb).used == 29 * 1440
    assert compute(CHECKOUT, [years, longer, huge], now, "UTC", feb).used == 29 * 1440
    assert compute(CHECKOUT, [huge], now, "UTC", month_window(2024, 3, "UTC")).used == 0.0


def test_a_rolling_window_ends_at_the_instant_judged() -> None:
    slo = Slo("checkout", 99.9, period="28d")
    now = at("2024-03-01T12:00:00Z")
    old = incident("INC-1", "2024-01-30T00:00:00Z", "2024-01-30T01:00:00Z")  # before the window
    edge = incident("INC-2", "2024-02-02T11:00:00Z", "2024-02-02T13:00:00Z")  # half inside
    budget = compute(slo, [old, edge], now, "UTC")
    assert (budget.window.start, budget.window.end) == (at("2024-02-02T12:00:00Z"), now)
    assert budget.allowed == pytest.approx(40.32)  # 0.1% of 28 days
    assert budget.used == pytest.approx(60.0)
    assert budget.burn_rate == pytest.approx(60 / 40.32)  # the whole window has passed
    assert budget.summary == (
        "checkout's error budget for the 28 days to 2024-03-01T12:00:00Z is spent: 60.0 of 40.3 "
        "minutes used, burn rate 1.5x"
    )


def test_targets_near_the_bounds_and_exhaustion_at_exactly_zero() -> None:
    tiny = Slo("checkout", 0.0001)  # 99.9999% of January may be down
    assert compute(tiny, [], JAN, "UTC").allowed == pytest.approx(44640 * 0.999999)
    strict = Slo("checkout", 99.99999)
    assert compute(strict, [], JAN, "UTC").allowed == pytest.approx(0.004464)
    spent = incident("INC-1", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", downtime="2678s")
    # 0.1% of January is 2678.4 seconds: 2678 leave 0.4 s; 2679 spend it all
    budget = compute(CHECKOUT, [spent], at("2024-01-31T00:00:00Z"), "UTC")
    assert (budget.exhausted, budget.low) == (False, True)
    over = incident("INC-2", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z", downtime="1s")
    assert compute(CHECKOUT, [spent, over], at("2024-01-31T00:00:00Z"), "UTC").exhausted


def test_the_warning_threshold_is_the_slos() -> None:
    used = incident("INC-1", "2024-01-02T00:00:00Z", "2024-01-02T00:36:00Z")  # 36 of 44.64
    now = at("2024-01-31T00:00:00Z")
    assert compute(CHECKOUT, [used], now, "UTC").low  # 19.4% left, below 20
    assert not compute(Slo("checkout", 99.9, warn_below=15), [used], now, "UTC").low


def test_calendar_edges_of_the_engines_range() -> None:
    first = compute(CHECKOUT, [], at("1900-01-01T00:00:00Z"), "America/New_York")
    assert first.window.label == "1899-12"
    last = compute(CHECKOUT, [], at("2999-12-31T23:59:59Z"), "Asia/Tokyo")
    assert (last.window.label, last.window.end) == ("3000-01", at("3000-01-31T15:00:00Z"))
    start = compute(CHECKOUT, [], at("2024-01-01T00:00:00Z"), "UTC")  # the month's first instant
    assert (start.burn_rate, start.remaining) == (0.0, 1.0)


def test_slos_come_from_the_config_and_services_without_one_are_left_out() -> None:
    found = slos({"services": [
        {"name": "checkout", "slo": {"availability": 99.9, "period": "28d", "warnBelow": 25}},
        {"name": "catalog"},
    ]})  # fmt: skip
    assert found == {"checkout": Slo("checkout", 99.9, "28d", 25.0)}


def test_the_burn_down_goes_from_the_whole_budget_to_what_is_left() -> None:
    used = incident("INC-1", "2024-01-10T10:00:00Z", "2024-01-10T10:30:00Z")
    window, points = burn_down(CHECKOUT, [used], at("2024-01-20T00:00:00Z"), "UTC")
    assert window.label == "2024-01"
    assert points[0] == (JAN, pytest.approx(44.64))
    assert points[-1] == (at("2024-01-20T00:00:00Z"), pytest.approx(14.64))
    assert (at("2024-01-10T10:30:00Z"), pytest.approx(14.64)) in points
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))
