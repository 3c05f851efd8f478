"""Decision records (SPEC §10): what changegate decided about a merge, as a JSON value.

A record holds the verdict, every rule's outcome, the approvals used, the policy revision and
digest, the engine (version, CEL backend, tzdata) and its inputs: the request context, the
config and the files chosen, and a digest of each judged document. The inputs digest covers
the inputs and the instant judged; the record's own digest covers all of it. Both are plain
sha256, not signatures: they catch a record edited by hand or by a tool, and ``verify``
replays the inputs; the notes ref's own history shows a record replaced on purpose.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine import __version__
from engine.errors import ChangegateError
from engine.findings import Outcome
from engine.paths import display_path
from engine.time.instants import format_instant, parse_instant
from engine.time.zones import TZDATA_VERSION
from engine.verdict import API_VERSION, finding_json

if TYPE_CHECKING:
    from engine.judging.judge import Judge, Outcomes
    from engine.request.context import PullRequest


class RecordError(ChangegateError):
    """A record that cannot be written, read or pushed."""


def digest(value: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def build(
    judge: Judge,
    outcomes: Outcomes,
    commit: str,
    policy_revision: str,
    *,
    config: str | None = None,
    paths: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The record of one judgement; ``config`` and ``paths`` (from the git root) are what the
    judgement was given."""
    root = judge.git.root if judge.git is not None else judge.workspace.root
    verdict = outcomes.verdict

    def shown(path: Path) -> str:
        return display_path(path, root)

    record = {
        "apiVersion": API_VERSION,
        "kind": "DecisionRecord",
        "commit": commit,
        "root": display_path(judge.workspace.root, root),
        "config": config,
        "paths": list(paths),
        "event": verdict.event,
        "at": format_instant(verdict.at),
        "decision": verdict.decision,
        "summary": verdict.summary,
        "findings": [finding_json(f, shown) for f in verdict.findings],
        "rules": _rules(outcomes),
        "documents": _documents(outcomes, shown),
        "approvals": [
            {
                "user": a.user,
                "roles": sorted(a.roles),
                "reviewId": a.review_id,
                "commit": a.commit,
                "submittedAt": a.submitted_at,
            }
            for a in (outcomes.approvals.approvals if outcomes.approvals else ())
        ],
        "pullRequest": _pull_request(judge.context.pull_request),
        "policy": {"revision": policy_revision, "digest": _policy_digest(judge, outcomes)},
        "engine": {
            "version": __version__,
            "celBackend": verdict.backend,
            "tzdata": TZDATA_VERSION,  # the IANA release the windows were expanded with
        },
        "context": {**judge.context.raw, "event": judge.context.event},
    }
    record["inputs"] = {"digest": inputs_digest(record)}
    record["digest"] = record_digest(record)
    return record


def _rules(outcomes: Outcomes) -> list[dict[str, Any]]:
    """Every rule's outcome on every document (waived ones as waived)."""
    findings = outcomes.verdict.findings
    waived = {(f.rule, f.kind, f.name) for f in findings if f.outcome is Outcome.WAIVED}
    return sorted(
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


def _documents(outcomes: Outcomes, shown: Callable[[Path], str]) -> list[dict[str, Any]]:
    return sorted(
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


def _policy_digest(judge: Judge, outcomes: Outcomes) -> str:
    """The digest of the config, policies and waivers as parsed."""
    sources = outcomes.sources
    policies = sources.policies if sources else []
    waivers = sources.waivers if sources else []
    return digest(
        {
            "config": judge.config.spec,
            "policies": sorted([[p.name, p.document.body] for p in policies], key=lambda x: x[0]),
            "waivers": sorted([w.body for w in waivers], key=json.dumps),
        }
    )


def _pull_request(pr: PullRequest | None) -> dict[str, Any] | None:
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
        if (shape := _pull_request_problem(pr)) is not None:
            return shape
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


_SHA: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _pull_request_problem(pr: dict[str, Any]) -> str | None:
    """The pull request a record names, as the audit reads it: a number that is a number,
    and commits that are whole SHAs (a prefix would match more than one)."""
    number = pr.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        return f"pullRequest.number is not a number: {number!r}"
    for name in ("headSha", "baseSha"):
        sha = pr.get(name)
        if sha is not None and not (isinstance(sha, str) and _SHA.fullmatch(sha)):
            return f"pullRequest.{name} is not a commit SHA: {sha!r}"
    for name in ("author",):
        if pr.get(name) is not None and not isinstance(pr[name], str):
            return f"pullRequest.{name} is not a string"
    return None


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
