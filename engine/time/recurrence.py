"""Reading a FreezeWindow or ChangeWindow document into a :class:`Window`: its scope, and its
RFC 5545 recurrence (python-dateutil's rrule on naive local datetimes, as its authors advise)
bounded so that no rule, however written, makes a question expensive."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from engine.documents.model import Document
from engine.time.durations import parse_duration
from engine.time.instants import in_range
from engine.time.windows import SPAN_YEARS, Window, WindowError
from engine.time.zones import zone

_FREQUENCIES: Final = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_DEFAULT_FROM: Final = date(2000, 1, 1)
# Periods of each frequency in 400 Gregorian years, after which weekdays and leap years repeat.
_CYCLE: Final = {"DAILY": 146_097, "WEEKLY": 20_871, "MONTHLY": 4_800, "YEARLY": 400}


def window_from(document: Document, default_zone: str) -> Window:
    """A schema-valid FreezeWindow or ChangeWindow document, ready to expand. Raises
    WindowError for a recurrence dateutil cannot use, with a message saying what to write."""
    spec = document.spec
    zone_name = spec.get("timezone", default_zone)
    scope = spec.get("scope", {})
    window = Window(
        document=document,
        kind=document.kind,
        name=document.name or "",
        zone_name=zone_name,
        zone=zone(zone_name),
        level=spec.get("level"),
        reason=spec.get("reason", ""),
        environments=_tuple(scope.get("environments")),
        services=_tuple(scope.get("services")),
        change_types=_tuple(scope.get("changeTypes")),
        exceptions=tuple(spec.get("exceptions", {}).get("approvals", ())),
    )
    if "recurrence" not in spec:
        window.start_local = datetime.fromisoformat(spec["start"])
        window.end_local = datetime.fromisoformat(spec["end"])
        return window
    recurrence = spec["recurrence"]
    start_time = time.fromisoformat(recurrence["start"])
    _rule(window, _one_rule(recurrence["rrule"]), recurrence, start_time)
    if "until" in recurrence:
        last = datetime.combine(date.fromisoformat(recurrence["until"]), time.max)
        window.until = min(window.until or last, last)
    _end(window, recurrence, start_time)
    window.exdates = frozenset(date.fromisoformat(d) for d in recurrence.get("exdates", ()))
    return window


def _one_rule(rrule_text: str) -> str:
    """The RRULE value, checked for what windows allow: one rule, by day at the finest, with
    an UNTIL in local time."""
    text = rrule_text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    upper = text.upper()
    if "\n" in text or "DTSTART" in upper:
        raise WindowError(
            "recurrence.rrule holds one RRULE value (FREQ=...); set the first day in "
            "recurrence.from"
        )
    for part in (p for p in upper.split(";") if p):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise WindowError(
                f"recurrence.rrule part {part!r} is not NAME=VALUE: write it like "
                "FREQ=WEEKLY;BYDAY=FR"
            )
    frequency = dict(p.split("=", 1) for p in upper.split(";") if p).get("FREQ")
    if frequency not in _FREQUENCIES:
        raise WindowError(
            f"recurrence.rrule FREQ must be one of {', '.join(_FREQUENCIES)} (got {frequency}): "
            "windows repeat by day, week, month or year"
        )
    if "UNTIL=" in upper and upper.split("UNTIL=", 1)[1].split(";")[0].endswith("Z"):
        raise WindowError(
            "recurrence.rrule UNTIL is in UTC (ends with Z), but the rule runs in local time: "
            "write it without Z, or use recurrence.until"
        )
    return text


def _rule(window: Window, text: str, recurrence: dict[str, Any], start_time: time) -> None:
    """Set the window's rule, bounded to its horizon. COUNT and UNTIL are applied while
    expanding, so that dateutil's own scan can be bounded: a rule that never matches would
    otherwise be searched until the year 9999."""
    from dateutil.rrule import rrule, rrulestr  # only windows need it

    first_day = date.fromisoformat(recurrence["from"]) if "from" in recurrence else _DEFAULT_FROM
    dtstart = datetime.combine(first_day, start_time)
    parts = [p for p in text.split(";") if p]
    kept = [p for p in parts if p.split("=", 1)[0].upper() not in {"COUNT", "UNTIL"}]
    limits = {p.split("=", 1)[0].upper(): p.split("=", 1)[1] for p in parts if p not in kept}
    window.horizon = datetime.combine(
        date(min(first_day.year + SPAN_YEARS, 9999), 12, 31), time.max
    )
    try:
        fields = {p.split("=", 1)[0].upper(): p.split("=", 1)[1] for p in kept}
        if int(fields.get("INTERVAL", "1")) < 1:
            raise ValueError(f"INTERVAL={fields['INTERVAL']} is not a positive interval")
        rule = rrulestr(";".join(kept), dtstart=dtstart)
        if not isinstance(rule, rrule):
            raise ValueError("one rule, not a set")
        window.rule = rule.replace(until=window.horizon)
        window.first = dtstart
        window.barren = _barren(";".join(kept), dtstart)
        if "COUNT" not in limits and int(fields.get("INTERVAL", "1")) == 1:
            window.resume = functools.partial(
                _resumed, ";".join(kept + _implicit(kept, dtstart)), window.horizon
            )
        if "COUNT" in limits:
            window.count = int(limits["COUNT"])
            if window.count < 0:
                raise ValueError(f"COUNT={limits['COUNT']} is not a number of occurrences")
        if "UNTIL" in limits:
            window.until = _until(limits["UNTIL"])
    except (ValueError, TypeError, ArithmeticError) as error:
        raise WindowError(f"recurrence.rrule is not a valid RFC 5545 rule: {error}") from None


def _end(window: Window, recurrence: dict[str, Any], start_time: time) -> None:
    """How an occurrence ends: an elapsed ``duration``, or a wall-clock ``end`` ``days`` on."""
    if "duration" in recurrence:
        window.duration = parse_duration(recurrence["duration"])
        if window.duration <= timedelta(0):
            raise WindowError("recurrence.duration must be longer than zero")
        return
    window.end_time = time.fromisoformat(recurrence["end"])
    default_days = 0 if window.end_time > start_time else 1
    window.end_days = int(recurrence.get("days", default_days))
    if window.end_days == 0 and window.end_time <= start_time:
        raise WindowError(
            "recurrence.end is not after recurrence.start on the same day: set days: 1"
        )


@functools.lru_cache(maxsize=256)
def _barren(rule: str, dtstart: datetime) -> bool:
    """Whether a rule matches no day at all, found in bounded time.

    dateutil checks UNTIL only against days that match, so it searches a rule that matches
    nothing (``FREQ=DAILY;BYSETPOS=2``) until the year 9999: seconds for a daily rule. Which
    days match repeats after whole 400-year cycles that are also whole intervals, so the rule
    is asked instead from its last such repetition that still leaves one cycle before 9999,
    where dateutil stops: at most two cycles of periods, found in a few tenths of a second.
    """
    from dateutil.rrule import rrulestr

    fields = dict(p.upper().split("=", 1) for p in rule.split(";"))
    frequency, interval = fields["FREQ"], int(fields.get("INTERVAL", "1"))
    cycle_periods = math.lcm(_CYCLE[frequency], interval)
    cycle_years = 400 * cycle_periods // _CYCLE[frequency]
    repeats = max(0, (9999 - cycle_years - dtstart.year) // cycle_years)
    late = dtstart.replace(year=dtstart.year + repeats * cycle_years)
    return next(iter(rrulestr(rule, dtstart=late)), None) is None


_WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _implicit(parts: list[str], first: datetime) -> list[str]:
    """The parts dateutil takes from DTSTART when a rule leaves them out, written out, so that
    the rule means the same from any later DTSTART (which then only bounds it from below)."""
    keys = {p.split("=", 1)[0].upper() for p in parts}
    frequency = next(p.split("=", 1)[1].upper() for p in parts if p.upper().startswith("FREQ="))
    extra = []
    if not keys & {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYEASTER"}:
        if frequency == "YEARLY":
            extra += [] if "BYMONTH" in keys else [f"BYMONTH={first.month}"]
            extra.append(f"BYMONTHDAY={first.day}")
        elif frequency == "MONTHLY":
            extra.append(f"BYMONTHDAY={first.day}")
        elif frequency == "WEEKLY":
            extra.append(f"BYDAY={_WEEKDAYS[first.weekday()]}")
    for key, value in (("BYHOUR", first.hour), ("BYMINUTE", first.minute), ("BYSECOND", 0)):
        if key not in keys:
            extra.append(f"{key}={value}")
    return extra


def _resumed(rule: str, horizon: datetime, start: datetime) -> Any:
    from dateutil.rrule import rrule, rrulestr

    parsed = rrulestr(rule, dtstart=start)
    if not isinstance(parsed, rrule):  # pragma: no cover - window_from parsed it as one rule
        raise WindowError(f"{rule} is not one rule")
    return parsed.replace(until=horizon)


def _until(text: str) -> datetime:
    """RRULE UNTIL in local time: a date means through that day, a date-time that instant."""
    if len(text) == 8:
        until = datetime.combine(date.fromisoformat(text), time.max)
    elif len(text) == 15 and text[8] == "T":
        until = datetime.fromisoformat(text)
    else:
        raise ValueError(f"UNTIL={text} is neither a date (YYYYMMDD) nor a local date-time")
    in_range(until.year, f"UNTIL={text}")
    return until


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None
