"""Binding a review to the commit it approved (SPEC §6): a review counts on the head commit, or
on an earlier commit at which every governed document the pull request changes had the same
normalised content, so a clean rebase keeps approvals and any edit to a governed document
drops them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.documents.loader import load_bytes
from engine.request.approvals import Binding
from engine.request.context import RequestContext

if TYPE_CHECKING:
    from engine.gitrepo import GitRepo


def binding(
    context: RequestContext, governed: Callable[[str], bool], git: GitRepo | None
) -> Binding:
    """The check a review's commit goes through: None if it binds, else why not."""
    pr = context.pull_request

    def check(commit: str) -> str | None:
        head = pr.head_sha if pr else None
        if head is None:
            return "the request context names no head commit to bind the review to"
        if head.startswith(commit) or commit.startswith(head):
            return None
        short = commit[:7]
        if pr is None or pr.changed_files is None:
            return f"it is on {short}, not the head, and the changed files are unknown"
        if git is None:
            return f"it is on {short}, not the head, and there is no git history to compare"
        for sha in (commit, head):
            if not git.has_commit(sha):
                return (
                    f"commit {sha[:7]} is not in this clone, so changes since the review cannot "
                    "be ruled out (check out the full history: fetch-depth: 0)"
                )
        for path in sorted(pr.changed_files):
            if governed(path) and normalised(git.read(commit, path), path) != normalised(
                git.read(head, path), path
            ):
                return f"{path} changed after the review (on {short})"
        return None

    return check


def head_only(context: RequestContext) -> Binding:
    """Reviews bind to the head commit only (policy tests, which have no history)."""
    pr = context.pull_request
    head = pr.head_sha if pr else None

    def check(commit: str) -> str | None:
        bound = head is not None and (head.startswith(commit) or commit.startswith(head))
        return None if bound else "policy tests bind approvals to the head commit only"

    return check


def normalised(data: bytes | None, path: str) -> str | None:
    """A file's governed content, ignoring formatting and comments: its documents as canonical
    JSON. Unparsable files compare by their bytes."""
    if data is None:
        return None
    loaded = load_bytes(data, Path(path))
    if loaded.problems:
        return data.hex()
    return json.dumps([d.data for d in loaded.documents], sort_keys=True, default=str)
