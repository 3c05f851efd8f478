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
from datetime import datetime, timedelta
from typing import Any, Final

from engine.documents.model import Document
from engine.time.instants import format_instant, parse_instant
from engine.trail.history import Commit, Trail, first_added, record_paths, records_by_path, within

RULES: Final = {
    "audit/direct-push": "Governed documents change on the default branch only by pull request.",
    "audit/no-decision-record": "Every merged change to a governed document has a decision record.",
    "audit/denied-decision": "No pull request is merged against a deny decision.",
    "audit/edited-after-approval": "An approved document changes again only with a new decision.",
    "audit/post-review": "Emergency changes get their post-review, in time.",
    "audit/inside-freeze": "Nothing is released or changed inside a freeze it cannot pass.",
    "audit/lead-time": "Changes run no earlier than their lead time allows.",
    "audit/expired-waiver": "Expired waivers are removed.",
    "audit/unreadable-record": "Decision records stay readable and as they were written.",
    "audit/replaced-record": "Decision records are written once; replacing one is shown.",
    "audit/forged-record": "A decision record sits on the merge of the pull request it names.",
}


@dataclass(frozen=True)
class Flag:
    rule: str
    commit: str | None
    document: str  # "ChangeRequest CHG-1" or a path
    path: str | None
    message: str
    at: datetime | None = None
    ongoing: bool = False  # still true after ``at``: in every period that ends after it

    def in_period(self, since: datetime | None, until: datetime | None) -> bool:
        if self.at is None:
            return True
        if self.ongoing:
            return until is None or self.at < until
        return within(self.at, since, until)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "commit": self.commit,
            "document": self.document,
            "path": self.path,
            "message": self.message,
            "at": format_instant(self.at) if self.at else None,
        }


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
                "byRule": {r: sum(1 for f in self.flags if f.rule == r) for r in RULES},
            },
            "flags": [f.as_json() for f in self.flags],
            "trail": [r.as_json() for r in self.rows],
        }


def audit(
    judge: Any,
    trail: Trail,
    *,
    since: datetime | None,
    until: datetime | None,
    deployments: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> Audit:
    """Flags over the whole walked history (governed paths only) and the documents now; what
    is shown is what falls in the period [since, until)."""
    names = _names(judge)
    rows, flags = _trail(trail, names)
    documents = judge.inventory.valid
    judged = records_by_path(trail)
    last = _last_change(trail.commits)
    flags += _post_reviews(judge, documents, judged)
    flags += _freezes(judge, documents, judged, deployments, last)
    flags += _lead_times(judge, documents, judged, first_added(trail.commits))
    flags += _waivers(judge, documents, last)
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


def _names(judge: Any) -> dict[str, str]:
    """git path -> "Kind name" for the documents there now."""
    out: dict[str, str] = {}
    for document in judge.inventory.documents:
        path = _git_path(judge, document)
        if path and document.name:
            out.setdefault(path, f"{document.kind} {document.name}")
    return out


def _git_path(judge: Any, document: Document) -> str | None:
    return judge.git.relative(document.path) if judge.git is not None else None


def _last_change(commits: list[Commit]) -> dict[str, Commit]:
    found: dict[str, Commit] = {}
    for commit in commits:
        for _, path in commit.changes:
            found[path] = commit
    return found


# --- the trail --------------------------------------------------------------------------------


def _trail(trail: Trail, names: dict[str, str]) -> tuple[list[Row], list[Flag]]:
    rows: list[Row] = []
    flags: list[Flag] = []
    approved: dict[str, tuple[Commit, int | None]] = {}  # path -> where it was last approved
    for commit in trail.commits:
        if not commit.changes:
            continue
        record = trail.records.get(commit.sha)
        pr_info = (record or {}).get("pullRequest") or {}
        number = commit.pull_request or pr_info.get("number")
        paths = tuple(path for _, path in commit.changes)
        decision = record["decision"] if record else None
        if commit.sha in trail.unreadable:  # flagged, then judged as the commit without one
            decision = "unreadable"
            flags.append(
                Flag(
                    "audit/unreadable-record",
                    commit.sha,
                    ", ".join(names.get(p, p) for p in paths),
                    paths[0],
                    trail.unreadable[commit.sha],
                    commit.committed,
                )
            )
        rows.append(Row(commit, paths, number, decision))
        if not commit.parents:
            continue  # the repository's first commit: nothing could be reviewed before it
        short = commit.sha[:12]
        if number is None:
            flags.append(
                Flag(
                    "audit/direct-push",
                    commit.sha,
                    ", ".join(names.get(p, p) for p in paths),
                    paths[0],
                    f"{short} by {commit.author} changed {', '.join(paths)} on the "
                    "default branch without a pull request",
                    commit.committed,
                )
            )
            continue
        if record is not None and record.get("decision") == "deny":
            failed = sorted(
                {
                    str(f.get("rule"))
                    for f in record["findings"]
                    if f.get("outcome") in {"fail", "error"} and f.get("severity") == "deny"
                }
            )
            flags.append(
                Flag(
                    "audit/denied-decision",
                    commit.sha,
                    ", ".join(names.get(p, p) for p in paths),
                    paths[0],
                    f"{short} merged pull request #{number} although its decision "
                    f"record says deny ({', '.join(failed) or 'see the record'})",
                    commit.committed,
                )
            )
            continue
        judged = record_paths(record) if record is not None else set()
        for status, path in commit.changes:
            document = names.get(path, path)
            if path in judged:
                approved[path] = (commit, number)
                continue
            if path in approved:
                where, earlier = approved[path]
                message = (
                    f"{path} was approved in {where.sha[:12]} (pull request #{earlier}) and "
                    f"{'deleted' if status == 'D' else 'changed again'} in {short} (pull request "
                    f"#{number}) without a new decision"
                )
                flags.append(
                    Flag(
                        "audit/edited-after-approval",
                        commit.sha,
                        document,
                        path,
                        message,
                        commit.committed,
                    )
                )
            else:
                message = (
                    f"{short} merged pull request #{number}, which "
                    f"{'deleted' if status == 'D' else 'changed'} {path}, without a decision "
                    "record" + (" that judged it" if record is not None else "")
                )
                flags.append(
                    Flag(
                        "audit/no-decision-record",
                        commit.sha,
                        document,
                        path,
                        message,
                        commit.committed,
                    )
                )
    return rows, flags


def _replacements(trail: Trail, names: dict[str, str]) -> list[Flag]:
    touched = {c.sha: tuple(path for _, path in c.changes) for c in trail.commits}
    flags = []
    for change in trail.replaced:
        paths = touched.get(change.commit, ())
        now = f"it now says {change.after}" if change.after else "the note is gone"
        flags.append(
            Flag(
                "audit/replaced-record",
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


def _forged(judge: Any, trail: Trail, names: dict[str, str]) -> list[Flag]:
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
            flags.append(
                Flag("audit/forged-record", commit.sha, where, path, message, commit.committed)
            )

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


def _reaches(judge: Any, commit: Commit, head: str) -> bool:
    """Whether ``head`` is ``commit`` or one of its ancestors (git asked only when it is not
    the commit itself or a parent: records the Action writes name the merge commit)."""
    if commit.sha.startswith(head) or any(p.startswith(head) for p in commit.parents):
        return True
    git = judge.git
    return git is not None and git.has_commit(head) and git.is_ancestor(head, commit.sha)


# --- what the documents say happened ----------------------------------------------------------


def _post_reviews(
    judge: Any, documents: list[Document], judged: dict[str, list[tuple[str, dict[str, Any]]]]
) -> list[Flag]:
    library = judge.library
    flags = []
    for document in documents:
        if document.kind != "ChangeRequest":
            continue
        spec = document.spec
        review = judge.config.change_type(spec.get("type", "")).get("postReview")
        if review is None:
            continue
        started = _started(library, spec)
        if started is None or started > judge.now:
            continue
        due = library.fn_post_review_due(spec["type"], started)
        path = _git_path(judge, document)
        reviewed = _post_review_time(judged.get(path or "", []), review["role"], started)
        name = f"ChangeRequest {document.name}"
        if reviewed is None and judge.now > due:
            flags.append(
                Flag(
                    "audit/post-review",
                    None,
                    name,
                    path,
                    f"{spec['type']} change {document.name} started {format_instant(started)}; its "
                    f"post-review by role {review['role']} was due {format_instant(due)} and no "
                    "decision record after the start holds one",
                    due,
                )
            )
        elif reviewed is not None and reviewed[0] > due:
            flags.append(
                Flag(
                    "audit/post-review",
                    reviewed[1],
                    name,
                    path,
                    f"{spec['type']} change {document.name} started {format_instant(started)}; its "
                    f"post-review by role {review['role']} came {format_instant(reviewed[0])}, "
                    "after "
                    f"it was due ({format_instant(due)})",
                    reviewed[0],
                )
            )
    return flags


def _started(library: Any, spec: dict[str, Any]) -> datetime | None:
    execution = spec.get("execution") or {}
    if execution.get("startedAt"):
        return parse_instant(str(execution["startedAt"]))
    if spec.get("status") in {"completed", "failed", "rolled-back", "in-progress"}:
        return library.fn_schedule_start(spec["schedule"])  # type: ignore[no-any-return]
    return None


def _post_review_time(
    judged: list[tuple[str, dict[str, Any]]], role: str, started: datetime
) -> tuple[datetime, str] | None:
    """The earliest approval by ``role`` after ``started``, in the records that judged the
    change."""
    found: list[tuple[datetime, str]] = []
    for commit, record in judged:
        for approval in record.get("approvals", ()):
            when = approval.get("submittedAt")
            if role in approval.get("roles", ()) and when:
                moment = parse_instant(str(when))
                if moment >= started:
                    found.append((moment, commit))
    return min(found, default=None)


def _freezes(
    judge: Any,
    documents: list[Document],
    judged: dict[str, list[tuple[str, dict[str, Any]]]],
    deployments: list[dict[str, Any]],
    last: dict[str, Commit],
) -> list[Flag]:
    from engine.time.windows import Target

    library = judge.library
    calendar = library.calendar
    flags = []
    for document in documents:
        spec = document.spec
        path = _git_path(judge, document)
        commit = last[path].sha if path in last else None
        if document.kind == "ReleasePlan" and spec.get("releasedAt"):
            moment = parse_instant(str(spec["releasedAt"]))
            services = (spec["service"],) if "service" in spec else tuple(spec.get("services", ()))
            target = Target(spec.get("environment", "production"), services, None)
            for occurrence in _unpassed(judge, documents, judged, moment, target):
                flags.append(
                    Flag(
                        "audit/inside-freeze",
                        commit,
                        f"ReleasePlan {document.name}",
                        path,
                        f"release {document.name} reached {target.environment} at "
                        f"{format_instant(moment)}, inside {occurrence.window.level} freeze "
                        f"{occurrence.window.name} ({occurrence.describe()})",
                        moment,
                    )
                )
        elif document.kind == "ChangeRequest" and (spec.get("execution") or {}).get("startedAt"):
            execution = spec["execution"]
            start = parse_instant(str(execution["startedAt"]))
            end = parse_instant(str(execution["endedAt"])) if execution.get("endedAt") else start
            end = max(end, start + timedelta(seconds=1))
            target = Target(spec["environment"], tuple(spec["services"]), spec["type"])
            passes = {spec["freezeException"]["window"]} if "freezeException" in spec else set()
            for conflict in calendar.conflicts(start, end, target, passes=passes, approvals=None):
                if conflict.occurrence is None:
                    continue  # outside change windows is the PR's concern, not a freeze
                flags.append(
                    Flag(
                        "audit/inside-freeze",
                        commit,
                        f"ChangeRequest {document.name}",
                        path,
                        f"change {document.name} ran {format_instant(start)} to "
                        f"{format_instant(end)}"
                        f": it {conflict.message}",
                        start,
                    )
                )
    for deployment in deployments:
        moment = parse_instant(str(deployment["createdAt"]))
        service = deployment.get("service")
        target = Target(deployment["environment"], (service,) if service else ("*",), None)
        for occurrence in _unpassed(judge, documents, judged, moment, target):
            flags.append(
                Flag(
                    "audit/inside-freeze",
                    deployment.get("sha"),
                    f"GitHub deployment {deployment['id']}",
                    None,
                    f"GitHub deployment {deployment['id']} of {service or 'the repository'} to "
                    f"{deployment['environment']} at {format_instant(moment)}, inside "
                    f"{occurrence.window.level} freeze {occurrence.window.name} "
                    f"({occurrence.describe()})",
                    moment,
                )
            )
    return flags


def _unpassed(
    judge: Any,
    documents: list[Document],
    judged: dict[str, list[tuple[str, dict[str, Any]]]],
    moment: datetime,
    target: Any,
) -> list[Any]:
    """The freezes active at ``moment`` for the target that no approved change request let it
    through, as the gate would: a change of that environment and a service of the target,
    scheduled over the moment, with a decision record that allowed it, passes a freeze whose
    scope leaves out its change type, a hard freeze if it is an emergency, and a soft one it
    asks for (spec.freezeException; its extra approvals were the pull request's to check)."""
    from engine.time.windows import Target

    library = judge.library
    services = set(target.services)
    covering = []
    for change in documents:
        spec = change.spec
        if (
            change.kind != "ChangeRequest"
            or spec.get("environment") != target.environment
            or spec.get("status") == "cancelled"
            or not ("*" in services or services & set(spec.get("services", ())))
        ):
            continue
        start = library.fn_schedule_start(spec["schedule"])
        if not start <= moment < library.fn_schedule_end(spec["schedule"]):
            continue
        decisions = [r["decision"] for _, r in judged.get(_git_path(judge, change) or "", [])]
        if "allow" in decisions:
            covering.append(spec)

    def passes(occurrence: Any, spec: dict[str, Any]) -> bool:
        window = occurrence.window
        if not window.applies_to(Target(target.environment, target.services, spec.get("type"))):
            return True  # the freeze does not apply to this type of change
        if window.level == "hard":
            return spec.get("type") == "emergency"
        return bool((spec.get("freezeException") or {}).get("window") == window.name)

    return [
        occurrence
        for occurrence in library.calendar.active(moment, target)[0]
        if not any(passes(occurrence, spec) for spec in covering)
    ]


def _lead_times(
    judge: Any,
    documents: list[Document],
    judged: dict[str, list[tuple[str, dict[str, Any]]]],
    added: dict[str, Commit],
) -> list[Flag]:
    library = judge.library
    flags = []
    for document in documents:
        spec = document.spec
        started = (spec.get("execution") or {}).get("startedAt")
        if document.kind != "ChangeRequest" or not started:
            continue
        if not library.fn_requires_lead_time(spec["type"]):
            continue
        path = _git_path(judge, document)
        records = [r for _, r in judged.get(path or "", [])]
        submitted = _submitted(records, path, spec, added, judge.config.timezone)
        if submitted is None:
            continue
        earliest = library.fn_earliest_start(spec["type"], submitted)
        moment = parse_instant(str(started))
        if moment < earliest:
            commit = added[path].sha if path in added else None
            flags.append(
                Flag(
                    "audit/lead-time",
                    commit,
                    f"ChangeRequest {document.name}",
                    path,
                    f"{spec['type']} change {document.name} ran {format_instant(moment)}, "
                    "before its "
                    f"lead time of {judge.config.change_type(spec['type']).get('leadTime')} had "
                    f"passed: submitted {format_instant(submitted)}, earliest start "
                    f"{format_instant(earliest)}",
                    moment,
                )
            )
    return flags


def _submitted(
    records: list[dict[str, Any]],
    path: str | None,
    spec: dict[str, Any],
    added: dict[str, Commit],
    zone_name: str,
) -> datetime | None:
    """When the change was submitted: its pull request's creation (from the first record that
    judged it), else the requestor's date, else the commit that added it."""
    from engine.time.instants import parse_datetime

    created = [
        parse_instant(str(r["pullRequest"]["createdAt"]))
        for r in records
        if (r.get("pullRequest") or {}).get("createdAt")
    ]
    if created:
        return min(created)
    requested = (spec.get("requestor") or {}).get("date")
    if requested:
        return parse_datetime(str(requested), zone_name)
    return added[path].authored if path in added else None


def _waivers(judge: Any, documents: list[Document], last: dict[str, Commit]) -> list[Flag]:
    from engine.policy.waivers import Waiver

    flags = []
    for document in documents:
        if document.kind != "Waiver":
            continue
        waiver = Waiver.of(document, judge.config.timezone)
        if waiver.expires > judge.now:
            continue
        selected = [
            d for d in documents if d.kind != "Waiver" and waiver.selects(d.kind, d.name, d.labels)
        ]
        if not selected:
            continue
        path = _git_path(judge, document)
        shown = ", ".join(f"{d.kind} {d.name}" for d in selected[:5])
        flags.append(
            Flag(
                "audit/expired-waiver",
                last[path].sha if path in last else None,
                f"Waiver {document.name}",
                path,
                f"waiver {document.name} of {waiver.rule} expired {document.spec['expires']} and "
                f"still selects {shown}{' and more' if len(selected) > 5 else ''}: remove it or "
                "renew it",
                waiver.expires,
                ongoing=True,
            )
        )
    return flags
