from __future__ import annotations

from datetime import timedelta

import pytest

from engine.time.durations import LeadTime, format_duration, parse_duration, parse_lead_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("5d", timedelta(days=5)),
        ("2w", timedelta(weeks=2)),
        ("0s", timedelta(0)),
        ("64h", timedelta(hours=64)),
        ("PT2H", timedelta(hours=2)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(weeks=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2 hours", "", "P", "PT", "5", "h", "-1h", "1.5h", "5bd"])
def test_bad_durations_explain_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="write it like 90m, 1h30m, 5d or PT2H"):
        parse_duration(text)


def test_lead_time_in_business_days() -> None:
    assert parse_lead_time("5bd") == LeadTime(timedelta(0), 5)
    assert parse_lead_time("24h") == LeadTime(timedelta(hours=24), None)


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=49, minutes=30)) == "2d1h30m"
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(-timedelta(minutes=5)) == "-5m"
