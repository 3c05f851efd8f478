"""``changegate metrics``: DORA figures and the governance KPIs of the domain notes (003,
section 7), per service and per month (in the config's time zone), from release plans, change
requests, incidents, the git history and the decision records.

How each figure is counted (what is said here is what the report says):
- deployments: release plans that reached production (``releasedAt``), by that month;
- lead time for changes: per release, the median time from each linked change request
  (``spec.release``) reaching the default branch to ``releasedAt`` (a release without linked
  changes: from the plan itself reaching it); the month's median, in hours;
- change failure rate: releases rolled back or named by an incident (``spec.release``, or a
  change of the release in ``spec.change``), over releases;
- time to restore (MTTR): mean of ``resolvedAt - detectedAt`` of the month's resolved
  production incidents;
- on-time release rate: releases inside their window (without one: on or before the target
  date), over releases;
- scope change after freeze: scope items added or removed after ``scopeFreeze`` (the plan as
  it was at the end of that day, from the history), over the items at the freeze;
- rollback rate: releases rolled back, over releases;
- approval cycle time: median hours from a change's submission (its pull request's creation)
  to its last counted approval, from the first decision record that judged it;
- change record completeness: change requests with justification, impact, implementation,
  testing and a rollback plan (a standard change: its template) and, once done, their
  execution, and no field still holding text left from a scaffold ([Name], Step 1);
- a release before its change reached the default branch gives no lead time;
- emergency change share: emergency change requests over all, by scheduled month;
- error budget (services with an SLO): per calendar month, allowed downtime = (100 -
  availability)% of the month, used = what production incidents charged to it (see
  :mod:`engine.time.budgets`: downtime shared over the months an incident spans, never more
  than the month has, none for ``slaImpact: false``, an open one until now), burn rate = used
  over the budget for the part of the month gone.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from engine.documents import placeholders
from engine.documents.fields import DEFAULT_ENVIRONMENT, IncidentFields, ReleasePlanFields
from engine.documents.model import Document
from engine.time import schedules
from engine.time.budgets import outages
from engine.time.instants import format_instant, parse_datetime, parse_instant
from engine.trail.budgets import BurnDown, burn_downs, end_of, monthly_budgets
from engine.trail.history import Commit, Trail, first_added, records_by_path, within

if TYPE_CHECKING:
    from engine.judging.judge import Judge

ALL: Final = "all services"
DEFINITIONS: Final = {
    "deployments": "Release plans that reached production (releasedAt), by that month.",
    "leadTimeHours": "Per release, the median time from each linked change request reaching the "
    "default branch to releasedAt (without linked changes: from the plan reaching it); the "
    "month's median.",
    "changeFailureRate": "Releases rolled back or named by an incident (its release, or a change "
    "of the release), over releases.",
    "timeToRestoreHours": "Mean time from detection to resolution (MTTR) of the month's resolved "
    "production incidents.",
    "onTimeRate": "Releases inside their deployment window (without one: on or before the target "
    "date), over releases.",
    "scopeChangeRate": "Scope items added or removed after the scope freeze, over the items at "
    "the freeze (the plan as it was at the end of that day).",
    "rollbackRate": "Releases rolled back, over releases.",
    "approvalCycleHours": "Median time from a change's submission (its pull request's creation) "
    "to its last counted approval, from the first decision record that judged it.",
    "completeness": "Change requests with justification, impact, implementation, testing and a "
    "rollback plan (standard changes: their template) and, once done, their execution, and no "
    "field still holding text left from a scaffold ([Name], Step 1, Detailed description ...).",
    "emergencyShare": "Emergency change requests over all, by scheduled month.",
    "errorBudget": "Per service with an SLO and calendar month: allowed downtime is (100 - "
    "availability)% of the month's real length; used is what production incidents charged to "
    "it (impact.downtime, else detection to resolution, shared over the months an incident "
    "spans in proportion to its time in each, never more than the month has; slaImpact: false "
    "charges nothing; an open incident counts until now); the burn rate is used over the "
    "budget of the part of the month gone (1x spends it exactly by the month's end).",
}
FIGURES: Final = (
    ("deployments", "Deployments", ""),
    ("leadTimeHours", "Lead time for changes", "h"),
    ("changeFailureRate", "Change failure rate", "%"),
    ("timeToRestoreHours", "Time to restore", "h"),
    ("onTimeRate", "On-time release rate", "%"),
    ("scopeChangeRate", "Scope change after freeze", "%"),
    ("rollbackRate", "Rollback rate", "%"),
    ("approvalCycleHours", "Approval cycle time", "h"),
    ("completeness", "Change record completeness", "%"),
    ("emergencyShare", "Emergency change share", "%"),
)


@dataclass
class Bucket:
    """What one service in one month counts."""

    releases: int = 0
    failed: int = 0
    rolled_back: int = 0
    on_time: int = 0
    lead_hours: list[float] = field(default_factory=list)
    restore_hours: list[float] = field(default_factory=list)
    scope_changes: int = 0
    scope_frozen: int = 0
    approval_hours: list[float] = field(default_factory=list)
    changes: int = 0
    complete: int = 0
    emergencies: int = 0

    def figures(self) -> dict[str, float | int | None]:
        return {
            "deployments": self.releases,
            "leadTimeHours": _median(self.lead_hours),
            "changeFailureRate": _rate(self.failed, self.releases),
            "timeToRestoreHours": _mean(self.restore_hours),
            "onTimeRate": _rate(self.on_time, self.releases),
            "scopeChangeRate": _rate(self.scope_changes, self.scope_frozen),
            "rollbackRate": _rate(self.rolled_back, self.releases),
            "approvalCycleHours": _median(self.approval_hours),
            "completeness": _rate(self.complete, self.changes),
            "emergencyShare": _rate(self.emergencies, self.changes),
        }

    def add(self, other: Bucket) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            setattr(self, name, mine + value)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


@dataclass
class Metrics:
    at: datetime
    since: datetime | None
    until: datetime | None
    zone: str
    buckets: dict[str, dict[str, Bucket]]  # service -> month -> counts
    budgets: dict[str, dict[str, dict[str, Any]]]  # service -> month -> error budget
    burn_downs: list[BurnDown] = field(default_factory=list)  # each SLO's current period

    def months(self) -> list[str]:
        """Every month from the first with data to the last, gaps included (a trend chart
        that closed them up would misstate time)."""
        found = sorted({m for service in self.buckets.values() for m in service})
        if not found:
            return []
        year, month = map(int, found[0].split("-"))
        months = []
        while (key := f"{year:04d}-{month:02d}") <= found[-1]:
            months.append(key)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    def figures(self, service: str) -> dict[str, dict[str, float | int | None]]:
        return {m: b.figures() for m, b in sorted(self.buckets.get(service, {}).items())}

    def total(self, service: str) -> dict[str, float | int | None]:
        whole = Bucket()
        for bucket in self.buckets.get(service, {}).values():
            whole.add(bucket)
        return whole.figures()

    def as_json(self) -> dict[str, Any]:
        return {
            "apiVersion": "changegate/v1",
            "kind": "Metrics",
            "at": format_instant(self.at),
            "since": format_instant(self.since) if self.since else None,
            "until": format_instant(self.until) if self.until else None,
            "timezone": self.zone,
            "services": {
                service: {"total": self.total(service), "months": self.figures(service)}
                for service in sorted(self.buckets, key=lambda s: (s != ALL, s))
            },
            "errorBudgets": self.budgets,
        }


def compute(
    judge: Judge,
    trail: Trail,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Metrics:
    zone = judge.config.timezone
    documents = judge.inventory.valid
    buckets: dict[str, dict[str, Bucket]] = defaultdict(lambda: defaultdict(Bucket))

    def month(moment: datetime) -> str | None:
        if not within(moment, since, until):
            return None
        return moment.astimezone(_zone(zone)).strftime("%Y-%m")

    def count(moment: datetime, services: Iterable[str]) -> list[Bucket]:
        key = month(moment)
        if key is None:
            return []
        return [buckets[s][key] for s in (*services, ALL)]

    arrived = first_added(trail.commits)
    changes = [d for d in documents if d.kind == "ChangeRequest"]
    incidents = [d for d in documents if d.kind == "Incident"]
    paths = {id(d): judge.git.relative(d.path) if judge.git else None for d in documents}
    for plan in (d for d in documents if d.kind == "ReleasePlan"):
        spec = plan.spec
        fields = ReleasePlanFields(spec)
        if fields.environment != DEFAULT_ENVIRONMENT or not fields.released_at:
            continue
        released = parse_instant(fields.released_at)
        services = fields.services
        linked = [c for c in changes if c.spec.get("release") == plan.name]
        lead = _lead_hours(released, plan, linked, arrived, paths)
        failed = spec.get("status") == "rolled-back" or any(
            i.spec.get("release") == plan.name or i.spec.get("change") in {c.name for c in linked}
            for i in incidents
        )
        frozen, changed = _scope_change(judge, plan, paths[id(plan)], zone)
        for bucket in count(released, services):
            bucket.releases += 1
            bucket.failed += failed
            bucket.rolled_back += spec.get("status") == "rolled-back"
            bucket.on_time += _on_time(spec, released, zone)
            if lead is not None:
                bucket.lead_hours.append(lead)
            bucket.scope_frozen += frozen
            bucket.scope_changes += changed
    for incident in incidents:
        happened = IncidentFields(incident.fields)
        if happened.environment != DEFAULT_ENVIRONMENT or not happened.resolved_at:
            continue
        detected = parse_instant(happened.detected_at)
        hours = (parse_instant(happened.resolved_at) - detected).total_seconds() / 3600
        for bucket in count(detected, happened.services):
            bucket.restore_hours.append(round(hours, 2))
    judged = records_by_path(trail)
    for change in changes:
        spec = change.spec
        start = schedules.interval(spec["schedule"], zone)[0]
        cycle = _approval_hours([r for _, r in judged.get(paths[id(change)] or "", ())])
        for bucket in count(start, spec["services"]):
            bucket.changes += 1
            bucket.complete += _complete(spec)
            bucket.emergencies += spec["type"] == "emergency"
            if cycle is not None:
                bucket.approval_hours.append(cycle)
    budgets, charts = _budgets(judge, incidents, since, until, buckets)
    return Metrics(
        at=judge.now,
        since=since,
        until=until,
        zone=zone,
        buckets={s: dict(m) for s, m in buckets.items()},
        budgets=budgets,
        burn_downs=charts,
    )


def _budgets(
    judge: Judge,
    incidents: list[Document],
    since: datetime | None,
    until: datetime | None,
    buckets: dict[str, dict[str, Bucket]],
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[BurnDown]]:
    """The error budgets of every month of the period and the burn-down of each SLO's
    current period (:mod:`engine.trail.budgets`)."""
    zone, found = judge.config.timezone, outages(incidents)
    monthly = monthly_budgets(
        judge.config.spec,
        zone,
        found,
        now=judge.now,
        since=since,
        until=until,
        first=min((m for months in buckets.values() for m in months), default=None),
    )
    charts = burn_downs(judge.config.spec, zone, found, end_of(judge.now, until))
    return monthly, charts


def _zone(name: str) -> Any:
    from engine.time.zones import zone

    return zone(name)


def _lead_hours(
    released: datetime,
    plan: Document,
    linked: list[Document],
    arrived: dict[str, Commit],
    paths: dict[int, str | None],
) -> float | None:
    sources = linked or [plan]
    times = [
        (released - arrived[p].committed).total_seconds() / 3600
        for d in sources
        if (p := paths[id(d)]) in arrived
    ]
    times = [t for t in times if t >= 0]  # released before it was merged: not a lead time
    return round(statistics.median(times), 2) if times else None


def _on_time(spec: dict[str, Any], released: datetime, zone: str) -> bool:
    window = spec.get("window")
    if window:
        name = window.get("timezone") or zone
        return (
            parse_datetime(window["start"], name) <= released < parse_datetime(window["end"], name)
        )
    return released.astimezone(_zone(zone)).date().isoformat() <= str(spec["targetDate"])


def _scope_items(spec: dict[str, Any]) -> set[str]:
    scope = spec.get("scope") or {}
    return {
        f"{part}:{item.get('id') or item.get('title')}"
        for part in ("features", "fixes")
        for item in scope.get(part, ())
        if isinstance(item, dict)
    }


def _scope_change(judge: Judge, plan: Document, path: str | None, zone: str) -> tuple[int, int]:
    """(items at the scope freeze, items added or removed since), from the history."""
    freeze = plan.spec.get("scopeFreeze")
    if not freeze or judge.git is None or path is None:
        return 0, 0
    from pathlib import Path

    from engine.documents.loader import load_text

    end = parse_datetime(str(freeze), zone) + timedelta(days=1)
    found = judge.git.history().git.log(
        "-1", "--format=%H", f"--before={end.isoformat()}", "--", path
    )
    if not found:
        return 0, 0
    data = judge.git.read(found.strip(), path)
    try:
        loaded = load_text(data.decode(), Path(path)) if data else None
    except UnicodeDecodeError:
        loaded = None
    if loaded is None or loaded.problems or len(loaded.documents) != 1:
        return 0, 0  # unreadable then: nothing to compare with
    then = loaded.documents[0].data
    if not isinstance(then, dict) or not isinstance(then.get("spec"), dict):
        return 0, 0
    before, after = _scope_items(then["spec"]), _scope_items(plan.spec)
    return len(before), len(before ^ after)


def _approval_hours(records: list[dict[str, Any]]) -> float | None:
    """Submission to last counted approval, from the earliest record that judged the change."""
    judged = [
        r for r in records if r.get("approvals") and (r.get("pullRequest") or {}).get("createdAt")
    ]
    if not judged:
        return None
    first = min(judged, key=lambda r: str(r.get("at")))
    created = parse_instant(str(first["pullRequest"]["createdAt"]))
    times = [
        parse_instant(str(a["submittedAt"])) for a in first["approvals"] if a.get("submittedAt")
    ]
    if not times:
        return None
    return round((max(times) - created).total_seconds() / 3600, 2)


def _complete(spec: dict[str, Any]) -> bool:
    # a standard change's template holds its plan; the others carry their own
    needed = ["template"] if spec.get("type") == "standard" else [
        "justification", "impact", "implementation", "testing", "rollback"
    ]  # fmt: skip
    if spec.get("status") in {"completed", "failed", "rolled-back"}:
        needed.append("execution")
    # a field still holding text left from the scaffold ("Step 1", "[Name]") is not written
    return all(spec.get(name) for name in needed) and next(placeholders.find(spec), None) is None
