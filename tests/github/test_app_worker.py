"""Deploys that wait out a freeze: an environment with ``onClosed: wait`` keeps a request closed
only by freezes or change windows pending, approves it when the gate opens (judged again then,
against the default branch as it is then), rejects it after its maximum wait, and keeps the
queue across a restart. The clock is pinned and moved by the tests."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.github.app.decide import ReadOnce
from engine.github.client import Client
from tests.support.app import (
    BEFORE,
    CONFIG,
    IN_FREEZE,
    LIFTS,
    Clock,
    Origin,
    Running,
    answers,
    decisions,
    protection_body,
    quick,
    serving,
    settings_for,
    wait_for,
)
from tests.support.fakegithub import FakeGitHub


def comments(github: FakeGitHub) -> list[dict[str, str]]:
    return [c.body for c in answers(github)]


def held(app: Running, github: FakeGitHub, delivery: str) -> None:
    """Until the request waits, and GitHub was told so (a comment without a state)."""
    wait_for(lambda: app.app.state.worker.store.get(delivery).state == "waiting")
    [comment] = comments(github)
    assert "state" not in comment
    assert comment["environment_name"] == "staging"


def test_a_request_closed_by_a_freeze_waits_and_is_approved_when_it_lifts(
    app: Running, app_github: FakeGitHub, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "changegate.app")
    _, delivery = app.deliver(protection_body(environment="staging", run_id=5))
    held(app, app_github, delivery)
    [comment] = comments(app_github)
    assert comment["comment"].startswith(
        "changegate holds the deployment to staging of checkout, payments (judged at "
        "2024-12-23T10:00:00Z against main at "
    )
    assert "looked at again at 2024-12-23T10:15:00Z" in comment["comment"]
    assert "rejected if still closed at 2025-01-12T10:00:00Z" in comment["comment"]  # 20d
    assert "checkout: frozen by hard freeze holiday-freeze" in comment["comment"]
    entry = app.app.state.worker.store.get(delivery)
    assert entry.next_check == IN_FREEZE + timedelta(minutes=15)
    # the queue looks again every 15 minutes; still frozen, GitHub hears nothing new
    clock.now = IN_FREEZE + timedelta(minutes=15)
    wait_for(lambda: len(decisions(caplog.records)) == 2)
    assert len(comments(app_github)) == 1
    # the day the freeze lifts
    clock.now = LIFTS
    wait_for(lambda: len(comments(app_github)) == 2)
    approved = comments(app_github)[1]
    assert (approved["state"], approved["environment_name"]) == ("approved", "staging")
    assert "judged at 2025-01-01T23:00:00Z" in approved["comment"]
    wait_for(lambda: app.app.state.worker.store.get(delivery).state == "approved")
    wait_for(lambda: len(decisions(caplog.records)) == 3)  # logged after it is stored
    lines = decisions(caplog.records)
    assert [line["decision"] for line in lines] == ["waiting", "waiting", "approved"]
    assert lines[0]["nextCheck"] == "2024-12-23T10:15:00Z"


def test_a_waiting_request_is_looked_at_when_the_freeze_ends_not_later(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    clock.now = LIFTS - timedelta(minutes=5)
    _, delivery = app.deliver(protection_body(environment="staging"))
    held(app, app_github, delivery)
    assert app.app.state.worker.store.get(delivery).next_check == LIFTS


def test_a_waiting_request_whose_freeze_is_deleted_is_approved_at_the_next_look(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    _, delivery = app.deliver(protection_body(environment="staging"))
    held(app, app_github, delivery)
    (origin.work.root / "freezes" / "holiday-freeze.yaml").unlink()
    origin.push("The freeze is called off")
    clock.now = IN_FREEZE + timedelta(minutes=15)
    wait_for(lambda: len(comments(app_github)) == 2)
    assert comments(app_github)[1]["state"] == "approved"


def test_a_waiting_request_is_judged_again_against_the_branch_as_it_is_then(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    _, delivery = app.deliver(protection_body(environment="staging"))
    held(app, app_github, delivery)
    # meanwhile staging stops waiting: the next look rejects
    origin.work.write("changegate.yaml", CONFIG.replace("onClosed: wait", "onClosed: reject"))
    origin.push("No more waiting")
    clock.now = IN_FREEZE + timedelta(minutes=15)
    wait_for(lambda: len(comments(app_github)) == 2)
    assert comments(app_github)[1]["state"] == "rejected"


def test_a_request_still_closed_at_its_maximum_wait_is_rejected(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    origin.work.write("changegate.yaml", CONFIG.replace("maxWait: 20d", "maxWait: 1h"))
    origin.push("Wait an hour at most")
    _, delivery = app.deliver(protection_body(environment="staging"))
    held(app, app_github, delivery)
    assert "rejected if still closed at 2024-12-23T11:00:00Z" in comments(app_github)[0]["comment"]
    clock.now = IN_FREEZE + timedelta(hours=1)
    wait_for(lambda: len(comments(app_github)) == 2)
    rejected = comments(app_github)[1]
    assert rejected["state"] == "rejected"
    assert "still closed after waiting 1h \\(maxWait reached\\)" in rejected["comment"]


def test_a_request_closed_by_more_than_windows_does_not_wait(
    app: Running, app_github: FakeGitHub, clock: Clock
) -> None:
    app.deliver(protection_body(environment="staging", payload={"change": "CHG-404"}))
    wait_for(lambda: len(comments(app_github)) == 1)
    [answer] = comments(app_github)
    assert answer["state"] == "rejected"
    assert "change request CHG-404 is not in the repository" in answer["comment"]


def test_an_environment_that_rejects_does_not_wait(app: Running, app_github: FakeGitHub) -> None:
    app.deliver(protection_body(environment="production"))
    wait_for(lambda: len(comments(app_github)) == 1)
    assert comments(app_github)[0]["state"] == "rejected"


def test_the_queue_survives_a_restart(
    app_github: FakeGitHub, origin: Origin, clock: Clock, state: Path
) -> None:
    settings = settings_for(app_github, origin, state)
    clients = {"connect": quick(ReadOnce.connect), "for_app": quick(Client.for_app)}
    with serving(settings, clock, **clients) as first:
        _, delivery = first.deliver(protection_body(environment="staging"))
        held(first, app_github, delivery)
    clock.now = LIFTS
    with serving(settings, clock, **clients) as second:
        wait_for(lambda: len(comments(app_github)) == 2)
        assert comments(app_github)[1]["state"] == "approved"
        wait_for(lambda: second.app.state.worker.store.get(delivery).state == "approved")
        # the delivery id is still known: a redelivery is not taken again
        again, _ = second.deliver(protection_body(environment="staging"), delivery=delivery)
        assert again.status == 200


def test_a_request_queued_when_the_app_stopped_is_decided_at_the_next_start(
    app_github: FakeGitHub, origin: Origin, clock: Clock, state: Path
) -> None:
    from engine.github.app.state import Store
    from engine.github.app.webhooks import protection_request

    clock.now = BEFORE
    store = Store(state)  # as a run that took the delivery and stopped before deciding
    assert store.receive(protection_request("d-queued", protection_body()), BEFORE)
    store.close()
    settings = settings_for(app_github, origin, state)
    with serving(settings, clock, connect=quick(ReadOnce.connect)):
        wait_for(lambda: len(comments(app_github)) == 1)
    assert comments(app_github)[0]["state"] == "approved"


CHANGE_WINDOW = """\
apiVersion: changegate/v1
kind: ChangeWindow
metadata: {name: office-hours}
spec:
  timezone: Europe/Berlin
  recurrence: {rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", start: "09:00", end: "17:00"}
  scope: {environments: [staging]}
"""


def test_a_request_outside_its_change_windows_waits_for_the_next_one(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    origin.work.write("freezes/office-hours.yaml", CHANGE_WINDOW)
    origin.push("Staging changes in office hours")
    monday = datetime(2024, 12, 9, 7, 50, tzinfo=UTC)  # 08:50 in Berlin
    clock.now = monday
    _, delivery = app.deliver(protection_body(environment="staging"))
    held(app, app_github, delivery)
    assert "none is open now; the next opens" in comments(app_github)[0]["comment"]
    opens = monday + timedelta(minutes=10)
    assert app.app.state.worker.store.get(delivery).next_check == opens
    clock.now = opens
    wait_for(lambda: len(comments(app_github)) == 2)
    assert comments(app_github)[1]["state"] == "approved"


def test_a_bug_while_deciding_rejects_without_its_details(
    app_github: FakeGitHub, origin: Origin, clock: Clock, state: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, "changegate.app")

    def broken(*args: object, **kwargs: object) -> Client:
        raise RuntimeError("a bug, with ghs_fake_token_0123456789 in its message")

    settings = settings_for(app_github, origin, state)
    with serving(settings, clock, connect=broken) as app:
        _, delivery = app.deliver(protection_body())
        wait_for(lambda: bool(decisions(caplog.records)))
        [line] = decisions(caplog.records)
        assert line["decision"] == "rejected"
        assert line["reasons"] == [
            "changegate could not decide (RuntimeError, a bug): the App's log has the details "
            f"under delivery {delivery}"
        ]
        # the answer could not be sent either (the same bug): asked again later, not dropped
        entry = app.app.state.worker.store.get(delivery)
        assert (entry.state, entry.next_check) == ("queued", IN_FREEZE + timedelta(minutes=5))
    assert any(r.getMessage() == "answering GitHub failed" for r in caplog.records)


SCHEDULED = """\
apiVersion: changegate/v1
kind: ChangeRequest
metadata: {{name: {name}}}
spec:
  title: Staging rollout {name}
  type: standard
  template: rollout
  risk: low
  environment: staging
  services: [checkout]
  requestor: {{name: alice}}
  description: Roll out.
  schedule: {{start: "2024-12-09T08:00", duration: 4h, timezone: Europe/Berlin}}
  status: planned
"""


def test_several_changes_scheduled_now_need_the_payload_to_name_one(
    app: Running, app_github: FakeGitHub, origin: Origin, clock: Clock
) -> None:
    for name in ("CHG-1", "CHG-2"):
        origin.work.write(f"changes/{name}.yaml", SCHEDULED.format(name=name))
    origin.work.write(
        "changegate.yaml",
        CONFIG + "  changeTemplates: [{name: rollout, description: Roll out, maxRisk: low}]\n",
    )
    origin.push("Two changes at once")
    clock.now = datetime(2024, 12, 9, 9, 0, tzinfo=UTC)
    app.deliver(protection_body(environment="staging", payload={"service": "checkout"}))
    wait_for(lambda: len(comments(app_github)) == 1)
    [answer] = comments(app_github)
    assert answer["state"] == "rejected"
    assert "several change requests are scheduled now for checkout in staging" in answer["comment"]
    assert "with the deployment payload's change" in answer["comment"]
