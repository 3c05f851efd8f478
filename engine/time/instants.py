"""Parsing the date and time strings of documents into timezone-aware values.

The loader keeps every date-like scalar as a string; this module is where they become times,
always with a zone: a string with an offset is exact, one without is wall-clock time in the
zone the document (or the config) names.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from typing import Final

from engine.time.zones import zone

# The years changegate computes with. Python's calendar ends at 9999, and windows, lead times
# and "next opening" searches reach centuries past the times asked about: a bound well inside
# it turns 9999-12-31 or 0001-01-01 into a clear error instead of an overflow deep in a run.
FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2999


def in_range(year: int, text: str) -> None:
    """A ValueError naming ``text`` when ``year`` is outside the years changegate handles."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(
            f"{text!r} is outside the years changegate computes with ({FIRST_YEAR} to "
            f"{LAST_YEAR}): write a real date"
        )


def parse_date(text: str) -> date:
    value = date.fromisoformat(text)
    in_range(value.year, text)
    return value


def has_offset(text: str) -> bool:
    return text.endswith(("Z", "z")) or (len(text) > 19 and text[-6] in "+-")


_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"
)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant (with Z or an offset), returned in UTC; the year is checked as
    written and in UTC (an offset cannot carry an instant out of range)."""
    if not _RFC3339.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 time: write it like 2024-01-25T10:00:00Z")
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no offset: write it like 2024-01-25T10:00:00Z")
    in_range(value.year, text)
    utc = value.astimezone(UTC)
    in_range(utc.year, text)
    return utc


def parse_local(text: str) -> datetime:
    """A wall-clock date-time without offset (naive)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        raise ValueError(f"{text!r} has an offset; a local time here has none")
    in_range(value.year, text)
    return value


def parse_datetime(text: str, zone_name: str) -> datetime:
    """A date-time, or a date meaning its midnight, with or without offset; naive values are
    wall-clock time in ``zone_name``. Returned in UTC."""
    if "T" not in text:
        local = datetime.combine(parse_date(text), time(0), tzinfo=zone(zone_name))
    elif has_offset(text):
        return parse_instant(text)
    else:
        local = parse_local(text).replace(tzinfo=zone(zone_name))
    utc = local.astimezone(UTC)
    in_range(utc.year, text)
    return utc


def format_instant(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, seconds precision: the one way instants are written out."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def in_zone(value: datetime, zone_name: str) -> datetime:
    tz: tzinfo = zone(zone_name)
    return value.astimezone(tz)
