"""Error budgets (the domain notes' SLA dashboard, Google SRE's error budget policy): for a
service with an availability SLO, the downtime its production incidents used in a period
against what the target allows. One computation serves ``changegate budget``, ``metrics``,
the CEL function ``errorBudget``, the rule release-readiness/error-budget and the gate.

The period is the calendar month in the config's time zone (its real length: 31 days, or 743
hours for a March with the clocks going forward) or a rolling window of N days ending at the
instant judged. Allowed downtime is ``(100 - availability)%`` of it.

How an incident is charged to a period as of an instant ``at``:
- it counts from ``detectedAt`` to ``resolvedAt``; one still open at ``at`` (no ``resolvedAt``,
  or a later one) counts until ``at``; one detected after ``at`` does not count yet;
- without ``impact.downtime`` it charges the part of that span inside the period;
- with ``impact.downtime`` it charges the downtime in proportion to the part of the span inside
  the period (all of it to the period of ``detectedAt`` when the span is empty);
- ``impact.slaImpact: false`` charges nothing; only incidents in production count;
- no period is charged more than its own length, by one incident or by all of them together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, NamedTuple

from engine.documents.fields import DEFAULT_ENVIRONMENT, IncidentFields
from engine.documents.model import Document
from engine.time.durations import parse_duration
from engine.time.instants import format_instant, parse_instant
from engine.time.zones import zone

MONTH: Final = "month"
DEFAULT_WARN_BELOW: Final = 20.0  # percent of the budget left
_ROLLING: Final = re.compile(r"([1-9][0-9]*)d\Z")
_MINUTE: Final = 60.0  # seconds; the least time a burn rate divides by


@dataclass(frozen=True)
class Slo:
    """A service's ``slo`` in the config."""

    service: str
    availability: float  # percent, above 0 and below 100
    period: str = MONTH  # "month" or "<N>d"
    warn_below: float = DEFAULT_WARN_BELOW  # percent of the budget left

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Slo | None:
        """The SLO of a ``services[]`` entry, or None without an availability target."""
        slo = entry.get("slo")
        if not isinstance(slo, Mapping) or slo.get("availability") is None:
            return None
        return cls(
            service=str(entry["name"]),
            availability=float(slo["availability"]),
            period=str(slo.get("period", MONTH)),
            warn_below=float(slo.get("warnBelow", DEFAULT_WARN_BELOW)),
        )

    @property
    def rolling_days(self) -> int | None:
        found = _ROLLING.match(self.period)
        return int(found.group(1)) if found else None

    @property
    def budget_share(self) -> Decimal:
        """The part of a period the target allows to be down (0.001 for 99.9), exactly."""
        return (Decimal(100) - Decimal(str(self.availability))) / Decimal(100)

    def window(self, at: datetime, zone_name: str) -> Window:
        """The period ``at`` is judged in: its calendar month, or the N days up to it."""
        days = self.rolling_days
        if days is None:
            return month_of(at, zone_name)
        return Window(at - timedelta(days=days), at, f"the {days} days to {format_instant(at)}")


def slos(config: Mapping[str, Any]) -> dict[str, Slo]:
    """Service name -> SLO, for the services of a config spec that have one."""
    found = (Slo.of(entry) for entry in config.get("services", ()))
    return {slo.service: slo for slo in found if slo is not None}


class Window(NamedTuple):
    """A half-open period [start, end) in UTC, with how people call it."""

    start: datetime
    end: datetime
    label: str  # "2024-01" or "the 28 days to 2024-01-20T12:00:00Z"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def minutes(self) -> float:
        return self.seconds / 60


def month_window(year: int, month: int, zone_name: str) -> Window:
    """The calendar month in the zone, from local midnight of its first day to the next's."""
    tz = zone(zone_name)
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return Window(
        datetime(year, month, 1, tzinfo=tz).astimezone(UTC),
        datetime(*after, 1, tzinfo=tz).astimezone(UTC),
        f"{year:04d}-{month:02d}",
    )


def month_of(moment: datetime, zone_name: str) -> Window:
    local = moment.astimezone(zone(zone_name))
    return month_window(local.year, local.month, zone_name)


def month_named(label: str, zone_name: str) -> Window:
    """The calendar month of a ``YYYY-MM`` label."""
    year, month = map(int, label.split("-"))
    return month_window(year, month, zone_name)


def months_between(first: Window, last: Window, zone_name: str) -> list[Window]:
    """Every calendar month from ``first`` to ``last``, both included."""
    months = []
    year, month = map(int, first.label.split("-"))
    while f"{year:04d}-{month:02d}" <= last.label:
        months.append(month_window(year, month, zone_name))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class Outage(NamedTuple):
    """A production incident as the budget reads it."""

    name: str
    services: tuple[str, ...]
    detected: datetime
    resolved: datetime | None
    downtime: float | None  # minutes, when impact.downtime says; inf when too long to hold
    counted: bool  # impact.slaImpact

    @classmethod
    def of(cls, document: Document) -> Outage | None:
        """The incident's outage, or None outside production."""
        fields = IncidentFields(document.fields)
        if fields.environment != DEFAULT_ENVIRONMENT:
            return None
        resolved = fields.resolved_at
        return cls(
            name=document.name or "?",
            services=fields.services,
            detected=parse_instant(fields.detected_at),
            resolved=parse_instant(resolved) if resolved else None,
            downtime=_minutes(fields.downtime) if fields.downtime else None,
            counted=fields.sla_impact,
        )

    def span_end(self, at: datetime) -> datetime:
        """Where the incident's span ends: its resolution, or ``at`` while it is open."""
        return self.resolved if self.resolved is not None else at

    def open_at(self, at: datetime) -> bool:
        return self.resolved is None or self.resolved > at

    def charge(self, window: Window, at: datetime) -> float:
        """Minutes charged to ``window`` by what happened up to ``at``, at most its length."""
        if self.detected > at:
            return 0.0
        end = self.span_end(at)
        inside = _overlap(self.detected, min(end, at), window)
        if self.downtime is None:
            minutes = inside / 60
        elif end <= self.detected:  # no span to share it over: the period of detection
            minutes = self.downtime if window.start <= self.detected < window.end else 0.0
        elif inside <= 0:
            minutes = 0.0
        else:
            minutes = self.downtime * (inside / (end - self.detected).total_seconds())
        return min(minutes, window.minutes)


def _minutes(text: str) -> float:
    try:
        return parse_duration(text).total_seconds() / 60
    except OverflowError:  # more days than Python's timedelta holds: capped by each period
        return float("inf")
    except ValueError as error:
        if "longer than ten years" in str(error):  # such an incident is invalid; capped anyway
            return float("inf")
        raise


def _overlap(start: datetime, end: datetime, window: Window) -> float:
    """Seconds of [start, end) inside the window."""
    return max((min(end, window.end) - max(start, window.start)).total_seconds(), 0.0)


def outages(documents: Iterable[Document]) -> list[Outage]:
    """The production incidents among valid documents, oldest first."""
    found = (Outage.of(d) for d in documents if d.kind == "Incident")
    return sorted((o for o in found if o is not None), key=lambda o: (o.detected, o.name))


class Charge(NamedTuple):
    """What one incident used of a budget."""

    incident: str
    minutes: float
    detected: datetime
    resolved: datetime | None  # None: still open at the instant judged
    note: str = ""  # why it charges nothing

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.incident,
            "minutes": round(self.minutes, 3),
            "detectedAt": format_instant(self.detected),
            "resolvedAt": format_instant(self.resolved) if self.resolved else None,
            "note": self.note or None,
        }


@dataclass(frozen=True)
class Budget:
    """A service's error budget in one period, as of an instant."""

    slo: Slo
    window: Window
    at: datetime
    charges: tuple[Charge, ...]
    unread: tuple[str, ...] = ()  # why incidents may be missing (fail closed: spent)

    @property
    def service(self) -> str:
        return self.slo.service

    @property
    def allowed(self) -> float:
        """Minutes of downtime the target allows in the period."""
        return float(self.slo.budget_share * Decimal(self.window.seconds) / 60)

    @property
    def used(self) -> float:
        return min(float(sum(c.minutes for c in self.charges)), self.window.minutes)

    @property
    def left(self) -> float:
        """Minutes left (negative once overspent)."""
        return self.allowed - self.used

    @property
    def remaining(self) -> float:
        """The fraction of the budget left: 1 untouched, 0 spent, negative overspent."""
        return self.left / self.allowed if self.allowed > 0 else 0.0

    @property
    def elapsed(self) -> float:
        """The fraction of the period gone at the instant (a rolling window: all of it)."""
        if self.slo.rolling_days is not None:
            return 1.0
        gone = (min(self.at, self.window.end) - self.window.start).total_seconds()
        return min(max(gone, _MINUTE), self.window.seconds) / self.window.seconds

    @property
    def burn_rate(self) -> float:
        """How fast the budget goes compared with spending it evenly over the period: 1 uses
        it up exactly at the period's end, 2 halfway."""
        if self.allowed <= 0:
            return 0.0
        return self.used / (self.allowed * self.elapsed)

    @property
    def unknown(self) -> bool:
        """Whether an incident that may charge it could not be read."""
        return bool(self.unread)

    @property
    def exhausted(self) -> bool:
        """Spent, or not known not to be (an incident could not be read)."""
        return self.unknown or self.used >= self.allowed

    @property
    def low(self) -> bool:
        """Not spent, but below the SLO's warning threshold."""
        return not self.exhausted and self.remaining * 100 < self.slo.warn_below

    @property
    def summary(self) -> str:
        """One sentence, as the gate and the rule say it."""
        period = f"for {self.window.label}"
        burn = f"burn rate {self.burn_rate:.1f}x"
        if self.unknown:
            more = f" (and {len(self.unread) - 1} more)" if len(self.unread) > 1 else ""
            return (
                f"{self.service}'s error budget {period} cannot be counted, so it is taken as "
                f"spent: {self.unread[0]}{more}; fix it (changegate validate)"
            )
        if self.exhausted:
            return (
                f"{self.service}'s error budget {period} is spent: {self.used:.1f} of "
                f"{self.allowed:.1f} minutes used, {burn}"
            )
        return (
            f"{self.service}'s error budget {period}: {self.left:.1f} of {self.allowed:.1f} "
            f"minutes left ({self.remaining:.0%}), {burn}"
        )

    def as_cel(self) -> dict[str, Any]:
        """The value of ``errorBudget(service)``: JSON-like, the same on every CEL backend
        (minutes and fractions as doubles, instants as RFC 3339 strings)."""
        return {
            "service": self.service,
            "target": self.slo.availability,
            "period": self.slo.period,
            "start": format_instant(self.window.start),
            "end": format_instant(self.window.end),
            "allowedMinutes": round(self.allowed, 3),
            "usedMinutes": round(self.used, 3),
            "remainingMinutes": round(self.left, 3),
            "remaining": round(self.remaining, 4),
            "burnRate": round(self.burn_rate, 2),
            "exhausted": self.exhausted,
            "unknown": self.unknown,
            "low": self.low,
            "warnBelow": round(self.slo.warn_below / 100, 4),
            "incidents": [c.incident for c in self.charges if c.minutes > 0],
            "summary": self.summary,
        }

    def as_json(self) -> dict[str, Any]:
        """What ``changegate budget --format json`` writes for the service."""
        value = self.as_cel()
        value["periodLabel"] = self.window.label
        value["at"] = format_instant(self.at)
        value["incidents"] = [c.as_json() for c in self.charges]
        return value


def compute(
    slo: Slo,
    found: Sequence[Outage],
    at: datetime,
    zone_name: str,
    window: Window | None = None,
    unread: Sequence[str] = (),
) -> Budget:
    """The service's budget in ``window`` (default: the period of ``at``) as of ``at``;
    ``unread`` says why incidents may be missing from ``found``."""
    window = window or slo.window(at, zone_name)
    charges = []
    for outage in found:
        if slo.service not in outage.services:
            continue
        minutes = outage.charge(window, at)
        if minutes <= 0:
            continue
        resolved = None if outage.open_at(at) else outage.resolved
        if not outage.counted:
            note = f"slaImpact: false, so none of its {minutes:.1f} minutes count"
            charges.append(Charge(outage.name, 0.0, outage.detected, resolved, note))
            continue
        charges.append(Charge(outage.name, minutes, outage.detected, resolved))
    return Budget(slo, window, at, tuple(charges), tuple(unread))


def burn_down(
    slo: Slo, found: Sequence[Outage], at: datetime, zone_name: str, *, samples: int = 48
) -> tuple[Window, list[tuple[datetime, float]]]:
    """The budget left over the period of ``at`` up to ``at``: (instant, minutes left) at
    every incident's start and end and at ``samples`` even steps. A calendar month keeps its
    window; a rolling one is judged at each instant over the N days before it."""
    window = slo.window(at, zone_name)
    stop = min(at, window.end)
    step = (stop - window.start) / samples
    times = {window.start + step * i for i in range(samples)} | {stop}
    for outage in found:
        if slo.service in outage.services:
            times.update({outage.detected, outage.span_end(at)})
    points = []
    for moment in sorted(t for t in times if window.start <= t <= stop):
        fixed = None if slo.rolling_days is not None else window
        points.append((moment, compute(slo, found, moment, zone_name, fixed).left))
    return window, points
