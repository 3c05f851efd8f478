"""``changegate gate`` on the acme-shop example at pinned instants, and `check` catching a
change scheduled into a freeze while it is still a pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.files import EXAMPLES, copy_example, write
from tests.support.verdicts import rules, verdict_json

SHOP = EXAMPLES / "acme-shop"
CONTEXTS = SHOP / "contexts"
CHECKOUT = ("--env", "production", "--service", "checkout")
PROTECTED_REASON = (
    "production is a protected environment (requires: change-or-release): a deploy needs an "
    "approved change request scheduled now (--change, or one scheduled for checkout in "
    "production) or the release plan of the version deployed (--version) passing its deploy "
    "checks"
)
# a deploy to production names the service's error budget (0.1% of 31 days is 44.64 minutes;
# catalog's 0.5% is 223.2; INC-2024-0125 used 15 of checkout's in January 2024)
BUDGET_DECEMBER = (
    "checkout's error budget for 2024-12: 44.6 of 44.6 minutes left (100%), burn rate 0.0x"
)
BUDGET_JANUARY = "checkout's error budget for 2024-01: 29.6 of 44.6 minutes left (66%), burn rate"
CATALOG_JANUARY = (
    "catalog's error budget for 2024-01: 223.2 of 223.2 minutes left (100%), burn rate 0.0x"
)


@pytest.fixture(autouse=True)
def _in_shop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SHOP)


def gate(cli, *args: Any) -> tuple[int, dict[str, Any]]:
    result = cli("gate", *args, "--format", "json")
    assert result.err == ""
    return result.code, json.loads(result.out)


def test_inside_the_holiday_freeze_a_normal_deploy_is_blocked(cli) -> None:
    code, verdict = gate(cli, *CHECKOUT, "--at", "2024-12-23T10:00:00Z")
    assert code == 1
    assert verdict["decision"] == "deny"
    assert verdict["gate"] == {
        "environment": "production",
        "service": "checkout",
        "version": None,
        "change": None,
        "allowed": False,
        "reasons": [
            "frozen by hard freeze holiday-freeze (Holiday peak traffic and reduced staffing) "
            "until 2025-01-02 00:00 Europe/Berlin (2025-01-01T23:00:00Z): only an approved "
            "emergency change may deploy now",
            PROTECTED_REASON,
            BUDGET_DECEMBER,
        ],
    }
    protected, frozen = verdict["findings"]  # in file order
    assert frozen["rule"] == "gate/frozen"
    assert frozen["document"]["path"] == "freezes/holiday-freeze.yaml"
    assert protected["rule"] == "gate/protected-environment"
    assert protected["document"]["path"] == "changegate.yaml"
    # the text form says the same to a person
    text = cli("gate", *CHECKOUT, "--at", "2024-12-23T10:00:00Z")
    assert text.code == 1
    assert "gate closed: checkout may not deploy to production at 2024-12-23T10:00:00Z" in text.out
    assert "until 2025-01-02 00:00 Europe/Berlin" in text.out


def test_inside_the_holiday_freeze_an_approved_emergency_change_deploys(cli) -> None:
    context = CONTEXTS / "deploy-emergency-2023-12-27.yaml"
    code, verdict = gate(
        cli, *CHECKOUT, "--change", "CHG-2023-0412", "--at", "2023-12-27T13:30:00Z",
        "--context", context,
    )  # fmt: skip
    assert (code, verdict["decision"], rules(verdict)) == (0, "allow", [])
    assert verdict["gate"]["allowed"] is True
    assert verdict["gate"]["reasons"][0] == (
        "hard freeze holiday-freeze is passed by approved emergency change CHG-2023-0412"
    )


def test_the_emergency_change_without_its_approvals_stays_frozen(cli, tmp_path: Path) -> None:
    context = yaml.safe_load((CONTEXTS / "deploy-emergency-2023-12-27.yaml").read_text())
    context["reviews"] = context["reviews"][:1]  # only on-call approved: a high risk needs two
    path = write(tmp_path / "context.yaml", yaml.safe_dump(context))
    code, verdict = gate(
        cli, *CHECKOUT, "--change", "CHG-2023-0412", "--at", "2023-12-27T13:30:00Z",
        "--context", path,
    )  # fmt: skip
    assert code == 1
    assert rules(verdict) == [
        "gate/protected-environment", "change-approvals/high-risk-review", "gate/frozen",
    ]  # fmt: skip


def test_on_friday_afternoon_the_soft_freeze_yields_to_its_extra_approval(
    cli, tmp_path: Path
) -> None:
    friday = CONTEXTS / "deploy-friday-2024-01-26.yaml"
    args = (*CHECKOUT, "--change", "CHG-2024-0160", "--at", "2024-01-26T15:45:00Z")
    code, verdict = gate(cli, *args, "--context", friday)
    assert (code, rules(verdict)) == (0, [])
    assert verdict["gate"]["reasons"][0].startswith(
        "soft freeze weekend-freeze is passed by CHG-2024-0160"
    )
    # without the manager's approval the soft freeze holds
    context = yaml.safe_load(friday.read_text())
    context["reviews"] = [r for r in context["reviews"] if r["user"] != "dana"]
    code, verdict = gate(
        cli, *args, "--context", write(tmp_path / "c.yaml", yaml.safe_dump(context))
    )
    assert (code, rules(verdict)) == (1, ["gate/frozen"])
    assert (
        "until 2024-01-29 08:00 Europe/Berlin (2024-01-29T07:00:00Z)"
        in verdict["gate"]["reasons"][-2]
    )
    assert verdict["gate"]["reasons"][-1] == f"{BUDGET_JANUARY} 0.4x"


def test_outside_all_windows_a_deploy_with_a_reason_is_allowed(cli, tmp_path: Path) -> None:
    # production is protected: no freeze applies, but a deploy needs a change or a release
    code, verdict = gate(cli, *CHECKOUT, "--at", "2024-01-24T10:00:00Z")
    assert (code, rules(verdict)) == (1, ["gate/protected-environment"])
    assert verdict["gate"]["reasons"] == [PROTECTED_REASON, f"{BUDGET_JANUARY} 0.4x"]
    # the approved standard change scheduled now is that reason (found, not named)
    catalog = ("--env", "production", "--service", "catalog")
    code, verdict = gate(cli, *catalog, "--at", "2024-01-23T07:10:00Z")
    assert (code, verdict["decision"]) == (0, "allow")
    assert verdict["gate"]["reasons"] == [
        "change requests scheduled now for this target: CHG-2024-0151",
        "no freeze applies to catalog in production now",
        "approved and scheduled now: CHG-2024-0151",
        CATALOG_JANUARY,
    ]
    # and so is a release plan that passes its deploy checks
    green = write(tmp_path / "deploy.yaml", "event: deploy\nchecks: {unit-tests: success}\n")
    code, verdict = gate(
        cli, *catalog, "--version", "1.8.1", "--at", "2024-01-24T10:00:00Z", "--context", green
    )
    assert (code, verdict["gate"]["reasons"][-2:]) == (
        0, ["release catalog-v1.8.1 passes its deploy checks", CATALOG_JANUARY],
    )  # fmt: skip
    # staging is neither protected nor ever frozen in this shop, even over the holidays
    code, verdict = gate(
        cli, "--env", "staging", "--service", "checkout", "--at", "2024-12-23T10:00:00Z"
    )
    assert code == 0


def test_a_release_whose_exit_criteria_are_open_is_blocked(cli) -> None:
    code, verdict = gate(
        cli, *CHECKOUT, "--version", "2.5.0", "--at", "2024-01-25T10:30:00Z",
        "--context", CONTEXTS / "deploy-checkout-2.5.0.yaml",
    )  # fmt: skip
    assert code == 1
    assert "release-readiness/exit-criteria" in rules(verdict)
    assert any("checkout-v2.5.0" in reason for reason in verdict["gate"]["reasons"])


def test_unknown_versions_and_changes_close_the_gate(cli) -> None:
    code, verdict = gate(cli, *CHECKOUT, "--version", "9.9.9", "--at", "2024-01-24T10:00:00Z")
    assert (code, rules(verdict)) == (1, ["gate/release-plan", "gate/protected-environment"])
    assert "changegate new ReleasePlan checkout-v9.9.9" in verdict["gate"]["reasons"][0]
    code, verdict = gate(
        cli, *CHECKOUT, "--change", "CHG-1999-0001", "--at", "2024-01-24T10:00:00Z"
    )
    assert (code, rules(verdict)) == (1, ["gate/change-request", "gate/protected-environment"])
    # a change for another service, and one not scheduled now
    code, verdict = gate(
        cli, "--env", "production", "--service", "catalog", "--change", "CHG-2024-0150",
        "--at", "2024-01-25T02:30:00Z",
    )  # fmt: skip
    assert (
        "changes checkout in production, not catalog in production" in verdict["gate"]["reasons"][0]
    )
    code, verdict = gate(
        cli, *CHECKOUT, "--change", "CHG-2024-0150", "--at", "2024-01-24T10:00:00Z"
    )
    assert code == 1
    assert "is scheduled from 2024-01-25T02:00, not now" in " ".join(verdict["gate"]["reasons"])


def shop(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "shop")


def test_an_unreadable_freeze_closes_the_gate(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop(tmp_path)
    path = root / "freezes" / "weekend-freeze.yaml"
    path.write_text(path.read_text().replace("timezone: Europe/Berlin", "timezone: CET+1"))
    monkeypatch.chdir(root)
    code, verdict = gate(cli, *CHECKOUT, "--at", "2024-01-24T10:00:00Z")
    assert code == 1
    assert "gate/unreadable-window" in rules(verdict)
    assert "FreezeWindow weekend-freeze is invalid" in verdict["gate"]["reasons"][0]


def test_a_freeze_that_follows_without_a_break_is_named(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop(tmp_path)
    write(
        root / "freezes" / "migration.yaml",
        """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: new-year-migration}
spec:
  level: hard
  timezone: Europe/Berlin
  start: "2025-01-02T00:00"
  end: "2025-01-03T12:00"
""",
    )
    monkeypatch.chdir(root)
    code, verdict = gate(cli, *CHECKOUT, "--at", "2024-12-23T10:00:00Z")
    assert code == 1
    assert verdict["gate"]["reasons"] == [
        "frozen by hard freeze holiday-freeze (Holiday peak traffic and reduced staffing) until "
        "2025-01-02 00:00 Europe/Berlin (2025-01-01T23:00:00Z); other freezes follow without a "
        "break until 2025-01-03 12:00 Europe/Berlin (2025-01-03T11:00:00Z): only an approved "
        "emergency change may deploy now",
        PROTECTED_REASON,
        BUDGET_DECEMBER,
    ]


def test_a_change_window_confines_deploys(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop(tmp_path)
    write(
        root / "freezes" / "catalog-hours.yaml",
        """\
apiVersion: changegate/v1
kind: ChangeWindow
metadata: {name: catalog-hours}
spec:
  timezone: Europe/Berlin
  recurrence: {rrule: "FREQ=WEEKLY;BYDAY=TU,WE,TH", start: "09:00", end: "12:00"}
  scope: {environments: [production], services: [catalog]}
""",
    )
    # this team lets production deploys go without a change request or a release plan
    config = root / "changegate.yaml"
    config.write_text(
        config.read_text().replace(
            "{name: production, protected: true}",
            "{name: production, protected: true, requires: none}",
        )
    )
    monkeypatch.chdir(root)
    catalog = ("--env", "production", "--service", "catalog")
    code, verdict = gate(cli, *catalog, "--at", "2024-01-24T09:00:00Z")  # Wednesday 10:00 CET
    assert code == 0
    code, verdict = gate(cli, *catalog, "--at", "2024-01-24T13:00:00Z")  # Wednesday 14:00 CET
    assert (code, rules(verdict)) == (1, ["gate/outside-change-window"])
    assert verdict["gate"]["reasons"] == [
        "catalog in production may change only inside catalog-hours, and none is open now; the "
        "next opens 2024-01-25 09:00 to 2024-01-25 12:00 Europe/Berlin "
        "(2024-01-25T08:00Z to 2024-01-25T11:00Z)",
        CATALOG_JANUARY,
    ]
    # checkout is not confined by it
    assert gate(cli, *CHECKOUT, "--at", "2024-01-24T13:00:00Z")[0] == 0


def test_markdown_shows_the_gate(cli) -> None:
    result = cli("gate", *CHECKOUT, "--at", "2024-12-23T10:00:00Z", "--format", "markdown")
    assert result.code == 1
    assert (
        "**Deploy gate closed**: checkout may not deploy to production at 2024-12-23T10:00:00Z."
        in result.out
    )
    assert "- frozen by hard freeze holiday-freeze \\(Holiday peak" in result.out
    assert "2 failed in 2 documents from 11 files" in result.out  # the two freezes judged


def test_a_change_scheduled_into_a_freeze_fails_check_at_pr_time(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop(tmp_path)
    path = root / "changes" / "CHG-2024-0150.yaml"
    path.write_text(
        path.read_text().replace('start: "2024-01-25T02:00"', 'start: "2024-12-23T02:00"')
    )
    context = yaml.safe_load((CONTEXTS / "pr-42-approved.yaml").read_text())
    monkeypatch.chdir(root)
    result = cli(
        "check", "--event", "pull_request", "--at", "2024-01-19T12:00:00Z", "--format", "json",
        "--context", write(tmp_path / "pr.yaml", yaml.safe_dump(context)),
    )  # fmt: skip
    verdict = json.loads(result.out)
    assert result.code == 1
    [finding] = [f for f in verdict["findings"] if f["outcome"] == "fail"]
    assert finding["rule"] == "change-freeze/no-freeze-conflict"
    assert finding["document"]["name"] == "CHG-2024-0150"
    assert "overlaps hard freeze holiday-freeze" in finding["message"]
    assert "reschedule it after 2025-01-02 00:00 Europe/Berlin" in finding["message"]


SPENT_INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata: {name: INC-2024-0131}
spec:
  title: Checkout rejected every card for 40 minutes
  severity: SEV-1
  services: [checkout]
  detectedAt: "2024-01-18T09:00:00Z"
  resolvedAt: "2024-01-18T09:40:00Z"
  impact: {downtime: 40m}
"""
HOTFIX = """\
apiVersion: changegate/v1
kind: ReleasePlan
metadata: {name: checkout-v2.4.1}
spec:
  service: checkout
  version: "2.4.1"
  type: patch
  targetDate: "2024-01-25"
  releaseManager: alice
  scope:
    fixes:
      - {id: B-230, title: Card payments fail under load, priority: critical, status: verified}
  goNoGo: {date: "2024-01-25", deciders: [alice, dana], decision: go}
  rollout:
    strategy: blue-green
    rollback:
      plan: Switch back to blue
      triggers: [{metric: error_rate, operator: ">", threshold: 1%}]
"""


def ready_for_january(tmp_path: Path, incident: str) -> Path:
    """acme-shop with ``incident`` as INC-2024-0131, the critical fix 2.4.1, and 2.5.0 signed
    off with a go: nothing but the budget can hold 2.5.0."""
    root = shop(tmp_path)
    write(root / "incidents" / "INC-2024-0131.yaml", incident)
    write(root / "releases" / "checkout-v2.4.1.yaml", HOTFIX)
    plan = root / "releases" / "checkout-v2.5.0.yaml"
    plan.write_text(
        plan.read_text()
        .replace("done: false, owner: dana", "done: true, owner: dana")
        .replace("decision: pending", "decision: go")
    )
    return root


JANUARY = ("--context", CONTEXTS / "deploy-checkout-2.5.0.yaml", "--at", "2024-01-25T11:00:00Z")


def deploys_in_january(cli) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gate's verdicts for 2.5.0, held by the budget alone, and the fix 2.4.1, which
    passes."""
    code, held = gate(cli, *CHECKOUT, "--version", "2.5.0", *JANUARY)
    assert (code, rules(held)) == (
        1, ["gate/protected-environment", "release-readiness/error-budget"],
    )  # fmt: skip
    code, fix = gate(cli, *CHECKOUT, "--version", "2.4.1", *JANUARY)
    assert (code, rules(fix)) == (0, [])
    return held, fix


def test_a_spent_error_budget_holds_a_minor_release_but_not_a_critical_fix(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # checkout's January: INC-2024-0125 used 15 minutes and INC-2024-0131 40, so 55 of the
    # 44.64 minutes 99.9% allows; on the 25th at 12:00 local 24.5 of 31 days are gone, so the
    # budget for the time gone is 35.28 minutes and the burn rate 55 / 35.28 = 1.6x
    monkeypatch.chdir(ready_for_january(tmp_path, SPENT_INCIDENT))
    spent = (
        "checkout's error budget for 2024-01 is spent: 55.0 of 44.6 minutes used, burn rate 1.6x"
    )
    verdict, fix = deploys_in_january(cli)
    assert verdict["gate"]["reasons"] == [
        f"ReleasePlan checkout-v2.5.0: {spent}: until it recovers only emergency changes and "
        "releases of critical or high fixes may deploy (error budget policy); ship this after the "
        "budget recovers, or waive the rule with a justification",
        PROTECTED_REASON,
        spent,
    ]
    finding = verdict["findings"][-1]
    assert (finding["severity"], finding["document"]["line"]) == ("deny", 10)  # spec.type
    assert fix["gate"]["reasons"] == [
        "no freeze applies to checkout in production now",
        "release checkout-v2.4.1 passes its deploy checks",
        spent,
    ]
    # the text form says so to the person deploying
    text = cli("gate", *CHECKOUT, "--version", "2.5.0", *JANUARY)
    assert text.code == 1
    assert spent in text.out
    # a pull request changing the release only warns: the deploy is where it holds
    code, verdict = verdict_json(
        cli, "check", "releases/checkout-v2.5.0.yaml", "--event", "pull_request",
        "--at", "2024-01-25T11:00:00Z",
    )  # fmt: skip
    assert [
        (f["rule"], f["severity"]) for f in verdict["findings"] if f["rule"].endswith("budget")
    ] == [("release-readiness/error-budget", "warn")]
    assert code == 0


def test_an_incident_that_cannot_be_read_holds_a_release_as_a_spent_budget(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invalid incident may be the one that spends the budget: fail closed. The critical
    fix still ships, as under a spent budget."""
    monkeypatch.chdir(ready_for_january(tmp_path, SPENT_INCIDENT.replace("SEV-", "SEV-X")))
    unknown = (
        "checkout's error budget for 2024-01 cannot be counted, so it is taken as spent: "
        "Incident INC-2024-0131 is invalid; fix it (changegate validate)"
    )
    verdict, _ = deploys_in_january(cli)
    assert verdict["gate"]["reasons"][-1] == unknown
