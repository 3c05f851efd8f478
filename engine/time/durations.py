"""Durations as changegate writes them: ``90m``, ``1h30m``, ``5d``, ``PT2H``; lead times may
also be business days, ``5bd``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final, NamedTuple

_UNITS: Final = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SHORT: Final = re.compile(r"(?:[0-9]+[wdhms])+\Z")
_PART: Final = re.compile(r"([0-9]+)([wdhms])")
_ISO: Final = re.compile(
    r"P(?=[0-9T])(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?\Z"
)
_BUSINESS: Final = re.compile(r"([0-9]+)bd\Z")
_LONGEST: Final = 3_660 * 86_400  # seconds: ten years, far inside what datetimes can hold


class LeadTime(NamedTuple):
    """Either elapsed time or a number of business days."""

    elapsed: timedelta
    business_days: int | None = None


def parse_duration(text: str) -> timedelta:
    """Elapsed time, at most ten years; raises ValueError with a message that shows the
    accepted forms (or the limit)."""
    if _SHORT.match(text):
        seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
    elif iso := _ISO.match(text):
        weeks, days, hours, minutes, whole = (int(g) if g else 0 for g in iso.groups())
        seconds = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + whole
    else:
        raise ValueError(f"{text!r} is not a duration: write it like 90m, 1h30m, 5d or PT2H")
    if seconds > _LONGEST:
        raise ValueError(f"{text!r} is longer than ten years: no window, schedule or lead time is")
    return timedelta(seconds=seconds)


def parse_lead_time(text: str) -> LeadTime:
    business = _BUSINESS.match(text)
    if business:
        days = int(business.group(1))
        if days > _LONGEST // 86_400:
            raise ValueError(f"{text!r} is longer than ten years: no lead time is")
        return LeadTime(timedelta(0), days)
    return LeadTime(parse_duration(text))


def format_duration(delta: timedelta) -> str:
    """``timedelta(hours=49, minutes=30)`` -> ``2d1h30m``; negative values get a minus."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit in "dhms":
        size = _UNITS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + ("".join(parts) or "0s")
