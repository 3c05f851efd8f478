"""Error budgets in ``metrics`` (SPEC §10, the domain notes' SLA dashboard): per service with
an SLO, each calendar month of the period, and the burn-down of the SLO's own period for the
HTML report. The computation is :mod:`engine.time.budgets`, shared with ``budget``, CEL and
the gate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engine.time.budgets import (
    Outage,
    Slo,
    Window,
    burn_down,
    compute,
    month_named,
    month_of,
    months_between,
)
from engine.time.budgets import slos as slos_of


class BurnDown(NamedTuple):
    """The budget left over a service's current period, for a chart."""

    service: str
    window: Window
    allowed: float
    points: list[tuple[datetime, float]]
    calendar: bool  # a calendar month (an even spend is a straight line to its end)


def end_of(now: datetime, until: datetime | None) -> datetime:
    """The instant the report's budgets are judged at: now, or the end of the period."""
    return now if until is None else min(until - timedelta(microseconds=1), now)


def monthly_budgets(
    config: dict[str, Any],
    zone_name: str,
    found: Sequence[Outage],
    *,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
    first: str | None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Service -> month -> its budget as known now, for every calendar month from ``since``
    (else the first month with figures or incidents, ``first``) to the end of the period."""
    end = end_of(now, until)
    if since is not None and since > end:
        return {}
    last = month_of(end, zone_name)
    slos = slos_of(config)
    if since is not None:
        start = month_of(since, zone_name)
    else:
        labels = [
            month_of(o.detected, zone_name).label
            for o in found
            if o.detected <= end and set(o.services) & slos.keys()
        ]
        start = month_named(min([*labels, *([first] if first else []), last.label]), zone_name)
    months = months_between(start, last, zone_name)
    return {
        service: {w.label: _month(slo, found, now, zone_name, w) for w in months}
        for service, slo in slos.items()
    }


def _month(
    slo: Slo, found: Sequence[Outage], now: datetime, zone_name: str, window: Window
) -> dict[str, Any]:
    budget = compute(slo, found, now, zone_name, window)
    return {
        "target": slo.availability,
        "allowedMinutes": round(budget.allowed, 1),
        "usedMinutes": round(budget.used, 1),
        "remainingMinutes": round(budget.left, 1),
        "remainingPercent": round(100 * budget.remaining, 1),
        "burnRate": round(budget.burn_rate, 2),
        "incidents": [c.incident for c in budget.charges if c.minutes > 0],
    }


def burn_downs(
    config: dict[str, Any], zone_name: str, found: Sequence[Outage], at: datetime
) -> list[BurnDown]:
    """Per service with an SLO: its budget left over the period of ``at``."""
    charts = []
    for service, slo in slos_of(config).items():
        window, points = burn_down(slo, found, at, zone_name)
        allowed = compute(slo, (), at, zone_name).allowed
        charts.append(BurnDown(service, window, allowed, points, slo.rolling_days is None))
    return charts
