"""The pull request comment describes the change: each document the pull request adds,
changes or deletes, its schedule in its own zone and in UTC, the windows it meets, and the
reviews that count and those that do not, rendered by a GFM renderer and read as text."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.reporters.markdown import COMMENT_LIMIT, MARKER, render
from engine.verdict import Verdict
from tests.reporters.test_reporters import SAFE_TAGS, Page, to_html
from tests.support.files import EXAMPLES, write

SHOP = EXAMPLES / "acme-shop"
HEAD = "3f2a9c1e5b7d4a6f8e0c2b4d6f8a0c2e4b6d8f0a"
AT = "2024-01-20T12:00:00Z"
TAGS = SAFE_TAGS | {"ul", "li", "h4"}

CONTEXT = f"""\
event: pull_request
actor: bob
pullRequest:
  number: 44
  title: Raise the pool before the campaign
  author: alice
  headSha: {HEAD}
  createdAt: "2024-01-18T09:00:00Z"
  changedFiles: [changes/CHG-2024-0160.yaml]
  committers: [alice, carol]
reviews:
  - {{user: bob, state: APPROVED, commit: {HEAD}}}
  - {{user: dana, state: APPROVED, commit: {HEAD}}}
  - {{user: alice, state: APPROVED, commit: {HEAD}}}
  - {{user: carol, state: APPROVED, commit: {HEAD}}}
  - {{user: eve, state: APPROVED, commit: {HEAD}}}
  - {{user: "dependabot[bot]", state: APPROVED, commit: {HEAD}, userType: Bot}}
  - {{user: frank, state: APPROVED, commit: "1111111111111111111111111111111111111111"}}
  - {{user: grace, state: CHANGES_REQUESTED, commit: {HEAD}}}
teams:
  acme-shop/cab: [bob, carol]
  acme-shop/engineering-managers: [dana]
  acme-shop/on-call: [frank]
  acme-shop/platform: [grace]
"""


def comment(cli, tmp_path: Path, context: str, root: Path = SHOP, **flags: str) -> str:
    path = write(tmp_path / "context.yaml", context)
    result = cli("check", root, "--context", path, "--at", AT, "--format", "markdown")
    assert result.code in {0, 1}, result.err
    return result.out


def text_of(markdown: str) -> str:
    return " ".join(" ".join(Page(to_html(markdown)).texts).split())


def test_the_comment_describes_the_change_and_its_reviews(cli, tmp_path: Path) -> None:
    markdown = comment(cli, tmp_path, CONTEXT)
    page = Page(to_html(markdown))
    text = " ".join(" ".join(page.texts).split())
    assert "What this pull request changes" in text
    assert (
        "ChangeRequest CHG-2024-0160 (added or changed): Raise the checkout connection pool "
        "before the weekend campaign"
    ) in text
    assert "normal change, low risk · production · checkout" in text
    # the schedule in its own zone and in UTC
    assert (
        "schedule: 2024-01-26 16:30 to 2024-01-26 17:30 Europe/Berlin "
        "(2024-01-26 15:30 to 2024-01-26 16:30 UTC)"
    ) in text
    # the freeze it meets, passed by its exception and the manager's approval
    assert (
        "✅ soft freeze weekend-freeze, 2024-01-26 16:00 to 2024-01-29 08:00 Europe/Berlin: passed"
    ) in text
    assert "approvals: 1 from cab (normal): ✅ bob" in text
    (reviews,) = page.tables[-1:]
    assert reviews[0] == ["Reviewer", "Approval", "Role, or why it does not count", "Commit"]
    rows = {row[0]: row[1:] for row in reviews[1:]}
    assert rows["bob"] == ["✅ counts", "cab", "3f2a9c1"]
    assert rows["dana"] == ["✅ counts", "manager", "3f2a9c1"]
    assert rows["alice"][:2] == ["❌ does not count", "the pull request's author"]
    assert rows["carol"][:2] == ["❌ does not count", "committed to the pull request"]
    assert rows["dependabot[bot]"][:2] == ["❌ does not count", "a bot"]
    assert rows["grace"][:2] == ["❌ does not count", "requested changes"]
    assert rows["eve"][1].startswith("not in a team of any role: holds none of the roles (cab:")
    assert rows["eve"][1].endswith("it counts only as an independent review")
    assert rows["frank"][1].startswith("changed since the review: commit 1111111 is not in this")
    assert set(page.tags) <= TAGS


def test_an_allow_comment_names_what_it_judged(cli, tmp_path: Path) -> None:
    context = (SHOP / "contexts" / "pr-42-approved.yaml").read_text(encoding="utf-8")
    markdown = comment(cli, tmp_path, context)
    text = text_of(markdown)
    assert "changegate: allow" in text
    assert "ChangeRequest CHG-2024-0150 (added or changed): Database schema migration" in text
    assert "freezes and change windows: none applies" in text


def test_a_blocked_schedule_says_when_the_freeze_opens(cli, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    change = root / "changes" / "CHG-2024-0150.yaml"
    text = change.read_text(encoding="utf-8").replace(
        'start: "2024-01-25T02:00"', 'start: "2024-12-27T10:00"'
    )
    change.write_text(text, encoding="utf-8")
    context = (SHOP / "contexts" / "pr-42-approved.yaml").read_text(encoding="utf-8")
    markdown = comment(cli, tmp_path, context, root=root)
    text = " ".join(text_of(markdown).split())
    assert (
        "⛔ hard freeze holiday-freeze, 2024-12-20 00:00 to 2025-01-02 00:00 Europe/Berlin; "
        "opens 2025-01-01 23:00 UTC"
    ) in text


HOSTILE = (
    "<!-- hidden --> @org/team $x$ $$y$$ [a]() ]() \u202eevil\u2066 **b** `c` #12 "
    "https://evil.example | pipe"
)


def hostile_repo(tmp_path: Path, title: str) -> tuple[Path, str]:
    root = tmp_path / "repo"
    write(root / "changegate.yaml", "apiVersion: changegate/v1\nkind: Config\n"
          "metadata: {name: r}\nspec:\n  roles: {cab: {users: [bob]}}\n")  # fmt: skip
    files = []
    for index in range(60):
        name = f"CHG-{index:03}"
        files.append(f"changes/{name}.yaml")
        write(root / "changes" / f"{name}.yaml", "apiVersion: changegate/v1\n"
              f"kind: ChangeRequest\nmetadata: {{name: {name}}}\nspec:\n"
              f"  title: {json.dumps(title)}\n  type: normal\n  risk: low\n"
              "  environment: production\n  services: [shop]\n  requestor: {name: alice}\n"
              "  description: d\n  rollback: [r]\n"
              "  schedule: {start: '2024-02-01T10:00', duration: 1h,\n"
              "             timezone: Asia/Kolkata}\n")  # fmt: skip
    reviewers = [HOSTILE[:30], "@org/team", "$x$", "]()", "\u202eevil"]
    context = "event: pull_request\npullRequest:\n  author: alice\n  number: 1\n" \
        f"  headSha: {HEAD}\n  changedFiles: {json.dumps(files)}\nreviews:\n" + "".join(
            f"  - {{user: {json.dumps(r)}, state: APPROVED, commit: {HEAD}}}\n"
            for r in reviewers
        )  # fmt: skip
    return root, context


# 60,000 characters: past that a value is not read at all (65,536 characters per value)
@pytest.mark.parametrize("title", [HOSTILE, ("<b>@alice</b> $ ]() " * 6_000)[:60_000]])
def test_hostile_titles_and_reviewers_stay_text_and_long_pull_requests_fold(
    cli, tmp_path: Path, title: str
) -> None:
    root, context = hostile_repo(tmp_path, title)
    markdown = comment(cli, tmp_path, context, root=root)
    assert len(markdown) < COMMENT_LIMIT
    html = to_html(markdown)
    page = Page(html)
    assert page.comments == [" changegate:verdict "]
    assert markdown.count("<!--") == 1
    assert set(page.tags) <= TAGS, sorted(set(page.tags) - TAGS)
    assert page.links == []
    assert page.attributes == []
    assert "$" not in markdown
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", markdown)
    assert re.search(r"@[A-Za-z0-9]", " ".join(page.texts)) is None
    assert "<details><summary>60 documents</summary>" in markdown  # folded
    text = " ".join(" ".join(page.texts).split())
    shown = markdown.count("(added or changed)")
    assert 0 < shown <= 50  # 50 described at most, fewer where the findings need the room
    assert f"{60 - shown} more document(s) not described here." in text
    assert "schedule: 2024-02-01 10:00 to 2024-02-01 11:00 Asia/Kolkata (2024-02-01 04:30" in text
    assert "<U+202E>evil" in text


def test_a_title_of_100_kb_is_refused_and_the_comment_keeps_its_limit(cli, tmp_path) -> None:
    root, context = hostile_repo(tmp_path, ("<b>@alice</b> " * 9_000)[:100_000])
    markdown = comment(cli, tmp_path, context, root=root)
    assert len(markdown) < COMMENT_LIMIT
    assert "`yaml/parse`" in markdown
    assert set(Page(to_html(markdown)).tags) <= TAGS


def test_the_description_yields_room_to_the_findings(cli, tmp_path: Path) -> None:
    root, context = hostile_repo(tmp_path, ("<b>@alice</b> " * 9_000)[:60_000])
    path = write(tmp_path / "context.yaml", context)
    result = cli("check", root, "--context", path, "--at", AT, "--format", "json")
    data = json.loads(result.out)
    assert (len(data["judged"]["documents"]), data["judged"]["omitted"]) == (50, 10)
    verdict = Verdict.from_json(data)
    for limit in (10_000, 30_000, COMMENT_LIMIT - 2_048):
        markdown = render(verdict, limit=limit)
        assert len(markdown) <= limit
        assert markdown.startswith(MARKER)
        assert "### Blocking" in markdown  # what blocks is never pushed out by the description


def test_a_verdict_read_back_from_json_renders_the_same_description(cli, tmp_path: Path) -> None:
    """The fork pattern: the comment is rendered from the artifact's verdict.json."""
    path = write(tmp_path / "context.yaml", CONTEXT)
    result = cli("check", SHOP, "--context", path, "--at", AT, "--format", "json")
    data: dict[str, Any] = json.loads(result.out)
    from engine.documents.schemas import SchemaSet

    assert SchemaSet().verdict_errors(data) == []
    markdown = comment(cli, tmp_path, CONTEXT)

    def described(text: str) -> str:  # from the description on (the artifact has no file count)
        return text[text.index("### What this pull request changes") :]

    assert described(render(Verdict.from_json(data))) == described(markdown)
