"""The functions changegate adds to CEL, called directly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.documents.config import Config, effective
from engine.documents.loader import load_text
from engine.documents.model import identify
from engine.policy.library import Library
from engine.request.approvals import ApprovalSet
from engine.request.context import RequestContext, parse_context

NOW = datetime(2024, 3, 20, 12, tzinfo=UTC)


def library(*documents: str, context: RequestContext | None = None, **config: object) -> Library:
    loaded = []
    for text in documents:
        docs, problems = identify(load_text(text, Path("x.yaml")))
        assert problems == []
        loaded += docs
    return Library(
        now=NOW,
        config=Config(path=None, spec=effective({"timezone": "Europe/Berlin", **config})),
        documents=loaded,
        context=context or RequestContext(),
        approvals=ApprovalSet((), (), {}),
        changed=None,
    )


def release(service: str, version: str, status: str) -> str:
    return (
        f"apiVersion: changegate/v1\nkind: ReleasePlan\nmetadata: {{name: {service}-{version}}}\n"
        f"spec: {{service: {service}, version: '{version}', type: minor, targetDate: '2024-01-01',"
        f" releaseManager: a, status: {status}}}\n"
    )


def change(
    name: str, start: str, duration: str, env: str = "production", status: str = "planned"
) -> str:
    return (
        f"apiVersion: changegate/v1\nkind: ChangeRequest\nmetadata: {{name: {name}}}\n"
        f"spec: {{environment: {env}, services: [checkout], status: {status},\n"
        f"       schedule: {{start: '{start}', duration: {duration}}}}}\n"
    )


def test_schedules_add_elapsed_time_across_a_clock_change() -> None:
    lib = library()
    schedule = {"start": "2024-03-31T01:00", "duration": "2h"}  # Berlin springs forward at 2:00
    assert lib.fn_schedule_start(schedule) == datetime(2024, 3, 31, 0, tzinfo=UTC)
    assert lib.fn_schedule_end(schedule) == datetime(2024, 3, 31, 2, tzinfo=UTC)  # 04:00 CEST
    explicit = {"start": "2024-03-31T01:00", "end": "2024-03-31T04:00", "timezone": "UTC"}
    assert lib.fn_schedule_end(explicit) == datetime(2024, 3, 31, 4, tzinfo=UTC)


def test_business_days_keep_the_local_time_across_a_clock_change() -> None:
    lib = library(holidays=[{"date": "2024-04-01", "name": "Easter Monday"}])
    friday = datetime(2024, 3, 29, 9, tzinfo=UTC)  # 10:00 CET
    moved = lib.fn_add_business_days(friday, 1)  # Monday is a holiday: Tuesday, 10:00 CEST
    assert moved == datetime(2024, 4, 2, 8, tzinfo=UTC)
    assert lib.fn_business_days_between(friday, moved) == 1
    assert lib.fn_business_days_between(moved, friday) == -1


def test_submission_time_prefers_the_pull_request() -> None:
    lib = library()
    assert lib.fn_submitted_at({"date": "2024-03-01"}) == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert lib.fn_submitted_at({}) == NOW
    pr = parse_context(
        {
            "event": "pull_request",
            "pullRequest": {"author": "a", "createdAt": "2024-03-05T10:00:00Z"},
        }
    )
    assert library(context=pr).fn_submitted_at({"date": "2024-03-01"}) == datetime(
        2024, 3, 5, 10, tzinfo=UTC
    )


def test_previous_release_is_the_highest_released_older_version() -> None:
    lib = library(
        release("checkout", "2.4.0", "released"),
        release("checkout", "2.4.1", "released"),
        release("checkout", "2.6.0", "released"),
        release("checkout", "2.5.0", "planned"),
        release("catalog", "9.0.0", "released"),
    )
    assert lib.fn_previous_release("checkout-2.5.0") == "2.4.1"
    assert lib.fn_previous_release("checkout-2.4.0") == ""
    assert lib.fn_previous_release("no-such-plan") == ""


def test_overlapping_changes_are_half_open_and_per_target() -> None:
    lib = library(
        change("A", "2024-03-25T10:00", "2h"),
        change("B", "2024-03-25T11:00", "2h"),
        change("C", "2024-03-25T12:00", "1h"),
        change("D", "2024-03-25T10:30", "8h", env="staging"),
        change("E", "2024-03-25T10:30", "1h", status="cancelled"),
    )
    assert lib.fn_overlapping_changes("A") == ["B"]
    assert lib.fn_overlapping_changes("B") == ["A", "C"]
    assert lib.fn_overlapping_changes("C") == ["B"]
    assert lib.fn_overlapping_changes("E") == []


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [("2.5.3", "major", "3.0.0"), ("2.5.3", "minor", "2.6.0"), ("2.5.3", "patch", "2.5.4")],
)
def test_semver_next(version: str, bump: str, expected: str) -> None:
    assert library().fn_semver_next(version, bump) == expected


def test_small_helpers() -> None:
    lib = library(roles={"cab": {"teams": ["acme/cab"], "users": ["dana"]}})
    assert lib.fn_role_holders("cab") == "team acme/cab, user dana"
    assert "define roles.qa in changegate.yaml" in lib.fn_role_holders("qa")
    assert lib.fn_join(["a", 1], ", ") == "a, 1"
    assert lib.fn_largest([1, 3, 2]) == 3
    assert lib.fn_largest([]) == 0
    assert lib.fn_matches_any("search-api", ["catalog", "search-*"])
    assert lib.fn_requires_lead_time("normal")
    assert not lib.fn_requires_lead_time("emergency")
    assert lib.fn_change_template("nope") is None


INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata: {name: INC-7}
spec: {title: Errors, severity: SEV-2, services: [checkout], detectedAt: "2024-03-05T10:00:00Z",
       resolvedAt: "2024-03-05T10:30:00Z"}
"""
SERVICES = [{"name": "checkout", "slo": {"availability": 99.9}}, {"name": "catalog"}]


def test_error_budget_is_one_json_like_value_on_both_backends() -> None:
    from engine import cel
    from engine.cel import CelType
    from engine.policy.evaluation import plain

    lib = library(INCIDENT, services=SERVICES)
    # March in Berlin has 743 hours (clocks go forward): 0.1% is 44.58 minutes; 30 used leave
    # 14.58 (32.7%); on the 20th at 13:00 local 469 of 743 hours are gone, so the budget for
    # the time gone is 28.14 minutes and the burn rate 30 / 28.14 = 1.07
    expected = {
        "service": "checkout", "target": 99.9, "period": "month",
        "start": "2024-02-29T23:00:00Z", "end": "2024-03-31T22:00:00Z",
        "allowedMinutes": 44.58, "usedMinutes": 30.0, "remainingMinutes": 14.58,
        "remaining": 0.3271, "burnRate": 1.07, "exhausted": False, "low": False,
        "unknown": False, "warnBelow": 0.2, "incidents": ["INC-7"],
        "summary": "checkout's error budget for 2024-03: 14.6 of 44.6 minutes left (33%), "
        "burn rate 1.1x",
    }  # fmt: skip
    assert lib.fn_error_budget("checkout") == expected
    assert lib.fn_error_budget("catalog") is None  # no SLO
    assert lib.fn_error_budget("nowhere") is None  # not in the catalog
    for backend in cel.available():
        runtime = cel.create(backend, {"x": CelType.DYN}, lib.functions())
        activation = runtime.bind({"x": None})
        for expression, value in (
            ("errorBudget('checkout')", expected),
            ("errorBudget('checkout').remaining < errorBudget('checkout').warnBelow", False),
            ("errorBudget('checkout').burnRate > 1.0 && !errorBudget('checkout').exhausted", True),
            ("errorBudget('catalog') == null", True),
        ):
            assert plain(runtime.evaluate(runtime.compile(expression), activation)) == value, (
                backend,
                expression,
            )


def test_a_budget_with_an_incident_that_cannot_be_read_is_taken_as_spent() -> None:
    lib = library(INCIDENT, services=SERVICES)
    unread = [
        (Path("incidents/b.yaml"), "Incident", "Incident INC-8 is invalid"),
        (Path("x/broken.yaml"), "", "x/broken.yaml cannot be read"),
        (Path("freezes/f.yaml"), "FreezeWindow", "FreezeWindow f is invalid"),
    ]
    lib = Library(
        now=lib.now, config=lib.config, documents=lib.documents, context=lib.context,
        approvals=lib.approvals, changed=None, unread=unread,
    )  # fmt: skip
    budget = lib.fn_error_budget("checkout")
    assert budget is not None
    assert (budget["unknown"], budget["exhausted"], budget["usedMinutes"]) == (True, True, 30.0)
    assert budget["summary"] == (
        "checkout's error budget for 2024-03 cannot be counted, so it is taken as spent: "
        "Incident INC-8 is invalid (and 1 more); fix it (changegate validate)"
    )
    assert lib.unreadable == ("x/broken.yaml cannot be read", "FreezeWindow f is invalid")
    assert library(INCIDENT, services=SERVICES).fn_error_budget("checkout")["unknown"] is False
