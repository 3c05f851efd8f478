"""The change trail: the default branch's history of governed documents, with the decision
records changegate left on it.

One ``git log`` (through GitPython) walks the first-parent history, with each commit's
changed files, authors, committer and signature status; the notes under
``refs/notes/changegate`` are read in one batch. A 5,000-commit history takes seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from engine.gitrepo import GitRepo

_MERGE: Final = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH: Final = re.compile(r"\(#(\d+)\)\s*$")
_FORMAT: Final = "%x1e" + "%x1f".join(
    ("%H", "%P", "%an", "%ae", "%cn", "%ce", "%aI", "%cI", "%G?", "%s")
)
SIGNATURES: Final = {
    "G": "good",
    "B": "bad",
    "U": "good, untrusted key",
    "X": "good, expired",
    "Y": "good, expired key",
    "R": "good, revoked key",
    "E": "cannot be checked",
    "N": "unsigned",
}


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    committer: str
    committer_email: str
    authored: datetime
    committed: datetime
    signature: str  # git's %G? letter
    subject: str
    changes: tuple[tuple[str, str], ...]  # (status letter, path from the git root)

    @property
    def pull_request(self) -> int | None:
        """The pull request a merge or squash message names (Merge pull request #12, (#12))."""
        found = _MERGE.match(self.subject) or _SQUASH.search(self.subject)
        return int(found.group(1)) if found else None

    @property
    def signed(self) -> str:
        return SIGNATURES.get(self.signature, self.signature)


def walk(
    repo: GitRepo,
    *,
    ref: str = "HEAD",
    since: datetime | None = None,
    until: datetime | None = None,
    keep: Callable[[str], bool] = lambda path: True,
) -> list[Commit]:
    """The first-parent history of ``ref``, oldest first, with only the changed paths ``keep``
    accepts (a merge's changes are those against its first parent)."""
    args = [
        ref, "--first-parent", "--diff-merges=first-parent", "--name-status", "-z",
        "--no-renames", "--reverse", f"--format={_FORMAT}",
    ]  # fmt: skip
    if since is not None:
        args.append(f"--since={since.isoformat()}")
    if until is not None:
        args.append(f"--until={until.isoformat()}")
    output: str = repo.history().git.log(*args)
    commits = []
    for chunk in output.split("\x1e")[1:]:
        header, _, rest = chunk.partition("\0")
        fields = header.split("\x1f", 9)
        entries = rest.lstrip("\n").split("\0")
        changes = []
        for status, path in zip(entries[0::2], entries[1::2], strict=False):
            if status and path and keep(path):
                changes.append((status[0], path))
        commits.append(
            Commit(
                sha=fields[0],
                parents=tuple(fields[1].split()),
                author=fields[2],
                author_email=fields[3],
                committer=fields[4],
                committer_email=fields[5],
                authored=datetime.fromisoformat(fields[6]),
                committed=datetime.fromisoformat(fields[7]),
                signature=fields[8] or "N",
                subject=fields[9],
                changes=tuple(changes),
            )
        )
    return commits


def first_added(commits: list[Commit]) -> dict[str, Commit]:
    """path -> the commit that first added it, in the walked history."""
    found: dict[str, Commit] = {}
    for commit in commits:
        for status, path in commit.changes:
            if status == "A":
                found.setdefault(path, commit)
    return found


def records_by_path(
    records: dict[str, dict[str, Any]],
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """path -> [(commit, record)] of the records that judged it: one pass, for look-ups."""
    index: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for commit, record in records.items():
        for path in record_paths(record):
            index.setdefault(path, []).append((commit, record))
    return index


def record_paths(record: dict[str, Any]) -> set[str]:
    """The documents a decision record judged, by path from the git root."""
    return {str(d.get("path")) for d in record.get("documents", ()) if isinstance(d, dict)}
