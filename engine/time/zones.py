"""IANA time zones, always from the ``tzdata`` package and never from the host, so that a
decision replays identically on any machine; the version used goes into decision records."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo

import tzdata

from engine.suggest import did_you_mean

TZDATA_VERSION: Final = str(tzdata.IANA_VERSION)

_OFFSET: Final = re.compile(r"(?:UTC|GMT)?\s*[+-]\d{1,2}(?::?\d{2})?\Z", re.IGNORECASE)


class ZoneError(ValueError):
    """An unusable time zone name; the message says what to write instead."""


@functools.lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def check_zone_name(name: str) -> None:
    """Accept ``UTC`` and Area/Location names; reject offsets and abbreviations, which do not
    follow daylight saving time, with a message saying what to write instead."""
    if name in {"UTC", "Etc/UTC"}:
        return
    if _OFFSET.match(name) or re.fullmatch(r"Etc/GMT[+-]\d+", name):
        raise ZoneError(
            f"{name!r} is a fixed offset, not a time zone: offsets do not follow daylight "
            "saving time; use an IANA name such as Europe/Berlin (or UTC)"
        )
    if "/" not in name:
        raise ZoneError(
            f"{name!r} is an abbreviation or legacy name, not a location: use an IANA name "
            "such as Europe/Berlin or America/New_York (or UTC)"
        )
    if name not in zone_names():
        raise ZoneError(
            f"unknown time zone {name!r}"
            + (did_you_mean(name, zone_names()) or ": use an IANA name such as Europe/Berlin")
        )


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone ``name`` from the bundled tzdata (call :func:`check_zone_name` first)."""
    if name in {"UTC", "Etc/UTC"}:
        name = "Etc/UTC"
    source = resources.files("tzdata.zoneinfo").joinpath(*name.split("/"))
    with source.open("rb") as stream:
        return ZoneInfo.from_file(stream, key=name)
