"""The checkout the Action runs in: the git clone must hold what it judges (the pull request's
head, the base commit's policies, the default branch for a deploy)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.github.action.inputs import ActionError, Run, text_at
from engine.github.client import Client
from engine.gitrepo import GitRepo

if TYPE_CHECKING:
    from engine.judging.deploy import DeployTarget
    from engine.workspace.inventory import Inventory, Workspace


def approving_pull(
    workspace: Workspace,
    inventory: Inventory,
    client: Client,
    sha: str,
    deploy: DeployTarget,
    now: datetime,
    *,
    naming: str = "the input change",
) -> int | None:
    """The merged pull request that last changed the deploy's change request: its reviews
    are the change's approvals. None when the deploy carries no change request. ``naming``
    says where a deploy names its change request (several scheduled now need one named)."""
    from engine.judging.deploy import scheduled_changes

    if deploy.change is not None:
        wanted = deploy.change.casefold()
        found = [
            d
            for d in inventory.valid
            if d.kind == "ChangeRequest" and (d.name or "").casefold() == wanted
        ]
    else:
        found = scheduled_changes(inventory.valid, workspace.config, now, deploy)
        if len(found) > 1:
            names = ", ".join(d.name or "?" for d in found)
            raise ActionError(
                f"several change requests are scheduled now for {deploy.service} in "
                f"{deploy.environment} ({names}): say which one this deploy carries with "
                f"{naming}"
            )
    git = GitRepo.find(workspace.root)
    if not found or git is None:
        return None
    path = git.relative(found[0].path)
    commit = git.last_change(path, sha) if path else None
    if commit is None:
        return None
    merged = [p for p in client.pulls_of_commit(commit) if p["merged"]]
    # the pull request merged as this commit (or that brought it), not one that contains it
    merged.sort(key=lambda p: p["mergeCommitSha"] != commit)
    return int(merged[0]["number"]) if merged else None


def teams_of(config: dict[str, Any]) -> list[str]:
    return sorted({t for role in config.get("roles", {}).values() for t in role.get("teams", ())})


def valid_context(workspace: Workspace, data: dict[str, Any]) -> dict[str, Any]:
    problems = workspace.schemas.context_errors(data)
    if problems:  # pragma: no cover - the context is built here; a bug if it is invalid
        raise AssertionError(f"built an invalid request context: {problems[0].message}")
    return data


def repository(directory: Path) -> GitRepo:
    repo = GitRepo.find(directory)
    if repo is None:
        raise ActionError(f"{directory} is not a git checkout: run actions/checkout first")
    return repo


def present(sha: str, what: str, directory: Path) -> str:
    """``sha`` if the clone has it; else say how to check out enough history."""
    if not repository(directory).has_commit(sha):
        raise ActionError(
            f"{what} {sha[:12]} is not in the clone, so the policies it holds cannot be read: "
            "check out with actions/checkout and fetch-depth: 0"
        )
    return sha


def checked_out(directory: Path, head: str) -> None:
    """The workspace must hold the pull request: its head, or GitHub's merge of it into the
    base (refs/pull/N/merge, whose second parent is the head)."""
    repo = repository(directory)
    current = repo.head()
    parents = repo.parents(current) if current else []
    if current != head and head not in parents[1:]:
        raise ActionError(
            f"the checkout is {str(current)[:12]}, not pull request head {head[:12]} nor its "
            "merge commit: check out the pull request (actions/checkout's default on "
            "pull_request events) so that what is judged is what would merge"
        )


def default_tip(run: Run, directory: Path, deployed: str) -> tuple[Any, str, str]:
    """The repository, the tip of its default branch, and changegate's folder in it; the
    deployed commit must be on that branch."""
    repo = repository(directory)
    branch = text_at(run.payload, "repository", "default_branch") or "main"
    tip = None
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if repo.has_ref(ref):
            tip = repo.resolve(ref)
            break
    if tip is None:
        raise ActionError(
            f"the default branch {branch} is not in the clone: check out with fetch-depth: 0"
        )
    if not repo.has_commit(deployed) or not repo.is_ancestor(deployed, tip):
        raise ActionError(
            f"commit {deployed[:12]} is not on the default branch {branch}: deploy what was "
            "merged (the gate judges by the default branch's freezes, plans and changes)"
        )
    root = repo.relative(directory)
    if root is None:
        raise ActionError(f"{directory} is outside the git repository {repo.root}")
    return repo, tip, root or "."
