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


class LeadTime(NamedTuple):
    """Either elapsed time or a number of business days."""

    elapsed: timedelta
    business_days: int | None = None


def parse_duration(text: str) -> timedelta:
    """Elapsed time; raises ValueError with a message that shows the accepted forms."""
    if _SHORT.match(text):
        return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))
    iso = _ISO.match(text)
    if iso:
        weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in iso.groups())
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"{text!r} is not a duration: write it like 90m, 1h30m, 5d or PT2H")


def parse_lead_time(text: str) -> LeadTime:
    business = _BUSINESS.match(text)
    if business:
        return LeadTime(timedelta(0), int(business.group(1)))
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
