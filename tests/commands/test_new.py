from __future__ import annotations

import json
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
