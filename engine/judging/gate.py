"""The deploy gate: may SERVICE deploy to ENVIRONMENT now?

Deploying is allowed when:
- no freeze that applies blocks now, or an approved change covers now that may pass it (an
  emergency change for a hard freeze; for a soft one, a change that declares a freeze
  exception for it and has its extra approvals);
- where change windows apply, now is inside one (emergency changes excepted);
- the release plan of the version, if given, passes the deploy-event rules (exit criteria,
  go/no-go, ...);
- the change request, if given or found (its service, environment and schedule cover now),
  passes the deploy-event rules (approvals) and is scheduled now;
- the environment's ``requires`` is met: a protected environment needs a reason to deploy,
  an approved change request scheduled now or a release plan that passes (by default).
Invalid windows close the gate: a freeze that cannot be read might be the one that applies.
A deploy to production names the service's error budget among the reasons (the rule
release-readiness/error-budget holds the plan or change when it is spent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import rules
from engine.documents.fields import DEFAULT_ENVIRONMENT, ChangeRequestFields, ReleasePlanFields
from engine.documents.model import Document, file_finding
from engine.findings import Finding, Outcome, Severity
from engine.judging.deploy import (
    DEPLOYABLE,
    NAMED,
    DeployTarget,
    scheduled_changes,
    targets,
    unmet,
)
from engine.judging.judge import Judge, Outcomes
from engine.request.names import same_environment
from engine.time import schedules
from engine.time.calendar import Calendar, missing_approvals
from engine.time.instants import format_instant
from engine.time.windows import Occurrence, Target, WindowError


@dataclass
class Gate:
    """The gate's answer: the ``gate`` object of the verdict (SPEC §8)."""

    environment: str
    service: str
    version: str | None
    change: str | None
    allowed: bool = True
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _covers(judge: Judge, document: Document, moment: datetime) -> bool:
    """Whether the change's schedule covers ``moment``."""
    schedule = ChangeRequestFields(document.fields).schedule
    return schedules.covers(schedule, judge.config.timezone, moment)


class _Run:
    """One gate decision being made: the findings and reasons gathered so far."""

    def __init__(self, judge: Judge, gate: Gate) -> None:
        self.judge = judge
        self.gate = gate
        self.findings: list[Finding] = []

    def close(
        self,
        rule: str,
        message: str,
        document: Document | None = None,
        *,
        path: Path | None = None,
        **where: Any,
    ) -> None:
        self.gate.allowed = False
        self.gate.reasons.append(message)
        if document is not None:
            self.findings.append(document.finding(rule, message, **where))
            return
        if path is not None:
            self.findings.append(file_finding(path, 1, 1, message, rule=rule))
            return
        config = self.judge.config.document
        if config is not None and rule == rules.PROTECTED:
            self.findings.append(config.finding(rule, message, field=("spec", "environments")))
            return
        self.findings.append(
            Finding(
                rule=rule,
                severity=Severity.DENY,
                outcome=Outcome.FAIL,
                message=message,
                path=self.judge.workspace.root,
                line=1,
                column=1,
            )
        )

    def unreadable_windows(self) -> None:
        """Close for every window that is invalid and every file that cannot be read: it may
        hold the freeze that applies."""
        for path, why in self.judge.inventory.unreadable_windows():
            self.close(
                rules.WINDOWS_UNREADABLE,
                f"{why}, so changegate cannot tell whether it holds a freeze or change window "
                "that applies: fix it (changegate validate)",
                path=path,
            )

    def plans(self) -> list[Document]:
        gate = self.gate
        if gate.version is None:
            return []
        plans = [
            d
            for d in self.judge.inventory.valid
            if d.kind == "ReleasePlan"
            and ReleasePlanFields(d.fields).version == gate.version
            and gate.service in ReleasePlanFields(d.fields).services
        ]
        if not plans:
            self.close(
                rules.NO_RELEASE,
                f"no release plan for {gate.service} {gate.version} in the repository: add one "
                f"(changegate new ReleasePlan {gate.service}-v{gate.version})",
            )
        for plan in plans:
            status = ReleasePlanFields(plan.fields).status
            if status not in DEPLOYABLE:
                self.close(
                    rules.NO_RELEASE,
                    f"release plan {plan.name} is {status}: a {status} release does not deploy",
                    plan,
                    field=("spec", "status"),
                )
        return [p for p in plans if ReleasePlanFields(p.fields).status in DEPLOYABLE]

    def changes(self) -> list[Document]:
        gate, judge = self.gate, self.judge
        if gate.change is None:
            deploy = DeployTarget(gate.environment, gate.service, gate.version, gate.change)
            found = scheduled_changes(judge.inventory.valid, judge.config, judge.now, deploy)
            if found:
                gate.reasons.append(
                    "change requests scheduled now for this target: "
                    + ", ".join(d.name or "?" for d in found)
                )
            return found
        wanted = gate.change.casefold()
        found = [
            d
            for d in judge.inventory.valid
            if d.kind == "ChangeRequest" and (d.name or "").casefold() == wanted
        ]
        if not found:
            self.close(
                rules.CHANGE,
                f"change request {gate.change} is not in the repository (or is invalid)",
            )
        for document in found:
            spec = document.spec
            if not targets(document, gate.environment, gate.service):
                self.close(
                    rules.CHANGE,
                    f"{document.name} changes {', '.join(spec.get('services', ()))} in "
                    f"{spec.get('environment')}, not {gate.service} in {gate.environment}",
                    document,
                    field=("spec", "services"),
                )
            elif ChangeRequestFields(spec).status not in NAMED:
                status = ChangeRequestFields(spec).status
                self.close(
                    rules.CHANGE,
                    f"{document.name} is {status}: a {status} change request carries no deploy",
                    document,
                    field=("spec", "status"),
                )
            elif not _covers(judge, document, judge.now):
                self.close(
                    rules.CHANGE,
                    f"{document.name} is scheduled from {spec['schedule']['start']}, not now "
                    f"({format_instant(judge.now)}): deploy within its schedule or reschedule it",
                    document,
                    field=("spec", "schedule", "start"),
                )
        return found

    def freezes(self, freezes: list[Occurrence], approved: list[Document], target: Target) -> None:
        calendar: Calendar = self.judge.library.calendar
        now = self.judge.now
        emergencies = [d for d in approved if d.spec.get("type") == "emergency"]
        reopens = calendar.opens(now, target) if freezes else None
        for occurrence in freezes:
            window = occurrence.window
            until = occurrence.until(reopens)
            if window.level == "hard":
                if emergencies:
                    self.gate.reasons.append(
                        f"hard freeze {window.name} is passed by approved emergency change "
                        f"{', '.join(d.name or '?' for d in emergencies)}"
                    )
                    continue
                self.close(
                    rules.FROZEN,
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
                and not missing_approvals(window.exceptions, self.judge.approvals)
            ]
            if passing:
                names = ", ".join(d.name or "?" for d in passing)
                self.gate.reasons.append(
                    f"soft freeze {window.name} is passed by {names}, which asks for it and has "
                    "its extra approvals"
                )
                continue
            roles = ", ".join(str(r["role"]) for r in window.exceptions) or "its exception roles"
            vetoed = [
                f"{who} (role {r['role']})"
                for r in window.exceptions
                for who in self.judge.approvals.vetoing(str(r["role"]))
            ]
            self.close(
                rules.FROZEN,
                f"frozen by soft freeze {window.name}"
                + (f" ({window.reason})" if window.reason else "")
                + f" until {until}: a change request scheduled now with spec.freezeException "
                f"for {window.name} and approval from {roles} may deploy"
                + (f"; changes requested by {', '.join(vetoed)} block it" if vetoed else ""),
                window.document,
                field=("metadata", "name"),
            )

    def change_windows(
        self, open_now: list[Occurrence], approved: list[Document], target: Target
    ) -> None:
        calendar: Calendar = self.judge.library.calendar
        _, allowed = calendar.matching(target)
        if not allowed or open_now or any(d.spec.get("type") == "emergency" for d in approved):
            return
        following = calendar.next_window(self.judge.now, target)
        names = ", ".join(sorted(w.name for w in allowed))
        self.close(
            rules.OUTSIDE_WINDOW,
            f"{self.gate.service} in {self.gate.environment} may change only inside {names}, and "
            "none is open now" + (f"; the next opens {following.describe()}" if following else ""),
            allowed[0].document,
            field=("metadata", "name"),
        )

    def protected(self, approved: list[Document], passing_plans: list[Document]) -> None:
        deploy = DeployTarget(
            self.gate.environment, self.gate.service, self.gate.version, self.gate.change
        )
        missing = unmet(self.judge.config, deploy, bool(approved), bool(passing_plans))
        if missing is not None:
            self.close(rules.PROTECTED, missing)

    def windows(self, approved: list[Document], target: Target) -> list[Occurrence]:
        """Close for the freezes and change windows of now; the freezes that apply. A window
        that cannot be evaluated at this instant closes the gate too."""
        calendar: Calendar = self.judge.library.calendar
        now = self.judge.now
        try:
            freezes, open_now = calendar.active(now, target)
            self.freezes(freezes, approved, target)
            self.change_windows(open_now, approved, target)
        except WindowError as error:
            self.close(
                rules.WINDOWS_UNREADABLE,
                f"a window cannot be evaluated at {format_instant(now)}: {error}",
            )
            return []
        return freezes


def open_gate(judge: Judge, deploy: DeployTarget, notes: Sequence[str] = ()) -> Outcomes:
    """Judge the deploy; the verdict carries ``{"gate": {...}}`` and says allow or deny.
    ``deploy`` names what the judge's (deploy) context asks for; ``notes`` say what about its
    names could not be verified."""
    now = judge.now
    run = _Run(judge, Gate(*deploy))
    gate = run.gate
    run.unreadable_windows()
    plans = run.plans()
    changes = run.changes()
    judged = judge.judge(documents=[*plans, *changes])
    denied = {(f.kind, f.name) for f in judged.verdict.findings if f.denies}
    for finding in judged.verdict.findings:
        if finding.denies:
            gate.allowed = False
            gate.reasons.append(f"{finding.kind} {finding.name}: {finding.message}")
    approved = [
        d
        for d in changes
        if (d.kind, d.name) not in denied
        and ChangeRequestFields(d.fields).status in NAMED
        and _covers(judge, d, now)
    ]
    passing_plans = [d for d in plans if (d.kind, d.name) not in denied]
    change_type = ChangeRequestFields(changes[0].spec).type if len(changes) == 1 else None
    target = Target(deploy.environment, (deploy.service,), change_type)
    freezes = run.windows(approved, target)
    run.protected(approved, passing_plans)
    if gate.allowed:
        if not freezes:
            gate.reasons.append(
                f"no freeze applies to {deploy.service} in {deploy.environment} now"
            )
        if passing_plans:
            gate.reasons.append(f"release {passing_plans[0].name} passes its deploy checks")
        if approved:
            gate.reasons.append(
                "approved and scheduled now: " + ", ".join(d.name or "?" for d in approved)
            )
    budget = judge.library.budget(deploy.service)
    if budget is not None and same_environment(deploy.environment, DEFAULT_ENVIRONMENT):
        gate.reasons.append(budget.summary)  # release-readiness/error-budget judges it
    gate.reasons.extend(notes)
    return _outcomes(judge, judged, run, target)


def _outcomes(judge: Judge, judged: Outcomes, run: _Run, target: Target) -> Outcomes:
    """The judged documents' verdict with the gate's own findings and its ``gate`` object."""
    matching_freezes, allowed_windows = judge.library.calendar.matching(target)
    verdict = judged.verdict
    merged = type(verdict).of(
        event="deploy",
        at=judge.now,
        findings=[*verdict.findings, *run.findings],
        documents=verdict.documents + len(matching_freezes) + len(allowed_windows),
        rules=verdict.rules + len({f.rule for f in run.findings}),
        backend=verdict.backend,
        extra={"gate": run.gate.as_json()},
        files=verdict.files,
    )
    return Outcomes(
        merged,
        judged.evaluations,
        {**judged.rule_docs, **rules.GATE},
        targets=judged.targets,
        approvals=judged.approvals,
        sources=judged.sources,
    )
