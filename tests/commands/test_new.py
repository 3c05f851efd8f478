from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from engine.documents.model import KINDS
from tests.support.files import write

FOLDERS = {
    "ReleasePlan": "releases/NAME-1.yaml",
    "ChangeRequest": "changes/NAME-1.yaml",
    "FreezeWindow": "freezes/NAME-1.yaml",
    "ChangeWindow": "freezes/windows/NAME-1.yaml",
    "Incident": "incidents/NAME-1.yaml",
    "Policy": "policies/NAME-1.yaml",
    "Waiver": "policies/waivers/NAME-1.yaml",
    "Config": "changegate.yaml",
    "PolicyTest": "policies/tests/NAME-1.yaml",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_scaffolds_a_valid_document(cli, in_tmp: Path, kind: str) -> None:
    result = cli("new", kind, "NAME-1")
    assert result.code == 0, result.err
    target = in_tmp / FOLDERS[kind]
    assert f"created {FOLDERS[kind]}" in result.out
    document = yaml.safe_load(target.read_text())
    assert document["kind"] == kind
    assert document["metadata"]["name"] == "NAME-1"
    verdict = cli("validate", "--format", "json", target)
    assert verdict.code == 0, verdict.out
    assert json.loads(verdict.out)["summary"]["documents"] == 1


def test_all_kinds_together_validate(cli, in_tmp: Path) -> None:
    for kind in KINDS:
        assert cli("new", kind, "X-1").code == 0
    result = cli("validate")
    assert result.code == 0, result.out
    assert "9 documents" in result.out


def test_templates_carry_the_domain_fields(cli, in_tmp: Path) -> None:
    cli("new", "release-plan", "checkout-v2.6.0")
    plan = yaml.safe_load((in_tmp / "releases" / "checkout-v2.6.0.yaml").read_text())["spec"]
    assert plan["version"] == "2.6.0"  # taken from the name
    titles = [c["title"] for c in plan["exitCriteria"]]
    assert titles == [
        "All P1/P2 bugs resolved", "Performance benchmarks met", "Security scan passed",
        "Load testing complete", "UAT sign-off received", "Documentation updated",
        "Runbook reviewed",
    ]  # fmt: skip
    assert plan["rollout"]["strategy"] == "blue-green"
    assert [c["when"] for c in plan["communication"]] == ["T-7d", "T-1d", "T-0", "T+1d"]
    cli("new", "ChangeRequest", "CHG-2024-0151")
    change = yaml.safe_load((in_tmp / "changes" / "CHG-2024-0151.yaml").read_text())["spec"]
    for field in ("title", "type", "risk", "environment", "requestor", "description",
                  "justification", "impact", "implementation", "rollback", "testing",
                  "schedule"):  # fmt: skip
        assert field in change
    cli("new", "Incident", "INC-2024-0126")
    incident = yaml.safe_load((in_tmp / "incidents" / "INC-2024-0126.yaml").read_text())["spec"]
    for field in ("severity", "timeline", "impact", "rootCause", "resolution", "actionItems",
                  "lessonsLearned"):  # fmt: skip
        assert field in incident


def test_new_uses_the_configured_catalog(cli, in_tmp: Path) -> None:
    write(
        in_tmp / "changegate.yaml",
        "apiVersion: changegate/v1\nkind: Config\n"
        "metadata: {name: c}\nspec:\n  timezone: Europe/Berlin\n"
        "  environments: [{name: prod, protected: true}]\n  services: [{name: shop}]\n",
    )
    assert cli("new", "ChangeRequest", "CHG-9").code == 0
    spec = yaml.safe_load((in_tmp / "changes" / "CHG-9.yaml").read_text())["spec"]
    assert spec["environment"] == "prod"
    assert spec["services"] == ["shop"]
    assert spec["schedule"]["timezone"] == "Europe/Berlin"
    assert cli("validate").code == 0


def test_new_refuses_to_overwrite(cli, in_tmp: Path) -> None:
    assert cli("new", "Incident", "INC-1").code == 0
    result = cli("new", "Incident", "INC-1")
    assert result.code == 2
    assert "incidents/INC-1.yaml already exists" in result.err
    assert cli("new", "Incident", "INC-1", "--force").code == 0


def test_new_to_stdout(cli, in_tmp: Path) -> None:
    result = cli("new", "Waiver", "W-1", "--output", "-")
    assert result.code == 0
    assert yaml.safe_load(result.out)["kind"] == "Waiver"
    assert not any(in_tmp.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "Chnage", "X"], "unknown kind 'Chnage'"),
        (["new", "Incident", "bad name"], "'bad name' is not a valid name"),
        (["new", "Incident", "x-"], "is not a valid name"),
    ],
)
def test_new_usage_errors(cli, in_tmp: Path, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err


# --- scaffolds that fill themselves -----------------------------------------------------------

AT = "2024-03-04T09:07:00Z"  # a Monday


@pytest.fixture
def nobody(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No GitHub actor and an empty git configuration: the scaffold knows nobody."""
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY_OWNER", raising=False)
    config = tmp_path / "gitconfig"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return config


def spec_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]


def test_an_emergency_change_scaffold_carries_what_an_emergency_needs(
    cli, in_tmp: Path, nobody: Path
) -> None:
    result = cli("new", "ChangeRequest", "CHG-9", "--type", "emergency", "--at", AT)
    assert result.code == 0, result.err
    path = in_tmp / "changes" / "CHG-9.yaml"
    text = path.read_text(encoding="utf-8")
    spec = spec_of(path)
    assert (spec["type"], spec["risk"]) == ("emergency", "high")
    # it may start as soon as it is approved: the next quarter hour
    assert spec["schedule"] == {"start": "2024-03-04T09:15", "duration": "1h", "timezone": "UTC"}
    assert "incident or outage" in spec["justification"]
    assert spec["rollback"]  # an emergency still says how to undo it
    assert "1 approval from role on-call" in text
    assert "a post-review: an approval from role cab within 48h" in text
    assert "pass a hard freeze" in text
    assert cli("validate", path).code == 0


@pytest.mark.parametrize(
    ("change_type", "lead"), [("normal", 5), ("expedited", 1), ("standard", 0)]
)
def test_each_change_type_is_scheduled_after_its_lead_time(
    cli, in_tmp: Path, nobody: Path, change_type: str, lead: int
) -> None:
    assert cli("new", "ChangeRequest", "CHG-1", "--type", change_type, "--at", AT).code == 0
    spec = spec_of(in_tmp / "changes" / "CHG-1.yaml")
    assert spec["type"] == change_type
    start = datetime.fromisoformat(spec["schedule"]["start"])
    assert start - datetime(2024, 3, 4, 9, 7) >= timedelta(days=lead)
    assert ("rollback" in spec) == (change_type != "standard")


def test_a_standard_change_scaffold_names_the_first_template(cli, in_tmp: Path, nobody) -> None:
    write(in_tmp / "changegate.yaml", "apiVersion: changegate/v1\nkind: Config\n"
          "metadata: {name: c}\nspec:\n  changeTemplates:\n"
          "    - {name: tls-rotation, description: Rotate, maxRisk: medium}\n")  # fmt: skip
    assert cli("new", "ChangeRequest", "CHG-2", "--type", "standard", "--at", AT).code == 0
    spec = spec_of(in_tmp / "changes" / "CHG-2.yaml")
    assert (spec["template"], spec["risk"]) == ("tls-rotation", "medium")


def test_the_schedule_avoids_the_repositorys_freezes_and_keeps_to_its_windows(
    cli, in_tmp: Path, nobody: Path
) -> None:
    write(in_tmp / "freezes" / "march.yaml", "apiVersion: changegate/v1\nkind: FreezeWindow\n"
          "metadata: {name: march}\nspec: {reason: audit, level: hard, timezone: UTC,\n"
          "  start: '2024-03-01T00:00', end: '2024-03-20T00:00'}\n")  # fmt: skip
    tuesdays = (
        "apiVersion: changegate/v1\nkind: ChangeWindow\nmetadata: {name: tuesdays}\n"
        "spec: {reason: r, timezone: UTC,\n"
        "  recurrence: {rrule: FREQ=WEEKLY;BYDAY=TU, start: '08:00', duration: 4h}}\n"
    )
    write(in_tmp / "freezes" / "windows" / "tuesdays.yaml", tuesdays)
    assert cli("new", "ChangeRequest", "CHG-3", "--at", AT).code == 0
    assert spec_of(in_tmp / "changes" / "CHG-3.yaml")["schedule"]["start"] == "2024-03-26T08:00"
    result = cli("check", "--at", AT, "--format", "json")
    assert "change-freeze/no-freeze-conflict" not in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "emergancy"], "did you mean 'emergency'?"),
        (["--type", "Sev1"], "a ChangeRequest is one of standard, normal, expedited, emergency"),
    ],
)
def test_a_misspelled_type_is_a_usage_error(cli, in_tmp: Path, args, message: str) -> None:
    result = cli("new", "ChangeRequest", "CHG-4", *args)
    assert result.code == 2
    assert message in result.err
    assert not (in_tmp / "changes").exists()


def test_a_kind_without_a_type_refuses_one(cli, in_tmp: Path) -> None:
    result = cli("new", "Incident", "INC-1", "--type", "sev1")
    assert result.code == 2
    assert "an Incident has no type to choose" in result.err
    assert cli("new", "FreezeWindow", "f", "--type", "soft").code == 0
    assert spec_of(in_tmp / "freezes" / "f.yaml")["exceptions"]["approvals"]
    assert cli("new", "ReleasePlan", "r-v3.0.0", "--type", "major").code == 0
    assert spec_of(in_tmp / "releases" / "r-v3.0.0.yaml")["type"] == "major"


def test_people_come_from_the_github_actor_then_git_never_the_os_user(
    cli, in_tmp: Path, nobody: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    def requestor(name: str) -> str:
        assert cli("new", "ChangeRequest", name, "--at", AT).code == 0
        return str(spec_of(in_tmp / "changes" / f"{name}.yaml")["requestor"]["name"])

    assert requestor("CHG-10") == "[Name]"  # a placeholder the placeholders rule finds
    assert getpass.getuser() != "[Name]"
    nobody.write_text("[user]\n\tname = Grace Hopper\n", encoding="utf-8")
    assert requestor("CHG-11") == "Grace Hopper"
    nobody.write_text("[user]\n\tname = Grace Hopper\n[github]\n\tuser = ghopper\n", "utf-8")
    assert requestor("CHG-12") == "ghopper"
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert requestor("CHG-13") == "octocat"
    monkeypatch.setenv("GITHUB_ACTOR", "")


def test_every_scaffold_names_its_schema_for_the_editor(cli, in_tmp: Path, nobody) -> None:
    for kind, where in FOLDERS.items():
        assert cli("new", kind, "S-1", "--at", AT).code == 0
        target = in_tmp / where.replace("NAME-1", "S-1")
        first = target.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        schema = (target.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), first
        assert json.loads(schema.read_text(encoding="utf-8")) == json.loads(cli("schema", kind).out)


def test_the_config_scaffold_has_services_holidays_and_the_repositorys_org(
    cli, in_tmp: Path, nobody: Path
) -> None:
    from tests.support.repos import GitRepo

    GitRepo(in_tmp).repo.create_remote("origin", "git@github.com:acme-shop/shop.git")
    assert cli("new", "Config", "shop", "--at", AT).code == 0
    spec = spec_of(in_tmp / "changegate.yaml")
    (service,) = spec["services"]
    assert set(service) == {"name", "tier", "owners", "slo"}
    assert service["owners"] == ["acme-shop/my-team"]
    assert spec["roles"]["cab"] == {"teams": ["acme-shop/cab"]}
    assert [h["date"] for h in spec["holidays"]] == ["2025-01-01", "2025-12-25"]


WALK_KINDS = ("Config", "FreezeWindow", "ChangeWindow", "ReleasePlan", "ChangeRequest",
              "Incident", "Policy", "Waiver", "PolicyTest")  # fmt: skip
MERGE_CONTEXT = """\
event: merge
actor: carol
pullRequest:
  number: 1
  author: alice
  headSha: 0123456789abcdef0123456789abcdef01234567
  createdAt: "2024-03-04T09:07:00Z"
  changedFiles: [%s]
  committers: [alice]
reviews:
  - {user: bob, state: APPROVED, commit: 0123456789abcdef0123456789abcdef01234567}
  - {user: dana, state: APPROVED, commit: 0123456789abcdef0123456789abcdef01234567}
teams:
  my-org/cab: [bob]
  my-org/engineering-managers: [erin]
  my-org/on-call: [frank]
  my-org/platform: [dana]
"""


def test_a_new_users_walk_scaffold_everything_fill_nothing_denied_fill_it_passes(
    cli, in_tmp: Path, nobody: Path
) -> None:
    from tests.support.repos import GitRepo

    GitRepo(in_tmp)
    created = []
    for kind in WALK_KINDS:
        result = cli("new", kind, f"first-{kind.lower()}", "--at", AT)
        assert result.code == 0, result.err
        created.append(result.out.split()[1].rstrip(":"))
    assert cli("validate").code == 0  # scaffolds are valid documents...

    denied = cli("check", "--event", "merge", "--at", AT, "--format", "json")
    assert denied.code == 1  # ... that are not finished
    findings = json.loads(denied.out)["findings"]
    (left,) = [f for f in findings if f["rule"] == "change-completeness/placeholders"]
    assert (left["severity"], left["outcome"]) == ("deny", "fail")
    assert "requestor" not in left["message"]  # git's user.name wrote itself in
    assert "spec.implementation[0]: '[Step 1]'" in left["message"]
    # on the pull request it is a warning: the record is still being written
    pull = cli("check", "--event", "pull_request", "--at", AT, "--format", "json")
    (warned,) = [
        f for f in json.loads(pull.out)["findings"]
        if f["rule"] == "change-completeness/placeholders"
    ]  # fmt: skip
    assert warned["severity"] == "warn"

    for relative in created:  # the author writes what the brackets asked for
        path = in_tmp / relative
        text = path.read_text(encoding="utf-8")
        filled = re.sub(r'"\[([^\]"]*)\]"', r'"Written out: \1"', text)
        filled = re.sub(r"^( +)\[([^\]\n]*)\]$", r"\1Written out: \2", filled, flags=re.M)
        path.write_text(filled, encoding="utf-8")
    context = in_tmp / "merge.yaml"
    context.write_text(MERGE_CONTEXT % ", ".join(created), encoding="utf-8")
    passed = cli("check", "--context", context, "--at", AT)
    assert passed.code == 0, passed.out
    assert "change-completeness/placeholders" not in passed.out
