"""``changegate freeze status|list``: what is frozen now, the calendar, JSON and iCalendar."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import recurring_ical_events

from engine.time.instants import format_instant, parse_instant
from tests.support.files import EXAMPLES

SHOP = EXAMPLES / "acme-shop"


@pytest.fixture(autouse=True)
def _in_shop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SHOP)


def entries(cli, *args: str) -> dict[str, Any]:
    result = cli("freeze", "list", *args, "--format", "json")
    assert (result.code, result.err) == (0, "")
    return json.loads(result.out)


def test_status_says_what_is_frozen_now_and_what_is_coming(cli) -> None:
    result = cli("freeze", "status", "--at", "2024-12-20T10:00:00Z", "--days", "14")
    assert result.code == 0
    assert result.out.splitlines() == [
        "now (2024-12-20T10:00:00Z):",
        "  frozen: holiday-freeze (hard freeze) for production / every service until "
        "2025-01-02 00:00 Europe/Berlin (2025-01-01T23:00:00Z): Holiday peak traffic and "
        "reduced staffing",
        "freezes in the next 14 days:",
        "  2024-12-20 16:00 to 2024-12-23 08:00 Europe/Berlin  weekend-freeze (soft freeze) "
        "for production / every service",
        "  2024-12-27 16:00 to 2024-12-30 08:00 Europe/Berlin  weekend-freeze (soft freeze) "
        "for production / every service",
    ]
    calm = cli("freeze", "--at", "2024-06-04T10:00:00Z", "--days", "2")
    assert calm.out.splitlines() == [
        "now (2024-06-04T10:00:00Z):",
        "  nothing is frozen",
        "freezes in the next 2 days:",
        "  none",
    ]


def test_the_calendar_puts_releases_and_changes_beside_the_freezes(cli) -> None:
    result = cli("freeze", "list", "--from", "2024-01-22", "--days", "7", "--service", "checkout")
    assert result.code == 0
    assert result.out.splitlines() == [
        "calendar 2024-01-22 to 2024-01-29 (UTC days)",
        "",
        "week 4 of 2024 (from Mon 2024-01-22)",
        # still frozen when the period starts
        "  ■ 2024-01-19 16:00 to 2024-01-22 08:00 Europe/Berlin  weekend-freeze (soft freeze)  "
        "[production / every service]",
        "  • 2024-01-25 02:00 to 2024-01-25 04:00 UTC  CHG-2024-0150 (normal, medium risk)  "
        "[production / checkout]",
        "  ◆ 2024-01-25 10:00 to 2024-01-25 14:00 UTC  release checkout 2.5.0 (minor)  "
        "[production / checkout]",
        "  ■ 2024-01-26 16:00 to 2024-01-29 08:00 Europe/Berlin  weekend-freeze (soft freeze)  "
        "[production / every service]",
        "  • 2024-01-26 16:30 to 2024-01-26 17:30 Europe/Berlin  CHG-2024-0160 (normal, low "
        "risk)  [production / checkout]",
        "",
        "■ freeze  □ change window  ◆ release  • change",
    ]


def test_filters_by_environment_and_service(cli) -> None:
    window = ("--from", "2024-01-22", "--days", "3")
    everything = [e["name"] for e in entries(cli, *window)["entries"]]
    assert everything == ["weekend-freeze", "CHG-2024-0151", "catalog-v1.8.1"]
    assert [e["name"] for e in entries(cli, *window, "--service", "checkout")["entries"]] == [
        "weekend-freeze"
    ]
    assert entries(cli, *window, "--env", "staging")["entries"] == []


def test_json_names_instants_zones_and_what_is_frozen_now(cli) -> None:
    data = entries(cli, "--from", "2024-12-19", "--days", "2", "--at", "2024-12-20T10:00:00Z")
    assert data["at"] == "2024-12-20T10:00:00Z"
    assert [e["name"] for e in data["frozenNow"]] == ["holiday-freeze"]
    [holiday] = data["frozenNow"]
    assert holiday == {
        "kind": "freeze",
        "name": "holiday-freeze",
        "start": "2024-12-19T23:00:00Z",
        "end": "2025-01-01T23:00:00Z",
        "timezone": "Europe/Berlin",
        "localStart": "2024-12-20 00:00",
        "localEnd": "2025-01-02 00:00",
        "title": "holiday-freeze (hard freeze)",
        "detail": "Holiday peak traffic and reduced staffing",
        "environments": ["production"],
        "services": None,
    }


def test_bad_options_are_usage_errors(cli) -> None:
    result = cli("freeze", "list", "--from", "next tuesday")
    assert result.code == 2
    assert "--from 'next tuesday': give a date" in result.err
    assert cli("freeze", "--days", "0").code == 2
    assert cli("freeze", "--days", "100000").code == 2


def ics(cli, *args: str) -> icalendar.Calendar:
    result = cli("freeze", "list", *args, "--format", "ics")
    assert result.code == 0
    return icalendar.Calendar.from_ical(result.out)


def test_ics_round_trips_every_occurrence(cli) -> None:
    period = ("--from", "2024-03-01", "--days", "120", "--at", "2024-03-01T00:00:00Z")
    expected = [(e["start"], e["end"], e["title"]) for e in entries(cli, *period)["entries"]]
    calendar = ics(cli, *period)
    events = calendar.walk("VEVENT")
    found = [
        (
            format_instant(event.decoded("DTSTART")),
            format_instant(event.decoded("DTEND")),
            str(event["SUMMARY"]),
        )
        for event in events
    ]
    assert found == expected
    assert len(found) >= 17  # 17 weekend freezes, plus whatever is scheduled
    # each event is written in its window's zone, which the file defines
    assert {str(e["DTSTART"].params.get("TZID")) for e in events if "freeze" in e["SUMMARY"]} == {
        "Europe/Berlin"
    }
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    # the weekend the clocks go forward the freeze is 64 elapsed hours: it ends at 09:00
    easter = next(e for e in events if e.decoded("DTSTART").date().isoformat() == "2024-03-29")
    assert easter.decoded("DTEND").strftime("%Y-%m-%d %H:%M %Z") == "2024-04-01 09:00 CEST"
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_our_occurrences_agree_with_recurring_ical_events(cli) -> None:
    """An independent expansion: the weekend freeze as one RRULE event, expanded by
    recurring-ical-events, starts when the occurrences `freeze list` writes one by one do."""
    source = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:weekend\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20000107T160000\r\nDURATION:PT64H\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=FR\r\nSUMMARY:weekend-freeze\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 11, 30, tzinfo=UTC)
    theirs = [
        (e.decoded("DTSTART"), e.decoded("DTEND"))
        for e in recurring_ical_events.of(source).between(start, end)
    ]
    ours = [
        (parse_instant(e["start"]), parse_instant(e["end"]))
        for e in entries(cli, "--from", "2024-03-01", "--days", "274")["entries"]
        if e["name"] == "weekend-freeze"
    ]
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    assert len(ours) == 40  # every Friday from 1 March to 29 November
    # Ours last 64 elapsed hours (SPEC §7, and RFC 5545 for DURATION in hours), also over
    # the weekends the clocks change; recurring-ical-events adds 64 wall-clock hours there.
    assert {e - s for s, e in ours} == {timedelta(hours=64)}
    differ = [format_instant(s) for (s, e), (_, t) in zip(ours, theirs, strict=True) if e != t]
    assert differ == ["2024-03-29T15:00:00Z", "2024-10-25T14:00:00Z"]
