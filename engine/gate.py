"""The deploy gate: may SERVICE deploy to ENVIRONMENT now?

Deploying is allowed when:
- no freeze that applies blocks now, or an approved change covers now that may pass it (an
  emergency change for a hard freeze; for a soft one, a change that declares a freeze
  exception for it and has its extra approvals);
- where change windows apply, now is inside one (emergency changes excepted);
- the release plan of the version, if given, passes the deploy-event rules (exit criteria,
  go/no-go, ...);
- the change request, if given or found (its service, environment and schedule cover now),
  passes the deploy-event rules (approvals) and is scheduled now.
Invalid windows close the gate: a freeze that cannot be read might be the one that applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from engine.calendar import Calendar, missing_approvals
from engine.documents import Document
from engine.findings import Finding, Outcome, Severity
from engine.pipeline import Judge, Outcomes
from engine.times import format_instant
from engine.windows import Target

FROZEN: Final = "gate/frozen"
OUTSIDE_WINDOW: Final = "gate/outside-change-window"
NO_RELEASE: Final = "gate/release-plan"
CHANGE: Final = "gate/change-request"
WINDOWS_UNREADABLE: Final = "gate/unreadable-window"
ACTIVE: Final = frozenset({"planned", "in-progress"})

GATE_RULES: Final = {
    FROZEN: "No freeze that applies to the target blocks the deploy at this instant.",
    OUTSIDE_WINDOW: "Where change windows apply, the deploy happens inside one.",
    NO_RELEASE: "The release plan of the deployed version exists.",
    CHANGE: "The change request named or found for the deploy is scheduled now.",
    WINDOWS_UNREADABLE: "Every freeze and change window can be read.",
}


@dataclass
class Gate:
    environment: str
    service: str
    version: str | None
    change: str | None
    allowed: bool = True
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "version": self.version,
            "change": self.change,
            "allowed": self.allowed,
            "reasons": self.reasons,
        }


def _covers(judge: Judge, document: Document, moment: datetime) -> bool:
    """Whether the change's schedule covers ``moment``."""
    schedule = document.spec.get("schedule", {})
    try:
        start = judge.library.fn_schedule_start(schedule)
        end = judge.library.fn_schedule_end(schedule)
    except (KeyError, ValueError):
        return False
    return start <= moment < end


def scheduled_changes(judge: Judge, environment: str, service: str) -> list[Document]:
    """The planned or running change requests for the service and environment whose schedule
    covers now."""
    return [
        d
        for d in judge.inventory.valid
        if d.kind == "ChangeRequest"
        and d.spec.get("environment") == environment
        and service in d.spec.get("services", ())
        and d.spec.get("status", "planned") in ACTIVE
        and _covers(judge, d, judge.now)
    ]


def open_gate(
    judge: Judge, *, environment: str, service: str, version: str | None, change: str | None
) -> Outcomes:
    """Judge the deploy; the verdict carries ``{"gate": {...}}`` and says allow or deny."""
    now = judge.now
    gate = Gate(environment, service, version, change)
    inventory = judge.inventory
    findings: list[Finding] = []

    def close(rule: str, message: str, document: Document | None = None, **where: Any) -> None:
        gate.allowed = False
        gate.reasons.append(message)
        if document is not None:
            findings.append(document.finding(rule, message, **where))
        else:
            findings.append(
                Finding(
                    rule=rule,
                    severity=Severity.DENY,
                    outcome=Outcome.FAIL,
                    message=message,
                    path=judge.workspace.root,
                    line=1,
                    column=1,
                )
            )

    valid = {id(d) for d in inventory.valid}
    for document in inventory.documents:
        if document.kind in {"FreezeWindow", "ChangeWindow"} and id(document) not in valid:
            close(
                WINDOWS_UNREADABLE,
                f"{document.kind} {document.name or '?'} is invalid, so changegate cannot tell "
                "whether it applies: fix it (changegate validate)",
                document,
            )

    plans: list[Document] = []
    if version is not None:
        plans = [
            d
            for d in inventory.valid
            if d.kind == "ReleasePlan"
            and str(d.spec.get("version")) == version
            and service
            in ((d.spec["service"],) if "service" in d.spec else d.spec.get("services", ()))
        ]
        if not plans:
            close(
                NO_RELEASE,
                f"no release plan for {service} {version} in the repository: add one "
                f"(changegate new ReleasePlan {service}-v{version})",
            )

    changes: list[Document]
    if change is not None:
        changes = [d for d in inventory.valid if d.kind == "ChangeRequest" and d.name == change]
        if not changes:
            close(CHANGE, f"change request {change} is not in the repository (or is invalid)")
        for document in changes:
            spec = document.spec
            if spec.get("environment") != environment or service not in spec.get("services", ()):
                close(
                    CHANGE,
                    f"{change} changes {', '.join(spec.get('services', ()))} in "
                    f"{spec.get('environment')}, not {service} in {environment}",
                    document,
                    field=("spec", "services"),
                )
            elif not _covers(judge, document, now):
                close(
                    CHANGE,
                    f"{change} is scheduled from {spec['schedule']['start']}, not now "
                    f"({format_instant(now)}): deploy within its schedule or reschedule it",
                    document,
                    field=("spec", "schedule", "start"),
                )
    else:
        changes = scheduled_changes(judge, environment, service)
        if changes:
            gate.reasons.append(
                "change requests scheduled now for this target: "
                + ", ".join(d.name or "?" for d in changes)
            )

    judged = judge.judge(documents=[*plans, *changes])
    denied = {(f.kind, f.name) for f in judged.verdict.findings if f.denies}
    for finding in judged.verdict.findings:
        if finding.denies:
            gate.allowed = False
            gate.reasons.append(f"{finding.kind} {finding.name}: {finding.message}")
    approved = [d for d in changes if (d.kind, d.name) not in denied and _covers(judge, d, now)]

    calendar: Calendar = judge.library.calendar
    change_type = changes[0].spec.get("type") if len(changes) == 1 else None
    target = Target(environment, (service,), change_type)
    freezes, windows = calendar.active(now, target)
    emergencies = [d for d in approved if d.spec.get("type") == "emergency"]
    reopens = calendar.opens(now, target) if freezes else None
    for occurrence in freezes:
        window = occurrence.window
        until = f"{occurrence.local(occurrence.end)} {window.zone_name}"
        until += f" ({format_instant(occurrence.end)})"
        if reopens is None:
            until += "; more freezes follow for over a year"
        elif reopens > occurrence.end:
            until += (
                f"; other freezes follow without a break until {occurrence.local(reopens)} "
                f"{window.zone_name} ({format_instant(reopens)})"
            )
        if window.level == "hard":
            if emergencies:
                gate.reasons.append(
                    f"hard freeze {window.name} is passed by approved emergency change "
                    f"{', '.join(d.name or '?' for d in emergencies)}"
                )
                continue
            close(
                FROZEN,
                f"frozen by hard freeze {window.name}"
                + (f" ({window.reason})" if window.reason else "")
                + f" until {until}: only an approved emergency change may deploy now",
                window.document,
                field=("metadata", "name"),
            )
            continue
        passing = [
            d
            for d in approved
            if d.spec.get("freezeException", {}).get("window") == window.name
            and not missing_approvals(window.exceptions, judge.approvals.approvals)
        ]
        if passing:
            names = ", ".join(d.name or "?" for d in passing)
            gate.reasons.append(
                f"soft freeze {window.name} is passed by {names}, which asks for it and has its "
                "extra approvals"
            )
            continue
        roles = ", ".join(str(r["role"]) for r in window.exceptions) or "its exception roles"
        close(
            FROZEN,
            f"frozen by soft freeze {window.name}"
            + (f" ({window.reason})" if window.reason else "")
            + f" until {until}: a change request scheduled now with spec.freezeException for "
            f"{window.name} and approval from {roles} may deploy",
            window.document,
            field=("metadata", "name"),
        )
    matching_freezes, allowed_windows = calendar.matching(target)
    if allowed_windows and not windows and not emergencies:
        following = calendar.next_window(now, target)
        names = ", ".join(sorted(w.name for w in allowed_windows))
        close(
            OUTSIDE_WINDOW,
            f"{service} in {environment} may change only inside {names}, and none is open now"
            + (f"; the next opens {following.describe()}" if following else ""),
            allowed_windows[0].document,
            field=("metadata", "name"),
        )
    if gate.allowed:
        if not freezes:
            gate.reasons.append(f"no freeze applies to {service} in {environment} now")
        if plans:
            gate.reasons.append(f"release {plans[0].name} passes its deploy checks")
        if approved:
            gate.reasons.append(
                "approved and scheduled now: " + ", ".join(d.name or "?" for d in approved)
            )
    verdict = judged.verdict
    merged = type(verdict).of(
        event="deploy",
        at=now,
        findings=[*verdict.findings, *findings],
        documents=verdict.documents + len(matching_freezes) + len(allowed_windows),
        rules=verdict.rules + len({f.rule for f in findings}),
        backend=verdict.backend,
        extra={"gate": gate.as_json()},
        files=verdict.files,
    )
    return Outcomes(
        merged,
        judged.evaluations,
        {**judged.rule_docs, **GATE_RULES},
        targets=judged.targets,
        approvals=judged.approvals,
        sources=judged.sources,
    )
