"""Hostile pull requests (issue 10): deletions and renames of governed documents, vetoes,
changed-file paths and names taken twice. Real git histories, the CLI, real contexts; every case
ends in the right verdict or a usage error, never in a traceback or a silent pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.support.files import TEAMS, copy_example, write
from tests.support.repos import GitRepo

AT = "2024-01-20T12:00:00Z"
CHANGE = "changes/CHG-2024-0150.yaml"
HOLIDAY = "freezes/holiday-freeze.yaml"
WEEKEND = "freezes/weekend-freeze.yaml"

EXTRA_POLICY = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: incident-owner}
spec:
  match: {kinds: [Incident]}
  rules:
    - {name: has-services, expression: "size(object.spec.services) > 0", message: Name services}
"""
WAIVER = """\
apiVersion: changegate/v1
kind: Waiver
metadata: {name: %s}
spec:
  rule: change-approvals/*
  selector: {names: ['*']}
  owner: alice
  justification: I want to merge
  expires: "2030-01-01"
"""
CHANGE_WINDOW = """\
apiVersion: changegate/v1
kind: ChangeWindow
metadata: {name: always-open}
spec:
  timezone: UTC
  start: "2024-01-01T00:00"
  end: "2030-01-01T00:00"
  scope: {environments: [production]}
"""


def sound(result: Result) -> None:
    assert result.code != 3, result.err
    assert "Traceback" not in result.err


def judged(cli, root: Path, context: Path, *extra: Any) -> tuple[int, dict[str, Any]]:
    result = cli("check", root, "--format", "json", "--at", AT, "--context", context, *extra)
    sound(result)
    assert result.code in {0, 1}, result.err
    return result.code, json.loads(result.out)


def failing(verdict: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted(
        (f["rule"], f["document"]["name"])
        for f in verdict["findings"]
        if f["severity"] == "deny" and f["outcome"] in {"fail", "error"}
    )


def message(verdict: dict[str, Any], rule: str) -> str:
    return " ".join(f["message"] for f in verdict["findings"] if f["rule"] == rule)


def context(
    path: Path,
    changed: list[str],
    head: str,
    base: str | None = None,
    *,
    reviews: list[dict[str, Any]] | None = None,
    committers: tuple[str, ...] = ("alice",),
    teams: dict[str, list[str]] | None = None,
    created: str = "2024-01-18T09:00:00Z",
) -> Path:
    pull: dict[str, Any] = {
        "number": 7,
        "author": "alice",
        "headSha": head,
        "createdAt": created,
        "changedFiles": changed,
        "committers": list(committers),
    }
    if base is not None:
        pull["baseSha"] = base
    data = {
        "event": "pull_request",
        "actor": "alice",
        "pullRequest": pull,
        "reviews": reviews or [],
        "teams": teams or TEAMS,
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def review(user: str, state: str, commit: str | None, **extra: Any) -> dict[str, Any]:
    found = {"user": user, "state": state, **extra}
    if commit is not None:
        found["commit"] = commit
    return found


class Shop:
    """acme-shop in a real git repository: ``base`` on main, a branch ``pr`` checked out."""

    def __init__(self, repo: GitRepo, setup: Any = None) -> None:
        self.git = repo
        self.root = repo.root
        copy_example(self.root)
        if setup is not None:
            setup(self.root)
        self.base = repo.commit("acme-shop on main")
        repo.branch("pr")

    def head(self, message: str = "the pull request") -> str:
        return self.git.commit(message, author="Alice")

    def remove(self, relative: str) -> str:
        text = (self.root / relative).read_text(encoding="utf-8")
        (self.root / relative).unlink()
        return text


@pytest.fixture
def shop(git_repo: GitRepo) -> Shop:
    return Shop(git_repo)


def with_extras(root: Path) -> None:
    write(root / "policies" / "incident-owner.yaml", EXTRA_POLICY)
    write(root / "policies" / "waivers.yaml", WAIVER % "old-waiver")


@pytest.fixture
def governed_shop(git_repo: GitRepo) -> Shop:
    return Shop(git_repo, with_extras)


# --- deletions and renames --------------------------------------------------------------------


def test_deleting_a_freeze_needs_a_window_owner(cli, tmp_path: Path, shop: Shop) -> None:
    shop.remove(HOLIDAY)
    head = shop.head()
    code, verdict = judged(cli, shop.root, context(tmp_path / "c.json", [HOLIDAY], head, shop.base))
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "holiday-freeze")],
    )
    assert message(verdict, "governance/window-change-approval").startswith(
        "deleting FreezeWindow holiday-freeze needs an approval from role policy-owners"
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_deletion_is_judged_when_the_context_lists_no_changed_files(
    cli, tmp_path: Path, shop: Shop, jobs: str
) -> None:
    """A hand-written context (CI outside GitHub) may leave changedFiles out: git then tells
    what the pull request changes against its base, and a deleted freeze still needs its
    owner, on one process or several."""
    shop.remove(HOLIDAY)
    head = shop.head()
    path = context(tmp_path / "c.json", [HOLIDAY], head, shop.base)
    data = json.loads(path.read_text())
    del data["pullRequest"]["changedFiles"]
    path.write_text(json.dumps(data))
    code, verdict = judged(cli, shop.root, path, "--jobs", jobs)
    assert code == 1
    assert ("governance/window-change-approval", "holiday-freeze") in failing(verdict)
    assert "deleting FreezeWindow holiday-freeze" in message(
        verdict, "governance/window-change-approval"
    )


def test_a_policy_owner_may_approve_deleting_a_freeze(cli, tmp_path: Path, shop: Shop) -> None:
    shop.remove(HOLIDAY)
    head = shop.head()
    reviews = [review("grace", "APPROVED", head)]
    ctx = context(tmp_path / "c.json", [HOLIDAY], head, shop.base, reviews=reviews)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (0, [])


def test_where_window_owners_exist_a_policy_owner_is_not_enough(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    def window_owners(root: Path) -> None:
        config = root / "changegate.yaml"
        config.write_text(
            config.read_text().replace(
                "    release-managers: {users: [alice]}\n",
                "    release-managers: {users: [alice]}\n    window-owners: {users: [wendy]}\n",
            )
        )

    shop = Shop(git_repo, window_owners)
    shop.remove(HOLIDAY)
    head = shop.head()
    reviews = [review("grace", "APPROVED", head)]
    ctx = context(tmp_path / "c.json", [HOLIDAY], head, shop.base, reviews=reviews)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "holiday-freeze")],
    )
    assert "needs an approval from role window-owners (held by user wendy" in message(
        verdict, "governance/window-change-approval"
    )


def test_a_deletion_hidden_in_a_multi_document_file_is_judged(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    def together(root: Path) -> None:
        both = (root / HOLIDAY).read_text() + "---\n" + (root / WEEKEND).read_text()
        (root / HOLIDAY).unlink()
        (root / WEEKEND).unlink()
        write(root / "freezes" / "all.yaml", both)

    shop = Shop(git_repo, together)
    all_freezes = shop.root / "freezes" / "all.yaml"
    all_freezes.write_text(all_freezes.read_text().split("---\n")[1])  # weekend stays
    head = shop.head()
    ctx = context(tmp_path / "c.json", ["freezes/all.yaml"], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert code == 1
    assert ("governance/window-change-approval", "holiday-freeze") in failing(verdict)
    assert "deleting FreezeWindow holiday-freeze" in message(
        verdict, "governance/window-change-approval"
    )


def test_a_rename_that_changes_the_name_is_a_deletion(cli, tmp_path: Path, shop: Shop) -> None:
    text = shop.remove(HOLIDAY)
    write(shop.root / "freezes" / "holidays.yaml", text.replace("holiday-freeze", "holidays-v2"))
    head = shop.head()
    ctx = context(tmp_path / "c.json", [HOLIDAY, "freezes/holidays.yaml"], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "holiday-freeze")],
    )
    assert "deleting FreezeWindow holiday-freeze" in message(
        verdict, "governance/window-change-approval"
    )


def test_a_pure_rename_of_a_freeze_is_still_a_change_to_it(cli, tmp_path: Path, shop: Shop) -> None:
    write(shop.root / "freezes" / "holidays.yaml", shop.remove(HOLIDAY))
    head = shop.head()
    ctx = context(tmp_path / "c.json", [HOLIDAY, "freezes/holidays.yaml"], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "holiday-freeze")],
    )


@pytest.mark.parametrize(
    "target", ["archive/holiday-freeze.yaml", "freezes/holiday-freeze.yml.bak"]
)
def test_moving_a_freeze_out_of_the_governed_files_is_a_deletion(
    cli, tmp_path: Path, shop: Shop, target: str
) -> None:
    write(shop.root / target, shop.remove(HOLIDAY))
    head = shop.head()
    ctx = context(tmp_path / "c.json", [HOLIDAY, target], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "holiday-freeze")],
    )


def test_a_freeze_replaced_by_a_link_out_of_the_repository_is_deleted_and_refused(
    cli, tmp_path: Path, shop: Shop
) -> None:
    outside = write(tmp_path / "outside" / "freeze.yaml", shop.remove(HOLIDAY))
    (shop.root / HOLIDAY).symlink_to(outside)
    head = shop.head()
    ctx = context(tmp_path / "c.json", [HOLIDAY], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [
            ("changegate/outside-repository", None),
            ("governance/window-change-approval", "holiday-freeze"),
        ],
    )
    assert str(tmp_path / "outside") not in json.dumps(verdict)


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("policies/incident-owner.yaml", "deleting Policy incident-owner"),
        ("policies/waivers.yaml", "deleting Waiver old-waiver"),
        ("changegate.yaml", "deleting Config acme-shop"),
    ],
)
def test_deleting_a_policy_a_waiver_or_the_config_needs_a_policy_owner(
    cli, tmp_path: Path, governed_shop: Shop, path: str, said: str
) -> None:
    governed_shop.remove(path)
    head = governed_shop.head()
    ctx = context(tmp_path / "c.json", [path], head, governed_shop.base)
    code, verdict = judged(cli, governed_shop.root, ctx, "--policies-from", "main")
    assert code == 1
    assert [rule for rule, _ in failing(verdict)] == ["governance/policy-change-approval"]
    assert said in message(verdict, "governance/policy-change-approval")


def test_a_policy_moved_into_another_governed_folder_is_still_a_policy_change(
    cli, tmp_path: Path, governed_shop: Shop
) -> None:
    moved = "changes/incident-owner.yaml"
    write(governed_shop.root / moved, governed_shop.remove("policies/incident-owner.yaml"))
    head = governed_shop.head()
    changed = ["policies/incident-owner.yaml", moved]
    ctx = context(tmp_path / "c.json", changed, head, governed_shop.base)
    code, verdict = judged(cli, governed_shop.root, ctx, "--policies-from", "main")
    assert code == 1
    assert ("governance/policy-change-approval", "incident-owner") in failing(verdict)


@pytest.mark.parametrize(
    "base",
    [None, "0" * 40, "deadbeef"],
    ids=["no base in the context", "base not in the clone", "short unknown base"],
)
def test_a_deletion_without_a_base_to_read_is_unjudged(
    cli, tmp_path: Path, shop: Shop, base: str | None
) -> None:
    shop.remove(HOLIDAY)
    head = shop.head()
    code, verdict = judged(cli, shop.root, context(tmp_path / "c.json", [HOLIDAY], head, base))
    assert (code, failing(verdict)) == (1, [("changegate/unjudged-deletion", None)])
    assert "freezes/holiday-freeze.yaml, which is not in the working tree" in message(
        verdict, "changegate/unjudged-deletion"
    )


def test_policies_from_a_ref_that_does_not_exist_is_a_usage_error(
    cli, tmp_path: Path, shop: Shop
) -> None:
    shop.remove(HOLIDAY)
    head = shop.head()
    ctx = context(tmp_path / "c.json", [HOLIDAY], head)
    result = cli("check", shop.root, "--at", AT, "--context", ctx, "--policies-from", "no-base")
    sound(result)
    assert result.code == 2
    assert "git ref 'no-base' does not exist" in result.err


def test_adding_a_freeze_needs_nobody_but_adding_a_change_window_does(
    cli, tmp_path: Path, shop: Shop
) -> None:
    write(
        shop.root / "freezes" / "extra.yaml",
        (shop.root / HOLIDAY).read_text().replace("name: holiday-freeze", "name: extra-freeze"),
    )
    head = shop.head()
    ctx = context(tmp_path / "c.json", ["freezes/extra.yaml"], head, shop.base)
    assert judged(cli, shop.root, ctx)[0] == 0
    write(shop.root / "freezes" / "open.yaml", CHANGE_WINDOW)
    head = shop.head("and a change window")
    ctx = context(tmp_path / "c.json", ["freezes/extra.yaml", "freezes/open.yaml"], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (1, [("governance/window-change-approval", "always-open")])
    assert "adding ChangeWindow always-open" in message(
        verdict, "governance/window-change-approval"
    )


def weaken_weekend(root: Path) -> None:
    path = root / WEEKEND
    path.write_text(path.read_text().replace("BYDAY=FR", "BYDAY=SU").replace("64h", "1m"))


@pytest.mark.parametrize("base", [None, "1" * 40], ids=["no base", "base not in the clone"])
def test_weakening_a_freeze_without_a_base_to_compare_is_not_an_addition(
    cli, tmp_path: Path, shop: Shop, base: str | None
) -> None:
    weaken_weekend(shop.root)
    head = shop.head()
    code, verdict = judged(cli, shop.root, context(tmp_path / "c.json", [WEEKEND], head, base))
    assert code == 1
    assert {rule for rule, _ in failing(verdict)} & {
        "governance/window-change-approval",
        "changegate/unjudged-deletion",
    }


def test_weakening_a_freeze_with_its_base_needs_a_window_owner(
    cli, tmp_path: Path, shop: Shop
) -> None:
    weaken_weekend(shop.root)
    head = shop.head()
    ctx = context(tmp_path / "c.json", [WEEKEND], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/window-change-approval", "weekend-freeze")],
    )
    assert "changing FreezeWindow weekend-freeze" in message(
        verdict, "governance/window-change-approval"
    )


def test_a_hidden_deletion_without_a_base_is_not_a_silent_pass(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    def together(root: Path) -> None:
        both = (root / HOLIDAY).read_text() + "---\n" + (root / WEEKEND).read_text()
        (root / HOLIDAY).unlink()
        (root / WEEKEND).unlink()
        write(root / "freezes" / "all.yaml", both)

    shop = Shop(git_repo, together)
    all_freezes = shop.root / "freezes" / "all.yaml"
    all_freezes.write_text(all_freezes.read_text().split("---\n")[1])
    head = shop.head()
    code, verdict = judged(cli, shop.root, context(tmp_path / "c.json", ["freezes/all.yaml"], head))
    assert code == 1
    assert {rule for rule, _ in failing(verdict)} & {
        "changegate/unjudged-deletion",
        "governance/window-change-approval",
    }


def test_policy_folders_are_governed_even_when_the_include_globs_forget_them(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    def narrow(root: Path) -> None:
        config = root / "changegate.yaml"
        config.write_text(
            config.read_text().replace(
                "  policies: [builtin:recommended, ./policies]\n",
                "  policies: [builtin:recommended, ./rules/]\n"
                "  documents: {include: ['changes/**.yaml']}\n",
            )
        )
        write(root / "rules" / "incident-owner.yaml", EXTRA_POLICY)

    shop = Shop(git_repo, narrow)
    write(shop.root / "rules" / "sub" / "waive.yaml", WAIVER % "waive-all")
    head = shop.head()
    ctx = context(tmp_path / "c.json", ["rules/sub/waive.yaml"], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx, "--policies-from", "main")
    assert (code, failing(verdict)) == (1, [("governance/policy-change-approval", "waive-all")])


@pytest.mark.parametrize(
    ("exclude", "path"),
    [("policies/tests/**", "policies/tests/waive.yaml"), ("changegate.yaml", "changegate.yaml")],
)
def test_documents_exclude_cannot_ungovern_policies_or_the_config(
    cli, tmp_path: Path, git_repo: GitRepo, exclude: str, path: str
) -> None:
    def excluding(root: Path) -> None:
        config = root / "changegate.yaml"
        config.write_text(
            config.read_text().replace(
                "  policies: [builtin:recommended, ./policies]\n",
                "  policies: [builtin:recommended, ./policies]\n"
                f"  documents: {{exclude: ['{exclude}']}}\n",
            )
        )
        write(root / "policies" / "incident-owner.yaml", EXTRA_POLICY)

    shop = Shop(git_repo, excluding)
    if path == "changegate.yaml":
        config = shop.root / path
        config.write_text(
            config.read_text().replace("{name: production, protected: true}", "{name: production}")
        )
    else:
        write(shop.root / path, WAIVER % "waive-all")
    head = shop.head()
    ctx = context(tmp_path / "c.json", [path], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx, "--policies-from", "main")
    assert code == 1
    assert [rule for rule, _ in failing(verdict)] == ["governance/policy-change-approval"]


STAGING_FREEZE = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: staging-february}
spec:
  level: hard
  timezone: UTC
  start: "2024-02-01T00:00"
  end: "2024-02-29T00:00"
  scope: {environments: [staging]}
"""
UNREADABLE = {
    "readable": lambda text: text,
    "unparsable YAML": lambda text: "\t" + text,
    "future apiVersion": lambda text: text.replace("changegate/v1", "changegate/v2"),
    "time zone typo": lambda text: text.replace("timezone: UTC", "timezone: Europe/Berln"),
}


def staging_change(root: Path) -> str:
    text = (root / "changes" / "CHG-2024-0160.yaml").read_text()
    return (
        text.replace("environment: production", "environment: staging")
        .replace('start: "2024-01-26T16:30"', 'start: "2024-02-10T10:00"')
        .replace("name: CHG-2024-0160", "name: CHG-2024-0170")
    )


def unreadable_case(case: str, cli, tmp_path: Path, git_repo: GitRepo) -> tuple[int, Any]:
    shop = Shop(
        git_repo,
        lambda root: write(root / "freezes" / "staging.yaml", UNREADABLE[case](STAGING_FREEZE)),
    )
    write(shop.root / "changes" / "CHG-2024-0170.yaml", staging_change(shop.root))
    head = shop.head()
    reviews = [review("bob", "APPROVED", head), review("dana", "APPROVED", head)]
    changed = ["changes/CHG-2024-0170.yaml"]
    ctx = context(
        tmp_path / "c.json",
        changed,
        head,
        shop.base,
        reviews=reviews,
        created="2024-01-10T09:00:00Z",
    )
    return judged(cli, shop.root, ctx, "--policies-from", "main")


def test_a_change_into_a_readable_freeze_is_denied_at_pull_request_time(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    code, verdict = unreadable_case("readable", cli, tmp_path, git_repo)
    assert (code, failing(verdict)) == (
        1,
        [("change-freeze/no-freeze-conflict", "CHG-2024-0170")],
    )


@pytest.mark.parametrize("case", sorted(set(UNREADABLE) - {"readable"}))
def test_a_change_into_an_unreadable_freeze_is_not_a_silent_pass(
    cli, tmp_path: Path, git_repo: GitRepo, case: str
) -> None:
    code, verdict = unreadable_case(case, cli, tmp_path, git_repo)
    assert code == 1
    assert {rule for rule, _ in failing(verdict)} & {
        "change-freeze/no-freeze-conflict",
        "changegate/invalid-elsewhere",
    }


# --- incidents: what error budgets are counted from ----------------------------------------------

INCIDENT = "incidents/INC-2024-0125.yaml"


def edit(root: Path, relative: str, old: str, new: str) -> None:
    text = (root / relative).read_text(encoding="utf-8")
    assert old in text, old
    (root / relative).write_text(text.replace(old, new), encoding="utf-8")


def spent(root: Path) -> None:
    """checkout's January budget (44.6 minutes) spent by INC-2024-0125."""
    edit(root, INCIDENT, "downtime: 15m", "downtime: 60m")


@pytest.mark.parametrize(
    "how",
    [
        ("downtime: 60m", "downtime: 5m"),
        ("slaImpact: true", "slaImpact: false"),
        ("environment: production", "environment: staging"),
        ('resolvedAt: "2024-01-11T11:15:00Z"', 'resolvedAt: "2024-01-11T10:16:00Z"'),
        ("services: [checkout]", "services: [catalog]"),
        None,
    ],
    ids=["shorter", "uncounted", "staging", "resolved-early", "other-service", "deleted"],
)
def test_freeing_a_spent_budget_by_editing_an_incident_needs_a_policy_owner(
    cli, tmp_path: Path, git_repo: GitRepo, how: tuple[str, str] | None
) -> None:
    shop = Shop(git_repo, spent)
    if how is None:
        shop.remove(INCIDENT)
    else:
        edit(shop.root, INCIDENT, *how)
    head = shop.head()
    ctx = context(tmp_path / "c.json", [INCIDENT], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("governance/incident-change-approval", "INC-2024-0125")],
    )
    assert "needs an approval from role policy-owners (held by team acme-shop/platform)" in (
        message(verdict, "governance/incident-change-approval")
    )
    (described,) = verdict["judged"]["documents"]
    assert [a["role"] for a in described["approvals"]] == ["policy-owners"]
    reviews = [review("grace", "APPROVED", head)]
    ctx = context(tmp_path / "ok.json", [INCIDENT], head, shop.base, reviews=reviews)
    assert judged(cli, shop.root, ctx)[0] == 0


def test_an_incident_edit_that_charges_the_same_and_a_new_incident_need_nobody(
    cli, tmp_path: Path, shop: Shop
) -> None:
    edit(shop.root, INCIDENT, "status: resolved", "status: closed")
    edit(shop.root, INCIDENT, "  rootCause: The", "  rootCause: As the review found, the")
    added = "incidents/INC-2024-0130.yaml"
    text = (shop.root / INCIDENT).read_text(encoding="utf-8")
    write(shop.root / added, text.replace("INC-2024-0125", "INC-2024-0130"))
    head = shop.head()
    ctx = context(tmp_path / "c.json", [INCIDENT, added], head, shop.base)
    code, verdict = judged(cli, shop.root, ctx)
    assert (code, failing(verdict)) == (0, [])
    judged_ = {(d["name"], d["operation"]) for d in verdict["judged"]["documents"]}
    assert judged_ == {("INC-2024-0125", "update"), ("INC-2024-0130", "create")}
    assert all("approvals" not in d for d in verdict["judged"]["documents"])


def test_an_incident_edit_without_a_base_to_compare_needs_the_owners(
    cli, tmp_path: Path, shop: Shop
) -> None:
    edit(shop.root, INCIDENT, "status: resolved", "status: closed")
    head = shop.head()
    code, verdict = judged(cli, shop.root, context(tmp_path / "c.json", [INCIDENT], head))
    assert code == 1
    assert ("governance/incident-change-approval", "INC-2024-0125") in failing(verdict)


def test_where_incident_owners_exist_they_approve_and_their_veto_holds(
    cli, tmp_path: Path, git_repo: GitRepo
) -> None:
    def incident_owners(root: Path) -> None:
        spent(root)
        edit(
            root,
            "changegate.yaml",
            "    policy-owners: {teams: [acme-shop/platform]}",
            "    policy-owners: {teams: [acme-shop/platform]}\n"
            "    incident-owners: {teams: [acme-shop/on-call]}",
        )

    shop = Shop(git_repo, incident_owners)
    edit(shop.root, INCIDENT, "downtime: 60m", "downtime: 5m")
    head = shop.head()
    teams = {**TEAMS, "acme-shop/on-call": ["frank", "erin"]}

    def verdict_with(*reviews: dict[str, Any]) -> list[tuple[str, str | None]]:
        ctx = context(
            tmp_path / "c.json", [INCIDENT], head, shop.base, reviews=list(reviews), teams=teams
        )
        return failing(judged(cli, shop.root, ctx)[1])

    denied = [("governance/incident-change-approval", "INC-2024-0125")]
    assert verdict_with(review("grace", "APPROVED", head)) == denied
    assert verdict_with(review("frank", "APPROVED", head)) == []
    assert (
        verdict_with(review("frank", "APPROVED", head), review("erin", "CHANGES_REQUESTED", head))
        == denied
    )


# --- vetoes -----------------------------------------------------------------------------------

HEAD = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a"


@pytest.fixture
def plain_shop(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "shop")


def vetoed(cli, root: Path, tmp_path: Path, reviews: list[dict[str, Any]], **extra: Any):
    ctx = context(tmp_path / "c.json", [CHANGE], HEAD, reviews=reviews, **extra)
    return judged(cli, root, ctx)


BOB = review("bob", "APPROVED", HEAD)
REQUIRED = [("change-approvals/required-approvals", "CHG-2024-0150")]

VETOES = {
    "carol requests changes": [BOB, review("carol", "CHANGES_REQUESTED", HEAD)],
    "then only comments": [BOB, review("carol", "CHANGES_REQUESTED", HEAD),
                           review("carol", "COMMENTED", HEAD)],
    "then a pending review": [BOB, review("carol", "CHANGES_REQUESTED", HEAD),
                              review("carol", "PENDING", HEAD)],
    "login in capitals": [BOB, review("CAROL", "CHANGES_REQUESTED", HEAD)],
    "on an older commit": [BOB, review("carol", "CHANGES_REQUESTED", "0badc0de")],
    "on no commit": [BOB, review("carol", "CHANGES_REQUESTED", None)],
    "before the approval of another": [review("carol", "CHANGES_REQUESTED", HEAD), BOB],
    "approver takes it back": [BOB, review("bob", "CHANGES_REQUESTED", HEAD)],
    "a bot approves over it": [BOB, review("carol", "CHANGES_REQUESTED", HEAD),
                               review("helper[bot]", "APPROVED", HEAD, userType="Bot")],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(VETOES))
def test_a_role_holders_requested_changes_block_the_role(
    cli, plain_shop: Path, tmp_path: Path, case: str
) -> None:
    code, verdict = vetoed(cli, plain_shop, tmp_path, VETOES[case])
    assert (code, failing(verdict)) == (1, REQUIRED)
    assert "requested changes" in message(verdict, REQUIRED[0][0])


def test_a_committers_requested_changes_still_block(cli, plain_shop: Path, tmp_path: Path) -> None:
    """A committer's approval never counts, but their objection does."""
    reviews = [BOB, review("carol", "CHANGES_REQUESTED", HEAD)]
    code, verdict = vetoed(cli, plain_shop, tmp_path, reviews, committers=("alice", "carol"))
    assert (code, failing(verdict)) == (1, REQUIRED)
    assert "but carol requested changes" in message(verdict, REQUIRED[0][0])


@pytest.mark.parametrize(
    "reviews",
    [
        [BOB, review("carol", "CHANGES_REQUESTED", HEAD), review("carol", "DISMISSED", HEAD)],
        [BOB, review("carol", "CHANGES_REQUESTED", HEAD), review("Carol", "APPROVED", HEAD)],
        [BOB, review("ghost", "CHANGES_REQUESTED", HEAD)],  # a deleted account holds no role
        [BOB, review("dana", "CHANGES_REQUESTED", HEAD)],  # a manager: not a role this needs
    ],
    ids=["dismissed", "approved after", "ghost", "another role"],
)
def test_a_lifted_or_unrelated_objection_does_not_block(
    cli, plain_shop: Path, tmp_path: Path, reviews: list[dict[str, Any]]
) -> None:
    code, verdict = vetoed(cli, plain_shop, tmp_path, reviews)
    assert (code, failing(verdict)) == (0, [])


def test_vetoes_false_turns_off_only_that_change_types_vetoes(
    cli, plain_shop: Path, tmp_path: Path
) -> None:
    config = plain_shop / "changegate.yaml"
    config.write_text(
        config.read_text().replace(
            "normal: {leadTime: 5d, approvals: [{role: cab, count: 1}]}",
            "normal: {leadTime: 5d, approvals: [{role: cab, count: 1}], vetoes: false}",
        )
    )
    reviews = [BOB, review("carol", "CHANGES_REQUESTED", HEAD)]
    code, verdict = vetoed(cli, plain_shop, tmp_path, reviews)
    assert (code, failing(verdict)) == (0, [])
    # ... and not the governance rule's: a policy owner's objection still blocks a waiver
    write(plain_shop / "policies" / "waive.yaml", WAIVER % "waive-all")
    teams = {**TEAMS, "acme-shop/platform": ["grace", "heidi"]}
    reviews = [review("grace", "APPROVED", HEAD), review("heidi", "CHANGES_REQUESTED", HEAD)]
    ctx = context(tmp_path / "w.json", ["policies/waive.yaml"], HEAD, reviews=reviews, teams=teams)
    code, verdict = judged(cli, plain_shop, ctx)
    assert (code, failing(verdict)) == (1, [("governance/policy-change-approval", "waive-all")])
    assert "but heidi requested changes" in message(verdict, "governance/policy-change-approval")


@pytest.mark.parametrize("state", ["changes_requested", "REQUEST_CHANGES", "Approved"])
def test_a_review_state_github_does_not_send_is_a_context_error(
    cli, plain_shop: Path, tmp_path: Path, state: str
) -> None:
    ctx = context(tmp_path / "c.json", [CHANGE], HEAD, reviews=[BOB, review("carol", state, HEAD)])
    result = cli("check", plain_shop, "--at", AT, "--context", ctx)
    sound(result)
    assert result.code == 2
    assert f"reviews[1].state: '{state}' is not one of" in result.err


def test_a_managers_objection_keeps_a_change_out_of_the_soft_freeze(
    cli, plain_shop: Path, tmp_path: Path
) -> None:
    teams = {**TEAMS, "acme-shop/engineering-managers": ["dana", "dave"]}
    reviews = [
        review("carol", "APPROVED", HEAD),
        review("dana", "APPROVED", HEAD),
        review("dave", "CHANGES_REQUESTED", HEAD),
    ]
    ctx = context(
        tmp_path / "c.json",
        ["changes/CHG-2024-0160.yaml"],
        HEAD,
        reviews=reviews,
        teams=teams,
        created="2024-01-10T09:00:00Z",
    )
    code, verdict = judged(cli, plain_shop, ctx)
    assert (code, failing(verdict)) == (
        1,
        [("change-freeze/no-freeze-conflict", "CHG-2024-0160")],
    )
    assert "changes requested by dave" in message(verdict, "change-freeze/no-freeze-conflict")


# --- changed-file paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelled",
    [
        "changes/./CHG-2024-0150.yaml",
        "./changes/CHG-2024-0150.yaml",
        "changes//CHG-2024-0150.yaml",
        "changes/CHG-2024-0150.yaml/",
        "changes/elsewhere/../CHG-2024-0150.yaml",
    ],
)
def test_changed_files_are_normalised_before_they_are_matched(
    cli, plain_shop: Path, tmp_path: Path, spelled: str
) -> None:
    ctx = context(tmp_path / "c.json", [spelled], HEAD)  # nobody approved
    code, verdict = judged(cli, plain_shop, ctx)
    assert (code, failing(verdict)) == (1, REQUIRED)


@pytest.mark.parametrize(
    "path", ["../x.yaml", "/etc/passwd", "changes/../../x.yaml", ".", "..", "//etc/passwd"]
)
def test_a_changed_file_outside_the_repository_is_a_context_error(
    cli, plain_shop: Path, tmp_path: Path, path: str
) -> None:
    ctx = context(tmp_path / "c.json", [CHANGE, path], HEAD)
    result = cli("check", plain_shop, "--at", AT, "--context", ctx)
    sound(result)
    assert result.code == 2
    assert (
        f"pullRequest.changedFiles[1] {path!r} is not a path inside the repository: changed files "
        "are paths from the repository's root, as GitHub lists them"
    ) in result.err


def test_a_nul_byte_in_a_changed_file_is_a_context_error(cli, tmp_path: Path, shop: Shop) -> None:
    head = shop.head()
    ctx = context(tmp_path / "c.json", ["changes/x\x00.yaml"], head, shop.base)
    result = cli("check", shop.root, "--at", AT, "--context", ctx)
    sound(result)
    assert result.code == 2
    assert "pullRequest.changedFiles[0]" in result.err


# --- names taken twice ------------------------------------------------------------------------

STANDARD = "changes/CHG-2024-0151.yaml"


def validated(cli, *paths: str) -> tuple[int, list[tuple[str, str, str | None]]]:
    result = cli("validate", "--format", "json", *paths)
    sound(result)
    assert result.code in {0, 1}, result.err
    findings = json.loads(result.out)["findings"]
    return result.code, sorted(
        (f["rule"], f["document"]["path"], f["document"]["name"]) for f in findings
    )


@pytest.fixture
def in_shop(plain_shop: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(plain_shop)
    return plain_shop


def copy_of_standard(root: Path, name: str) -> str:
    return (root / STANDARD).read_text().replace("name: CHG-2024-0151", f"name: {name}")


def test_every_holder_of_a_name_taken_twice_whatever_its_case_is_flagged(
    cli, in_shop: Path
) -> None:
    write(in_shop / "changes" / "dup.yaml", copy_of_standard(in_shop, "chg-2024-0151"))
    assert validated(cli) == (
        1,
        [
            ("schema/ChangeRequest", "changes/CHG-2024-0151.yaml", "CHG-2024-0151"),
            ("schema/ChangeRequest", "changes/dup.yaml", "chg-2024-0151"),
        ],
    )


def test_validate_path_compares_with_the_whole_repository_and_reports_only_that_file(
    cli, in_shop: Path
) -> None:
    write(in_shop / "changes" / "dup.yaml", copy_of_standard(in_shop, "Chg-2024-0151"))
    code, found = validated(cli, "changes/dup.yaml")
    assert (code, found) == (1, [("schema/ChangeRequest", "changes/dup.yaml", "Chg-2024-0151")])
    result = cli("validate", "changes/dup.yaml")
    assert "is already defined at changes/CHG-2024-0151.yaml:" in result.out
    assert validated(cli, "changes/CHG-2024-0150.yaml") == (0, [])


def test_three_holders_in_one_multi_document_file_are_each_flagged(cli, in_shop: Path) -> None:
    docs = [copy_of_standard(in_shop, name) for name in ("CHG-9", "chg-9", "Chg-9")]
    write(in_shop / "changes" / "three.yaml", "---\n".join(docs))
    code, found = validated(cli, "changes/three.yaml")
    assert code == 1
    assert [name for _, _, name in found] == ["CHG-9", "Chg-9", "chg-9"]


@pytest.mark.parametrize(
    "name",
    ["\u0421HG-2024-0151", "\uff23HG-2024-0151", "CHG-2024-0151\u200b", "CHG-2024-0151 "],
    ids=["cyrillic Es", "fullwidth C", "zero-width space", "trailing space"],
)
def test_a_look_alike_name_is_not_a_valid_name(cli, in_shop: Path, name: str) -> None:
    write(in_shop / "changes" / "dup.yaml", copy_of_standard(in_shop, f"'{name}'"))
    code, found = validated(cli, "changes/dup.yaml")
    assert (code, found) == (1, [("schema/ChangeRequest", "changes/dup.yaml", name)])
    assert "is not a valid name" in cli("validate", "changes/dup.yaml").out


def test_a_pull_request_adding_a_case_twin_is_denied(cli, plain_shop: Path, tmp_path: Path) -> None:
    write(plain_shop / "changes" / "twin.yaml", copy_of_standard(plain_shop, "chg-2024-0151"))
    ctx = context(tmp_path / "c.json", ["changes/twin.yaml"], HEAD)
    code, verdict = judged(cli, plain_shop, ctx)
    assert (code, failing(verdict)) == (1, [("schema/ChangeRequest", "chg-2024-0151")])


def test_a_freeze_taken_twice_closes_the_gate(cli, in_shop: Path) -> None:
    twin = (in_shop / HOLIDAY).read_text().replace("name: holiday-freeze", "name: HOLIDAY-FREEZE")
    write(in_shop / "freezes" / "twin.yaml", twin)
    result = cli(
        "gate",
        "--env",
        "production",
        "--service",
        "checkout",
        "--format",
        "json",
        "--at",
        "2024-01-24T10:00:00Z",
        "--version",
        "2.5.0",
    )
    sound(result)
    assert result.code == 1
    rules = [f["rule"] for f in json.loads(result.out)["findings"] if f["outcome"] == "fail"]
    assert rules.count("gate/unreadable-window") == 2


def test_a_policy_may_not_take_a_builtin_name_in_another_case(cli, plain_shop: Path) -> None:
    write(
        plain_shop / "policies" / "mine.yaml",
        "apiVersion: changegate/v1\nkind: Policy\nmetadata: {name: Change-Approvals}\n"
        "spec: {match: {kinds: [ChangeRequest]},\n"
        "       rules: [{name: required-approvals, expression: 'true', message: m}]}\n",
    )
    result = cli("check", plain_shop, "--at", AT)
    sound(result)
    assert result.code == 2
    assert "two policies are named" in result.err
