"""``changegate test``: cases, failures, coverage and its threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.files import ROOT, write

POLICY = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: house}
spec:
  match: {kinds: [Incident]}
  rules:
    - {name: sev-known, expression: "object.spec.severity != 'SEV-4'", message: no SEV-4}
    - {name: untested, expression: "true", message: m}
"""

CASES = """\
apiVersion: changegate/v1
kind: PolicyTest
metadata: {name: house-cases}
spec:
  now: "2024-01-20T12:00:00Z"
  config: {policies: [./policies]}
  cases:
    - name: a SEV-2 passes
      documents:
        - &incident
          apiVersion: changegate/v1
          kind: Incident
          metadata: {name: INC-1}
          spec: {title: t, severity: SEV-2, services: [web], detectedAt: "2024-01-11T10:15:00Z"}
      expect: {house/sev-known: pass}
    - name: a SEV-4 fails
      documents:
        - apiVersion: changegate/v1
          kind: Incident
          metadata: {name: INC-2}
          spec: {title: t, severity: SEV-4, services: [web], detectedAt: "2024-01-11T10:15:00Z"}
      expect: {house/sev-known: %s}
      messages: {house/sev-known: "no SEV-4"}
"""


@pytest.fixture
def repo(in_tmp: Path) -> Path:
    write(in_tmp / "changegate.yaml", "apiVersion: changegate/v1\nkind: Config\n"
          "metadata: {name: r}\nspec: {policies: [./policies]}\n")  # fmt: skip
    write(in_tmp / "policies" / "house.yaml", POLICY)
    return in_tmp


def test_passing_cases_and_partial_coverage(cli, repo: Path) -> None:
    write(repo / "policies" / "tests" / "cases.yaml", CASES % "fail")
    result = cli("test")
    assert result.code == 0
    assert "✓ a SEV-2 passes (line 8)" in result.out
    assert re.search(r"house/untested +0 +0  no", result.out)
    assert "2/2 cases passed; 1/2 rules covered (50%)" in result.out
    assert cli("test", "--min-coverage", "50").code == 0
    assert cli("test", "--min-coverage", "100").code == 1


def test_a_wrong_expectation_fails_with_the_reason(cli, repo: Path) -> None:
    write(repo / "policies" / "tests" / "cases.yaml", CASES % "pass")
    result = cli("test", "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    failed = [c for c in report["cases"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["a SEV-4 fails"]
    assert failed[0]["problems"] == ["house/sev-known: expected pass, got fail (no SEV-4)"]
    assert report["coverage"]["rules"]["house/untested"] == {"covered": False}


def test_invalid_test_documents_and_unknown_rules(cli, repo: Path) -> None:
    write(
        repo / "policies" / "tests" / "cases.yaml",
        CASES.replace("house/sev-known: %s", "house/nope: fail"),
    )
    result = cli("test")
    assert result.code == 1
    assert "house/nope: no such rule among the policies under test" in result.out
    broken = "apiVersion: changegate/v1\nkind: PolicyTest\nmetadata: {name: x}\n"
    write(
        repo / "policies" / "tests" / "cases.yaml", broken + "spec: {now: yesterday, cases: []}\n"
    )
    result = cli("test")
    assert result.code == 2
    assert "invalid policies or policy tests" in result.err


def test_no_cases_is_a_usage_error(cli, repo: Path) -> None:
    result = cli("test")
    assert result.code == 2
    assert "no PolicyTest documents" in result.err


def test_the_builtin_pack_is_fully_covered(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("test", "policies/", "--min-coverage", "100")
    assert result.code == 0, result.out
    assert "20/20 rules covered (100%)" in result.out


# --- the repository's own config, and whose coverage counts -----------------------------------

ZONED = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: zoned}
spec:
  match: {kinds: [Incident]}
  rules:
    - {name: berlin, expression: "config.timezone == 'Europe/Berlin'", message: not Berlin}
"""

ZONED_CASES = """\
apiVersion: changegate/v1
kind: PolicyTest
metadata: {name: zoned-cases}
spec:
  now: "2024-01-20T12:00:00Z"
  %s
  cases:
    - name: judged with the zone of the config in use
      documents:
        - apiVersion: changegate/v1
          kind: Incident
          metadata: {name: INC-1}
          spec: {title: t, severity: SEV-2, services: [web], detectedAt: "2024-01-11T10:15:00Z"}
      expect: {zoned/berlin: %s}
"""


@pytest.fixture
def berlin(in_tmp: Path) -> Path:
    write(in_tmp / "changegate.yaml", "apiVersion: changegate/v1\nkind: Config\n"
          "metadata: {name: r}\nspec: {timezone: Europe/Berlin, policies: [builtin:recommended, "
          "./policies]}\n")  # fmt: skip
    write(in_tmp / "policies" / "zoned.yaml", ZONED)
    return in_tmp


def test_cases_are_judged_with_the_repositorys_config_and_say_so(cli, berlin: Path) -> None:
    write(berlin / "policies" / "tests" / "cases.yaml", ZONED_CASES % ("", "pass"))
    result = cli("test")
    assert result.code == 0, result.out
    assert result.out.splitlines()[0] == (
        "config: changegate.yaml (each test's spec.config merges over it)"
    )
    report = json.loads(cli("test", "--format", "json").out)
    assert report["config"] == "changegate.yaml"


def test_a_tests_config_merges_over_the_repositorys(cli, berlin: Path) -> None:
    write(
        berlin / "policies" / "tests" / "cases.yaml",
        ZONED_CASES % ("config: {timezone: UTC}", "fail"),
    )
    assert cli("test").code == 0


def test_defaults_judges_without_the_repositorys_config(cli, berlin: Path) -> None:
    write(berlin / "policies" / "tests" / "cases.yaml", ZONED_CASES % ("", "fail"))
    result = cli("test", "--defaults")
    assert result.code == 0, result.out
    assert result.out.splitlines()[0].startswith("config: changegate's defaults")
    assert json.loads(cli("test", "--defaults", "--format", "json").out)["config"] is None


def test_coverage_counts_the_rules_under_test_unless_asked_otherwise(cli, berlin: Path) -> None:
    # zoned/berlin gets a passing and a failing case; the built-in pack is loaded too (the
    # config names it) but its rules are not the user's to cover
    write(berlin / "policies" / "tests" / "pass.yaml", ZONED_CASES % ("", "pass"))
    write(
        berlin / "policies" / "tests" / "fail.yaml",
        (ZONED_CASES % ("config: {timezone: UTC}", "fail")).replace("zoned-cases", "zoned-2"),
    )
    local = cli("test", "--min-coverage", "100")
    assert local.code == 0, local.out
    assert "1/1 rules covered (100%)" in local.out
    assert "coverage of the rules of the policies under test" in local.out
    everything = cli("test", "--min-coverage", "100", "--coverage-of", "all", "--format", "json")
    assert everything.code == 1
    counted = json.loads(everything.out)["coverage"]
    assert counted["of"] == "all"
    assert "change-approvals/required-approvals" in counted["rules"]
    assert "zoned/berlin" in counted["rules"]
    builtin = json.loads(cli("test", "--coverage-of", "builtin", "--format", "json").out)
    assert "zoned/berlin" not in builtin["coverage"]["rules"]
    assert builtin["coverage"]["percent"] == 0


def test_no_rule_of_ones_own_under_test_says_so(cli, berlin: Path) -> None:
    (berlin / "policies" / "zoned.yaml").unlink()
    cases = ZONED_CASES % ("", "pass")
    write(berlin / "policies" / "tests" / "cases.yaml", cases.replace(
        "expect: {zoned/berlin: pass}", "expect: {change-completeness/rollback-plan: skip}"
    ))  # fmt: skip
    result = cli("test", "--min-coverage", "100")
    assert result.code == 1
    assert "none: no rules to count (--coverage-of local)" in result.out
