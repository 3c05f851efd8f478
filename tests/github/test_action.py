"""The Action end to end: its entry point, driven by GitHub's real event payloads, against a
fake GitHub over HTTP that checks every request and response against GitHub's OpenAPI
description, on a real git repository."""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.github.action.main import main
from engine.github.client import Client
from engine.gitrepo import GitRepo as Repository
from engine.reporters.markdown import MARKER
from engine.time.instants import parse_instant
from tests.reporters.test_reporters import Page, to_html
from tests.support.fakegithub import FakeGitHub, Spec
from tests.support.files import EXAMPLES, TEAMS, shared_or_skip
from tests.support.repos import GitRepo

SHOP = EXAMPLES / "acme-shop"
CHANGE = "changes/CHG-2024-0150.yaml"


@pytest.fixture(scope="session")
def spec() -> Spec:
    return Spec(shared_or_skip("github", "openapi-subset.json"))


def event(name: str) -> dict[str, Any]:
    return json.loads(shared_or_skip("github", "events", name).read_text(encoding="utf-8"))


@pytest.fixture
def github(spec: Spec) -> Iterator[FakeGitHub]:
    with FakeGitHub(spec) as fake:
        for team, members in TEAMS.items():
            fake.teams[team] = list(members)
        yield fake
    assert fake.problems == [], "\n".join(fake.problems)


class Shop:
    """acme-shop as a git repository: main without CHG-2024-0150, a branch that adds it."""

    def __init__(self, root: Path) -> None:
        self.git = GitRepo(root)
        shutil.copytree(SHOP, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("contexts"))
        self.change = (root / CHANGE).read_text(encoding="utf-8")
        (root / CHANGE).unlink()
        self.base = self.git.commit("acme-shop")
        self.git.branch("add-chg-0150")
        self.git.write(CHANGE, self.change)
        self.head = self.git.commit("Add CHG-2024-0150", author="Alice")

    @property
    def root(self) -> Path:
        return self.git.root


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path / "shop")


class Outcome:
    """What a run of the action left: exit code, log, step outputs, job summary."""

    def __init__(self, code: int, out: str, folder: Path) -> None:
        self.code = code
        self.out = out
        self.outputs = _outputs((folder / "output").read_text(encoding="utf-8"))
        self.summary = (folder / "summary.md").read_text(encoding="utf-8")


def _outputs(text: str) -> dict[str, str]:
    found = {}
    for match in re.finditer(r"^([\w-]+)<<(\S+)\n(.*?)\n\2$", text, re.M | re.S):
        found[match[1]] = match[3]
    return found


def run_action(
    github: FakeGitHub,
    shop: Shop,
    tmp_path: Path,
    event_name: str,
    payload: dict[str, Any],
    *,
    at: str = "2024-01-20T12:00:00Z",
    actor: str = "bob",
    sha: str | None = None,
    waits: list[float] | None = None,
    **inputs: str,
) -> Outcome:
    folder = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}"
    folder.mkdir()
    (folder / "event.json").write_text(json.dumps(payload), encoding="utf-8")
    (folder / "output").touch()
    (folder / "summary.md").touch()
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(folder / "event.json"),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_SHA": sha or shop.head,
        "GITHUB_ACTOR": actor,
        "GITHUB_WORKSPACE": str(shop.root),
        "GITHUB_OUTPUT": str(folder / "output"),
        "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
        "RUNNER_TEMP": str(folder),
        "CHANGEGATE_GITHUB_TOKEN": github.token,
        **{f"CHANGEGATE_{k.upper()}": v for k, v in inputs.items()},
    }
    recorded = waits if waits is not None else []
    connect = functools.partial(Client.connect, sleep=recorded.append)
    out = io.StringIO()
    code = main(env, connect=connect, now=parse_instant(at), out=out)
    return Outcome(code, out.getvalue(), folder)


def pull_request_event(
    shop: Shop, number: int = 42, name: str = "pull_request.opened.json"
) -> dict[str, Any]:
    payload = event(name)
    payload["number"] = number
    payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = shop.head
    payload["pull_request"]["base"]["sha"] = shop.base
    return payload


def open_pull(
    github: FakeGitHub, shop: Shop, *, title: str = "CHG-2024-0150: orders schema migration"
) -> None:
    github.add_pull(42, author="alice", head=shop.head, base=shop.base, files=[CHANGE],
                    committers=["alice"], title=title)  # fmt: skip
    github.add_check_run(shop.head, "codeql", "success")


def calls(github: FakeGitHub, shop: Shop) -> list[str]:
    return [str(c).replace(shop.head, "HEAD").replace(shop.base, "BASE") for c in github.calls]


REPO = "/repos/acme-shop/shop"
READ_PULL = [
    f"GET {REPO}/pulls/42 -> 200",
    f"GET {REPO}/pulls/42/files?per_page=100 -> 200",
    f"GET {REPO}/pulls/42/commits?per_page=100 -> 200",
    f"GET {REPO}/pulls/42/reviews?per_page=100 -> 200",
    "GET /orgs/acme-shop/teams/cab/members?per_page=100 -> 200",
    "GET /orgs/acme-shop/teams/engineering-managers/members?per_page=100 -> 200",
    "GET /orgs/acme-shop/teams/on-call/members?per_page=100 -> 200",
    "GET /orgs/acme-shop/teams/platform/members?per_page=100 -> 200",
    f"GET {REPO}/commits/HEAD/check-runs?per_page=100 -> 200",
    f"GET {REPO}/commits/HEAD/status -> 200",
]


# --- mode check -------------------------------------------------------------------------------


def test_an_unapproved_pull_request_is_denied_with_a_comment_annotations_and_a_summary(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    assert calls(github, shop) == [
        *READ_PULL,
        "GET /user -> 403",
        f"GET {REPO}/issues/42/comments?per_page=100 -> 200",
        f"POST {REPO}/issues/42/comments -> 201",
    ]
    [comment] = github.comments[42]
    body = comment["body"]
    assert body.startswith(MARKER)
    assert "## ❌ changegate: **deny**" in body
    assert "Pull request 42: CHG-2024-0150: orders schema migration" in body
    assert "| `change-approvals/required-approvals` | changes/CHG-2024-0150.yaml:9" in body
    assert "normal change needs 1 approval from role cab \\(has 0" in body  # ( escaped
    assert result.outputs["decision"] == "deny"
    assert json.loads(result.outputs["failed-rules"]) == ["change-approvals/required-approvals"]
    assert result.outputs["comment-id"] == str(comment["id"])
    assert (
        "::error file=changes/CHG-2024-0150.yaml,line=9,col=3,"
        "title=change-approvals/required-approvals::normal change needs 1 approval" in result.out
    )
    assert "## ❌ changegate: **deny**" in result.summary
    # the verdict and the context are kept, to upload and to replay
    folder = Path(result.outputs["verdict-dir"])
    assert json.loads((folder / "verdict.json").read_text())["decision"] == "deny"
    context = json.loads((folder / "context.json").read_text())
    assert context["pullRequest"]["changedFiles"] == [CHANGE]
    assert (folder / "pull-request").read_text() == "42\n"


def test_the_cab_approval_turns_it_green_and_the_comment_is_updated_not_added(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    first = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert first.code == 1
    [comment] = github.comments[42]
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    github.calls.clear()
    review = pull_request_event(shop, name="pull_request_review.submitted.json")
    second = run_action(github, shop, tmp_path, "pull_request_review", review)
    assert second.code == 0
    assert second.outputs["decision"] == "allow"
    assert [c["id"] for c in github.comments[42]] == [comment["id"]]
    assert github.comments[42][0]["body"].startswith(f"{MARKER}\n## ✅ changegate: **allow**")
    assert calls(github, shop)[-2:] == [
        f"GET {REPO}/issues/42/comments?per_page=100 -> 200",
        f"PATCH {REPO}/issues/comments/{comment['id']} -> 200",
    ]
    # a third run finds its one comment again: still one
    third = run_action(github, shop, tmp_path, "pull_request_review", review)
    assert third.code == 0
    assert len(github.comments[42]) == 1


def test_a_passing_pull_request_without_an_earlier_comment_gets_none(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), status="true"
    )
    assert (result.code, result.outputs["comment-id"]) == (0, "")
    assert github.comments[42] == []
    [status] = github.statuses[shop.head]
    assert (status["state"], status["context"]) == ("success", "changegate/verdict")
    assert status["target_url"] == "https://github.com/acme-shop/shop/actions/runs/4242"


def test_duplicate_comments_from_racing_runs_are_folded_into_one(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    first = github.add_comment(42, "github-actions[bot]", f"{MARKER}\nold", "Bot")
    github.add_comment(42, "github-actions[bot]", f"{MARKER}\nolder", "Bot")
    # someone quoting the marker is not us
    github.add_comment(42, "mallory", f"{MARKER}\nfake verdict: allow")
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    bodies = {c["user"]["login"]: c["body"] for c in github.comments[42]}
    assert len(github.comments[42]) == 2
    assert bodies["mallory"].endswith("fake verdict: allow")
    assert github.comments[42][0]["id"] == first["id"]
    assert "**deny**" in bodies["github-actions[bot]"]


def test_a_pull_request_weakening_the_policies_is_judged_by_the_base(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    config = shop.root / "changegate.yaml"
    weakened = config.read_text().replace(
        "normal: {leadTime: 5d, approvals: [{role: cab, count: 1}]}",
        "normal: {leadTime: 0s, approvals: []}",
    )
    assert weakened != config.read_text()
    config.write_text(weakened)
    shop.head = shop.git.commit("Approvals are a formality")
    github.add_pull(42, author="alice", head=shop.head, base=shop.base,
                    files=[CHANGE, "changegate.yaml"], committers=["alice"])  # fmt: skip
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    failed = json.loads(result.outputs["failed-rules"])
    # the base's config still asks the CAB; and the change to the config needs its owners
    assert failed == ["change-approvals/required-approvals", "governance/policy-change-approval"]


def test_a_pull_request_changing_the_rules_gets_the_impact_preview(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    config = shop.root / "changegate.yaml"
    config.write_text(
        config.read_text().replace(
            "normal: {leadTime: 5d, approvals: [{role: cab, count: 1}]}",
            "normal: {leadTime: 5d, approvals: []}",
        )
    )
    shop.head = shop.git.commit("Normal changes need no CAB")
    github.add_pull(42, author="alice", head=shop.head, base=shop.base,
                    files=[CHANGE, "changegate.yaml"], committers=["alice"])  # fmt: skip
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    verdict = json.loads((Path(result.outputs["verdict-dir"]) / "verdict.json").read_text())
    cleared = {(e["document"]["name"], e["rule"]) for e in verdict["impact"]["noLongerDenied"]}
    assert ("CHG-2024-0160", "change-approvals/required-approvals") in cleared
    assert verdict["impact"]["base"] == shop.base
    assert verdict["impact"]["newlyDenied"] == []
    assert "### What this change does to the rules (against " in result.summary
    (comment,) = github.comments[42]
    assert "| no longer denied | `change-approvals/required-approvals` |" in comment["body"]


def test_changed_files_are_read_page_by_page(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    others = [f"docs/page-{i:03}.md" for i in range(230)]
    open_pull(github, shop)
    github.files[42] += [dict(github.files[42][0], filename=f) for f in others]
    github.pulls[42]["changed_files"] = 231
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    pages = [c for c in calls(github, shop) if "/files" in c]
    assert pages == [
        f"GET {REPO}/pulls/42/files?per_page=100 -> 200",
        f"GET {REPO}/pulls/42/files?page=2&per_page=100 -> 200",
        f"GET {REPO}/pulls/42/files?page=3&per_page=100 -> 200",
    ]
    context = json.loads((Path(result.outputs["verdict-dir"]) / "context.json").read_text())
    assert len(context["pullRequest"]["changedFiles"]) == 231
    assert "changedFilesIncomplete" not in context["pullRequest"]


def test_more_files_than_github_lists_denies(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.files[42] += [dict(github.files[42][0], filename=f"gen/{i}.txt") for i in range(3100)]
    github.pulls[42]["changed_files"] = 3101
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    assert "changegate/incomplete-context" in json.loads(result.outputs["failed-rules"])
    assert len([c for c in github.calls if c.path.endswith("/files")]) == 30  # 3,000 at most


def test_a_rate_limit_is_waited_out_when_github_says_how_long(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    github.fail("GET", r"/pulls/42/files$", 403, headers={"Retry-After": "7"},
                message="You have exceeded a secondary rate limit.")  # fmt: skip
    waits: list[float] = []
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), waits=waits
    )
    assert (result.code, waits) == (0, [7.0])
    assert calls(github, shop)[1:3] == [
        f"GET {REPO}/pulls/42/files?per_page=100 -> 403",
        f"GET {REPO}/pulls/42/files?per_page=100 -> 200",
    ]


def test_a_rate_limit_longer_than_the_run_may_wait_denies_and_says_so(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    reset = str(int(datetime.now().timestamp()) + 3600)  # noqa: DTZ005 - an epoch time
    github.fail("GET", r"/pulls/42/reviews$", 429,
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                message="API rate limit exceeded")  # fmt: skip
    waits: list[float] = []
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), waits=waits
    )
    assert (result.code, waits, result.outputs["decision"]) == (1, [], "deny")
    assert (
        "::error title=changegate could not decide::reading the reviews of pull request #42: "
        in result.out
    )
    assert "longer than this run may wait: re-run the job later" in result.out


def test_a_team_the_token_cannot_read_grants_no_role_and_says_which_permission(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    github.teams["acme-shop/cab"] = 403
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    assert "GET /orgs/acme-shop/teams/cab/members?per_page=100 -> 403" in calls(github, shop)
    body = github.comments[42][0]["body"]
    assert (
        "team acme-shop/cab could not be read \\(403: the token cannot read the team's members"
        in body
    )
    assert "organization permission Members: read" in body


def test_a_merge_queue_group_is_judged_as_a_merge_with_the_pull_requests_reviews(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    shop.git.checkout("main")
    shop.git.write("README.md", "another pull request went first\n")
    ahead = shop.git.commit("Another pull request")
    shop.git.repo.git.merge("add-chg-0150", "--no-ff", "-m", "Merge group")
    group = shop.git.repo.head.commit.hexsha
    payload = event("merge_group.checks_requested.json")
    payload["merge_group"].update(
        head_sha=group, base_sha=ahead,
        head_ref=f"refs/heads/gh-readonly-queue/main/pr-42-{shop.head}",
    )  # fmt: skip
    github.add_check_run(group, "codeql", "success")
    result = run_action(github, shop, tmp_path, "merge_group", payload, sha=group, comment="false")
    assert result.code == 0, result.out
    verdict = json.loads((Path(result.outputs["verdict-dir"]) / "verdict.json").read_text())
    assert verdict["event"] == "merge"


def test_user_text_is_escaped_everywhere_it_is_shown(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    # A policy on main that quotes the change's title in its message.
    shop.git.checkout("main")
    shop.git.write(
        "policies/echo.yaml",
        """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: echo}
spec:
  match: {kinds: [ChangeRequest]}
  rules:
    - name: title
      expression: "false"
      message: quoted
      messageExpression: "'title: ' + object.spec.title"
""",
    )
    shop.base = shop.git.commit("A policy that quotes titles")
    shop.git.checkout("add-chg-0150")
    shop.git.repo.git.rebase("main")
    hostile = "<!-- hidden --> @acme-shop/cab ::error::pwned #12 <img src=x> [x](http://evil)"
    shop.git.write(
        CHANGE, shop.change.replace("title: Database schema migration", f'title: "{hostile}"')
    )
    shop.head = shop.git.commit("Hostile title")
    open_pull(github, shop, title="T" * 100_000)
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    body = github.comments[42][0]["body"]
    assert body.count("<!--") == 1
    assert body.startswith(MARKER)
    for raw in ("<img", "@acme-shop", "#12", "[x](http"):
        assert raw not in body
    assert "@\u200bacme-shop/cab" in body
    assert len(body) < 65_536
    assert "T" * 300 not in body
    assert "T" * 199 + "…" in body
    # in the log, nothing a person wrote can start a workflow command
    outside = re.sub(r"::stop-commands::(\w+)\n.*?\n::\1::\n", "", result.out, flags=re.S)
    for line in outside.splitlines():
        assert re.match(r"::(error|warning|notice) (file|title)=", line), line
    assert "::error::pwned" in result.out  # it is there, but only as data or quoted
    assert not re.search(r"^::error::pwned", outside, re.M)


def test_the_token_reaches_no_output(github: FakeGitHub, shop: Shop, tmp_path: Path) -> None:
    open_pull(github, shop)
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    folder = Path(result.outputs["verdict-dir"])
    seen = [
        result.out,
        result.summary,
        json.dumps(result.outputs),
        *(f.read_text() for f in folder.iterdir()),
    ]
    seen += [c["body"] for c in github.comments[42]]
    assert not any(github.token in text for text in seen)


def test_bad_inputs_and_events_are_usage_errors(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), mode="deploy"
    )
    assert result.code == 2
    assert (
        "::error title=changegate::input mode: one of check, gate, record, audit, publish, "
        "not 'deploy'" in result.out
    )
    push = event("push.event.5.json")
    result = run_action(github, shop, tmp_path, "push", push)
    assert result.code == 2
    assert "mode check judges pull requests" in result.out
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), comment="yes"
    )
    assert (result.code, "input comment: write true or false" in result.out) == (2, True)


def test_a_base_commit_missing_from_a_shallow_clone_says_how_to_fetch_it(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    payload = pull_request_event(shop)
    payload["pull_request"]["base"]["sha"] = "0" * 40
    result = run_action(github, shop, tmp_path, "pull_request", payload)
    assert result.code == 2
    assert "fetch-depth: 0" in result.out


# --- mode gate --------------------------------------------------------------------------------


def deployment(sha: str, environment: str = "production", **extra: Any) -> dict[str, Any]:
    payload = event("deployment.created.json")
    payload["deployment"].update(sha=sha, environment=environment, payload=extra)
    payload["repository"]["default_branch"] = "main"
    return payload


def dispatch() -> dict[str, Any]:
    payload = event("workflow_dispatch.event.json")
    payload["repository"]["default_branch"] = "main"
    return payload


def test_a_deploy_into_the_holiday_freeze_is_blocked(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    shop.git.checkout("main")
    result = run_action(
        github, shop, tmp_path, "deployment", deployment(shop.base, service="checkout"),
        at="2024-12-23T10:00:00Z", sha=shop.base, mode="gate",
    )  # fmt: skip
    assert result.code == 1
    assert result.outputs["failed-rules"] == '["gate/frozen", "gate/protected-environment"]'
    assert "**Deploy gate closed**: checkout may not deploy to production" in result.summary
    assert "holiday-freeze" in result.summary
    assert github.comments == {}


def test_an_approved_emergency_change_opens_the_gate_with_its_pull_requests_reviews(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    # CHG-2023-0412 came in with pull request 40, approved by on-call and the CAB
    shop.git.checkout("main")
    emergency = shop.root / "changes" / "CHG-2023-0412.yaml"
    text = emergency.read_text()
    emergency.unlink()
    shop.git.commit("Before the hotfix")
    emergency.write_text(text)
    hotfix = shop.git.commit("CHG-2023-0412: hotfix", author="Bob")
    files = ["changes/CHG-2023-0412.yaml"]
    github.add_pull(40, author="bob", head=hotfix, base=shop.base, files=files, committers=["bob"],
                    merged=True)  # fmt: skip
    github.commit_pulls[hotfix] = [40]
    github.add_review(40, "frank", "APPROVED", hotfix, "2023-12-27T12:50:00Z")
    github.add_review(40, "carol", "APPROVED", hotfix, "2023-12-27T12:55:00Z")
    result = run_action(
        github, shop, tmp_path, "workflow_dispatch", dispatch(),
        at="2023-12-27T13:30:00Z", sha=hotfix, actor="alice", mode="gate",
        environment="production", service="checkout", change="CHG-2023-0412",
    )  # fmt: skip
    assert result.code == 0, result.out
    assert (
        "hard freeze holiday-freeze is passed by approved emergency change CHG-2023-0412"
        in result.summary
    )
    assert f"GET {REPO}/commits/{hotfix}/pulls?per_page=100 -> 200" in [
        str(c) for c in github.calls
    ]
    # the same deploy by one of its approvers: they cannot approve their own deploy
    github.calls.clear()
    result = run_action(
        github, shop, tmp_path, "workflow_dispatch", dispatch(),
        at="2023-12-27T13:30:00Z", sha=hotfix, actor="carol", mode="gate",
        environment="production", service="checkout", change="CHG-2023-0412",
    )  # fmt: skip
    assert result.code == 1


def test_the_gate_needs_an_environment_and_a_service(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    payload = dispatch()
    result = run_action(github, shop, tmp_path, "workflow_dispatch", payload, mode="gate",
                        environment="production")  # fmt: skip
    assert result.code == 2
    assert "mode gate needs the inputs environment and service" in result.out


# --- mode publish (fork pull requests) ---------------------------------------------------------


def workflow_run(head_sha: str) -> dict[str, Any]:
    """GitHub's examples hold no workflow_run payload: the fields publish reads."""
    return {"action": "completed", "workflow_run": {"id": 99, "event": "pull_request",
            "conclusion": "failure", "head_sha": head_sha, "pull_requests": []}}  # fmt: skip


def test_a_read_only_run_leaves_a_verdict_that_a_workflow_run_publishes(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.fail(
        "POST", r"/issues/42/comments$", 403, message="Resource not accessible by integration"
    )
    checked = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert checked.code == 1
    assert "::warning title=changegate could not comment::" in checked.out
    artifact = tmp_path / "artifact"
    shutil.copytree(checked.outputs["verdict-dir"], artifact)
    github.calls.clear()
    published = run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                           mode="publish", verdict=str(artifact))  # fmt: skip
    assert published.code == 0
    assert "**deny**" in github.comments[42][0]["body"]
    assert [str(c) for c in github.calls][-1] == f"POST {REPO}/issues/42/comments -> 201"


def test_publish_treats_the_artifact_as_untrusted(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "pull-request").write_text("42\n")
    counts = dict.fromkeys(("documents", "rules", "failed", "warnings", "errors", "waived"), 0)
    document = {"kind": None, "name": None, "path": "a.yaml", "line": 1, "column": 1}
    finding = {"rule": "x/y", "severity": "deny", "outcome": "fail",
               "message": "<script>@everyone", "document": document}  # fmt: skip
    verdict = {"apiVersion": "changegate/v1", "kind": "Verdict", "decision": "allow",
               "event": "pull_request", "at": "2024-01-20T12:00:00Z", "summary": counts,
               "findings": [finding], "engine": {"version": "1"}}  # fmt: skip
    (artifact / "verdict.json").write_text(json.dumps(verdict))
    # another pull request's head: refused
    result = run_action(github, shop, tmp_path, "workflow_run", workflow_run("f" * 40),
                        mode="publish", verdict=str(artifact))  # fmt: skip
    assert result.code == 2
    assert "not publishing it" in result.out
    # a claimed allow with a failing deny finding is shown as what it is, escaped
    result = run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                        mode="publish", verdict=str(artifact))  # fmt: skip
    body = github.comments[42][0]["body"]
    assert "**deny**" in body
    assert "<script>" not in body
    assert "&lt;script&gt;@\u200beveryone" in body
    verdict["findings"][0]["outcome"] = "exploded"
    (artifact / "verdict.json").write_text(json.dumps(verdict))
    result = run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                        mode="publish", verdict=str(artifact))  # fmt: skip
    assert result.code == 2
    assert "is not a verdict" in result.out


def test_the_entry_point_runs_as_its_own_process(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    """As action.yml runs it: python -m engine.action, configured by the environment."""
    import os
    import subprocess
    import sys

    open_pull(github, shop)
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(pull_request_event(shop)), encoding="utf-8")
    output = tmp_path / "output"
    output.touch()
    env = {
        **os.environ,
        "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(payload),
        "GITHUB_REPOSITORY": github.repository, "GITHUB_API_URL": github.url,
        "GITHUB_WORKSPACE": str(shop.root), "GITHUB_OUTPUT": str(output),
        "RUNNER_TEMP": str(tmp_path), "CHANGEGATE_GITHUB_TOKEN": github.token,
        "CHANGEGATE_COMMENT": "false",
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "engine.github.action"], env=env, capture_output=True, text=True,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "::error file=changes/CHG-2024-0150.yaml,line=9" in result.stdout
    assert _outputs(output.read_text())["decision"] == "deny"


# --- what a hostile or broken input must not do (from review) ---------------------------------


def test_a_checkout_that_is_not_the_pull_request_is_refused(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    shop.git.checkout("main")  # e.g. pull_request_target's default: the base branch
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 2
    assert "not pull request head" in result.out
    assert result.outputs["decision"] == "deny"
    target = run_action(github, shop, tmp_path, "pull_request_target", pull_request_event(shop))
    assert (target.code, "mode check judges pull requests" in target.out) == (2, True)


def test_the_merge_of_the_pull_request_is_an_accepted_checkout(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    shop.git.checkout("main")
    shop.git.repo.git.merge(
        "add-chg-0150", "--no-ff", "-m", "Merge 42 into main"
    )  # refs/pull/42/merge
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 0, result.out


@pytest.mark.parametrize(
    ("event_name", "change", "message"),
    [
        ("pull_request", lambda p: p.pop("pull_request"), "has no pull_request.number"),
        ("pull_request", lambda p: p["pull_request"].update(number="x"), "is not a number"),
        (
            "pull_request",
            lambda p: p["pull_request"].update(head=None),
            "has no pull_request.head.sha",
        ),
        ("merge_group", lambda p: p.clear(), "has no merge_group.head_ref"),
    ],
)
def test_a_malformed_payload_is_a_clear_usage_error(
    github: FakeGitHub, shop: Shop, tmp_path: Path, event_name: str, change: Any, message: str
) -> None:
    payload = pull_request_event(shop)
    change(payload)
    result = run_action(github, shop, tmp_path, event_name, payload)
    assert result.code == 2
    assert message in result.out
    assert "Traceback" not in result.out


def test_an_internal_error_is_exit_3_and_denies(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Client:
        raise RuntimeError("boom")

    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(pull_request_event(shop)))
    output = tmp_path / "output"
    output.touch()
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(payload),
           "GITHUB_OUTPUT": str(output), "CHANGEGATE_GITHUB_TOKEN": "x",
           "GITHUB_WORKSPACE": str(shop.root)}  # fmt: skip
    out = io.StringIO()
    assert main(env, connect=broken, out=out) == 3
    assert "::error title=changegate internal error::RuntimeError: boom" in out.getvalue()
    assert _outputs(output.read_text())["decision"] == "deny"


def test_the_gate_judges_by_the_default_branch_not_the_deployed_branch(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    # a branch that deletes the holiday freeze cannot deploy past it
    shop.git.checkout("main")
    shop.git.branch("no-freeze")
    (shop.root / "freezes" / "holiday-freeze.yaml").unlink()
    unfrozen = shop.git.commit("No more freezes")
    result = run_action(
        github, shop, tmp_path, "workflow_dispatch", dispatch(), at="2024-12-23T10:00:00Z",
        sha=unfrozen, mode="gate", environment="production", service="checkout",
    )  # fmt: skip
    assert result.code == 2
    assert "is not on the default branch main" in result.out
    # the default branch itself, checked out on the branch: still frozen
    shop.git.checkout("main")
    result = run_action(
        github, shop, tmp_path, "workflow_dispatch", dispatch(), at="2024-12-23T10:00:00Z",
        sha=shop.base, mode="gate", environment="production", service="checkout",
    )  # fmt: skip
    assert result.code == 1


def test_publish_never_sets_a_status_and_rejects_markup_in_engine_fields(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    checked = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), comment="false"
    )
    artifact = Path(checked.outputs["verdict-dir"])
    published = run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                           mode="publish", verdict=str(artifact), status="true")  # fmt: skip
    assert published.code == 0
    assert github.statuses == {}
    data = json.loads((artifact / "verdict.json").read_text())
    data["engine"]["celBackend"] = "</sub>\n\n# @acme-shop/cab [pwn](https://evil.example)"
    (artifact / "verdict.json").write_text(json.dumps(data))
    refused = run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                         mode="publish", verdict=str(artifact))  # fmt: skip
    assert refused.code == 2
    assert "is not a verdict" in refused.out
    (artifact / "pull-request").write_text("²\n")
    assert run_action(github, shop, tmp_path, "workflow_run", workflow_run(shop.head),
                      mode="publish", verdict=str(artifact)).code == 2  # fmt: skip


def test_a_comment_deleted_meanwhile_is_written_again(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    [first] = github.comments[42]
    github.fail("PATCH", rf"/issues/comments/{first['id']}$", 404, message="Not Found")
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 1
    assert len(github.comments[42]) == 2  # the old one stays; a new one holds the verdict
    assert result.outputs["comment-id"] == str(github.comments[42][-1]["id"])


def test_each_working_directory_keeps_its_own_comment(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    github.add_comment(
        42, "github-actions[bot]", f"{MARKER.replace(' -->', ' other -->')}\nx", "Bot"
    )
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    bodies = [c["body"].split("\n", 1)[0] for c in github.comments[42]]
    assert bodies == [MARKER, "<!-- changegate:verdict other -->"]


def test_a_retry_after_date_and_a_server_error_are_retried(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    open_pull(github, shop)
    github.fail("GET", r"/pulls/42$", 429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    github.fail("GET", r"/pulls/42/commits$", 502, message="Server Error")
    waits: list[float] = []
    result = run_action(
        github, shop, tmp_path, "pull_request", pull_request_event(shop), waits=waits
    )
    assert result.code == 1  # judged: still unapproved
    assert waits == [0.0, 2.0]  # a date in the past: at once; a 502: back off


# --- modes record and audit -------------------------------------------------------------------


def merged_shop(github: FakeGitHub, shop: Shop, tmp_path: Path) -> tuple[str, Path]:
    """PR 42 approved and merged into main; origin is a bare clone without notes."""
    open_pull(github, shop)
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    shop.git.checkout("main")
    shop.git.repo.git.merge(
        "add-chg-0150", "--no-ff", "-m", "Merge pull request #42 from acme/add-chg-0150"
    )
    merge = shop.git.repo.head.commit.hexsha
    github.pulls[42].update(merged=True, merged_at="2024-01-20T11:00:00Z", merge_commit_sha=merge)
    github.commit_pulls[merge] = [42]
    origin = tmp_path / "origin.git"
    shop.git.repo.git.clone("--bare", "--quiet", str(shop.root), str(origin))
    shop.git.repo.git.remote("add", "origin", str(origin))
    return merge, origin


def push_event(before: str, after: str) -> dict[str, Any]:
    payload = event("push.event.5.json")
    payload.update(before=before, after=after, ref="refs/heads/main")
    payload["repository"]["pushed_at"] = 1705752000  # 2024-01-20T12:00:00Z, GitHub's clock
    return payload


def test_record_keeps_the_merge_decision_as_a_note_on_origin(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    merge, origin = merged_shop(github, shop, tmp_path)
    result = run_action(github, shop, tmp_path, "push", push_event(shop.base, merge),
                        sha=merge, mode="record", at="2024-01-20T12:00:00Z")  # fmt: skip
    assert result.code == 0, result.out
    assert result.outputs["decision"] == "allow"
    note = json.loads(
        Repository(origin).run("notes", "--ref=refs/notes/changegate", "show", merge).stdout
    )
    assert note["decision"] == "allow"
    assert note["at"] == "2024-01-20T12:00:00Z"  # the push, by GitHub: not a committer's date
    assert note["pullRequest"]["number"] == 42
    assert [a["user"] for a in note["approvals"]] == ["bob"]
    assert f"GET {REPO}/commits/{merge}/pulls?per_page=100 -> 200" in [str(c) for c in github.calls]
    assert "written the decision on" in result.summary
    # the same push again (a re-run): nothing changes
    again = run_action(github, shop, tmp_path, "push", push_event(shop.base, merge),
                       sha=merge, mode="record", at="2024-01-20T12:00:00Z")  # fmt: skip
    assert "unchanged the decision" in again.summary


def test_a_direct_push_is_recorded_as_such_and_warns_of_its_deny(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    shop.git.checkout("main")
    shop.git.write(CHANGE, shop.change)
    pushed = shop.git.commit("Sneak CHG-2024-0150 in", author="Mallory")
    shop.git.repo.git.remote("add", "origin", str(tmp_path / "origin.git"))
    shop.git.repo.git.clone("--bare", "--quiet", str(shop.root), str(tmp_path / "origin.git"))
    result = run_action(github, shop, tmp_path, "push", push_event(shop.base, pushed),
                        sha=pushed, mode="record", at="2024-01-20T12:00:00Z")  # fmt: skip
    assert result.code == 0, result.out
    assert result.outputs["decision"] == "deny"
    assert "::warning title=changegate recorded a deny::" in result.out


def test_audit_writes_the_report_and_flags_fail_the_step(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    merge, _ = merged_shop(github, shop, tmp_path)
    run_action(github, shop, tmp_path, "push", push_event(shop.base, merge), sha=merge,
               mode="record", at="2024-01-20T12:00:00Z")  # fmt: skip
    github.add_deployment(merge, "production", "2024-12-24T09:00:00Z", service="checkout")
    result = run_action(github, shop, tmp_path, "schedule", {}, sha=merge, mode="audit",
                        at="2025-01-31T12:00:00Z")  # fmt: skip
    folder = Path(result.outputs["verdict-dir"])
    audit = json.loads((folder / "audit.json").read_text())
    rules = sorted(f["rule"] for f in audit["flags"])
    # the emergency hotfix of 2023 has no post-review record; the deployment of 24 December
    # went out inside the holiday freeze
    assert rules == ["audit/inside-freeze", "audit/post-review"]
    assert result.code == 1
    assert result.outputs["decision"] == "deny"
    assert (folder / "audit.html").read_text().startswith("<!DOCTYPE html>")
    assert "### changegate audit: 2 flags" in result.summary
    assert f"GET {REPO}/deployments?per_page=100 -> 200" in [str(c) for c in github.calls]


def test_a_push_event_carries_githubs_push_time() -> None:
    """Records of pushes are judged at repository.pushed_at, GitHub's clock: every real push
    payload has it as epoch seconds."""
    from engine.github.events import read_event

    folder = shared_or_skip("github", "events")
    for path in sorted(folder.glob("push.event*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        pushed = read_event("push", payload, payload["after"]).pushed_at
        assert pushed == datetime.fromtimestamp(payload["repository"]["pushed_at"], UTC), path
    payload = event("push.event.json") | {"repository": {"pushed_at": "not a time"}}
    assert read_event("push", payload, payload["after"]).pushed_at is None


# --- the comment describes the pull request; missing reviews are requested --------------------


def test_the_comment_says_which_approval_counts_and_which_changed_since_review(
    github: FakeGitHub, shop: Shop, tmp_path: Path
) -> None:
    reviewed = shop.head
    edited = shop.change.replace("Database schema migration", "Orders schema migration")
    shop.git.write(CHANGE, edited)
    shop.head = shop.git.commit("Rename the change", author="Alice")
    open_pull(github, shop)
    github.add_review(42, "carol", "APPROVED", reviewed, "2024-01-19T09:00:00Z")
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    github.add_review(42, "alice", "APPROVED", shop.head, "2024-01-19T10:30:00Z")
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert result.code == 0  # bob's approval is on the head
    assert github.comments[42] == []  # a pass comments only where a comment was
    github.add_comment(42, "github-actions[bot]", "<!-- changegate:verdict -->\nold", "Bot")
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    [comment] = github.comments[42]
    for markdown in (result.summary, comment["body"]):
        page = Page(to_html(markdown))
        text = " ".join(" ".join(page.texts).split())
        assert "ChangeRequest CHG-2024-0150 (added): Orders schema migration" in text
        assert "schedule: 2024-01-25 02:00 to 2024-01-25 04:00 UTC" in text
        rows = {row[0]: row[1:] for row in page.tables[-1][1:]}
        assert rows["bob"] == ["✅ counts", "cab", shop.head[:7]]
        assert rows["carol"] == [
            "❌ does not count",
            f"changed since the review: {CHANGE} changed after the review (on {reviewed[:7]})",
            reviewed[:7],
        ]
        assert rows["alice"][:2] == ["❌ does not count", "the pull request's author"]


def build_shop(tmp_path: Path, roles: str) -> Shop:
    """acme-shop whose base commit holds roles of the test's choosing."""
    shop = Shop(tmp_path / "shop")
    config = shop.root / "changegate.yaml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"  roles:\n(    .*\n)+", roles, text)
    shop.git.checkout("main")
    config.write_text(text, encoding="utf-8")
    shop.base = shop.git.commit("roles")
    shop.git.checkout("add-chg-0150")
    shop.git.repo.git.rebase("main")
    shop.head = shop.git.repo.head.commit.hexsha
    return shop


ROLES = """\
  roles:
    cab: {teams: [acme-shop/cab, other-org/cab], users: [alice, dana, "renovate[bot]"]}
    manager: {teams: [acme-shop/engineering-managers]}
    on-call: {teams: [acme-shop/on-call]}
    policy-owners: {teams: [acme-shop/platform]}
"""


def requests(github: FakeGitHub) -> list[str]:
    return [str(c) for c in github.calls if c.path.endswith("/requested_reviewers")]


def test_missing_reviews_are_requested_once_never_from_the_author_or_a_bot(
    github: FakeGitHub, tmp_path: Path
) -> None:
    shop = build_shop(tmp_path, ROLES)
    open_pull(github, shop)
    github.teams["other-org/cab"] = ["zed"]
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop),
                        request_reviewers="true")  # fmt: skip
    assert result.code == 1  # the verdict is the verdict; asking changes nothing
    assert github.review_requests == [(42, ["dana"], ["cab"])]
    assert "requested reviews from dana, team cab" in result.out
    assert "alice is the author" in result.out
    assert "renovate[bot] is a bot" in result.out
    assert "team other-org/cab is not in acme-shop" in result.out
    assert "requested reviews from dana, team cab" in result.summary
    # the next run finds them requested already: nobody is asked twice
    again = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop),
                       request_reviewers="true")  # fmt: skip
    assert again.code == 1
    assert len(github.review_requests) == 1
    assert "requested no review" in again.out


def test_a_team_whose_member_reviewed_is_not_asked_again(github: FakeGitHub, tmp_path) -> None:
    shop = build_shop(tmp_path, ROLES)
    open_pull(github, shop)
    # carol (cab) reviewed an older commit: GitHub dropped the team's request; not again
    github.add_review(42, "carol", "COMMENTED", shop.base, "2024-01-19T09:00:00Z")
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop),
               request_reviewers="true")  # fmt: skip
    assert github.review_requests == [(42, ["dana"], [])]


@pytest.mark.parametrize("status", [422, 403])
def test_a_refused_request_warns_and_the_others_are_still_asked(
    github: FakeGitHub, tmp_path: Path, status: int
) -> None:
    shop = build_shop(tmp_path, ROLES)
    open_pull(github, shop)
    github.unrequestable["cab"] = status
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop),
                        request_reviewers="true")  # fmt: skip
    assert result.code == 1  # a deny because approvals are missing, not because of the request
    assert result.outputs["decision"] == "deny"
    assert github.review_requests == [(42, ["dana"], [])]
    assert "::warning title=changegate could not request a review::team cab:" in result.out
    assert f"POST {REPO}/pulls/42/requested_reviewers -> {status}" in requests(github)


def test_an_approved_pull_request_asks_nobody_and_off_is_the_default(
    github: FakeGitHub, tmp_path: Path
) -> None:
    shop = build_shop(tmp_path, ROLES)
    open_pull(github, shop)
    run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop))
    assert requests(github) == []  # not asked for
    github.add_review(42, "bob", "APPROVED", shop.head, "2024-01-19T10:00:00Z")
    result = run_action(github, shop, tmp_path, "pull_request", pull_request_event(shop),
                        request_reviewers="true")  # fmt: skip
    assert result.code == 0
    assert requests(github) == []
