"""Decision records (SPEC §10): what changegate decided about a merge, kept as a git note under
``refs/notes/changegate`` on the merge commit, for auditors and for ``changegate verify``.

A record holds the verdict, every rule's outcome, the approvals used, the policy revision and
digest, the engine (version, CEL backend, tzdata) and its inputs: the request context, the
config and the files chosen, and a digest of each judged document. The inputs digest covers
the inputs and the instant judged; the record's own digest covers all of it. Both are plain
sha256, not signatures: they catch a record edited by hand or by a tool, and ``verify``
replays the inputs; the notes ref's own history shows a record replaced on purpose.

Writing is idempotent (the same record again changes nothing) and safe when merges land
together: a rejected push fetches the remote notes, merges them (notes of other commits never
conflict) and tries again.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from engine import __version__
from engine.errors import ChangegateError, UsageError
from engine.findings import Outcome
from engine.gitrepo import GitError, GitRepo
from engine.paths import display_path
from engine.time.instants import format_instant, parse_instant
from engine.time.zones import TZDATA_VERSION
from engine.verdict import API_VERSION, finding_json

NOTES_REF: Final = "refs/notes/changegate"
INCOMING_REF: Final = "refs/notes/changegate-incoming"
PUSH_ATTEMPTS: Final = 5
_IDENTITY: Final = {"name": "changegate", "email": "changegate@users.noreply.github.com"}


class RecordError(ChangegateError):
    """A record that cannot be written, read or pushed."""


def digest(value: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def build(
    judge: Any,
    outcomes: Any,
    commit: str,
    policy_revision: str,
    *,
    config: str | None = None,
    paths: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The record of one judgement (``judge`` a pipeline Judge, ``outcomes`` its result);
    ``config`` and ``paths`` (from the git root) are what the judgement was given."""
    root = judge.git.root if judge.git is not None else judge.workspace.root
    verdict = outcomes.verdict

    def shown(path: Path) -> str:
        return display_path(path, root)

    waived = {(f.rule, f.kind, f.name) for f in verdict.findings if f.outcome is Outcome.WAIVED}
    rules = sorted(
        (
            {
                "rule": e.rule,
                "kind": e.kind,
                "name": e.name,
                "outcome": str(Outcome.WAIVED if (e.rule, e.kind, e.name) in waived else e.outcome),
                "severity": str(e.severity),
            }
            for e in outcomes.evaluations
        ),
        key=lambda r: (r["kind"] or "", r["name"] or "", r["rule"]),
    )
    documents = sorted(
        (
            {
                "kind": d.kind,
                "name": d.name,
                "path": shown(d.path),
                # a document the merge deleted has no bytes left to digest
                "sha256": None if d.deleted else hashlib.sha256(d.path.read_bytes()).hexdigest(),
                **({"deleted": True} if d.deleted else {}),
            }
            for d in outcomes.targets
        ),
        key=lambda d: (d["path"], d["kind"], d["name"] or ""),
    )
    approvals = [
        {
            "user": a.user,
            "roles": sorted(a.roles),
            "reviewId": a.review_id,
            "commit": a.commit,
            "submittedAt": a.submitted_at,
        }
        for a in (outcomes.approvals.approvals if outcomes.approvals else ())
    ]
    sources = outcomes.sources
    policy = {
        "revision": policy_revision,
        "digest": digest(
            {
                "config": judge.config.spec,
                "policies": sorted(
                    [[p.name, p.document.body] for p in sources.policies], key=lambda x: x[0]
                ),
                "waivers": sorted([w.body for w in sources.waivers], key=json.dumps),
            }
        ),
    }
    context = {**judge.context.raw, "event": judge.context.event}
    relative = display_path(judge.workspace.root, root)
    pr = judge.context.pull_request
    record = {
        "apiVersion": API_VERSION,
        "kind": "DecisionRecord",
        "commit": commit,
        "root": relative,
        "config": config,
        "paths": list(paths),
        "event": verdict.event,
        "at": format_instant(verdict.at),
        "decision": verdict.decision,
        "summary": verdict.summary,
        "findings": [finding_json(f, shown) for f in verdict.findings],
        "rules": rules,
        "documents": documents,
        "approvals": approvals,
        "pullRequest": _pull_request(pr),
        "policy": policy,
        "engine": {
            "version": __version__,
            "celBackend": verdict.backend,
            "tzdata": TZDATA_VERSION,  # the IANA release the windows were expanded with
        },
        "context": context,
    }
    record["inputs"] = {"digest": inputs_digest(record)}
    record["digest"] = record_digest(record)
    return record


def _pull_request(pr: Any) -> dict[str, Any] | None:
    if pr is None:
        return None
    return {
        "number": pr.number,
        "author": pr.author,
        "headSha": pr.head_sha,
        "baseSha": pr.base_sha,
        "createdAt": format_instant(pr.created_at) if pr.created_at else None,
    }


_INPUTS: Final = ("context", "documents", "policy", "at", "event", "root", "config", "paths")


def inputs_digest(record: dict[str, Any]) -> str:
    """The digest the record's own inputs give now (equal to the recorded one unless edited)."""
    return digest({name: record.get(name) for name in _INPUTS})


def record_digest(record: dict[str, Any]) -> str:
    """The digest of the whole record but this digest itself."""
    return digest({name: value for name, value in record.items() if name != "digest"})


# what a note must hold to be read as a record: field -> JSON type
_SHAPE: Final = {
    "commit": str, "root": str, "event": str, "at": str, "decision": str, "summary": dict,
    "findings": list, "rules": list, "documents": list, "approvals": list, "policy": dict,
    "engine": dict, "context": dict, "inputs": dict, "digest": str, "paths": list,
}  # fmt: skip


_JSON_TYPES: Final = {str: "string", dict: "object", list: "array"}


def _inside(path: str) -> bool:
    from pathlib import PurePosixPath

    return not PurePosixPath(path).is_absolute() and ".." not in PurePosixPath(path).parts


def problem(record: Any, *, edited: bool = True) -> str | None:
    """Why a note cannot serve as a decision record, or None. Checks what audit, metrics and
    verify read, and (``edited``) that the record still matches its own digest."""
    if not isinstance(record, dict) or record.get("kind") != "DecisionRecord":
        return "it is not a decision record (kind DecisionRecord)"
    for name, kind in _SHAPE.items():
        if not isinstance(record.get(name), kind):
            return f"{name} is missing or not a JSON {_JSON_TYPES[kind]}"
    for name, kind in (("config", str), ("pullRequest", dict)):
        if record.get(name) is not None and not isinstance(record[name], kind):
            return f"{name} is neither null nor a JSON {_JSON_TYPES[kind]}"
    # what verify opens: inside the commit's tree, never beside it
    places = [("root", record["root"]), ("config", record.get("config"))]
    places += [(f"paths[{i}]", path) for i, path in enumerate(record["paths"])]
    for name, place in places:
        if place is None and name == "config":
            continue
        if not isinstance(place, str) or not _inside(place):
            return f"{name} is not a relative path inside the repository: {place!r}"
    if record["decision"] not in {"allow", "deny"}:
        return f"decision is {record['decision']!r}, not allow or deny"
    for name in ("findings", "rules", "documents", "approvals"):
        for index, item in enumerate(record[name]):
            if not isinstance(item, dict):
                return f"{name}[{index}] is not a JSON object"
    for index, document in enumerate(record["documents"]):
        if not isinstance(document.get("path"), str):
            return f"documents[{index}].path is not a string"
    times = [("at", record["at"])]
    times += [(f"approvals[{i}].submittedAt", a.get("submittedAt"))
              for i, a in enumerate(record["approvals"])]  # fmt: skip
    for index, approval in enumerate(record["approvals"]):
        roles = approval.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return f"approvals[{index}].roles is not a list of strings"
    pr = record.get("pullRequest")
    if isinstance(pr, dict):
        times.append(("pullRequest.createdAt", pr.get("createdAt")))
    for name, value in times:
        if value is None and name != "at":
            continue
        try:
            parse_instant(str(value))
        except ValueError:
            return f"{name} is not an RFC 3339 time: {value!r}"
    if not isinstance(record["policy"].get("revision"), str):
        return "policy.revision is not a string"
    if edited and record["digest"] != record_digest(record):
        return (
            f"it was edited after it was written: it records digest {record['digest'][:19]}, "
            f"its content gives {record_digest(record)[:19]}"
        )
    return None


MAX_NOTE: Final = 16 * 1024 * 1024  # bytes: a record of thousands of documents is ~1 MB


def loads(data: bytes) -> tuple[Any, str | None]:
    """A note's JSON, or why it cannot be read: too big, not JSON, or nested too deeply (a
    hostile note must not stop the audit of the whole history)."""
    if len(data) > MAX_NOTE:
        return None, f"it is {len(data):,} bytes, over the {MAX_NOTE:,}-byte limit of a record"
    try:
        return json.loads(data), None
    except RecursionError:
        return None, "it is JSON nested too deeply to be a decision record"
    except ValueError:
        return None, "it is not JSON"


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- git notes ---------------------------------------------------------------------------------


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


# --- a commit's files, to judge or replay it --------------------------------------------------


def judge_commit(
    repo: GitRepo,
    commit: str,
    *,
    root: str,
    context: dict[str, Any],
    at: Any,
    policies_from: str,
    config_file: str | None = None,
    backend: str | None = None,
    paths: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Judge ``commit`` as it was (in a temporary worktree) and return its record."""
    from engine.judging.judge import Judge, Options
    from engine.request.context import parse_context

    revision = repo.resolve(policies_from)  # named as given, not inside the worktree
    with repo.worktree(commit) as tree:
        folder = tree / root
        options = Options(
            now=at,
            repo=folder,
            config_file=tree / config_file if config_file else None,
            paths=tuple(tree / p for p in paths),
            policies_from=revision,
            backend=backend,
            jobs=1,  # one process: the record lists the documents judged
        )
        with Judge(options) as judge:
            problems = judge.workspace.schemas.context_errors(context)
            if problems:
                raise RecordError(f"the request context is invalid: {problems[0].message}")
            judge.context = parse_context(context)
            outcomes = judge.judge()
            return build(
                judge, outcomes, commit, revision, config=config_file, paths=paths
            )  # fmt: skip


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
