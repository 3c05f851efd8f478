"""The deployment protection App end to end: uvicorn serving it on 127.0.0.1, deliveries built
and signed as GitHub sends them (checked against GitHub's webhook description), a fake GitHub
answering the token exchange and the callback (checked against GitHub's OpenAPI description),
and real git repositories as the source. The App's clock is pinned."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.app import (
    BEFORE,
    CONFIG,
    FREEZE,
    Clock,
    Origin,
    Running,
    answers,
    decisions,
    protection_body,
    wait_for,
)
from tests.support.fakegithub import FakeGitHub

REPO = "/repos/acme-shop/shop"


def answered(app_github: FakeGitHub, count: int = 1) -> list[dict[str, Any]]:
    wait_for(lambda: len(answers(app_github)) >= count)
    return [c.body for c in answers(app_github)]


def paths(app_github: FakeGitHub) -> list[str]:
    return [f"{c.method} {c.path} -> {c.status}" for c in app_github.calls]


# --- the decision -------------------------------------------------------------------------------


def test_a_deploy_during_a_hard_freeze_is_rejected_with_the_gates_reasons(
    app: Running, app_github: FakeGitHub, origin: Origin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "changegate.app")
    answer, delivery = app.deliver(protection_body(run_id=77))
    assert (answer.status, answer.body) == (202, {"message": "accepted"})
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert body["environment_name"] == "production"
    assert body["comment"].startswith(
        "changegate rejects the deployment to production of checkout (judged at "
        "2024-12-23T10:00:00Z against main at "
    )
    assert (
        "frozen by hard freeze holiday-freeze \\(Holiday peak traffic\\) until 2025-01-02"
        in (body["comment"])
    )
    assert paths(app_github) == [
        "POST /app/installations/99/access_tokens -> 201",
        "GET /orgs/acme-shop/teams/cab/members -> 200",
        f"GET {REPO}/commits/{origin.work.repo.head.commit.hexsha}/check-runs -> 200",
        f"GET {REPO}/commits/{origin.work.repo.head.commit.hexsha}/status -> 200",
        f"POST {REPO}/actions/runs/77/deployment_protection_rule -> 204",
    ]
    wait_for(lambda: bool(decisions(caplog.records)))
    [line] = decisions(caplog.records)
    assert line["delivery"] == delivery
    assert (line["repository"], line["run"]) == ("acme-shop/shop", 77)
    assert line["environment"] == "production"
    assert line["decision"] == "rejected"
    assert line["reasons"][0].startswith("frozen by hard freeze holiday-freeze")
    assert line["at"] == "2024-12-23T10:00:00Z"


def test_outside_the_freeze_the_deploy_is_approved(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "approved"
    assert "no freeze applies to checkout in production now" in body["comment"]


def test_an_environment_in_another_case_is_the_configs_and_answered_as_github_spells_it(
    app: Running, app_github: FakeGitHub
) -> None:
    app.deliver(protection_body(environment="Production"))
    [body] = answered(app_github)
    assert (body["state"], body["environment_name"]) == ("rejected", "Production")
    assert "frozen by hard freeze holiday-freeze" in body["comment"]


def test_an_unknown_environment_is_rejected_with_a_suggestion(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body(environment="prod"))
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert (
        "the deployment's environment 'prod': changegate.yaml lists no such environment"
        in (body["comment"])
    )
    assert "did you mean 'production'?" in body["comment"]


def test_an_environment_without_services_in_a_repository_of_several_is_rejected(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body(environment="qa"))
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert "cannot tell which service the deployment to qa deploys" in body["comment"]
    assert "environments\\[\\].services" in body["comment"]  # escaped markdown


@pytest.mark.parametrize(
    ("service", "reason"),
    [
        ("check*", "the deployment payload's service 'check\\*' is a pattern, not a service name"),
        ("billing", "the deployment payload's service 'billing': changegate.yaml lists no such"),
        (["checkout"], "the deployment payload's service is a JSON list, not a text"),
        ("x" * 300, "the deployment payload's service is a text of 300 characters"),
    ],
)
def test_a_payload_service_that_is_a_glob_unknown_or_not_a_name_is_rejected(
    app: Running, app_github: FakeGitHub, clock: Clock, service: Any, reason: str
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body(environment="qa", payload={"service": service}))
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert reason in body["comment"]


def test_the_payload_service_is_judged_alone(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body(environment="qa", payload='{"service": "payments"}'))
    [body] = answered(app_github)
    assert body["state"] == "approved"
    assert "changegate approves the deployment to qa of payments" in body["comment"]


def test_a_change_request_named_by_the_payload_must_be_in_the_repository(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app.deliver(protection_body(payload={"service": "checkout", "change": "CHG-1"}))
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert "change request CHG-1 is not in the repository" in body["comment"]


def test_the_default_branch_is_judged_as_it_is_when_github_asks(
    app: Running, app_github: FakeGitHub, origin: Origin
) -> None:
    origin.work.write("freezes/holiday-freeze.yaml", FREEZE.replace("2024-12-20", "2024-12-27"))
    origin.push("The freeze starts later")
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "approved"
    assert f"main at {origin.work.repo.head.commit.hexsha[:12]}" in body["comment"]


def test_user_text_in_the_reasons_is_escaped(
    app: Running, app_github: FakeGitHub, origin: Origin
) -> None:
    hostile = "@acme-shop/cab <img src=x> [x](http://evil) #12"
    origin.work.write(
        "freezes/holiday-freeze.yaml",
        FREEZE.replace("Holiday peak traffic", f'"{hostile}"'),
    )
    origin.push("A hostile reason")
    app.deliver(protection_body())
    [body] = answered(app_github)
    comment = body["comment"]
    assert "<img" not in comment
    assert "&lt;img src=x&gt;" in comment
    assert "@\u200bacme-shop/cab" in comment
    assert "\\[x\\]\\(http:\u200b//evil\\)" in comment


# --- failing closed -----------------------------------------------------------------------------


def test_github_failing_while_deciding_rejects_not_approves(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE  # open: only GitHub's failure can close it
    app_github.fail("GET", r"/check-runs$", 502, message="Server Error", times=4)
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert "changegate could not decide: reading the checks of commit" in body["comment"]
    assert "GitHub answered 502" in body["comment"]
    assert app_github.token not in body["comment"]


@pytest.mark.parametrize(
    ("status", "outcome", "retry"),
    [(404, "unanswered", None), (502, "queued", BEFORE + timedelta(minutes=5))],
)
def test_without_a_token_nothing_is_approved_and_a_failing_github_is_asked_again_later(
    app: Running,
    app_github: FakeGitHub,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    status: int,
    outcome: str,
    retry: datetime | None,
) -> None:
    caplog.set_level(logging.INFO, "changegate.app")
    clock.now = BEFORE
    app_github.fail("POST", r"/access_tokens$", status, message="no", times=100)
    _, delivery = app.deliver(protection_body())
    wait_for(lambda: bool(decisions(caplog.records)))
    assert app_github.protection_reviews == []
    entry = app.app.state.worker.store.get(delivery)
    assert entry.state == outcome
    if retry is not None:
        assert entry.next_check == retry
    [line] = decisions(caplog.records)
    assert line["decision"] == "rejected"
    assert "authenticating as the App's installation 99" in line["reasons"][0]


def test_a_repository_the_installation_cannot_read_is_rejected(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    clock.now = BEFORE
    shutil.rmtree(origin.bare)
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert "cannot fetch the default branch main of acme-shop/shop" in body["comment"]
    assert "Contents: read" in body["comment"]


def test_an_invalid_config_on_the_default_branch_rejects(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    clock.now = BEFORE
    origin.work.write("changegate.yaml", CONFIG.replace("onClosed: wait", "onClosed: later"))
    origin.push("A typo")
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "rejected"
    assert "invalid configuration in" in body["comment"]
    assert "invalid configuration in changegate.yaml:" in body["comment"]
    assert "/tmp" not in body["comment"]


def test_an_answer_github_refuses_is_logged_and_not_repeated(
    app: Running, app_github: FakeGitHub, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "changegate.app")
    clock.now = BEFORE
    app_github.fail("POST", r"/deployment_protection_rule$", 404, message="Not Found", times=5)
    app.deliver(protection_body())
    wait_for(lambda: bool(decisions(caplog.records)))
    assert [c.status for c in app_github.protection_reviews] == [404]
    messages = [r.getMessage() for r in caplog.records]
    assert "GitHub did not take the answer" in messages


def test_a_repository_of_one_service_needs_no_mapping(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    clock.now = BEFORE
    origin.work.write(
        "changegate.yaml",
        CONFIG.replace(
            "services: [{name: checkout}, {name: payments}]", "services: [{name: checkout}]"
        ).replace("services: [checkout, payments], ", ""),
    )
    origin.push("One service")
    app.deliver(protection_body(environment="qa"))
    [body] = answered(app_github)
    assert body["state"] == "approved"
    assert "changegate approves the deployment to qa of checkout" in body["comment"]


def test_log_lines_are_json_with_the_fields_and_the_traceback() -> None:
    import json
    import sys

    from engine.github.app.logs import JsonLines

    try:
        raise ValueError("boom")
    except ValueError:
        trace = sys.exc_info()
    record = logging.LogRecord(
        "changegate.app", logging.ERROR, __file__, 1, "failed %s", ("x",), trace
    )
    record.fields = {"delivery": "d-1", "run": 7}
    line = json.loads(JsonLines().format(record))
    assert (line["message"], line["level"], line["delivery"], line["run"]) == (
        "failed x",
        "error",
        "d-1",
        7,
    )
    assert "ValueError: boom" in line["traceback"]


def test_without_the_checks_permission_no_ci_result_is_known_and_the_rest_is_judged(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = BEFORE
    app_github.fail("GET", r"/check-runs$", 403, message="Resource not accessible by integration")
    app.deliver(protection_body())
    [body] = answered(app_github)
    assert body["state"] == "approved"
