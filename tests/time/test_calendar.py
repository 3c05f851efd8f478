"""Decisions over windows: what applies at an instant, what an interval conflicts with."""

from __future__ import annotations

from typing import Any

from engine.documents.config import defaults
from engine.request.approvals import Approval, ApprovalSet, Veto
from engine.time.calendar import NO_APPROVALS, Calendar
from engine.time.instants import format_instant, parse_instant
from engine.time.windows import Target
from tests.support.files import window_document as document

PROD = Target("production", ("checkout",), "normal")


def calendar(*documents: Any) -> Calendar:
    return Calendar.of(documents, defaults())


def at(text: str):
    return parse_instant(text)


def daily(name: str, start: str, end: str, **spec: Any):
    return document("ChangeWindow", name, recurrence={
        "rrule": "FREQ=DAILY", "start": start, "end": end, "from": "2024-06-01",
    }, **spec)  # fmt: skip


def freeze(name: str, start: str, end: str, **spec: Any):
    return document("FreezeWindow", name, start=start, end=end, **spec)


def messages(cal: Calendar, start: str, end: str, target: Target = PROD, **kw: Any) -> list[str]:
    kw.setdefault("passes", set())
    return [c.message for c in cal.conflicts(at(start), at(end), target, **kw)]


def names(occurrences: list[Any]) -> list[str]:
    return [o.window.name for o in occurrences]


def test_a_freeze_and_a_change_window_active_at_once_deny_wins() -> None:
    cal = calendar(
        daily("business-hours", "08:00", "18:00"),
        freeze("db-migration", "2024-06-03T12:00", "2024-06-03T14:00"),
    )
    freezes, windows = cal.active(at("2024-06-03T12:30:00Z"), PROD)
    assert (names(freezes), names(windows)) == (["db-migration"], ["business-hours"])
    assert messages(cal, "2024-06-03T12:30:00Z", "2024-06-03T13:00:00Z") == [
        "overlaps hard freeze db-migration, 2024-06-03 12:00 to 2024-06-03 14:00 UTC "
        "(2024-06-03T12:00Z to 2024-06-03T14:00Z): only an emergency change may pass a hard "
        "freeze; reschedule it after 2024-06-03 14:00 UTC"
    ]
    assert messages(cal, "2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z") == []
    # touching the freeze's end is not overlapping it: intervals are half-open
    assert messages(cal, "2024-06-03T14:00:00Z", "2024-06-03T15:00:00Z") == []
    assert messages(cal, "2024-06-03T11:00:00Z", "2024-06-03T12:00:00Z") == []


def test_several_change_windows_with_only_one_active() -> None:
    cal = calendar(
        daily("morning", "06:00", "08:00"),
        daily("afternoon", "14:00", "16:00"),
    )
    assert names(cal.active(at("2024-06-03T15:00:00Z"), PROD)[1]) == ["afternoon"]
    assert names(cal.active(at("2024-06-03T07:00:00Z"), PROD)[1]) == ["morning"]
    assert cal.active(at("2024-06-03T10:00:00Z"), PROD) == ([], [])
    assert messages(cal, "2024-06-03T15:00:00Z", "2024-06-03T15:30:00Z") == []
    assert messages(cal, "2024-06-03T10:00:00Z", "2024-06-03T10:30:00Z") == [
        "is not inside a change window for production (changes there must fall inside one of: "
        "afternoon, morning); the next one is afternoon, 2024-06-03 14:00 to 2024-06-03 16:00 "
        "UTC (2024-06-03T14:00Z to 2024-06-03T16:00Z)"
    ]
    # inside one window only in part is outside
    assert len(messages(cal, "2024-06-03T15:30:00Z", "2024-06-03T16:30:00Z")) == 1
    # emergency changes are exempt from change windows
    emergency = PROD._replace(change_type="emergency")
    assert messages(cal, "2024-06-03T10:00:00Z", "2024-06-03T10:30:00Z", emergency) == []


def test_a_change_window_for_another_scope_does_not_constrain() -> None:
    cal = calendar(daily("eu-nights", "01:00", "04:00", scope={"services": ["search"]}))
    assert messages(cal, "2024-06-03T10:00:00Z", "2024-06-03T10:30:00Z") == []


def test_a_hard_freeze_yields_only_to_an_emergency_change() -> None:
    cal = calendar(freeze("holidays", "2024-12-20T00:00", "2025-01-02T00:00", reason="peak"))
    emergency = PROD._replace(change_type="emergency")
    assert messages(cal, "2024-12-27T10:00:00Z", "2024-12-27T11:00:00Z", emergency) == []
    for kind in ("normal", "standard", "expedited", None):
        [message] = messages(
            cal, "2024-12-27T10:00:00Z", "2024-12-27T11:00:00Z", PROD._replace(change_type=kind)
        )
        assert message.startswith("overlaps hard freeze holidays (peak), 2024-12-20 00:00")
        assert message.endswith("reschedule it after 2025-01-02 00:00 UTC")
    # asking to pass a hard freeze does not help
    assert messages(cal, "2024-12-27T10:00:00Z", "2024-12-27T11:00:00Z", passes={"holidays"})


def approval(user: str, *roles: str) -> ApprovalSet:
    return ApprovalSet((Approval(user, roles, "abc", 1, "2024-01-19T10:00:00Z"),), (), {})


def test_a_soft_freeze_yields_to_its_exception_approvals() -> None:
    cal = calendar(
        document(
            "FreezeWindow",
            "fridays",
            level="soft",
            recurrence={
                "rrule": "FREQ=WEEKLY;BYDAY=FR",
                "start": "16:00",
                "duration": "64h",
                "from": "2024-01-01",
            },
            exceptions={"approvals": [{"role": "manager", "count": 1}]},
        )
    )
    window = ("2024-01-26T16:30:00Z", "2024-01-26T17:30:00Z")
    [unasked] = messages(cal, *window, approvals=approval("dana", "manager"))
    assert unasked.endswith(
        "to pass this soft freeze the change needs spec.freezeException with window: fridays "
        "and a justification, or reschedule it after 2024-01-29 08:00 UTC"
    )
    [unapproved] = messages(cal, *window, passes={"fridays"}, approvals=approval("carol", "cab"))
    assert unapproved.endswith(
        "the change needs approval from role manager (0 of 1), or reschedule it after "
        "2024-01-29 08:00 UTC"
    )
    assert messages(cal, *window, passes={"fridays"}, approvals=approval("dana", "manager")) == []
    # a manager who requested changes blocks the exception although another approved
    vetoed = approval("dana", "manager")._replace(vetoes=(Veto("erin", ("manager",), 7),))
    [blocked] = messages(cal, *window, passes={"fridays"}, approvals=vetoed)
    assert "role manager (1 of 1; changes requested by erin)" in blocked
    # outside a pull request the approvals are unknown: only the asking is judged
    assert messages(cal, *window, passes={"fridays"}, approvals=None) == []
    assert len(messages(cal, *window, approvals=None)) == 1


def test_the_next_opening_follows_a_chain_of_overlapping_freezes() -> None:
    cal = calendar(
        freeze("a", "2024-06-03T10:00", "2024-06-03T12:00"),
        freeze("b", "2024-06-03T11:30", "2024-06-03T14:00"),
        freeze("c", "2024-06-03T14:00", "2024-06-03T15:00", scope={"services": ["search"]}),
    )
    assert format_instant(cal.opens(at("2024-06-03T10:30:00Z"), PROD)) == "2024-06-03T14:00:00Z"
    search = Target("production", ("search",), "normal")
    assert format_instant(cal.opens(at("2024-06-03T10:30:00Z"), search)) == "2024-06-03T15:00:00Z"
    assert format_instant(cal.opens(at("2024-06-03T09:00:00Z"), PROD)) == "2024-06-03T09:00:00Z"


def test_the_next_opening_of_a_window_that_overlaps_its_next_occurrence() -> None:
    cal = calendar(document("FreezeWindow", "nightly", recurrence={
        "rrule": "FREQ=DAILY", "start": "20:00", "duration": "30h", "from": "2024-01-01",
        "until": "2024-01-03",
    }))  # fmt: skip
    assert format_instant(cal.opens(at("2024-01-01T21:00:00Z"), PROD)) == "2024-01-05T02:00:00Z"
    # a freeze that never ends within the horizon has no next opening
    forever = calendar(document("FreezeWindow", "always", recurrence={
        "rrule": "FREQ=DAILY", "start": "00:00", "duration": "25h",
    }))  # fmt: skip
    assert forever.opens(at("2024-01-01T21:00:00Z"), PROD) is None


def test_an_unknown_change_type_matches_a_change_type_scope() -> None:
    cal = calendar(freeze("normals", "2024-06-03T10:00", "2024-06-03T12:00",
                          scope={"changeTypes": ["normal"]}))  # fmt: skip
    unknown = PROD._replace(change_type=None)
    assert names(cal.active(at("2024-06-03T11:00:00Z"), unknown)[0]) == ["normals"]
    standard = PROD._replace(change_type="standard")
    assert cal.active(at("2024-06-03T11:00:00Z"), standard) == ([], [])


def test_upcoming_lists_every_occurrence_in_order() -> None:
    cal = calendar(
        daily("business-hours", "08:00", "18:00", scope={"environments": ["prod*"]}),
        freeze("db", "2024-06-03T12:00", "2024-06-03T14:00"),
    )
    found = cal.upcoming(at("2024-06-03T00:00:00Z"), at("2024-06-04T12:00:00Z"))
    assert [(o.window.name, format_instant(o.start)) for o in found] == [
        ("business-hours", "2024-06-03T08:00:00Z"),
        ("db", "2024-06-03T12:00:00Z"),
        ("business-hours", "2024-06-04T08:00:00Z"),
    ]
    staging = Target("staging", ("checkout",), None)
    assert names(cal.upcoming(at("2024-06-03T00:00:00Z"), at("2024-06-04T00:00:00Z"), staging)) == [
        "db"
    ]


def test_searching_by_time_finds_what_asking_every_freeze_finds() -> None:
    """Conflicts and openings from the time-indexed freezes are those of asking each matching
    freeze in turn, for one-off and recurring freezes that overlap, chain and nest."""
    import random
    from datetime import timedelta

    rng = random.Random(12)  # noqa: S311 - test data, not secrets
    documents = []
    for number in range(60):
        day = 1 + rng.randrange(27)
        hours = rng.choice([2, 24, 49])
        start = at(f"2024-03-{day:02d}T{rng.randrange(24):02d}:00:00Z")
        end = start + timedelta(hours=hours)
        scope = {"environments": ["production"]} if number % 3 else {"services": ["checkout"]}
        documents.append(
            freeze(f"once-{number}", f"{start:%Y-%m-%dT%H:%M}", f"{end:%Y-%m-%dT%H:%M}",
                   scope=scope, level=rng.choice(["hard", "soft"]))
        )  # fmt: skip
    documents.append(
        document("FreezeWindow", "fridays", level="soft", scope={"environments": ["production"]},
                 recurrence={"rrule": "FREQ=WEEKLY;BYDAY=FR", "start": "16:00", "duration": "64h",
                             "from": "2024-01-01"})
    )  # fmt: skip
    indexed = calendar(*documents)
    every = calendar(*documents)
    freezes, _ = every.matching(PROD)

    def asked_in_turn(start: Any, end: Any) -> list[str]:
        found = [o for w in freezes for o in w.occurrences(start, end)]
        return [every._freeze(o, PROD, False, set(), NO_APPROVALS) or "" for o in found]

    def opens_in_turn(moment: Any) -> Any:
        current = moment
        while covering := [o for w in freezes for o in w.at(current)]:
            current = max(o.end for o in covering)
        return current

    for _ in range(300):
        start = at("2024-03-01T00:00:00Z") + timedelta(minutes=30 * rng.randrange(1500))
        end = start + timedelta(minutes=30 * (1 + rng.randrange(20)))
        found = indexed.conflicts(start, end, PROD, passes=set())
        assert [c.message for c in found] == [m for m in asked_in_turn(start, end) if m]
        assert indexed.opens(start, PROD) == opens_in_turn(start)
        assert [o.window.name for o in indexed.active(start, PROD)[0]] == [
            o.window.name for w in freezes for o in w.at(start)
        ]
