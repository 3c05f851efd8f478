"""The impact preview on real git repositories: the base revision on ``main``, the change in
the working tree (as a pull request's checkout has it), judged by ``check --policies-from
main`` and ``changegate impact --base main``, on both CEL backends."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from engine import cel
from tests.support.packs import CRITICAL, Pack, change, config
from tests.support.repos import GitRepo

AT = "2024-01-20T12:00:00Z"
BACKENDS = cel.available()
RISK = """\
apiVersion: changegate/v1
kind: Policy
metadata: {{name: risk-limit}}
spec:
  match: {{kinds: [ChangeRequest]}}
  rules:
    - name: max-risk
      expression: "{expression}"
      message: this change is riskier than the limit
    - name: risk-note
      severity: warn
      expression: "{warning}"
      message: a risky change, say why in the description
"""
FREEZE = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: launch-freeze}
spec:
  reason: Launch week
  level: hard
  timezone: UTC
  start: "2024-02-01T00:00"
  end: "2024-02-03T00:00"
  scope: {environments: [production]}
"""
ALL_RISKS = {"CHG-1": "low", "CHG-2": "high", "CHG-3": "high", "CHG-4": "critical"}


def _policy(expression: str, warning: str = "true") -> str:
    return RISK.format(expression=expression, warning=warning)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """main: the risk limit denies critical changes; four change requests, one freeze that
    CHG-1 (in production on 1 February) falls into."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("changegate.yaml", config("builtin:recommended", "./policies"))
    repo.write("policies/risk.yaml", _policy("object.spec.risk != 'critical'"))
    repo.write("freezes/launch.yaml", FREEZE)
    for name, risk in ALL_RISKS.items():
        start = "2024-02-01T10:00" if name == "CHG-1" else "2024-03-01T10:00"
        repo.write(f"changes/{name}.yaml", change(name, risk=risk, start=start))
    repo.commit("base")
    return repo


def _impact(cli, repo: GitRepo, backend: str, *extra: str) -> dict:
    result = cli(
        "check", repo.root, "--policies-from", "main", "--at", AT, "--format", "json",
        "--cel-backend", backend, *extra,
    )  # fmt: skip
    assert result.code in {0, 1}, result.err
    return json.loads(result.out)["impact"]


def _listed(impact: dict, key: str) -> set[tuple[str, str]]:
    return {(e["document"]["name"], e["rule"]) for e in impact[key]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_tightening_a_rule_lists_exactly_the_documents_it_newly_denies(
    cli, repo: GitRepo, backend: str
) -> None:
    repo.write("policies/risk.yaml", _policy("!(object.spec.risk in ['high', 'critical'])"))
    impact = _impact(cli, repo, backend)
    assert impact["base"] == "main"
    assert _listed(impact, "newlyDenied") == {
        ("CHG-2", "risk-limit/max-risk"),
        ("CHG-3", "risk-limit/max-risk"),
    }
    assert impact["noLongerDenied"] == []
    assert impact["newlyWarned"] == []
    assert {d["name"] for d in impact["newlyBlocked"]} == {"CHG-2", "CHG-3"}
    entry = next(e for e in impact["newlyDenied"] if e["document"]["name"] == "CHG-2")
    assert entry == {
        "rule": "risk-limit/max-risk",
        "severity": "deny",
        "message": "this change is riskier than the limit",
        "document": {
            "kind": "ChangeRequest",
            "name": "CHG-2",
            "path": str(repo.root / "changes" / "CHG-2.yaml"),
        },
    }
    assert impact["documents"] == 7  # the config, the policy, the freeze and four changes


@pytest.mark.parametrize("backend", BACKENDS)
def test_loosening_a_rule_lists_what_it_unblocks_and_a_new_warning(
    cli, repo: GitRepo, backend: str
) -> None:
    repo.write("policies/risk.yaml", _policy("true", warning="object.spec.risk != 'low'"))
    impact = _impact(cli, repo, backend)
    assert _listed(impact, "noLongerDenied") == {("CHG-4", "risk-limit/max-risk")}
    assert [d["name"] for d in impact["unblocked"]] == ["CHG-4"]
    assert impact["newlyDenied"] == []
    assert _listed(impact, "newlyWarned") == {("CHG-1", "risk-limit/risk-note")}
    text = cli("check", repo.root, "--policies-from", "main", "--at", AT).out
    assert "this change unblocks 1 change request, newly warns on 1 document (7 documents" in text
    assert impact["noLongerDenied"][0]["message"] == "this change is riskier than the limit"


@pytest.mark.parametrize("backend", BACKENDS)
def test_deleting_a_freeze_lists_the_change_requests_it_lets_through(
    cli, repo: GitRepo, backend: str
) -> None:
    (repo.root / "freezes" / "launch.yaml").unlink()
    impact = _impact(cli, repo, backend)
    assert _listed(impact, "noLongerDenied") == {("CHG-1", "change-freeze/no-freeze-conflict")}
    assert [d["name"] for d in impact["unblocked"]] == ["CHG-1"]
    assert "launch-freeze" in impact["noLongerDenied"][0]["message"]
    assert impact["newlyDenied"] == []


def test_moving_a_freeze_moves_what_it_blocks(cli, repo: GitRepo) -> None:
    repo.write("freezes/launch.yaml", FREEZE.replace("2024-02-0", "2024-03-0"))
    impact = _impact(cli, repo, BACKENDS[0])
    assert _listed(impact, "noLongerDenied") == {("CHG-1", "change-freeze/no-freeze-conflict")}
    assert _listed(impact, "newlyDenied") == {
        (name, "change-freeze/no-freeze-conflict") for name in ("CHG-2", "CHG-3", "CHG-4")
    }


def test_a_change_that_touches_no_rule_has_no_impact(cli, repo: GitRepo) -> None:
    repo.write("changes/CHG-5.yaml", change("CHG-5", risk="critical"))
    result = cli("check", repo.root, "--policies-from", "main", "--at", AT, "--format", "json")
    assert "impact" not in json.loads(result.out)


def test_both_backends_give_one_impact(cli, repo: GitRepo) -> None:
    if len(BACKENDS) < 2:
        pytest.skip("one CEL backend installed")
    repo.write("policies/risk.yaml", _policy("object.spec.risk == 'low'", "false"))
    (repo.root / "freezes" / "launch.yaml").unlink()
    first, second = (_impact(cli, repo, backend) for backend in BACKENDS)
    assert first == second
    assert first["newlyDenied"]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux")
def test_several_processes_give_one_impact(cli, repo: GitRepo) -> None:
    """The preview judges its documents on several processes when asked (or for thousands
    of files): every list is the one process's, entry for entry."""
    repo.write(
        "policies/risk.yaml",
        _policy("!(object.spec.risk in ['high', 'critical'])", "object.spec.risk != 'low'"),
    )
    repo.write("freezes/launch.yaml", FREEZE.replace("2024-02-0", "2024-03-0"))
    one, two, three = (_impact(cli, repo, BACKENDS[0], "--jobs", n) for n in ("1", "2", "3"))
    assert one == two == three
    assert one["newlyDenied"]
    assert one["noLongerDenied"]
    assert one["newlyWarned"]


def test_the_text_markdown_sarif_and_junit_reports_show_it(cli, repo: GitRepo) -> None:
    repo.write("policies/risk.yaml", _policy("!(object.spec.risk in ['high', 'critical'])"))
    (repo.root / "freezes" / "launch.yaml").unlink()
    base = ("check", repo.root, "--policies-from", "main", "--at", AT, "--format")
    text = cli(*base, "text").out
    assert (
        "impact against main: this change newly blocks 2 change requests, unblocks 1 change "
        "request (6 documents judged under both policy sets)"
    ) in text
    assert "  newly denied: " in text
    assert "(ChangeRequest CHG-2): risk-limit/max-risk" in text
    markdown = cli(*base, "markdown").out
    assert "### What this change does to the rules (against main)" in markdown
    assert "This change newly blocks 2 change requests, unblocks 1 change request" in markdown
    assert "| newly denied | `risk-limit/max-risk` |" in markdown
    sarif = json.loads(cli(*base, "sarif").out)["runs"][0]
    notes = sarif["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["message"]["text"].startswith("this change newly blocks 2 change requests")
    assert sarif["properties"]["impact"]["base"] == "main"
    junit = cli(*base, "junit").out
    assert '<testsuite name="changegate impact" tests="4"' in junit
    assert "no longer denied: " in junit


def test_changegate_impact_computes_it_on_its_own(cli, repo: GitRepo) -> None:
    repo.write("policies/risk.yaml", _policy("!(object.spec.risk in ['high', 'critical'])"))
    result = cli("--repo", repo.root, "impact", "--base", "main", "--at", AT, "--format", "json")
    assert result.code == 0
    impact = json.loads(result.out)
    assert impact["kind"] == "Impact"
    assert _listed(impact, "newlyDenied") == {
        ("CHG-2", "risk-limit/max-risk"),
        ("CHG-3", "risk-limit/max-risk"),
    }
    only = cli(
        "--repo", repo.root, "impact", "--base", "main", "--at", AT, "--format", "json",
        repo.root / "changes" / "CHG-2.yaml",
    )  # fmt: skip
    narrowed = json.loads(only.out)
    assert narrowed["documents"] == 1
    assert _listed(narrowed, "newlyDenied") == {("CHG-2", "risk-limit/max-risk")}
    # a pull_request by default, without reviews: every change request already lacks its
    # approvals on both sides, so the rule outcomes move and no decision does
    text = cli("--repo", repo.root, "impact", "--base", "main", "--at", AT)
    assert text.out.startswith(
        "impact against main: this change changes 2 rule outcomes but blocks and unblocks "
        "nothing (7 documents judged under both policy sets)\n  newly denied: "
    )
    local = cli("--repo", repo.root, "impact", "--base", "main", "--at", AT, "--event", "local")
    assert local.out.startswith("impact against main: this change newly blocks 2 change requests")
    missing = cli("--repo", repo.root, "impact", "--base", "no-such-ref")
    assert missing.code == 2
    assert "git ref 'no-such-ref' does not exist" in missing.err


def test_a_policy_set_the_change_leaves_unloadable_denies(cli, repo: GitRepo) -> None:
    repo.write("policies/risk.yaml", _policy("object.spec.risk !=="))
    result = cli("check", repo.root, "--policies-from", "main", "--at", AT, "--format", "json")
    verdict = json.loads(result.out)
    assert result.code == 1
    assert "CEL that does not compile" in verdict["impact"]["error"]
    (finding,) = [f for f in verdict["findings"] if f["rule"] == "changegate/invalid-policies"]
    assert "every run after its merge would stop with exit 2" in finding["message"]
    text = cli("check", repo.root, "--policies-from", "main", "--at", AT).out
    assert (
        "impact against main: the impact of this change is unknown: its policy set cannot " in text
    )
    markdown = cli(
        "check", repo.root, "--policies-from", "main", "--at", AT, "--format", "markdown"
    )
    assert "its policy set cannot be loaded: CEL that does not compile" in markdown.out


# --- a change to changegate.lock --------------------------------------------------------------


def _pull_request(repo: GitRepo, *changed: str) -> Path:
    context = repo.root.parent / "context.json"
    context.write_text(
        json.dumps(
            {
                "event": "pull_request",
                "actor": "dana",
                "pullRequest": {
                    "number": 7,
                    "author": "dana",
                    "createdAt": "2024-01-19T08:00:00Z",
                    "changedFiles": list(changed),
                    "committers": ["dana"],
                },
                "reviews": [],
                "teams": {},
            }
        )
    )
    return context


def test_bumping_the_lock_is_governed_like_a_policy_change_and_previewed(
    cli, tmp_path: Path
) -> None:
    pack = Pack(tmp_path)
    pack.publish({"packs/payments/risk.yaml": CRITICAL}, tag="v1.0.0")
    repo = GitRepo(tmp_path / "repo")
    roles = "  roles: {policy-owners: {users: [grace]}}\n"
    repo.write("changegate.yaml", config("builtin:recommended", pack.source("v1.0.0"), extra=roles))
    for name, risk in ALL_RISKS.items():
        repo.write(f"changes/{name}.yaml", change(name, risk=risk, start="2024-03-01T10:00"))
    assert cli("--repo", repo.root, "policies", "lock").code == 0
    repo.commit("base with pack v1.0.0")
    stricter = CRITICAL.replace("object.spec.risk != 'critical'", "object.spec.risk == 'low'")
    pack.publish({"packs/payments/risk.yaml": stricter}, tag="v1.0.0")  # the tag moved
    assert cli("--repo", repo.root, "policies", "lock").code == 0  # re-pinned: a lock-only PR
    context = _pull_request(repo, "changegate.lock")
    result = cli(
        "check", repo.root, "--policies-from", "main", "--context", context, "--at", AT,
        "--format", "json",
    )  # fmt: skip
    verdict = json.loads(result.out)
    assert result.code == 1
    (governed,) = [f for f in verdict["findings"] if f["document"]["kind"] == "PolicyLock"]
    assert governed["rule"] == "governance/policy-change-approval"
    assert governed["message"].startswith(
        "changing PolicyLock changegate.lock needs an approval from role policy-owners"
    )
    impact = verdict["impact"]
    assert _listed(impact, "newlyDenied") == {
        ("CHG-2", "pack-risk/not-critical"),
        ("CHG-3", "pack-risk/not-critical"),
    }


@pytest.mark.parametrize(
    ("changed", "previewed"),
    [(["changes/CHG-2.yaml"], False), (["changes/CHG-2.yaml", "freezes/launch.yaml"], True)],
)
def test_a_pull_request_that_lists_no_rule_file_is_not_previewed(
    cli, repo: GitRepo, changed: list[str], previewed: bool
) -> None:
    """The pull request's changed files tell whether it touches the rules (as they are now or
    at the base); git is asked only when they might."""
    repo.branch("pr")
    repo.write("changes/CHG-2.yaml", change("CHG-2", risk="low", start="2024-03-01T10:00"))
    if previewed:
        (repo.root / "freezes" / "launch.yaml").unlink()
    repo.commit("the pull request")
    context = _pull_request(repo, *changed)
    result = cli("check", repo.root, "--policies-from", "main", "--context", context, "--at", AT,
                 "--format", "json")  # fmt: skip
    assert result.code in {0, 1}, result.err
    verdict = json.loads(result.out)
    assert ("impact" in verdict) is previewed
    if previewed:
        assert ("CHG-1", "change-freeze/no-freeze-conflict") in _listed(
            verdict["impact"], "noLongerDenied"
        )
