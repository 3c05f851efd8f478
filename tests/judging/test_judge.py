"""``changegate check`` end to end on acme-shop: the verdicts issue 3 lists, through the CLI,
with real git histories where approvals are bound to content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.files import EXAMPLES, ROOT, TEAMS, copy_example
from tests.support.repos import GitRepo
from tests.support.verdicts import failed

ACME = EXAMPLES / "acme-shop"
CONTEXTS = ACME / "contexts"
AT = "2024-01-20T12:00:00Z"


@pytest.fixture(autouse=True)
def _from_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def verdict_of(cli, *args: Any) -> tuple[int, dict[str, Any]]:
    result = cli("check", "--format", "json", "--at", AT, *args)
    assert result.code in {0, 1}, result.err
    return result.code, json.loads(result.out)


def write_context(path: Path, **context: Any) -> Path:
    path.write_text(yaml.safe_dump(context, sort_keys=False))
    return path


# --- the shipped contexts ---------------------------------------------------------------------


def test_normal_change_approved_by_a_cab_member_is_allowed(cli) -> None:
    code, verdict = verdict_of(cli, ACME, "--context", CONTEXTS / "pr-42-approved.yaml")
    assert code == 0
    assert verdict["decision"] == "allow"
    assert verdict["summary"]["documents"] == 1  # the pull request changes one document
    assert verdict["engine"]["celBackend"] in {"cel-expr-python", "cel-python"}


def test_the_same_approval_by_the_pr_author_is_denied(cli) -> None:
    code, verdict = verdict_of(cli, ACME, "--context", CONTEXTS / "pr-42-self-approved.yaml")
    assert code == 1
    assert failed(verdict) == [("change-approvals/required-approvals", "CHG-2024-0150")]
    [finding] = verdict["findings"]
    assert "not counted: bob is the pull request's author" in finding["message"]
    assert (finding["document"]["line"], finding["document"]["column"]) == (9, 3)


def test_a_config_change_needs_a_policy_owner(cli) -> None:
    code, verdict = verdict_of(cli, ACME, "--context", CONTEXTS / "pr-43-policy-change.yaml")
    assert code == 1
    assert failed(verdict) == [("governance/policy-change-approval", "acme-shop")]


def test_deploy_with_an_open_exit_criterion_is_denied_while_a_pr_only_warns(cli) -> None:
    plan = ACME / "releases" / "checkout-v2.5.0.yaml"
    code, deploy = verdict_of(cli, plan, "--context", CONTEXTS / "deploy-checkout-2.5.0.yaml")
    assert code == 1
    assert ("release-readiness/exit-criteria", "checkout-v2.5.0") in failed(deploy)
    assert ("release-go-no-go/decision", "checkout-v2.5.0") in failed(deploy)
    code, pull = verdict_of(cli, plan, "--event", "pull_request")
    assert code == 0
    warnings = [(f["rule"], f["severity"]) for f in pull["findings"]]
    assert ("release-readiness/exit-criteria", "warn") in warnings
    assert "release-go-no-go/decision" not in {f["rule"] for f in pull["findings"]}


def test_local_check_of_the_whole_example(cli) -> None:
    code, verdict = verdict_of(cli, ACME)
    assert code == 0
    assert verdict["summary"]["documents"] == 11
    assert verdict["summary"]["failed"] == 0
    assert {f["rule"] for f in verdict["findings"]} == {
        "release-readiness/ci-checks",
        "release-readiness/exit-criteria",
    }


# --- documents changed in a copy ---------------------------------------------------------------


def pr_context(path: Path, changed: list[str], **extra: Any) -> Path:
    return write_context(
        path,
        event="pull_request",
        pullRequest={
            "number": 7,
            "author": "alice",
            "headSha": "abc1234",
            "createdAt": "2024-01-10T09:00:00Z",
            "changedFiles": changed,
            "committers": ["alice"],
        },
        reviews=[{"user": "bob", "state": "APPROVED", "commit": "abc1234"}],
        teams=TEAMS,
        **extra,
    )


def test_a_standard_change_without_a_template_is_denied(cli, tmp_path: Path) -> None:
    shop = copy_example(tmp_path / "shop")
    change = shop / "changes" / "CHG-2024-0151.yaml"
    change.write_text(change.read_text().replace("  template: tls-rotation\n", ""))
    context = pr_context(tmp_path / "ctx.yaml", ["changes/CHG-2024-0151.yaml"])
    code, verdict = verdict_of(cli, shop, "--context", context)
    assert code == 1
    assert failed(verdict) == [("change-completeness/standard-template", "CHG-2024-0151")]
    assert "set spec.template (one of tls-rotation, scale-out)" in verdict["findings"][0]["message"]


def test_a_minor_release_with_a_breaking_change_is_denied(cli, tmp_path: Path) -> None:
    shop = copy_example(tmp_path / "shop")
    plan = shop / "releases" / "checkout-v2.5.0.yaml"
    plan.write_text(
        plan.read_text().replace(
            "    breakingChanges: []",
            "    breakingChanges:\n      - {description: The v1 orders API is removed}",
        )
    )
    code, verdict = verdict_of(cli, plan)
    assert code == 1
    assert failed(verdict) == [("release-versioning/semver-bump", "checkout-v2.5.0")]
    message = next(f["message"] for f in verdict["findings"] if f["rule"].endswith("semver-bump"))
    assert "set type: major and version 3.0.0" in message


# --- approvals bound to content, with real git history --------------------------------------


@pytest.fixture
def shop_repo(git_repo: GitRepo) -> GitRepo:
    copy_example(git_repo.root)
    git_repo.commit("acme-shop as it is on main")
    return git_repo


def reviewed_context(tmp_path: Path, repo: GitRepo, reviewed: str, head: str) -> Path:
    base = repo.repo.merge_base("main", head)[0].hexsha
    return write_context(
        tmp_path / "context.yaml",
        event="pull_request",
        pullRequest={
            "number": 8,
            "author": "alice",
            "headSha": head,
            "baseSha": base,
            "createdAt": "2024-01-18T09:00:00Z",
            "changedFiles": ["changes/CHG-2024-0150.yaml"],
            "committers": ["alice"],
        },
        reviews=[{"user": "bob", "state": "APPROVED", "commit": reviewed}],
        teams=TEAMS,
    )


def edit(repo: GitRepo, relative: str, old: str, new: str) -> None:
    path = repo.root / relative
    path.write_text(path.read_text().replace(old, new))


def test_an_approval_on_an_older_commit_is_dropped_when_the_change_was_edited_since(
    cli, tmp_path: Path, shop_repo: GitRepo
) -> None:
    shop_repo.branch("pr")
    edit(shop_repo, "changes/CHG-2024-0150.yaml", "risk: medium", "risk: low")
    reviewed = shop_repo.commit("lower the risk")
    edit(shop_repo, "changes/CHG-2024-0150.yaml", "duration: 2h", "duration: 3h")
    head = shop_repo.commit("longer window, after the review")
    context = reviewed_context(tmp_path, shop_repo, reviewed, head)
    code, verdict = verdict_of(cli, shop_repo.root, "--context", context)
    assert code == 1
    assert failed(verdict) == [("change-approvals/required-approvals", "CHG-2024-0150")]
    assert (
        f"changes/CHG-2024-0150.yaml changed after the review (on {reviewed[:7]})"
        in verdict["findings"][0]["message"]
    )


def test_the_approval_survives_a_rebase_that_left_the_document_unchanged(
    cli, tmp_path: Path, shop_repo: GitRepo
) -> None:
    shop_repo.branch("pr")
    edit(shop_repo, "changes/CHG-2024-0150.yaml", "risk: medium", "risk: low")
    reviewed = shop_repo.commit("lower the risk")
    shop_repo.checkout("main")
    edit(shop_repo, "incidents/INC-2024-0125.yaml", "status: resolved", "status: closed")
    shop_repo.commit("close the incident on main")
    shop_repo.checkout("pr")
    shop_repo.repo.git.rebase("main")
    head = shop_repo.repo.head.commit.hexsha
    assert head != reviewed
    context = reviewed_context(tmp_path, shop_repo, reviewed, head)
    code, verdict = verdict_of(cli, shop_repo.root, "--context", context)
    assert code == 0, verdict["findings"]
    assert verdict["decision"] == "allow"


def test_formatting_and_comments_do_not_drop_an_approval(
    cli, tmp_path: Path, shop_repo: GitRepo
) -> None:
    shop_repo.branch("pr")
    reviewed = shop_repo.repo.head.commit.hexsha
    edit(shop_repo, "changes/CHG-2024-0150.yaml", "  type: normal\n", "  type: normal   # CAB\n")
    head = shop_repo.commit("comment only")
    context = reviewed_context(tmp_path, shop_repo, reviewed, head)
    code, _ = verdict_of(cli, shop_repo.root, "--context", context)
    assert code == 0


def test_a_reviewed_commit_missing_from_the_clone_fails_closed(
    cli, tmp_path: Path, shop_repo: GitRepo
) -> None:
    head = shop_repo.repo.head.commit.hexsha
    context = reviewed_context(tmp_path, shop_repo, "0" * 40, head)
    code, verdict = verdict_of(cli, shop_repo.root, "--context", context)
    assert code == 1
    assert "commit 0000000 is not in this clone" in verdict["findings"][0]["message"]


JUSTIFICATION_POLICY = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: justification}
spec:
  match: {kinds: [ChangeRequest]}
  rules:
    - name: explained
      expression: "%s"
      message: Explain why the change is needed in spec.justification
"""


def test_a_pull_request_that_weakens_the_policies_is_judged_by_the_base(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    copy_example(git_repo.root)
    git_repo.write(
        "policies/justification.yaml", JUSTIFICATION_POLICY % "has(object.spec.justification)"
    )
    git_repo.commit("require justifications")
    git_repo.branch("pr")
    edit(git_repo, "changes/CHG-2024-0150.yaml", "  justification: |", "  notes: |")
    text = (git_repo.root / "changes/CHG-2024-0150.yaml").read_text()
    (git_repo.root / "changes/CHG-2024-0150.yaml").write_text(
        text.replace("  notes: |\n", "  testing_notes: |\n", 1)
    )
    # drop the justification paragraph entirely, loosen the policy and waive the approvals
    lines = (git_repo.root / "changes/CHG-2024-0150.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  testing_notes:"))
    del lines[start : start + 3]
    (git_repo.root / "changes/CHG-2024-0150.yaml").write_text("\n".join(lines) + "\n")
    git_repo.write("policies/justification.yaml", JUSTIFICATION_POLICY % "true")
    git_repo.write(
        "policies/waive-everything.yaml",
        "apiVersion: changegate/v1\nkind: Waiver\nmetadata: {name: waive-approvals}\n"
        "spec: {rule: 'change-approvals/*', selector: {names: ['*']}, owner: alice,\n"
        "       justification: I want to merge, expires: '2030-01-01'}\n",
    )
    head = git_repo.commit("drop the justification and loosen the rules")
    context = write_context(
        tmp_path / "context.yaml",
        event="pull_request",
        pullRequest={
            "number": 9,
            "author": "alice",
            "headSha": head,
            "createdAt": "2024-01-18T09:00:00Z",
            "changedFiles": [
                "changes/CHG-2024-0150.yaml",
                "policies/justification.yaml",
                "policies/waive-everything.yaml",
            ],
            "committers": ["alice"],
        },
        teams=TEAMS,
    )
    _, weakened = verdict_of(cli, git_repo.root, "--context", context)
    assert ("justification/explained", "CHG-2024-0150") not in failed(weakened)
    assert ("change-approvals/required-approvals", "CHG-2024-0150") not in failed(weakened)
    code, judged = verdict_of(cli, git_repo.root, "--context", context, "--policies-from", "main")
    assert code == 1
    assert ("justification/explained", "CHG-2024-0150") in failed(judged)
    assert ("change-approvals/required-approvals", "CHG-2024-0150") in failed(judged)
    # changing the policy and adding the waiver are themselves governed changes
    assert ("governance/policy-change-approval", "justification") in failed(judged)
    assert ("governance/policy-change-approval", "waive-approvals") in failed(judged)


def test_the_base_is_read_at_one_commit_however_the_ref_moves(
    cli, git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Config, policies and lock come from the commit ``--policies-from`` named when the run
    began: a push to the base during the run cannot lend it a looser policy."""
    from engine.gitrepo import GitRepo as EngineGit

    copy_example(git_repo.root)
    git_repo.write(
        "policies/justification.yaml", JUSTIFICATION_POLICY % "has(object.spec.justification)"
    )
    strict = git_repo.commit("require justifications")
    git_repo.write("policies/justification.yaml", JUSTIFICATION_POLICY % "true")
    loose = git_repo.commit("loosen it")  # main moves here while the run is under way
    real = EngineGit.resolve
    answers = iter([strict])

    def moving(self: EngineGit, ref: str) -> str:
        return next(answers, loose) if ref == "main" else real(self, ref)

    monkeypatch.setattr(EngineGit, "resolve", moving)
    _, judged = verdict_of(cli, git_repo.root, "--policies-from", "main")
    assert ("justification/explained", "CHG-2024-0151") in failed(judged)  # it has none


def test_a_repository_policy_may_not_shadow_a_builtin_one(cli, tmp_path: Path) -> None:
    shop = copy_example(tmp_path / "shop")
    (shop / "policies").mkdir(exist_ok=True)
    (shop / "policies" / "mine.yaml").write_text(
        "apiVersion: changegate/v1\nkind: Policy\nmetadata: {name: change-approvals}\n"
        "spec: {match: {kinds: [ChangeRequest]},\n"
        "       rules: [{name: x, expression: 'true', message: m}]}\n"
    )
    result = cli("check", shop)
    assert result.code == 2
    assert "two policies are named 'change-approvals'" in result.err


def test_policies_from_an_unknown_ref_is_a_usage_error(cli, shop_repo: GitRepo) -> None:
    result = cli("check", shop_repo.root, "--policies-from", "no-such-branch")
    assert result.code == 2
    assert "git ref 'no-such-branch' does not exist" in result.err


@pytest.mark.parametrize(
    ("flag", "words"),
    [("changedFilesIncomplete", "changed files"), ("committersIncomplete", "commits")],
)
def test_incomplete_lists_deny(cli, tmp_path: Path, flag: str, words: str) -> None:
    context = pr_context(
        tmp_path / "ctx.yaml", ["changes/CHG-2024-0150.yaml"], checks={"codeql": "success"}
    )
    data = yaml.safe_load(context.read_text())
    data["pullRequest"][flag] = True
    context.write_text(yaml.safe_dump(data))
    code, verdict = verdict_of(cli, ACME, "--context", context)
    assert code == 1
    [finding] = [f for f in verdict["findings"] if f["rule"] == "changegate/incomplete-context"]
    assert f"listed only part of the pull request's {words}" in finding["message"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("event: merge\nreviewz: []\n", "unknown"),
        ("event: publish\n", "'publish' is not one of"),
        ("pullRequest: {number: 1}\n", "'author' is a required property"),
        ("- a list\n", "holds one mapping"),
    ],
)
def test_bad_context_files_are_configuration_errors(
    cli, tmp_path: Path, text: str, message: str
) -> None:
    context = tmp_path / "context.yaml"
    context.write_text(text)
    result = cli("check", ACME, "--context", context)
    assert result.code == 2
    assert message in result.err or "Additional properties" in result.err


def test_every_output_format_is_produced(cli, tmp_path: Path) -> None:
    for fmt in ("text", "json", "markdown", "sarif", "junit", "github"):
        out = tmp_path / f"verdict.{fmt}"
        result = cli("check", ACME, "--context", CONTEXTS / "pr-42-self-approved.yaml",
                     "--at", AT, "--format", fmt, "--output", out)  # fmt: skip
        assert result.code == 1, result.err
        assert result.out == ""
        assert "CHG-2024-0150" in out.read_text().replace("\\-", "-")
