"""The functions changegate adds to CEL: time, lead times, semver, and indexed look-ups across
documents (so that policies never loop over the whole repository in CEL)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from engine.cel import Function
from engine.documents import semver
from engine.documents.config import Config
from engine.documents.fields import INACTIVE, ReleasePlanFields
from engine.documents.model import Document
from engine.globs import match_any
from engine.policy.functions import DECLARATIONS
from engine.policy.indexes import Indexes
from engine.request.approvals import ApprovalSet
from engine.request.context import RequestContext
from engine.time import budgets, schedules
from engine.time.calendar import Calendar
from engine.time.durations import LeadTime, parse_lead_time
from engine.time.instants import parse_datetime
from engine.time.windows import Target
from engine.time.zones import zone
from engine.workspace.inventory import WINDOW_KINDS, Unread, of_kinds


class Library:
    """Everything the functions may look at, fixed for one run."""

    def __init__(
        self,
        *,
        now: datetime,
        config: Config,
        documents: Sequence[Document],
        context: RequestContext,
        approvals: ApprovalSet,
        changed: frozenset[tuple[str, str]] | None,
        unread: Sequence[Unread] = (),
    ) -> None:
        """``unread`` says what may be missing from ``documents`` (files that cannot be read,
        invalid windows and incidents): a question about time then cannot be answered, and
        error budgets are taken as spent."""
        self.now = now
        self.config = config
        self.documents = documents
        self.context = context
        self.approvals = approvals
        self.changed = changed  # (kind, name) of documents the pull request changes
        self.unreadable = tuple(why for _, why in of_kinds(unread, WINDOW_KINDS))
        self.uncounted = tuple(why for _, why in of_kinds(unread, {"Incident"}))
        self._budgets: dict[str, budgets.Budget | None] = {}

    # --- indexes, built on first use -------------------------------------------------------

    @cached_property
    def indexes(self) -> Indexes:
        return Indexes(self.documents, self.config.timezone)

    @cached_property
    def _slos(self) -> dict[str, budgets.Slo]:
        return budgets.slos(self.config.spec)

    @cached_property
    def _outages(self) -> list[budgets.Outage]:
        return budgets.outages(self.documents)

    def budget(self, service: str) -> budgets.Budget | None:
        """The service's error budget at now, or None without an SLO (computed once)."""
        if service not in self._budgets:
            slo = self._slos.get(service)
            self._budgets[service] = (
                None
                if slo is None
                else budgets.compute(
                    slo, self._outages, self.now, self.config.timezone, unread=self.uncounted
                )
            )
        return self._budgets[service]

    @cached_property
    def calendar(self) -> Calendar:
        return Calendar.of(self.documents, self.config)

    # --- helpers -----------------------------------------------------------------------------

    def _schedule(self, spec: dict[str, Any]) -> tuple[datetime, datetime]:
        return schedules.interval(spec["schedule"], self.config.timezone)

    def _business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    @cached_property
    def _holidays(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(h["date"]) for h in self.config.spec["holidays"])

    # --- the functions ---------------------------------------------------------------------

    def fn_now(self) -> datetime:
        return self.now

    def fn_instant(self, text: str) -> datetime:
        return parse_datetime(text, self.config.timezone)

    def fn_schedule_start(self, schedule: dict[str, Any]) -> datetime:
        return schedules.interval(schedule, self.config.timezone)[0]

    def fn_schedule_end(self, schedule: dict[str, Any]) -> datetime:
        return schedules.interval(schedule, self.config.timezone)[1]

    def fn_submitted_at(self, requestor: dict[str, Any]) -> datetime:
        pr = self.context.pull_request
        if self.context.event in {"pull_request", "merge"} and pr and pr.created_at:
            return pr.created_at
        requested = requestor.get("date")
        if requested:
            return parse_datetime(requested, self.config.timezone)
        return self.now

    def fn_earliest_start(self, change_type: str, submitted: datetime) -> datetime:
        lead = _lead_time(self.config.change_type(change_type).get("leadTime", "0s"))
        if lead.business_days is None:
            return submitted + lead.elapsed
        return self.fn_add_business_days(submitted, lead.business_days)

    def fn_requires_post_review(self, change_type: str) -> bool:
        return "postReview" in self.config.change_type(change_type)

    def fn_post_review_due(self, change_type: str, start: datetime) -> datetime:
        review = self.config.change_type(change_type).get("postReview")
        if review is None:
            raise ValueError(f"{change_type} changes have no postReview in changegate.yaml")
        return start + schedules.duration(review["within"])

    def fn_requires_lead_time(self, change_type: str) -> bool:
        lead = _lead_time(self.config.change_type(change_type).get("leadTime", "0s"))
        return bool(lead.business_days) or lead.elapsed > timedelta(0)

    def fn_add_business_days(self, start: datetime, days: int) -> datetime:
        """The same local time ``days`` business days later (weekends and holidays skipped)."""
        tz = zone(self.config.timezone)
        local = start.astimezone(tz)
        day = local.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self._business_day(day):
                counted += 1
        moved = datetime.combine(day, time(local.hour, local.minute, local.second), tzinfo=tz)
        return moved.astimezone(UTC)

    def fn_business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days after ``start``'s day up to and including ``end``'s day."""
        tz = zone(self.config.timezone)
        first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        count = sum(
            1
            for offset in range(1, (last - first).days + 1)
            if self._business_day(first + timedelta(days=offset))
        )
        return sign * count

    def fn_semver_compare(self, a: str, b: str) -> int:
        return semver.compare(a, b)

    def fn_semver_bump(self, previous: str, current: str) -> str:
        return semver.bump(previous, current)

    @staticmethod
    def fn_semver_next(version: str, kind: str) -> str:
        current = semver.Version.parse(version)
        if kind == "major":
            return f"{current.major + 1}.0.0"
        if kind == "minor":
            return f"{current.major}.{current.minor + 1}.0"
        if kind == "patch":
            return f"{current.major}.{current.minor}.{current.patch + 1}"
        raise ValueError(f"bump {kind!r} is not major, minor or patch")

    def fn_previous_release(self, name: str) -> str:
        """The highest released version of the same service below this plan's version."""
        document = self.indexes.by_name.get(("ReleasePlan", name))
        if document is None:
            return ""
        spec = document.spec
        current = semver.Version.parse(str(spec["version"]))
        for version, text in self.indexes.released(ReleasePlanFields(spec).service_key):
            if version.compare(current) < 0:
                return text  # newest first: the first older one is the highest
        return ""

    def fn_release(self, name: str) -> Any:
        document = self.indexes.by_name.get(("ReleasePlan", name))
        return document.body if document else None

    def fn_change_template(self, name: str) -> Any:
        for template in self.config.spec["changeTemplates"]:
            if template["name"] == name:
                return template
        return None

    def fn_overlapping_changes(self, name: str) -> list[str]:
        document = self.indexes.by_name.get(("ChangeRequest", name))
        if document is None or document.spec.get("status") in INACTIVE:
            return []
        spec = document.spec
        start, end = self._schedule(spec)
        me = name
        found: set[str] = set()
        for service in spec.get("services", ()):
            timeline = self.indexes.changes_of((spec.get("environment", ""), service))
            if timeline is not None:
                found.update(i.name for i in timeline.overlapping(start, end) if i.name != me)
        return sorted(found)

    def fn_freeze_conflicts(self, name: str) -> list[str]:
        """Why the change request of that name may not happen when it is scheduled."""
        document = self.indexes.by_name.get(("ChangeRequest", name))
        if document is None or document.spec.get("status") in INACTIVE:
            return []
        spec = document.spec
        start, end = self._schedule(spec)
        target = Target(
            spec.get("environment", ""), tuple(spec.get("services", ())), spec.get("type")
        )
        passes = {spec["freezeException"]["window"]} if "freezeException" in spec else set()
        # Approvals exist only where reviews do: locally the exception's approvals are left to
        # the pull request, as change-approvals leaves them.
        approvals = None if self.context.event == "local" else self.approvals
        conflicts = self.calendar.conflicts(start, end, target, passes=passes, approvals=approvals)
        return [c.message for c in conflicts] + self._unknown()

    def fn_release_freeze_conflicts(self, name: str) -> list[str]:
        """Why the deployment window of the release plan of that name is frozen or closed."""
        document = self.indexes.by_name.get(("ReleasePlan", name))
        if document is None or "window" not in document.spec:
            return []
        spec = document.spec
        window = spec["window"]
        plan = ReleasePlanFields(spec)
        start, end = schedules.interval(window, self.config.timezone)
        target = Target(plan.environment, plan.services, None)
        conflicts = self.calendar.conflicts(start, end, target, passes=set())
        return [c.message for c in conflicts] + self._unknown()

    def _unknown(self) -> list[str]:
        """Why a schedule cannot be checked against every window (fail closed)."""
        return [
            f"cannot be checked against every freeze and change window: {why}; fix it "
            "(changegate validate)"
            for why in self.unreadable
        ]

    def _known(self) -> None:
        if self.unreadable:
            raise ValueError(
                f"{self.unreadable[0]}, so no answer about freezes and change windows can be "
                "given: fix it (changegate validate)"
            )

    def fn_active_freezes(self, environment: str, service: str, moment: datetime) -> list[str]:
        self._known()
        freezes, _ = self.calendar.active(moment, Target(environment, (service,), None))
        return sorted({o.window.name for o in freezes})

    def fn_change_window_open(self, environment: str, service: str, moment: datetime) -> bool:
        self._known()
        target = Target(environment, (service,), None)
        _, allowed = self.calendar.matching(target)
        return not allowed or bool(self.calendar.active(moment, target)[1])

    def fn_error_budget(self, service: str) -> dict[str, Any] | None:
        budget = self.budget(service)
        return budget.as_cel() if budget is not None else None

    def fn_ignored_approvals(self) -> list[str]:
        return list(self.approvals.ignored)

    def fn_vetoes(self, role: str) -> list[str]:
        return self.approvals.vetoing(role)

    def fn_placeholders(self, kind: str, name: str) -> list[str]:
        from engine.documents.placeholders import described

        document = self.indexes.by_name.get((kind, name))
        return described(document.spec, ("spec",)) if document is not None else []

    def fn_changed(self, kind: str, name: str) -> bool:
        return self.changed is None or (kind, name) in self.changed

    def fn_role_holders(self, role: str) -> str:
        spec = self.config.spec["roles"].get(role)
        if not spec:
            return f"nobody (define roles.{role} in changegate.yaml)"
        parts = [f"team {t}" for t in spec.get("teams", ())]
        parts += [f"user {u}" for u in spec.get("users", ())]
        held = ", ".join(parts) or "nobody"
        unknown = self.approvals.unknown_teams.get(role)
        if unknown:
            held += "; but " + "; ".join(unknown) + ", so they hold no role (fail closed)"
        return held

    @staticmethod
    def fn_matches_any(name: str, patterns: list[Any]) -> bool:
        return match_any([str(p) for p in patterns], name)

    @staticmethod
    def fn_join(items: list[Any], separator: str) -> str:
        return separator.join(str(item) for item in items)

    @staticmethod
    def fn_largest(items: list[Any]) -> int:
        return max((int(i) for i in items), default=0)

    def functions(self) -> list[Function]:
        """The CEL declarations (``DECLARATIONS``) bound to this run's implementations."""
        return [
            Function(name, params, result, getattr(self, _method(name)), doc)
            for name, params, result, doc in DECLARATIONS
        ]


def _method(name: str) -> str:
    """The method implementing a CEL function: ``scheduleStart`` is ``fn_schedule_start``."""
    return "fn_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@functools.lru_cache(maxsize=64)
def _lead_time(text: str) -> LeadTime:
    return parse_lead_time(text)
