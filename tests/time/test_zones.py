from __future__ import annotations

from datetime import datetime

import pytest

from engine.time.zones import TZDATA_VERSION, ZoneError, check_zone_name, zone


@pytest.mark.parametrize(
    "name", ["UTC", "Etc/UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"]
)
def test_iana_names_are_accepted(name: str) -> None:
    check_zone_name(name)
    assert zone(name).utcoffset(datetime(2024, 1, 1)) is not None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("CET", "abbreviation"),
        ("EST", "abbreviation"),
        ("PST8PDT", "abbreviation"),
        ("+01:00", "fixed offset"),
        ("UTC+2", "fixed offset"),
        ("GMT-5", "fixed offset"),
        ("Etc/GMT+5", "fixed offset"),
        ("Europe/Berln", "did you mean 'Europe/Berlin'?"),
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_offsets_abbreviations_and_typos_are_rejected(name: str, message: str) -> None:
    with pytest.raises(ZoneError, match=message.replace("?", r"\?").replace("+", r"\+")):
        check_zone_name(name)


def test_zones_come_from_the_tzdata_package() -> None:
    assert TZDATA_VERSION[:4].isdigit()
    berlin = zone("Europe/Berlin")
    assert berlin.key == "Europe/Berlin"
    # the zone's rules, not the host's: summer and winter offsets of 2024
    assert berlin.utcoffset(datetime(2024, 7, 1)).total_seconds() == 7200
    assert berlin.utcoffset(datetime(2024, 1, 1)).total_seconds() == 3600
