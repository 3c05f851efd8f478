"""``changegate audit``: what an auditor must see in the change trail (SPEC §10).

The trail is the default branch's first-parent history of governed documents with the
decision records on it; the documents themselves (as they are now) add what happened outside
git: when releases and changes actually ran, post-reviews, waivers. Each flag names the
commit, the document, the rule and the evidence:

- ``audit/direct-push``: governed documents changed on the default branch without a pull
  request (no PR number in the message and no record of one);
- ``audit/no-decision-record``: a merged pull request changed a document without a record;
- ``audit/denied-decision``: a pull request was merged although its record says deny;
- ``audit/edited-after-approval``: an approved document changed again without a new decision;
- ``audit/post-review``: an emergency change's post-review is missing or late;
- ``audit/inside-freeze``: a release (``releasedAt``), a change (``execution.startedAt``) or a
  GitHub deployment happened inside a freeze it could not pass;
- ``audit/lead-time``: a change ran before its lead time had passed;
- ``audit/expired-waiver``: a waiver past its expiry still selects documents;
- ``audit/unreadable-record``: a merge's note is not a decision record, or was edited;
- ``audit/replaced-record``: a decision record was replaced or removed after it was written;
- ``audit/forged-record``: a record on a commit that is not the merge of the pull request it
  names (another commit carries that pull request's record, or the recorded head is not the
  commit nor one of its ancestors): copied from another merge, digests recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine import rules
from engine.time.instants import format_instant
from engine.trail import evidence
from engine.trail.flags import Flag, git_path
from engine.trail.history import (
    Commit,
    Trail,
    first_added,
    load,
    record_paths,
    records_by_path,
    within,
)

if TYPE_CHECKING:
    from engine.gitrepo import GitRepo
    from engine.judging.judge import Judge


@dataclass(frozen=True)
class Row:
    """One governed change of the trail."""

    commit: Commit
    paths: tuple[str, ...]
    pull_request: int | None
    decision: str | None  # allow | deny | None (no record)

    def as_json(self) -> dict[str, Any]:
        c = self.commit
        return {
            "commit": c.sha,
            "date": format_instant(c.committed),
            "author": f"{c.author} <{c.author_email}>",
            "committer": f"{c.committer} <{c.committer_email}>",
            "signature": c.signed,
            "pullRequest": self.pull_request,
            "decision": self.decision,
            "subject": c.subject,
            "documents": list(self.paths),
        }


@dataclass
class Audit:
    at: datetime
    since: datetime | None
    until: datetime | None
    rows: list[Row] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    records: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "apiVersion": "changegate/v1",
            "kind": "Audit",
            "at": format_instant(self.at),
            "since": format_instant(self.since) if self.since else None,
            "until": format_instant(self.until) if self.until else None,
            "summary": {
                "changes": len(self.rows),
                "records": self.records,
                "flags": len(self.flags),
                "byRule": {r: sum(1 for f in self.flags if f.rule == r) for r in rules.AUDIT},
            },
            "flags": [f.as_json() for f in self.flags],
            "trail": [r.as_json() for r in self.rows],
        }


def audit(
    judge: Judge,
    trail: Trail,
    *,
    since: datetime | None,
    until: datetime | None,
    deployments: list[dict[str, Any]] | None = None,
) -> Audit:
    """Flags over the whole walked history (governed paths only) and the documents now; what
    is shown is what falls in the period [since, until)."""
    names = _names(judge)
    rows, flags = _trail(trail, names)
    documents = list(judge.inventory.valid)
    judged = records_by_path(trail)
    last = _last_change(trail.commits)
    flags += evidence.post_reviews(judge, documents, judged)
    flags += evidence.freezes(judge, documents, judged, deployments or [], last)
    flags += evidence.lead_times(judge, documents, judged, first_added(trail.commits))
    flags += evidence.waivers(judge, documents, last)
    flags += _replacements(trail, names)
    flags += _forged(judge, trail, names)
    rows = [r for r in rows if within(r.commit.committed, since, until)]
    result = Audit(at=judge.now, since=since, until=until, rows=rows)
    result.records = sum(1 for r in rows if r.commit.sha in trail.records)
    result.flags = sorted(
        (f for f in flags if f.in_period(since, until)),
        key=lambda f: (f.at or judge.now, f.rule, f.document),
    )
    return result


def governed_trail(judge: Judge, repo: GitRepo, root: str, *, ref: str = "HEAD") -> Trail:
    """The history of the governed documents of changegate's ``root`` (a folder of the git
    repository): what ``changegate audit``, ``metrics`` and the Action's audit mode walk."""
    prefix = "" if root == "." else root.rstrip("/") + "/"

    def governed(path: str) -> bool:
        return path.startswith(prefix) and judge.workspace.governed(path[len(prefix) :])

    return load(repo, governed, ref=ref)


def _names(judge: Judge) -> dict[str, str]:
    """git path -> "Kind name" for the documents there now."""
    out: dict[str, str] = {}
    for document in judge.inventory.documents:
        path = git_path(judge, document)
        if path and document.name:
            out.setdefault(path, f"{document.kind} {document.name}")
    return out


def _last_change(commits: list[Commit]) -> dict[str, Commit]:
    found: dict[str, Commit] = {}
    for commit in commits:
        for _, path in commit.changes:
            found[path] = commit
    return found


# --- the trail --------------------------------------------------------------------------------


@dataclass
class _Walk:
    """The walk over the history, commit by commit: what was approved where, and the flags."""

    trail: Trail
    names: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    approved: dict[str, tuple[Commit, int | None]] = field(default_factory=dict)

    def flag(self, rule: str, commit: Commit, message: str, paths: tuple[str, ...]) -> None:
        where = ", ".join(self.names.get(p, p) for p in paths)
        self.flags.append(Flag(rule, commit.sha, where, paths[0], message, commit.committed))

    def commit(self, commit: Commit) -> None:
        record = self.trail.records.get(commit.sha)
        number = commit.pull_request or ((record or {}).get("pullRequest") or {}).get("number")
        paths = tuple(path for _, path in commit.changes)
        decision = record["decision"] if record else None
        if commit.sha in self.trail.unreadable:  # flagged, then judged as without a record
            decision = "unreadable"
            self.flag(rules.UNREADABLE, commit, self.trail.unreadable[commit.sha], paths)
        self.rows.append(Row(commit, paths, number, decision))
        if not commit.parents:
            return  # the repository's first commit: nothing could be reviewed before it
        short = commit.sha[:12]
        if number is None:
            self.flag(
                rules.DIRECT_PUSH,
                commit,
                f"{short} by {commit.author} changed {', '.join(paths)} on the default branch "
                "without a pull request",
                paths,
            )
        elif record is not None and record.get("decision") == "deny":
            failed = sorted(
                {
                    str(f.get("rule"))
                    for f in record["findings"]
                    if f.get("outcome") in {"fail", "error"} and f.get("severity") == "deny"
                }
            )
            self.flag(
                rules.DENIED,
                commit,
                f"{short} merged pull request #{number} although its decision record says "
                f"deny ({', '.join(failed) or 'see the record'})",
                paths,
            )
        else:
            self.documents(commit, number, record)

    def documents(self, commit: Commit, number: int, record: dict[str, Any] | None) -> None:
        """Each governed path a merged pull request changed: judged by its record, else
        edited after an earlier approval, else merged without a decision."""
        judged = record_paths(record) if record is not None else set()
        short = commit.sha[:12]
        for status, path in commit.changes:
            verb = "deleted" if status == "D" else "changed"
            if path in judged:
                self.approved[path] = (commit, number)
            elif path in self.approved:
                where, earlier = self.approved[path]
                again = "deleted" if status == "D" else "changed again"
                self.flag(
                    rules.EDITED,
                    commit,
                    f"{path} was approved in {where.sha[:12]} (pull request #{earlier}) and "
                    f"{again} in {short} (pull request #{number}) without a new decision",
                    (path,),
                )
            else:
                self.flag(
                    rules.NO_RECORD,
                    commit,
                    f"{short} merged pull request #{number}, which {verb} {path}, without a "
                    "decision record" + (" that judged it" if record is not None else ""),
                    (path,),
                )


def _trail(trail: Trail, names: dict[str, str]) -> tuple[list[Row], list[Flag]]:
    walk = _Walk(trail, names)
    for commit in trail.commits:
        if commit.changes:
            walk.commit(commit)
        elif commit.sha in trail.unreadable:  # a note where no governed file changed
            reason, moment = trail.unreadable[commit.sha], commit.committed
            walk.flags.append(
                Flag(rules.UNREADABLE, commit.sha, "decision record", None, reason, moment)
            )
    return walk.rows, walk.flags


def _replacements(trail: Trail, names: dict[str, str]) -> list[Flag]:
    touched = {c.sha: tuple(path for _, path in c.changes) for c in trail.commits}
    flags = []
    for change in trail.replaced:
        paths = touched.get(change.commit, ())
        now = f"it now says {change.after}" if change.after else "the note is gone"
        flags.append(
            Flag(
                rules.REPLACED,
                change.commit,
                ", ".join(names.get(p, p) for p in paths) or "decision record",
                paths[0] if paths else None,
                f"the decision record on {change.commit[:12]} was "
                f"{'replaced' if change.after else 'removed'} by {change.by} in notes commit "
                f"{change.notes_commit[:12]}: it said {change.before}, {now} (git show "
                f"{change.notes_commit[:12]} shows both)",
                change.when,
            )
        )
    return flags


def _forged(judge: Judge, trail: Trail, names: dict[str, str]) -> list[Flag]:
    """Records that cannot be the merge of the pull request they name: a second commit with
    one pull request's record, or a recorded head that is not the commit or its ancestor."""
    flags = []
    claimed: dict[int, Commit] = {}
    for commit in trail.commits:
        record = trail.records.get(commit.sha)
        pr = (record or {}).get("pullRequest")
        if not isinstance(pr, dict):
            continue
        number, head = pr.get("number"), pr.get("headSha")
        paths = tuple(path for _, path in commit.changes)
        where = ", ".join(names.get(p, p) for p in paths) or "decision record"

        def flag(message: str, commit: Commit = commit, where: str = where) -> None:
            path = commit.changes[0][1] if commit.changes else None
            flags.append(Flag(rules.FORGED, commit.sha, where, path, message, commit.committed))

        if isinstance(number, int) and not isinstance(number, bool):
            first = claimed.setdefault(number, commit)
            if first is not commit:
                flag(
                    f"the decision record on {commit.sha[:12]} names pull request #{number}, "
                    f"whose record is already on {first.sha[:12]}: a pull request merges once, "
                    "so this record was copied from another commit"
                )
                continue
        if isinstance(head, str) and head and not _reaches(judge, commit, head):
            flag(
                f"the decision record on {commit.sha[:12]} says the pull request's head was "
                f"{head[:12]}, which is neither that commit nor one of its ancestors: the "
                "record was made for another commit"
            )
    return flags


def _reaches(judge: Judge, commit: Commit, head: str) -> bool:
    """Whether ``head`` is ``commit`` or one of its ancestors (git asked only when it is not
    the commit itself or a parent: records the Action writes name the merge commit)."""
    if commit.sha.startswith(head) or any(p.startswith(head) for p in commit.parents):
        return True
    git = judge.git
    return git is not None and git.has_commit(head) and git.is_ancestor(head, commit.sha)
