"""``changegate freeze status|list``: what is frozen now, the calendar, JSON and iCalendar."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
        "calendar 2024-01-22 to 2024-01-29 (Europe/Berlin days)",
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


# --- what other calendar tools accept ---------------------------------------------------------

# RFC 5545, 3.6.5: VTIMEZONE holds TZID, LAST-MODIFIED, TZURL, x-props and IANA properties,
# then STANDARD and DAYLIGHT sub-components (where COMMENT, TZNAME and the offsets belong).
VTIMEZONE_ALLOWED = {"TZID", "LAST-MODIFIED", "TZURL"}


def test_vtimezone_holds_only_what_rfc_5545_allows_there(cli) -> None:
    calendar = ics(cli, "--from", "2024-03-01", "--days", "120", "--at", "2024-03-01T00:00:00Z")
    (timezone,) = calendar.walk("VTIMEZONE")
    assert set(timezone) <= VTIMEZONE_ALLOWED | {k for k in timezone if k.startswith("X-")}
    assert {c.name for c in timezone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def _libical() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("ical")
    if name is None:
        pytest.skip("libical is not installed (apt install libical3)")
    lib = ctypes.CDLL(name)
    lib.icalparser_parse_string.restype = ctypes.c_void_p
    lib.icalparser_parse_string.argtypes = [ctypes.c_char_p]
    for function in ("icalcomponent_count_errors", "icalrestriction_check", "icalcomponent_free"):
        getattr(lib, function).argtypes = [ctypes.c_void_p]
    lib.icalcomponent_as_ical_string.restype = ctypes.c_char_p
    lib.icalcomponent_as_ical_string.argtypes = [ctypes.c_void_p]
    return lib


def libical_errors(lib: Any, text: str) -> list[str]:
    """What libical's parser and its RFC 5545 restriction check say (X-LIC-ERROR lines)."""
    component = lib.icalparser_parse_string(text.encode())
    assert component, "libical could not parse the file at all"
    try:
        lib.icalrestriction_check(component)
        written = lib.icalcomponent_as_ical_string(component).decode()
    finally:
        lib.icalcomponent_free(component)
    unfolded = written.replace("\r\n ", "").replace("\n ", "")
    return [line for line in unfolded.splitlines() if line.startswith("X-LIC-ERROR")]


def test_libical_parses_the_calendar_without_errors(cli) -> None:
    lib = _libical()
    result = cli("freeze", "list", "--from", "2024-03-01", "--days", "120", "--format", "ics")
    assert libical_errors(lib, result.out) == []
    # a control: the COMMENT icalendar puts into VTIMEZONE is what libical rejected
    control = result.out.replace("TZID:Europe/Berlin\r\n", "TZID:Europe/Berlin\r\nCOMMENT:x\r\n", 1)
    (error,) = libical_errors(lib, control)
    assert "COMMENT property. Expected 0 instances" in error


def test_dtstamp_is_the_instant_of_at_in_utc(cli) -> None:
    calendar = ics(cli, "--from", "2024-03-01", "--days", "10", "--at", "2024-03-01T09:30:00+01:00")
    stamps = {str(e["DTSTAMP"].to_ical().decode()) for e in calendar.walk("VEVENT")}
    assert stamps == {"20240301T083000Z"}


def _repository(tmp_path: Path, name: str, origin: str | None) -> Path:
    import shutil

    from tests.support.repos import GitRepo

    root = tmp_path / name
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("contexts"))
    repo = GitRepo(root)
    if origin is not None:
        repo.repo.create_remote("origin", origin)
    return root


def _uids(cli, root: Path) -> set[str]:
    result = cli("--repo", root, "freeze", "list", "--from", "2024-12-01", "--days", "40",
                 "--format", "ics")  # fmt: skip
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(result.out).walk("VEVENT")}


def test_event_uids_are_unique_per_repository_and_stable(cli, tmp_path: Path) -> None:
    shop = _repository(tmp_path, "shop", "https://github.com/acme/shop.git")
    fork = _repository(tmp_path, "fork", "https://github.com/acme/shop-fork.git")
    same = _repository(
        tmp_path, "again", "https://x-access-token:ghs_secret@github.com/acme/shop.git"
    )
    ours, theirs = _uids(cli, shop), _uids(cli, fork)
    assert ours
    assert not ours & theirs  # two subscribed calendars never clash
    assert _uids(cli, same) == ours  # a clone elsewhere (and any token in the URL) changes nothing
    assert all(uid.endswith("@changegate") for uid in ours)
    assert not any("ghs_secret" in uid for uid in _uids(cli, same))


def test_freeze_list_days_follow_the_config_time_zone(cli) -> None:
    # acme-shop plans in Europe/Berlin: 22 January starts at 23:00 UTC the day before
    data = entries(cli, "--from", "2024-01-22", "--days", "7")
    assert (data["from"], data["to"]) == ("2024-01-21T23:00:00Z", "2024-01-28T23:00:00Z")
    # over the spring DST change a day has 23 hours: seven days still end at local midnight
    spring = entries(cli, "--from", "2024-03-25", "--days", "7")
    assert spring["to"] == "2024-03-31T22:00:00Z"
    text = cli("freeze", "list", "--from", "2024-01-22", "--days", "7").out
    assert text.splitlines()[0] == "calendar 2024-01-22 to 2024-01-29 (Europe/Berlin days)"


def test_calendar_weeks_are_weeks_in_the_config_time_zone(cli, tmp_path: Path) -> None:
    root = _repository(tmp_path, "shop", None)
    # Monday 00:30 in Berlin is still Sunday in UTC: it belongs to Monday's week
    (root / "freezes" / "monday.yaml").write_text(
        "apiVersion: changegate/v1\nkind: FreezeWindow\nmetadata: {name: monday}\n"
        "spec: {reason: r, level: hard, timezone: Europe/Berlin, start: '2024-06-10T00:30', "
        "end: '2024-06-10T02:00', scope: {environments: [staging]}}\n",
        encoding="utf-8",
    )
    result = cli("--repo", root, "freeze", "list", "--from", "2024-06-03", "--days", "14",
                 "--env", "staging")  # fmt: skip
    assert result.out.splitlines()[:4] == [
        "calendar 2024-06-03 to 2024-06-17 (Europe/Berlin days)",
        "",
        "week 24 of 2024 (from Mon 2024-06-10)",
        "  ■ 2024-06-10 00:30 to 2024-06-10 02:00 Europe/Berlin  monday (hard freeze)  "
        "[staging / every service]",
    ]
