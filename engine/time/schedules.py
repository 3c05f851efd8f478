"""Schedules (a change request's ``spec.schedule``, a release plan's ``spec.window``) as
half-open UTC intervals: wall-clock times in the schedule's own zone, else the config's; a
``duration`` is elapsed time, added to the start instant so a clock change does not stretch it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.time.durations import parse_duration
from engine.time.instants import parse_datetime


def interval(schedule: Mapping[str, Any], default_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a schedule; a KeyError or ValueError when it has no usable times."""
    zone_name = str(schedule.get("timezone") or default_zone)
    start, end, length = schedule["start"], schedule.get("end"), schedule.get("duration")
    if end is None and length is None:
        raise KeyError("duration")
    if isinstance(start, str) and isinstance(end or length, str):
        return _remembered(start, end, length, zone_name)
    return _interval(start, end, length, zone_name)  # not text: it raises, as it should


@functools.lru_cache(maxsize=4096)
def _remembered(
    start: str, end: str | None, length: str | None, zone: str
) -> tuple[datetime, datetime]:
    """A run asks about each change's schedule several times (its conflicts, its overlaps,
    its lead time, the timeline of its target)."""
    return _interval(start, end, length, zone)


def _interval(start: Any, end: Any, length: Any, zone_name: str) -> tuple[datetime, datetime]:
    first = parse_datetime(start, zone_name)
    if end is not None:
        return first, parse_datetime(end, zone_name)
    return first, first + duration(length)


def covers(schedule: Mapping[str, Any], default_zone: str, moment: datetime) -> bool:
    """Whether the schedule holds ``moment``; a schedule without usable times holds nothing."""
    try:
        start, end = interval(schedule, default_zone)
    except (KeyError, ValueError, OverflowError):
        return False
    return start <= moment < end


@functools.lru_cache(maxsize=256)
def duration(text: str) -> timedelta:
    return parse_duration(text)
