"""Decision records as git notes under ``refs/notes/changegate`` on the merge commit: reading
them back (a note that is not a record is an error, never a record), writing one (idempotent),
and moving them between clones.

Writing is idempotent (the same record again changes nothing) and safe when merges land
together: a rejected push fetches the remote notes, merges them (notes of other commits never
conflict) and tries again.
"""

from __future__ import annotations

import os
from typing import Any, Final

from engine.errors import UsageError
from engine.gitrepo import GitError, GitRepo
from engine.trail.record import RecordError, dumps, loads, problem

NOTES_REF: Final = "refs/notes/changegate"
INCOMING_REF: Final = "refs/notes/changegate-incoming"
PUSH_ATTEMPTS: Final = 5
_IDENTITY: Final = {"name": "changegate", "email": "changegate@users.noreply.github.com"}


def _git(repo: GitRepo, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
    """git, with an identity for the notes commits when the repository has none."""
    env = dict(os.environ)
    if repo.run("config", "--get", "user.name", check=False).returncode != 0:
        for key, value in _IDENTITY.items():
            env.setdefault(f"GIT_AUTHOR_{key.upper()}", value)
            env.setdefault(f"GIT_COMMITTER_{key.upper()}", value)
    try:
        result = repo.run(*args, stdin=stdin, env=env, check=check, timeout=300)
    except GitError as error:
        raise RecordError(str(error)) from None
    return result.stdout.decode(errors="replace")


def read(repo: GitRepo, commit: str, *, edited: bool = True) -> dict[str, Any] | None:
    """The record on ``commit``, or None; a note that cannot serve as a record (see
    ``problem``; ``edited=False`` lets an edited one through, for verify) is an error."""
    try:
        sha = repo.resolve(commit)
    except UsageError:
        raise RecordError(f"{commit!r} is not a commit of {repo.root}") from None
    if not repo.has_ref(NOTES_REF):
        return None
    found = repo.run("notes", f"--ref={NOTES_REF}", "list", sha, check=False)
    if found.returncode != 0:
        return None
    data = repo.run("cat-file", "blob", found.stdout.decode().strip(), check=False).stdout
    return _parse(data, sha, edited=edited)


def _parse(data: bytes, sha: str, *, edited: bool = True) -> dict[str, Any]:
    record, why = loads(data)
    if why is None:
        why = problem(record, edited=edited)
    if why is not None or record is None:
        raise RecordError(
            f"the note on {sha[:12]} under {NOTES_REF} cannot be read as a decision record: "
            f"{why}. Record the decision again with changegate record {sha[:12]} --replace"
        )
    if record["commit"] != sha:
        raise RecordError(
            f"the note on {sha[:12]} under {NOTES_REF} is the record of another commit "
            f"({str(record['commit'])[:12]}): it was copied"
        )
    return dict(record)


def all_records(repo: GitRepo) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every note under the ref: (commit sha -> record, commit sha -> why its note cannot be
    read as one). Audit flags the unreadable ones."""
    records: dict[str, dict[str, Any]] = {}
    unreadable: dict[str, str] = {}
    if not repo.has_ref(NOTES_REF):
        return records, unreadable
    listing = repo.run("notes", f"--ref={NOTES_REF}", "list", check=False).stdout.decode()
    pairs = [line.split() for line in listing.splitlines() if len(line.split()) == 2]
    if not pairs:
        return records, unreadable
    for (_, commit), body in zip(pairs, repo.blobs([note for note, _ in pairs]), strict=True):
        if body is None:  # the notes tree names a blob that is gone
            unreadable[commit] = "its note's content is missing from the repository"
            continue
        try:
            records[commit] = _parse(body, commit)
        except RecordError as error:
            unreadable[commit] = str(error)
    return records, unreadable


def write(repo: GitRepo, commit: str, record: dict[str, Any], *, replace: bool = False) -> str:
    """Attach ``record`` to ``commit``. Returns "written", "unchanged" (the same inputs and
    decision were recorded already) or "replaced"; a different record is kept unless
    ``replace``."""
    try:
        existing = read(repo, commit)
    except RecordError:
        if not replace:
            raise
        existing = {}  # a broken note, replaced on request
    if existing is not None:
        if existing and _without_engine(existing) == _without_engine(record):
            return "unchanged"
        if not replace:
            raise RecordError(
                f"{commit[:12]} already has a different decision record (inputs "
                f"{existing['inputs'].get('digest', '?')[:19]}): pass --replace to "
                "replace it (the notes history keeps the old one)"
            )
    _git(
        repo,
        "notes",
        f"--ref={NOTES_REF}",
        "add",
        "-f",
        "-F",
        "-",
        commit,
        stdin=dumps(record).encode(),
    )
    return "replaced" if existing is not None else "written"


def _without_engine(record: dict[str, Any]) -> dict[str, Any]:
    """A record but what only says which changegate wrote it."""
    return {k: v for k, v in record.items() if k not in {"engine", "digest"}}


def fetch(repo: GitRepo, remote: str) -> bool:
    """Bring the remote's notes in (merged with ours); False if the remote has none yet."""
    _git(repo, "fetch", "--quiet", remote, f"+{NOTES_REF}:{INCOMING_REF}", check=False)
    if not repo.has_ref(INCOMING_REF):
        return False
    if not repo.has_ref(NOTES_REF):
        _git(repo, "update-ref", NOTES_REF, INCOMING_REF)
    else:
        # Notes on different commits never conflict; for the same commit keep ours.
        _git(repo, "notes", f"--ref={NOTES_REF}", "merge", "--quiet", "-s", "ours", INCOMING_REF)
    _git(repo, "update-ref", "-d", INCOMING_REF)
    return True


def push(repo: GitRepo, remote: str) -> int:
    """Push the notes; when another merge's record got there first, fetch, merge, retry.
    Returns the number of attempts it took."""
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        result = repo.run(
            "push", "--quiet", remote, f"{NOTES_REF}:{NOTES_REF}", check=False, timeout=120
        )
        if result.returncode == 0:
            return attempt
        error = result.stderr.decode(errors="replace")
        if (
            "rejected" not in error
            and "non-fast-forward" not in error
            and "fetch first" not in error
        ):
            lines = [line for line in error.splitlines() if line.strip()]
            said = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
            raise RecordError(
                f"git push {remote} {NOTES_REF} failed: {' '.join(said) or 'no reason given'} "
                "(a remote that exists and a token with contents: write are needed)"
            )
        fetch(repo, remote)
    raise RecordError(f"git push {remote} {NOTES_REF}: still rejected after {PUSH_ATTEMPTS} tries")
