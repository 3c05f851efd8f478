"""Window expansion: exact half-open UTC intervals across DST, leap days and odd rules."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.documents.config import defaults
from engine.time.instants import format_instant, parse_instant
from engine.time.recurrence import window_from
from engine.time.windows import Occurrence, Target, Window, WindowError
from engine.workspace.semantics import check
from tests.support.files import window_document


def window(kind: str = "FreezeWindow", name: str = "w", **spec: Any) -> Window:
    return window_from(window_document(kind, name, **spec), "UTC")


def at(text: str) -> datetime:
    return parse_instant(text)


def spans(w: Window, start: str, end: str) -> list[tuple[str, str]]:
    return [
        (format_instant(o.start), format_instant(o.end)) for o in w.occurrences(at(start), at(end))
    ]


def one_off(kind: str, tz: str, start: str, end: str) -> list[tuple[str, str]]:
    w = window(kind, timezone=tz, start=start, end=end)
    return spans(w, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")


# --- DST: Europe/Berlin (CET +01:00, CEST +02:00) ----------------------------------------------
# 2024-03-31 02:00 CET -> 03:00 CEST (02:00-03:00 does not exist);
# 2024-10-27 03:00 CEST -> 02:00 CET (02:00-03:00 happens twice).


def test_berlin_spring_forward_start_in_the_gap_reads_the_offset_before_it() -> None:
    # 02:30 does not exist; read at +01:00 it is 01:30Z, i.e. 03:30 CEST
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=DAILY", "start": "02:30", "duration": "1h", "from": "2024-03-30",
    })  # fmt: skip
    assert spans(w, "2024-03-30T00:00:00Z", "2024-04-02T00:00:00Z") == [
        ("2024-03-30T01:30:00Z", "2024-03-30T02:30:00Z"),
        ("2024-03-31T01:30:00Z", "2024-03-31T02:30:00Z"),
        ("2024-04-01T00:30:00Z", "2024-04-01T01:30:00Z"),
    ]


def test_berlin_spring_forward_end_in_the_gap() -> None:
    for kind in ("FreezeWindow", "ChangeWindow"):
        assert one_off(kind, "Europe/Berlin", "2024-03-30T12:00", "2024-03-31T02:30") == [
            ("2024-03-30T11:00:00Z", "2024-03-31T01:30:00Z")
        ]


def test_an_elapsed_duration_over_spring_forward_ends_an_hour_later_on_the_wall_clock() -> None:
    # SPEC §7: 64h from Friday 16:00 CET ends Monday 09:00 CEST
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=FR", "start": "16:00", "duration": "64h", "from": "2024-03-22",
    })  # fmt: skip
    assert spans(w, "2024-03-22T00:00:00Z", "2024-04-06T00:00:00Z") == [
        ("2024-03-22T15:00:00Z", "2024-03-25T07:00:00Z"),  # 16:00 CET to 08:00 CET
        ("2024-03-29T15:00:00Z", "2024-04-01T07:00:00Z"),  # 16:00 CET to 09:00 CEST
        ("2024-04-05T14:00:00Z", "2024-04-08T06:00:00Z"),  # 16:00 CEST to 08:00 CEST
    ]


def test_a_wall_clock_end_over_spring_forward_keeps_its_local_time() -> None:
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=FR", "start": "16:00", "end": "08:00", "days": 3,
        "from": "2024-03-29", "until": "2024-03-29",
    })  # fmt: skip
    assert spans(w, "2024-03-01T00:00:00Z", "2024-05-01T00:00:00Z") == [
        ("2024-03-29T15:00:00Z", "2024-04-01T06:00:00Z")  # Monday 08:00 CEST
    ]


def test_berlin_fall_back_a_freeze_takes_the_widest_reading() -> None:
    # 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET)
    assert one_off("FreezeWindow", "Europe/Berlin", "2024-10-27T02:30", "2024-10-27T05:00") == [
        ("2024-10-27T00:30:00Z", "2024-10-27T04:00:00Z")
    ]
    assert one_off("FreezeWindow", "Europe/Berlin", "2024-10-27T00:00", "2024-10-27T02:30") == [
        ("2024-10-26T22:00:00Z", "2024-10-27T01:30:00Z")
    ]


def test_berlin_fall_back_a_change_window_takes_the_narrowest_reading() -> None:
    assert one_off("ChangeWindow", "Europe/Berlin", "2024-10-27T02:30", "2024-10-27T05:00") == [
        ("2024-10-27T01:30:00Z", "2024-10-27T04:00:00Z")
    ]
    assert one_off("ChangeWindow", "Europe/Berlin", "2024-10-27T00:00", "2024-10-27T02:30") == [
        ("2024-10-26T22:00:00Z", "2024-10-27T00:30:00Z")
    ]


def test_a_recurring_end_in_the_repeated_hour() -> None:
    # 22:00 to 02:30 the next day, Saturday night into the fall-back Sunday
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=SA", "start": "22:00", "end": "02:30",
        "from": "2024-10-26", "until": "2024-10-26",
    })  # fmt: skip
    assert spans(w, "2024-10-01T00:00:00Z", "2024-11-01T00:00:00Z") == [
        ("2024-10-26T20:00:00Z", "2024-10-27T01:30:00Z")
    ]


# --- DST: America/New_York (EST -05:00, EDT -04:00) -------------------------------------------
# 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST.


def test_new_york_spring_forward_0230_is_0330_edt() -> None:
    # SPEC §7's example: 02:30 on spring-forward day is 03:30 EDT = 07:30Z
    for kind in ("FreezeWindow", "ChangeWindow"):
        assert one_off(kind, "America/New_York", "2024-03-10T02:30", "2024-03-10T06:00") == [
            ("2024-03-10T07:30:00Z", "2024-03-10T10:00:00Z")
        ]


def test_new_york_fall_back_starts_and_ends() -> None:
    # 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST)
    assert one_off("FreezeWindow", "America/New_York", "2024-11-03T01:30", "2024-11-03T03:00") == [
        ("2024-11-03T05:30:00Z", "2024-11-03T08:00:00Z")
    ]
    assert one_off("ChangeWindow", "America/New_York", "2024-11-03T01:30", "2024-11-03T03:00") == [
        ("2024-11-03T06:30:00Z", "2024-11-03T08:00:00Z")
    ]
    assert one_off("FreezeWindow", "America/New_York", "2024-11-02T22:00", "2024-11-03T01:30") == [
        ("2024-11-03T02:00:00Z", "2024-11-03T06:30:00Z")
    ]
    assert one_off("ChangeWindow", "America/New_York", "2024-11-02T22:00", "2024-11-03T01:30") == [
        ("2024-11-03T02:00:00Z", "2024-11-03T05:30:00Z")
    ]


def test_new_york_daily_window_over_both_changes() -> None:
    w = window("ChangeWindow", timezone="America/New_York", recurrence={
        "rrule": "FREQ=DAILY", "start": "09:00", "end": "17:00", "from": "2024-03-09",
    })  # fmt: skip
    assert spans(w, "2024-03-09T00:00:00Z", "2024-03-11T00:00:00Z") == [
        ("2024-03-09T14:00:00Z", "2024-03-09T22:00:00Z"),
        ("2024-03-10T13:00:00Z", "2024-03-10T21:00:00Z"),
    ]
    assert spans(w, "2024-11-03T00:00:00Z", "2024-11-05T00:00:00Z") == [
        ("2024-11-03T14:00:00Z", "2024-11-03T22:00:00Z"),
        ("2024-11-04T14:00:00Z", "2024-11-04T22:00:00Z"),
    ]


# --- Australia/Lord_Howe: a 30-minute shift (+10:30 standard, +11:00 summer) -----------------
# 2024-04-07 02:00 +11:00 -> 01:30 +10:30 (01:30-02:00 twice);
# 2024-10-06 02:00 +10:30 -> 02:30 +11:00 (02:00-02:30 does not exist).


def test_lord_howe_half_hour_gap() -> None:
    # 02:15 does not exist; read at +10:30 (before the gap) it is 15:45Z the day before
    for kind in ("FreezeWindow", "ChangeWindow"):
        assert one_off(kind, "Australia/Lord_Howe", "2024-10-06T02:15", "2024-10-06T04:00") == [
            ("2024-10-05T15:45:00Z", "2024-10-05T17:00:00Z")
        ]


def test_lord_howe_half_hour_repeat() -> None:
    # 01:45 happens at 14:45Z (+11:00) and again at 15:15Z (+10:30)
    assert one_off(
        "FreezeWindow", "Australia/Lord_Howe", "2024-04-07T01:45", "2024-04-07T03:00"
    ) == [("2024-04-06T14:45:00Z", "2024-04-06T16:30:00Z")]
    assert one_off(
        "ChangeWindow", "Australia/Lord_Howe", "2024-04-07T01:45", "2024-04-07T03:00"
    ) == [("2024-04-06T15:15:00Z", "2024-04-06T16:30:00Z")]
    # a 1h elapsed duration from the widest start ends half an hour "early" on the wall clock
    w = window(timezone="Australia/Lord_Howe", recurrence={
        "rrule": "FREQ=DAILY;COUNT=1", "start": "01:45", "duration": "1h", "from": "2024-04-07",
    })  # fmt: skip
    assert spans(w, "2024-04-01T00:00:00Z", "2024-04-10T00:00:00Z") == [
        ("2024-04-06T14:45:00Z", "2024-04-06T15:45:00Z")
    ]


# --- half-open intervals ----------------------------------------------------------------------


def test_an_instant_at_the_start_is_inside_and_at_the_end_is_not() -> None:
    w = window(timezone="Europe/Berlin", start="2024-06-01T10:00", end="2024-06-01T12:00")
    assert [format_instant(o.start) for o in w.at(at("2024-06-01T08:00:00Z"))] == [
        "2024-06-01T08:00:00Z"
    ]
    assert w.at(at("2024-06-01T09:59:59.999999Z")) != []
    assert w.at(at("2024-06-01T10:00:00Z")) == []
    assert w.at(at("2024-06-01T07:59:59.999999Z")) == []


def test_a_freeze_across_new_year() -> None:
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20", "start": "00:00", "end": "00:00",
        "days": 13,
    })  # fmt: skip
    expected = ("2024-12-19T23:00:00Z", "2025-01-01T23:00:00Z")
    # asked about early January, the occurrence that started in December is found
    assert spans(w, "2025-01-01T12:00:00Z", "2025-01-01T13:00:00Z") == [expected]
    assert spans(w, "2024-06-01T00:00:00Z", "2025-06-01T00:00:00Z") == [expected]
    assert w.at(at("2024-12-31T23:30:00Z")) != []
    assert w.at(at("2025-01-01T23:00:00Z")) == []


# --- calendar rules ---------------------------------------------------------------------------


def starts(w: Window, start: str, end: str) -> list[str]:
    return [s for s, _ in spans(w, start, end)]


def test_feb_29_occurs_only_in_leap_years() -> None:
    w = window(recurrence={
        "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "start": "10:00", "duration": "1h",
        "from": "2023-01-01",
    })  # fmt: skip
    assert starts(w, "2023-01-01T00:00:00Z", "2033-01-01T00:00:00Z") == [
        "2024-02-29T10:00:00Z",
        "2028-02-29T10:00:00Z",
        "2032-02-29T10:00:00Z",
    ]


def test_bymonthday_31_skips_short_months() -> None:
    w = window(recurrence={
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=31", "start": "22:00", "duration": "4h",
        "from": "2024-01-01",
    })  # fmt: skip
    assert spans(w, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z") == [
        (f"2024-{m}-31T22:00:00Z", end)
        for m, end in [
            ("01", "2024-02-01T02:00:00Z"),
            ("03", "2024-04-01T02:00:00Z"),
            ("05", "2024-06-01T02:00:00Z"),
            ("07", "2024-08-01T02:00:00Z"),
            ("08", "2024-09-01T02:00:00Z"),
            ("10", "2024-11-01T02:00:00Z"),
            ("12", "2025-01-01T02:00:00Z"),
        ]
    ]


def test_bysetpos_minus_one_is_the_last_business_day() -> None:
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "start": "12:00",
        "end": "18:00", "from": "2024-01-01",
    })  # fmt: skip
    assert spans(w, "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z") == [
        ("2024-01-31T11:00:00Z", "2024-01-31T17:00:00Z"),  # Wednesday
        ("2024-02-29T11:00:00Z", "2024-02-29T17:00:00Z"),  # Thursday, leap day
        ("2024-03-29T11:00:00Z", "2024-03-29T17:00:00Z"),  # Friday, still CET
        ("2024-04-30T10:00:00Z", "2024-04-30T16:00:00Z"),  # Tuesday, CEST
        ("2024-05-31T10:00:00Z", "2024-05-31T16:00:00Z"),  # Friday
        ("2024-06-28T10:00:00Z", "2024-06-28T16:00:00Z"),  # Friday (30th is a Sunday)
    ]


def test_exdates_and_until() -> None:
    w = window(recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=FR", "start": "16:00", "duration": "2h",
        "from": "2024-12-01", "exdates": ["2024-12-27"], "until": "2025-01-10",
    })  # fmt: skip
    assert starts(w, "2024-12-01T00:00:00Z", "2025-03-01T00:00:00Z") == [
        "2024-12-06T16:00:00Z",
        "2024-12-13T16:00:00Z",
        "2024-12-20T16:00:00Z",
        "2025-01-03T16:00:00Z",
        "2025-01-10T16:00:00Z",
    ]


def test_a_window_that_overlaps_its_next_occurrence() -> None:
    w = window(recurrence={
        "rrule": "FREQ=DAILY", "start": "20:00", "duration": "30h", "from": "2024-01-01",
        "until": "2024-01-03",
    })  # fmt: skip
    assert spans(w, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z") == [
        ("2024-01-01T20:00:00Z", "2024-01-03T02:00:00Z"),
        ("2024-01-02T20:00:00Z", "2024-01-04T02:00:00Z"),
        ("2024-01-03T20:00:00Z", "2024-01-05T02:00:00Z"),
    ]
    assert len(w.at(at("2024-01-02T21:00:00Z"))) == 2


def test_expansion_is_lazy_for_a_far_question() -> None:
    w = window(recurrence={"rrule": "FREQ=YEARLY", "start": "00:00", "duration": "1h"})
    assert starts(w, "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z") == ["2030-01-01T00:00:00Z"]
    assert len(w._starts) <= 2  # from the question on, not from 2000


def test_a_window_asked_later_then_earlier_starts_over() -> None:
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY", "start": "16:00", "duration": "1h", "from": "2000-01-07",
    })  # fmt: skip
    assert starts(w, "2030-01-01T00:00:00Z", "2030-01-08T00:00:00Z") == ["2030-01-04T15:00:00Z"]
    assert len(w._starts) < 10  # not 1,500 Fridays since 2000
    # BYDAY came from the first day (a Friday) and stays Friday from any later start
    assert starts(w, "2000-01-01T00:00:00Z", "2000-01-15T00:00:00Z") == [
        "2000-01-07T15:00:00Z",
        "2000-01-14T15:00:00Z",
    ]
    assert starts(w, "2030-01-01T00:00:00Z", "2030-01-08T00:00:00Z") == ["2030-01-04T15:00:00Z"]
    # a rule with COUNT or INTERVAL depends on its first day, and is expanded from it
    biweekly = window(recurrence={
        "rrule": "FREQ=WEEKLY;INTERVAL=2", "start": "16:00", "duration": "1h", "from": "2000-01-07",
    })  # fmt: skip
    assert biweekly.resume is None
    assert starts(biweekly, "2030-01-01T00:00:00Z", "2030-01-15T00:00:00Z") == [
        "2030-01-11T16:00:00Z"
    ]


def test_a_rule_is_expanded_for_200_years_and_asking_later_fails() -> None:
    w = window(recurrence={"rrule": "FREQ=DAILY", "start": "00:00", "duration": "1h"})
    assert w.at(at("2200-12-31T00:30:00Z")) != []
    with pytest.raises(WindowError, match=r"to 2200-12-31\) .* set recurrence.from closer"):
        w.at(at("2201-01-01T00:30:00Z"))
    # a rule that ends (COUNT, UNTIL) answers for any time
    ending = window(recurrence={"rrule": "FREQ=DAILY;COUNT=3", "start": "00:00", "duration": "1h"})
    assert ending.at(at("2800-01-01T00:30:00Z")) == []
    assert starts(ending, "1999-01-01T00:00:00Z", "2001-01-01T00:00:00Z") == [
        "2000-01-01T00:00:00Z",
        "2000-01-02T00:00:00Z",
        "2000-01-03T00:00:00Z",
    ]


@pytest.mark.parametrize(
    ("rule", "barren", "occurs"),
    [
        ("FREQ=DAILY;BYSETPOS=-2", True, False),  # one time a day: no second-to-last
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31", True, False),
        ("FREQ=DAILY;INTERVAL=7;BYDAY=TU", True, False),  # from a Saturday: only Saturdays
        ("FREQ=DAILY;INTERVAL=7;BYDAY=SA", False, True),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", False, True),  # 2016, 2044, ...
        ("FREQ=DAILY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29", False, False),  # first in 2204
    ],
)
def test_a_rule_that_never_matches_is_found_without_searching_to_9999(
    rule: str, barren: bool, occurs: bool
) -> None:
    # dateutil alone searches the first one day by day until the year 9999 (20 s)
    w = window(recurrence={"rrule": rule, "start": "10:00", "duration": "1h", "from": "2000-01-01"})
    assert w.barren is barren
    assert w.ever_occurs() is occurs  # within the 200 years a rule is expanded for


def test_rrule_until_is_local_and_a_date_means_through_that_day() -> None:
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=FR;UNTIL=20240112", "start": "16:00", "duration": "1h",
        "from": "2024-01-01",
    })  # fmt: skip
    assert starts(w, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z") == [
        "2024-01-05T15:00:00Z",
        "2024-01-12T15:00:00Z",
    ]
    w = window(timezone="Europe/Berlin", recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=FR;UNTIL=20240112T155959", "start": "16:00",
        "duration": "1h", "from": "2024-01-01", "until": "2024-03-01",
    })  # fmt: skip
    assert starts(w, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z") == ["2024-01-05T15:00:00Z"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=HOURLY", "FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY"),
        ("FREQ=WEEKLY;UNTIL=20241231T000000Z", "UNTIL is in UTC"),
        ("DTSTART:20240101T000000\nRRULE:FREQ=DAILY", "holds one RRULE value"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid RFC 5545 rule"),
    ],
)
def test_rules_that_cannot_be_used_say_why(rule: str, message: str) -> None:
    doc = window_document(recurrence={"rrule": rule, "start": "10:00", "duration": "1h"})
    with pytest.raises(WindowError, match=message):
        window_from(doc, "UTC")
    found = check(doc, defaults())
    assert [f.outcome.value for f in found] == ["fail"]
    assert message.split()[0] in found[0].message


def test_a_window_that_never_occurs_is_a_warning() -> None:
    doc = window_document(recurrence={
        "rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "start": "10:00", "duration": "1h",
    })  # fmt: skip
    [finding] = check(doc, defaults())
    assert finding.severity.value == "warn"
    assert "never occurs" in finding.message
    doc = window_document(recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=MO", "start": "10:00", "duration": "1h",
        "from": "2024-01-01", "until": "2024-01-07", "exdates": ["2024-01-01"],
    })  # fmt: skip
    assert [f.severity.value for f in check(doc, defaults())] == ["warn"]


# --- scope ------------------------------------------------------------------------------------


def test_scope_is_and_across_fields_and_or_within_with_globs() -> None:
    w = window(scope={
        "environments": ["prod*", "staging"], "services": ["pay*", "checkout"],
        "changeTypes": ["normal", "expedited"],
    }, start="2024-01-01T00:00", end="2024-01-02T00:00")  # fmt: skip
    assert w.applies_to(Target("production", ("payments",), "normal"))
    assert w.applies_to(Target("staging", ("checkout",), "expedited"))
    assert w.applies_to(Target("prod-eu", ("search", "payouts"), None))  # one service of several
    assert not w.applies_to(Target("dev", ("payments",), "normal"))  # environment fails
    assert not w.applies_to(Target("production", ("search",), "normal"))  # service fails
    assert not w.applies_to(Target("production", ("payments",), "standard"))  # type fails
    everything = window(start="2024-01-01T00:00", end="2024-01-02T00:00")
    assert everything.applies_to(Target("anything", ("at-all",), "emergency"))


# --- agreement with python-dateutil -----------------------------------------------------------

_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={frequency}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(_DAYS), min_size=1, max_size=5, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    if frequency in {"MONTHLY", "YEARLY"} and draw(st.booleans()):
        days = draw(
            st.lists(st.integers(-31, 31).filter(bool), min_size=1, max_size=3, unique=True)
        )
        parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    if frequency == "YEARLY" and draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    # BYSETPOS over sets of several days (else the rule may never match, and dateutil alone,
    # the reference here, searches it until the year 9999)
    text = ";".join(parts)
    settable = frequency in {"MONTHLY", "YEARLY"} and "BYDAY=" in text
    if settable and "BYMONTHDAY" not in text and draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, 2, -1, -2]))}")
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 40))}")
    return ";".join(parts)


def _in_gap(local: datetime, zone: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local


@settings(max_examples=150, deadline=None)
@given(
    rule=rules(),
    first=st.dates(date(2020, 1, 1), date(2026, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    zone_name=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    skip=st.lists(st.integers(0, 30), max_size=3),
    middle_index=st.integers(0, 59),
)
def test_local_starts_agree_with_dateutil(
    rule: str,
    first: date,
    hour: int,
    minute: int,
    zone_name: str,
    skip: list[int],
    middle_index: int,
) -> None:
    begin = datetime.combine(first, time(hour, minute))
    with warnings.catch_warnings():  # COUNT with an until: dateutil applies both, and warns
        warnings.simplefilter("ignore", DeprecationWarning)
        bounded = rrulestr(rule, dtstart=begin).replace(until=begin + timedelta(days=366 * 30))
    reference = list(islice(bounded, 60))
    exdates = sorted({reference[i].date().isoformat() for i in skip if i < len(reference)})
    recurrence: dict[str, Any] = {"rrule": rule, "start": f"{hour:02}:{minute:02}"}
    recurrence |= {"duration": "10m", "from": first.isoformat()}
    if exdates:
        recurrence["exdates"] = exdates
    w = window(timezone=zone_name, recurrence=recurrence)
    expected = [d for d in reference if d.date().isoformat() not in exdates]
    if not expected:
        assert (
            w.occurrences(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)) == []
        )
        return
    zone = w.zone
    high = (expected[-1] + timedelta(minutes=1)).replace(tzinfo=zone)
    _agree(w.occurrences((begin - timedelta(days=2)).replace(tzinfo=zone), high), expected)
    # asked first about a later time, a window expands from there (where COUNT and INTERVAL
    # allow), and must find the same occurrences
    later = window(timezone=zone_name, recurrence=recurrence)
    middle = expected[middle_index % len(expected)]
    tail = [d for d in expected if d >= middle]
    _agree(later.occurrences(middle.replace(tzinfo=zone), high), tail)


def _agree(found: list[Occurrence], expected: list[datetime]) -> None:
    zone = found[0].window.zone if found else UTC
    local = [o.start.astimezone(zone).replace(tzinfo=None) for o in found]
    assert len(local) == len(expected), (local, expected)
    for mine, theirs in zip(local, expected, strict=True):
        # the same wall-clock time, except a start in a DST gap, which moves on by the gap
        if _in_gap(theirs, zone):  # type: ignore[arg-type]
            assert timedelta(0) < mine - theirs <= timedelta(hours=1), (mine, theirs)
        else:
            assert mine == theirs
