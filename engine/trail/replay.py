"""Judging a commit as it was, in a temporary worktree: to record its decision after a merge
(``changegate record``, the Action's record mode) and to replay a record (``verify``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from engine.errors import UsageError
from engine.gitrepo import GitError, GitRepo
from engine.trail import notes
from engine.trail.record import RecordError, build


def judge_commit(
    repo: GitRepo,
    commit: str,
    *,
    root: str,
    context: dict[str, Any],
    at: datetime,
    policies_from: str,
    config_file: str | None = None,
    backend: str | None = None,
    paths: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Judge ``commit`` as it was (in a temporary worktree) and return its record."""
    from engine.judging.judge import Judge, Options
    from engine.request.context import parse_context
    from engine.workspace.inventory import Workspace

    revision = repo.resolve(policies_from)  # named as given, not inside the worktree
    with repo.worktree(commit) as tree:
        workspace = Workspace.open(
            repo=tree / root,
            config_file=tree / config_file if config_file else None,
            policies_from=revision,
        )
        problems = workspace.schemas.context_errors(context)
        if problems:
            raise RecordError(f"the request context is invalid: {problems[0].message}")
        # one process: the record lists the documents judged
        options = Options(paths=tuple(tree / p for p in paths), backend=backend, jobs=1)
        with Judge(workspace, parse_context(context), at, options) as judge:
            outcomes = judge.judge()
            return build(judge, outcomes, commit, revision, config=config_file, paths=paths)


class Recorded(NamedTuple):
    """A decision recorded on a commit: the record, whether it was written, replaced or
    unchanged, and how many pushes it took (0: not pushed)."""

    record: dict[str, Any]
    outcome: str
    attempts: int


def record_commit(
    repo: GitRepo,
    commit: str,
    *,
    root: str,
    context: dict[str, Any],
    at: datetime,
    policies_from: str,
    config_file: str | None = None,
    paths: tuple[str, ...] = (),
    replace: bool = False,
    remote: str | None = None,
) -> Recorded:
    """Judge a merged commit and keep the decision as its note (fetching and pushing the
    notes of ``remote``, if given): what ``changegate record`` and the Action's record mode
    both do."""
    if remote:
        notes.fetch(repo, remote)
    record = judge_commit(
        repo, commit, root=root, context=context, at=at, policies_from=policies_from,
        config_file=config_file, paths=paths,
    )  # fmt: skip
    outcome = notes.write(repo, commit, record, replace=replace)
    attempts = notes.push(repo, remote) if remote else 0
    return Recorded(record, outcome, attempts)


def merged_at(repo: GitRepo, commit: str) -> datetime:
    """When ``commit`` reached its branch (its committer date): the instant a record judges,
    so that recording again, later or elsewhere, gives the same record."""
    shown = repo.run("show", "-s", "--format=%cI", commit).stdout.decode().strip()
    return datetime.fromisoformat(shown)


def first_parent(repo: GitRepo, commit: str) -> str | None:
    try:
        return repo.resolve(f"{commit}^1")
    except (UsageError, GitError):
        return None
