"""The request context (SPEC §5) as GitHub has it: a snapshot of a pull request, its files,
commits, reviews, the members of the teams that hold roles and the checks of a commit, read
through the REST client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from engine.github.client import Client, GitHubError

MAX_FILES: Final = 3_000  # GitHub lists at most this many files of a pull request
MAX_COMMITS: Final = 250  # ... and at most this many commits
TEAM_PERMISSION: Final = (
    "the token cannot read the team's members. GITHUB_TOKEN never can: give the action a "
    "GitHub App token or a fine-grained token with the organization permission Members: read "
    "(a classic token needs read:org) as github-token"
)


def team_snapshot(
    client: Client, teams: Iterable[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Members of each team, and for teams that cannot be read why (their members then hold no
    role: fail closed)."""
    members: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for team in sorted(set(teams)):
        try:
            members[team] = client.team_members(team)
        except GitHubError as error:
            if error.status in {403, 404}:
                errors[team] = f"{error.status}: {TEAM_PERMISSION}"
            else:
                errors[team] = str(error)
    return members, errors


def pull_request_context(
    client: Client,
    number: int,
    *,
    event: str,
    actor: str | None,
    teams: Iterable[str],
    head_sha: str | None = None,
    base_sha: str | None = None,
) -> dict[str, Any]:
    """SPEC §5's context for a pull request (or a merge queue group, whose head and base are
    the group's): the pull request, its files, committers, reviews, teams and checks."""
    pr = client.pull(number)
    files, listed = client.pull_files(number)
    committers, commit_count = client.pull_committers(number)
    head = head_sha or pr["headSha"]
    pull_request: dict[str, Any] = {
        "number": number,
        "title": pr["title"],
        "url": pr["url"],
        "author": pr["author"],
        "headSha": head,
        "baseSha": base_sha or pr["baseSha"],
        "baseRef": pr["baseRef"],
        "createdAt": pr["createdAt"],
        "changedFiles": files,
        "committers": committers,
        "labels": pr["labels"],
    }
    # GitHub lists 3,000 files and 250 commits at most; past that, say so rather than guess.
    if pr["changedFileCount"] > listed or listed >= MAX_FILES:
        pull_request["changedFilesIncomplete"] = True
    if pr["commitCount"] > commit_count or commit_count >= MAX_COMMITS:
        pull_request["committersIncomplete"] = True
    context: dict[str, Any] = {"event": event, "pullRequest": pull_request}
    if actor:
        context["actor"] = actor
    context["reviews"] = client.reviews(number)
    context.update(_teams_and_checks(client, teams, head))
    return context


def deploy_context(
    client: Client,
    sha: str,
    *,
    actor: str | None,
    environment: str,
    service: str | None,
    version: str | None,
    teams: Iterable[str],
    pull_request: int | None,
) -> dict[str, Any]:
    """SPEC §5's context for a deploy of ``sha``: who deploys, and the pull request that last
    changed the deploy's change request (its reviews are the change's approvals)."""
    context: dict[str, Any] = {"event": "deploy", "environment": environment}
    if actor:
        context["actor"] = actor
    if service:
        context["service"] = service
    if version:
        context["version"] = version
    if pull_request is not None:
        # Its reviews count if the documents it changed are the same in the deployed commit
        # as where they were reviewed: the deployed commit stands in for the head.
        found = pull_request_context(
            client, pull_request, event="deploy", actor=actor, teams=teams, head_sha=sha
        )
        found.update(context)
        return found
    context.update(_teams_and_checks(client, teams, sha))
    return context


def _teams_and_checks(client: Client, teams: Iterable[str], sha: str) -> dict[str, Any]:
    members, errors = team_snapshot(client, teams)
    out: dict[str, Any] = {"teams": members, "checks": client.checks(sha)}
    if errors:
        out["teamErrors"] = errors
    return out
