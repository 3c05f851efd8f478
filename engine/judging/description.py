"""What a run judged, said to people: the governed documents a pull request adds, changes or
deletes (kind, name, title, type and risk or version, targets, the schedule in its own zone and
in UTC, the approvals it needs and has, the freezes and change windows it meets and when they
open), the reviews that count and those that do not with the reason, and what a run did not
judge. It travels in the verdict's ``judged`` object (schemas/verdict.json), so that a comment
published from a fork's artifact says the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from engine.documents.fields import ReleasePlanFields
from engine.request.approvals import ApprovalSet
from engine.time import schedules
from engine.time.calendar import Calendar
from engine.time.instants import format_instant
from engine.time.windows import Target
from engine.time.zones import zone

if TYPE_CHECKING:
    from engine.documents.model import Document
    from engine.judging.judge import Judge, Outcomes

MAX_DESCRIBED: Final = 50  # documents described one by one; the rest are counted
TEXT_LIMIT: Final = 300  # characters of a title or reason kept (the reporters escape them)
GOVERNED_BY_POLICY_OWNERS: Final = frozenset({"Policy", "Config", "Waiver", "PolicyLock"})


def local_notes(judge: Judge, judged: Sequence[Document]) -> list[str]:
    """One line on a ``local`` run: approvals were not judged (the policies that judge only
    other events did not run) and lead times counted from ``spec.requestor.date``, and how to
    judge them as a pull request would be."""
    if judge.context.event != "local":
        return []
    kinds = {d.kind for d in judged}
    skipped = sorted(
        p.name
        for p in judge.sources.policies
        if p.events is not None and "local" not in p.events and p.kinds & kinds
    )
    parts = []
    if skipped:
        parts.append(f"approvals were not judged (not run: {', '.join(skipped)})")
    if "ChangeRequest" in kinds:
        parts.append(
            "lead times were counted from spec.requestor.date, not from a pull request's creation"
        )
    if not parts:
        return []
    return [
        "event local: "
        + " and ".join(parts)
        + ": judge them with --event pull_request --context FILE (the pull request, its "
        "reviews and the reviewers' teams)"
    ]


def described(judge: Judge, outcomes: Outcomes) -> Outcomes:
    """The outcomes with the verdict's ``judged`` object, when the run judged a pull
    request's documents or documents named on the command line (a whole repository is only
    counted)."""
    from dataclasses import replace

    targets = judge.targets
    if targets.changed_paths is None and not targets.explicit:
        return outcomes
    chosen = sorted(outcomes.targets, key=lambda d: (str(d.path), d.index))
    approvals = judge.approvals
    documents = [_document(judge, d) for d in chosen[:MAX_DESCRIBED]]
    judged = {
        "documents": documents,
        "omitted": max(len(chosen) - MAX_DESCRIBED, 0),
        "approvals": _approvals(approvals, judge.config.spec.get("roles", {})),
    }
    verdict = replace(outcomes.verdict, extra={**outcomes.verdict.extra, "judged": judged})
    return replace(outcomes, verdict=verdict)


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _document(judge: Judge, document: Document) -> dict[str, Any]:
    from engine.paths import display_path

    operation = judge.targets.operation(document)
    body = document.body if not document.deleted else (judge.targets.old_object(document) or {})
    spec = body.get("spec", {}) if isinstance(body, dict) else {}
    out: dict[str, Any] = {
        "kind": document.kind,
        "name": document.name or "",
        "path": display_path(document.path),
        "operation": operation,
    }
    title = spec.get("title") or spec.get("summary") or spec.get("reason")
    if _text(title):
        out["title"] = _text(title)
    if document.kind == "ChangeRequest":
        out.update(_change(judge, document, spec))
    elif document.kind == "ReleasePlan":
        out.update(_release(judge, spec))
    elif document.kind in {"FreezeWindow", "ChangeWindow"}:
        out.update(_window(judge, document, spec))
    requirements = _requirements(judge, document, spec, operation)
    if requirements:
        out["approvals"] = requirements
    return out


def _schedule(start: datetime, end: datetime, zone_name: str) -> dict[str, str]:
    tz = zone(zone_name)
    return {
        "start": format_instant(start),
        "end": format_instant(end),
        "timezone": zone_name,
        "localStart": start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "localEnd": end.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
    }


def _change(judge: Judge, document: Document, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "changeType": str(spec.get("type", "")),
        "risk": str(spec.get("risk", "")),
        "environment": str(spec.get("environment", "")),
        "services": [str(s) for s in spec.get("services", ())],
    }
    if document.deleted or "schedule" not in spec:
        return out
    try:
        start, end = schedules.interval(spec["schedule"], judge.config.timezone)
    except (KeyError, ValueError, TypeError, OverflowError):
        return out
    zone_name = spec["schedule"].get("timezone") or judge.config.timezone
    out["schedule"] = _schedule(start, end, zone_name)
    target = Target(out["environment"], tuple(out["services"]), out["changeType"] or None)
    passes = {spec["freezeException"]["window"]} if "freezeException" in spec else set()
    approvals = None if judge.context.event == "local" else judge.approvals
    out["windows"] = _windows(judge.library.calendar, start, end, target, passes, approvals)
    return out


def _release(judge: Judge, spec: dict[str, Any]) -> dict[str, Any]:
    plan = ReleasePlanFields(spec)
    out: dict[str, Any] = {
        "version": str(spec.get("version", "")),
        "releaseType": str(spec.get("type", "")),
        "environment": plan.environment,
        "services": list(plan.services),
    }
    window = spec.get("window")
    if not isinstance(window, dict):
        return out
    try:
        start, end = schedules.interval(window, judge.config.timezone)
    except (KeyError, ValueError, TypeError, OverflowError):
        return out
    out["schedule"] = _schedule(start, end, window.get("timezone") or judge.config.timezone)
    target = Target(plan.environment, plan.services, None)
    out["windows"] = _windows(judge.library.calendar, start, end, target, set(), None)
    return out


def _window(judge: Judge, document: Document, spec: dict[str, Any]) -> dict[str, Any]:
    """A freeze or change window's own times: its one span, or its rule and next occurrence."""
    out: dict[str, Any] = {}
    if document.kind == "FreezeWindow":
        out["level"] = str(spec.get("level", ""))
    scope = spec.get("scope", {}) if isinstance(spec.get("scope"), dict) else {}
    out["environment"] = ", ".join(scope.get("environments", ())) or "every environment"
    out["services"] = [str(s) for s in scope.get("services", ())] or ["every service"]
    recurrence = spec.get("recurrence")
    if isinstance(recurrence, dict):
        out["recurrence"] = str(recurrence.get("rrule", ""))
    for window in judge.library.calendar.windows:
        if window.document is document:
            following = window.next_after(judge.now, timedelta(days=400))
            if following is not None:
                out["schedule"] = _schedule(following.start, following.end, window.zone_name)
    return out


def _windows(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    target: Target,
    passes: set[str],
    approvals: ApprovalSet | None,
) -> list[dict[str, Any]]:
    """The freeze occurrences the interval overlaps (passed or blocking, and when the target
    opens again) and where change windows apply, the one it is inside or the next one."""
    blocking = calendar.conflicts(start, end, target, passes=passes, approvals=approvals)
    blocked = {(c.window.name, c.occurrence.start) for c in blocking if c.occurrence}
    freezes, allowed = calendar.matching(target)
    found: list[dict[str, Any]] = []
    for window in freezes:
        for occurrence in window.occurrences(start, end):
            opens = calendar.opens(occurrence.start, target)
            found.append({
                "kind": "freeze", "name": window.name, "level": window.level or "",
                "timezone": window.zone_name,
                "localStart": occurrence.local(occurrence.start),
                "localEnd": occurrence.local(occurrence.end),
                "blocks": (window.name, occurrence.start) in blocked,
                **({"opens": format_instant(opens)} if opens else {}),
            })  # fmt: skip
    if allowed and target.change_type != "emergency":
        inside = [
            o for w in allowed for o in w.occurrences(start, end) if o.start <= start < end <= o.end
        ]
        following = calendar.next_window(start, target)
        chosen = inside[0] if inside else following
        found.append({
            "kind": "change-window",
            "name": chosen.window.name if chosen else ", ".join(sorted(w.name for w in allowed)),
            "inside": bool(inside), "blocks": not inside,
            **({"opens": format_instant(chosen.start)} if chosen and not inside else {}),
        })  # fmt: skip
    return found


def _requirements(
    judge: Judge, document: Document, spec: dict[str, Any], operation: str
) -> list[dict[str, Any]]:
    """The approvals the built-in rules ask of this document (its change type's, a soft
    freeze's exception it asks for, the governance roles), and who meets each."""
    names = {p.name for p in judge.sources.policies}
    config = judge.config
    wanted: list[tuple[str, int, str]] = []  # role, count, why
    if document.kind == "ChangeRequest" and "change-approvals" in names:
        change_type = str(spec.get("type", ""))
        for requirement in config.change_type(change_type).get("approvals", ()):
            wanted.append((requirement["role"], requirement.get("count", 1), change_type))
    if "governance" in names and judge.context.event in {"pull_request", "merge"}:
        window_role = "window-owners" if "window-owners" in config.spec["roles"] else None
        if document.kind in GOVERNED_BY_POLICY_OWNERS:
            wanted.append(("policy-owners", 1, "governance"))
        elif document.kind == "ChangeWindow" or (
            document.kind == "FreezeWindow" and operation not in {"create"}
        ):
            wanted.append((window_role or "policy-owners", 1, "governance"))
        elif document.kind == "Incident" and _charge_changed(judge, document, operation):
            incident_role = "incident-owners" if "incident-owners" in config.spec["roles"] else None
            wanted.append((incident_role or "policy-owners", 1, "governance"))
    approvals = judge.approvals
    return [
        {
            "role": role,
            "count": count,
            "for": why,
            "have": [a.user for a in approvals.approvals if role in a.roles],
            "vetoedBy": approvals.vetoing(role),
        }
        for role, count, why in wanted
    ]


def _charge_changed(judge: Judge, document: Document, operation: str) -> bool:
    """Whether the pull request changes what an incident charges to error budgets, as
    ``governance/incident-change-approval`` compares it (deleting it does)."""
    if operation == "create":
        return False
    if document.deleted or operation != "update":
        return True
    return _charges(judge.targets.old_object(document)) != _charges(document.body)


def _charges(body: Any) -> tuple[Any, ...]:
    spec = body.get("spec", {}) if isinstance(body, dict) else {}
    spec = spec if isinstance(spec, dict) else {}
    impact = spec.get("impact")
    impact = impact if isinstance(impact, dict) else {}
    return (
        spec.get("services"),
        spec.get("environment", "production"),
        spec.get("detectedAt"),
        spec.get("resolvedAt"),
        impact.get("downtime"),
        impact.get("slaImpact") is not False,
    )


def _approvals(approvals: ApprovalSet, roles: dict[str, Any]) -> dict[str, Any]:
    """The reviews that count (who, roles, commit) and those that do not, with the reason;
    an approval by someone holding no role counts only as an independent review."""
    counted, not_counted = [], []
    for approval in approvals.approvals:
        if approval.roles:
            counted.append(
                {"user": approval.user, "roles": list(approval.roles), "commit": approval.commit}
            )
        else:
            held = "; ".join(
                f"{role}: " + ", ".join(
                    [f"team {t}" for t in spec.get("teams", ())]
                    + [f"user {u}" for u in spec.get("users", ())]
                )
                for role, spec in sorted(roles.items())
            )  # fmt: skip
            not_counted.append({
                "user": approval.user, "reason": "no-role", "commit": approval.commit,
                "detail": "holds none of the roles (" + (held or "changegate.yaml defines none")
                + "): it counts only as an independent review",
            })  # fmt: skip
    for item in approvals.not_counted:
        not_counted.append({
            "user": item.user, "reason": item.reason, "detail": _text(item.detail) or "",
            "commit": item.commit,
        })  # fmt: skip
    out: dict[str, Any] = {"counted": counted, "notCounted": not_counted}
    if approvals.unknown_teams:
        out["unknownTeams"] = {role: list(notes) for role, notes in approvals.unknown_teams.items()}
    return out
