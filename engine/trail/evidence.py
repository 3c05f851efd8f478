"""What the documents, as they are now, say happened outside git, checked against the trail's
decision records: post-reviews of emergency changes, releases and changes inside freezes,
changes that ran before their lead time, expired waivers still in use."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine import rules
from engine.documents.fields import ChangeRequestFields, ReleasePlanFields
from engine.documents.model import Document
from engine.request.names import same_environment
from engine.time import schedules
from engine.time.instants import format_instant, parse_datetime, parse_instant
from engine.time.windows import Occurrence, Target
from engine.trail.flags import Flag, git_path
from engine.trail.history import Commit

if TYPE_CHECKING:
    from engine.judging.judge import Judge

Judged = dict[str, list[tuple[str, dict[str, Any]]]]  # path -> [(commit, record)] judging it


def post_reviews(judge: Judge, documents: list[Document], judged: Judged) -> list[Flag]:
    """Changes whose type needs a post-review (emergency, by default) without one in time."""
    library = judge.library
    flags = []
    for document in documents:
        if document.kind != "ChangeRequest":
            continue
        spec = document.spec
        review = judge.config.change_type(spec.get("type", "")).get("postReview")
        if review is None:
            continue
        started = _started(judge, spec)
        if started is None or started > judge.now:
            continue
        due = library.fn_post_review_due(spec["type"], started)
        path = git_path(judge, document)
        reviewed = _post_review_time(judged.get(path or "", []), review["role"], started)
        name = f"ChangeRequest {document.name}"
        if reviewed is None and judge.now > due:
            flags.append(
                Flag(
                    rules.POST_REVIEW,
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
                    rules.POST_REVIEW,
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


def _started(judge: Judge, spec: dict[str, Any]) -> datetime | None:
    change = ChangeRequestFields(spec)
    if change.started_at:
        return parse_instant(change.started_at)
    if change.status in {"completed", "failed", "rolled-back", "in-progress"}:
        return schedules.interval(change.schedule, judge.config.timezone)[0]
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


def freezes(
    judge: Judge,
    documents: list[Document],
    judged: Judged,
    deployments: list[dict[str, Any]],
    last: dict[str, Commit],
) -> list[Flag]:
    """Releases, changes and GitHub deployments inside a freeze they could not pass."""
    flags = []
    for document in documents:
        path = git_path(judge, document)
        commit = last[path].sha if path in last else None
        if document.kind == "ReleasePlan":
            flags += _release_in_freeze(judge, document, documents, judged, commit)
        elif document.kind == "ChangeRequest":
            flags += _change_in_freeze(judge, document, commit)
    for deployment in deployments:
        flags += _deployment_in_freeze(judge, deployment, documents, judged)
    return flags


def _release_in_freeze(
    judge: Judge, plan: Document, documents: list[Document], judged: Judged, commit: str | None
) -> list[Flag]:
    fields = ReleasePlanFields(plan.fields)
    if not fields.released_at:
        return []
    moment = parse_instant(fields.released_at)
    target = Target(fields.environment, fields.services, None)
    return [
        Flag(
            rules.INSIDE_FREEZE,
            commit,
            f"ReleasePlan {plan.name}",
            git_path(judge, plan),
            f"release {plan.name} reached {target.environment} at {format_instant(moment)}, "
            f"inside {occurrence.window.level} freeze {occurrence.window.name} "
            f"({occurrence.describe()})",
            moment,
        )
        for occurrence in _unpassed(judge, documents, judged, moment, target)
    ]


def _change_in_freeze(judge: Judge, document: Document, commit: str | None) -> list[Flag]:
    change = ChangeRequestFields(document.fields)
    if not change.started_at:
        return []
    start = parse_instant(change.started_at)
    end = parse_instant(change.ended_at) if change.ended_at else start
    end = max(end, start + timedelta(seconds=1))
    target = Target(change.environment, change.services, change.type)
    passes = {change.freeze_exception} if change.freeze_exception else set()
    calendar = judge.library.calendar
    return [
        Flag(
            rules.INSIDE_FREEZE,
            commit,
            f"ChangeRequest {document.name}",
            git_path(judge, document),
            f"change {document.name} ran {format_instant(start)} to {format_instant(end)}: it "
            f"{conflict.message}",
            start,
        )
        for conflict in calendar.conflicts(start, end, target, passes=passes, approvals=None)
        if conflict.occurrence is not None  # outside change windows is the PR's concern
    ]


def _deployment_in_freeze(
    judge: Judge, deployment: dict[str, Any], documents: list[Document], judged: Judged
) -> list[Flag]:
    moment = parse_instant(str(deployment["createdAt"]))
    service = deployment.get("service")
    target = Target(deployment["environment"], (service,) if service else ("*",), None)
    return [
        Flag(
            rules.INSIDE_FREEZE,
            deployment.get("sha"),
            f"GitHub deployment {deployment['id']}",
            None,
            f"GitHub deployment {deployment['id']} of {service or 'the repository'} to "
            f"{deployment['environment']} at {format_instant(moment)}, inside "
            f"{occurrence.window.level} freeze {occurrence.window.name} "
            f"({occurrence.describe()})",
            moment,
        )
        for occurrence in _unpassed(judge, documents, judged, moment, target)
    ]


def _unpassed(
    judge: Judge,
    documents: list[Document],
    judged: Judged,
    moment: datetime,
    target: Target,
) -> list[Occurrence]:
    """The freezes active at ``moment`` for the target that no approved change request let it
    through, as the gate would: a change of that environment and a service of the target,
    scheduled over the moment, with a decision record that allowed it, passes a freeze whose
    scope leaves out its change type, a hard freeze if it is an emergency, and a soft one it
    asks for (spec.freezeException; its extra approvals were the pull request's to check)."""
    services = set(target.services)
    zone = judge.config.timezone
    covering = []
    for document in documents:
        change = ChangeRequestFields(document.fields)
        if (
            document.kind != "ChangeRequest"
            or not same_environment(change.environment, target.environment)
            or change.status == "cancelled"
            or not ("*" in services or services & set(change.services))
            or not schedules.covers(change.schedule, zone, moment)
        ):
            continue
        decisions = [r["decision"] for _, r in judged.get(git_path(judge, document) or "", [])]
        if "allow" in decisions:
            covering.append(change)

    def passes(occurrence: Occurrence, change: ChangeRequestFields) -> bool:
        window = occurrence.window
        if not window.applies_to(Target(target.environment, target.services, change.type)):
            return True  # the freeze does not apply to this type of change
        if window.level == "hard":
            return change.type == "emergency"
        return change.freeze_exception == window.name

    return [
        occurrence
        for occurrence in judge.library.calendar.active(moment, target)[0]
        if not any(passes(occurrence, change) for change in covering)
    ]


def lead_times(
    judge: Judge,
    documents: list[Document],
    judged: Judged,
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
        path = git_path(judge, document)
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
                    rules.LEAD_TIME,
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


def waivers(judge: Judge, documents: list[Document], last: dict[str, Commit]) -> list[Flag]:
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
        path = git_path(judge, document)
        shown = ", ".join(f"{d.kind} {d.name}" for d in selected[:5])
        flags.append(
            Flag(
                rules.EXPIRED_WAIVER,
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
