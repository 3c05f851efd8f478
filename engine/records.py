"""Decision records (SPEC §10): what changegate decided about a merge, kept as a git note under
``refs/notes/changegate`` on the merge commit, for auditors and for ``changegate verify``.

A record holds the verdict, every rule's outcome, the approvals used, the policy revision and
digest, the engine (version, CEL backend, tzdata) and its inputs: the request context and a
digest of each judged document. The inputs digest covers the context, the documents, the
policy revision and digest and the instant judged, so a record edited after the fact no longer
matches its own digest.

Writing is idempotent (the same record again changes nothing) and safe when merges land
together: a rejected push fetches the remote notes, merges them (notes of other commits never
conflict) and tries again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Final

from engine import __version__
from engine.errors import ChangegateError, UsageError
from engine.findings import Outcome
from engine.gitrepo import GitError, GitRepo
from engine.paths import display_path
from engine.times import format_instant
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


def tzdata_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tzdata")
    except PackageNotFoundError:  # pragma: no cover - a dependency of changegate
        return "unknown"


def build(judge: Any, outcomes: Any, commit: str, policy_revision: str) -> dict[str, Any]:
    """The record of one judgement (``judge`` a pipeline Judge, ``outcomes`` its result)."""
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
                "sha256": hashlib.sha256(d.path.read_bytes()).hexdigest(),
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
    inputs = {
        "context": context,
        "documents": documents,
        "policy": policy,
        "at": format_instant(verdict.at),
        "event": verdict.event,
        "root": relative,
    }
    pr = judge.context.pull_request
    return {
        "apiVersion": API_VERSION,
        "kind": "DecisionRecord",
        "commit": commit,
        "root": relative,
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
            "tzdata": tzdata_version(),
        },
        "context": context,
        "inputs": {"digest": digest(inputs)},
    }


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


def inputs_digest(record: dict[str, Any]) -> str:
    """The digest the record's own inputs give now (equal to the recorded one unless edited)."""
    return digest(
        {
            "context": record.get("context"),
            "documents": record.get("documents"),
            "policy": record.get("policy"),
            "at": record.get("at"),
            "event": record.get("event"),
            "root": record.get("root"),
        }
    )


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


def read(repo: GitRepo, commit: str) -> dict[str, Any] | None:
    """The record on ``commit``, or None; a note that is not a record is an error."""
    try:
        sha = repo.resolve(commit)
    except UsageError:
        raise RecordError(f"{commit!r} is not a commit of {repo.root}") from None
    text = _git(repo, "notes", f"--ref={NOTES_REF}", "show", sha, check=False)
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except ValueError:
        raise RecordError(f"the note on {sha[:12]} under {NOTES_REF} is not JSON") from None
    if not isinstance(record, dict) or record.get("kind") != "DecisionRecord":
        raise RecordError(f"the note on {sha[:12]} under {NOTES_REF} is not a decision record")
    return record


def all_records(repo: GitRepo) -> dict[str, dict[str, Any]]:
    """commit sha -> record, for every note under the ref (unreadable notes are skipped and
    reported by audit as missing records)."""
    listing = _git(repo, "notes", f"--ref={NOTES_REF}", "list", check=False)
    pairs = [line.split() for line in listing.splitlines() if line.strip()]
    if not pairs:
        return {}
    blobs = "".join(f"{note}\n" for note, _ in pairs).encode()
    output = repo.run("cat-file", "--batch", stdin=blobs, timeout=300).stdout
    records: dict[str, dict[str, Any]] = {}
    position = 0
    for _, commit in pairs:
        header_end = output.index(b"\n", position)
        size = int(output[position:header_end].split()[2])
        body = output[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1
        try:
            record = json.loads(body)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("kind") == "DecisionRecord":
            records[commit] = record
    return records


def write(repo: GitRepo, commit: str, record: dict[str, Any], *, replace: bool = False) -> str:
    """Attach ``record`` to ``commit``. Returns "written", "unchanged" (the same inputs and
    decision were recorded already) or "replaced"; a different record is kept unless
    ``replace``."""
    existing = read(repo, commit)
    if existing is not None:
        if existing.get("inputs") == record["inputs"] and existing.get("rules") == record["rules"]:
            return "unchanged"
        if not replace:
            raise RecordError(
                f"{commit[:12]} already has a different decision record (inputs "
                f"{existing.get('inputs', {}).get('digest', '?')[:19]}): pass --replace to "
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


def fetch(repo: GitRepo, remote: str) -> bool:
    """Bring the remote's notes in (merged with ours); False if the remote has none yet."""
    result = _git(repo, "fetch", "--quiet", remote, f"+{NOTES_REF}:{INCOMING_REF}", check=False)
    del result
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
            lines = error.strip().splitlines()
            raise RecordError(
                f"git push {remote} {NOTES_REF}: {lines[-1] if lines else 'failed'} (the token "
                "needs contents: write)"
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
    from engine.context import parse_context
    from engine.pipeline import Judge, Options

    with repo.worktree(commit) as tree:
        folder = tree / root
        options = Options(
            now=at,
            repo=folder,
            config_file=tree / config_file if config_file else None,
            paths=tuple(tree / p for p in paths),
            policies_from=policies_from,
            backend=backend,
        )
        with Judge(options) as judge:
            problems = judge.workspace.schemas.context_errors(context)
            if problems:
                raise RecordError(f"the request context is invalid: {problems[0].message}")
            judge.context = parse_context(context)
            outcomes = judge.judge()
            return build(judge, outcomes, commit, repo.resolve(policies_from))


def first_parent(repo: GitRepo, commit: str) -> str | None:
    try:
        return repo.resolve(f"{commit}^1")
    except (UsageError, GitError):
        return None
