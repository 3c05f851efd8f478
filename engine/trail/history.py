"""The change trail: the default branch's history of governed documents, with the decision
records changegate left on it.

One ``git log`` (through GitPython) walks the whole first-parent history, with each commit's
changed files, authors, committer and signature status; the notes under
``refs/notes/changegate`` are read in one batch. A 5,000-commit history takes seconds. The
period an auditor asks for filters what is shown, never what is walked: approvals, additions
and plans from before it still count, and git's date limits (which stop at the first commit
out of order) are never used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Replacement:
    """A decision record that was changed or removed after it was written, from the history
    of the notes ref (a record is written once; ``record --replace`` leaves this trace)."""

    commit: str  # the commit the record is about
    when: datetime
    by: str
    notes_commit: str
    before: str  # the decision it held (or "unreadable")
    after: str | None  # the decision it holds now, None when the note was removed


@dataclass
class Trail:
    """What audit and metrics read: the commits, the records and what could not be read."""

    commits: list[Commit]
    records: dict[str, dict[str, Any]]  # commit sha -> decision record
    unreadable: dict[str, str]  # commit sha -> why its note is not a record
    warnings: list[str]
    replaced: list[Replacement] = field(default_factory=list)


def load(repo: GitRepo, governed: Callable[[str], bool], *, ref: str = "HEAD") -> Trail:
    """The whole trail of ``ref``: refuses a shallow clone, whose history would be cut short
    without a word, and warns when there are no records to read."""
    from engine.errors import UsageError
    from engine.trail.notes import NOTES_REF, all_records

    shallow = repo.run("rev-parse", "--is-shallow-repository", check=False).stdout
    if shallow.decode().strip() == "true":
        raise UsageError(
            f"{repo.root} is a shallow clone: its history is cut short, so an audit would miss "
            "what came before. Fetch all of it (git fetch --unshallow, or actions/checkout with "
            "fetch-depth: 0)"
        )
    records, unreadable = all_records(repo)
    warnings = []
    if not repo.has_ref(NOTES_REF):
        warnings.append(
            f"there is no {NOTES_REF} here, so every merge looks unrecorded: fetch the records "
            f"with git fetch origin {NOTES_REF}:{NOTES_REF}"
        )
    commits = walk(repo, ref=repo.resolve(ref), keep=governed)
    return Trail(commits, records, unreadable, warnings, replacements(repo))


def replacements(repo: GitRepo) -> list[Replacement]:
    """Notes changed or removed after they were written: one ``git log`` of the notes ref,
    first parent (a notes merge only adds the other side's notes), oldest first."""
    from engine.trail.notes import NOTES_REF

    if not repo.has_ref(NOTES_REF):
        return []
    output = repo.run(
        "log", "--reverse", "--first-parent", "--diff-merges=first-parent", "--raw",
        "--no-renames", "-z", "--no-abbrev", "--format=%x1e%H%x1f%cI%x1f%cn <%ce>", NOTES_REF,
        timeout=300,
    ).stdout.decode(errors="replace")  # fmt: skip
    changed: list[tuple[str, datetime, str, str, str, str | None]] = []
    for chunk in output.split("\x1e")[1:]:
        header, _, rest = chunk.partition("\0")
        notes_commit, when, by = header.split("\x1f", 2)
        moment = datetime.fromisoformat(when)
        fields = rest.lstrip("\n").split("\0")
        added: dict[str, str] = {}
        gone: dict[str, str] = {}  # note (commit sha) -> its blob before
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.split()  # :mode mode old new status
            if len(parts) != 5:
                continue
            note, (old, new, status) = path.replace("/", ""), parts[2:5]
            if status == "M":
                changed.append((note, moment, by, notes_commit, old, new))
            elif status == "A":
                added[note] = new
            elif status == "D":
                gone[note] = old
        # git moves notes into fan-out folders (ab/cdef...) as they grow: a note deleted and
        # added again in one commit moved, and changed only if its content did
        for note, before in gone.items():
            after = added.get(note)
            if after != before:
                changed.append((note, moment, by, notes_commit, before, after))
    blobs = {old for *_, old, _ in changed} | {new for *_, new in changed if new}
    decisions = _decisions(repo, blobs)
    return [
        Replacement(commit, when, by, notes, decisions[old], decisions[new] if new else None)
        for commit, when, by, notes, old, new in changed
    ]


def _decisions(repo: GitRepo, blobs: set[str]) -> dict[str, str]:
    """blob -> the decision of the record it holds ("unreadable" when it holds none)."""
    from engine.trail.record import loads

    found: dict[str, str] = {}
    ordered = sorted(blobs)
    for blob, body in zip(ordered, repo.blobs(ordered), strict=True):
        data = loads(body)[0] if body is not None else None
        decision = data.get("decision") if isinstance(data, dict) else None
        found[blob] = decision if decision in {"allow", "deny"} else "unreadable"
    return found


def walk(
    repo: GitRepo, *, ref: str = "HEAD", keep: Callable[[str], bool] = lambda path: True
) -> list[Commit]:
    """The first-parent history of ``ref``, oldest first, with only the changed paths ``keep``
    accepts (a merge's changes are those against its first parent)."""
    args = [
        ref, "--first-parent", "--diff-merges=first-parent", "--name-status", "-z",
        "--no-renames", "--reverse", f"--format={_FORMAT}",
    ]  # fmt: skip
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


def records_by_path(trail: Trail) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """path -> [(commit, record)] of the records of commits that changed the path and judged
    it: a record that judged every document is evidence only for what its commit changed."""
    index: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for commit in trail.commits:
        record = trail.records.get(commit.sha)
        if record is None:
            continue
        judged = record_paths(record)
        for _, path in commit.changes:
            if path in judged:
                index.setdefault(path, []).append((commit.sha, record))
    return index


def record_paths(record: dict[str, Any]) -> set[str]:
    """The documents a decision record judged, by path from the git root."""
    return {d["path"] for d in record["documents"]}


def within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``moment`` is in the half-open period [since, until)."""
    return (since is None or moment >= since) and (until is None or moment < until)


def parse_period(
    since: str | None, until: str | None, zone: str, flags: tuple[str, str] = ("since", "until")
) -> tuple[datetime | None, datetime | None]:
    """--since and --until: dates start at midnight in the config's time zone (the months of
    metrics are that zone's too); a ValueError says which is wrong."""
    from engine.time.instants import parse_datetime

    def read(flag: str, text: str | None) -> datetime | None:
        if text is None:
            return None
        try:
            return parse_datetime(text, zone)
        except ValueError as error:
            reason = str(error) if "outside the years" in str(error) else ""
            raise ValueError(
                f"{flag} {text!r}: " + (reason or "give a date (2024-01-01) or an RFC 3339 time")
            ) from None

    start, end = read(flags[0], since), read(flags[1], until)
    if start and end and end <= start:
        raise ValueError(f"{flags[1]} must be after {flags[0]}")
    return start, end
