"""The functions changegate adds to CEL: time, lead times, semver, and indexed look-ups across
documents (so that policies never loop over the whole repository in CEL)."""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from engine.cel import CelType, Function
from engine.documents import semver
from engine.documents.config import Config
from engine.documents.model import Document
from engine.globs import match_any
from engine.request.approvals import ApprovalSet
from engine.request.context import RequestContext
from engine.time.calendar import Calendar
from engine.time.durations import LeadTime, parse_duration, parse_lead_time
from engine.time.instants import parse_datetime
from engine.time.windows import Target
from engine.time.zones import zone

T = CelType


class Interval(NamedTuple):
    start: datetime
    end: datetime
    name: str


@dataclass
class Timeline:
    """Intervals sorted by start, with their starts and the longest length for bisecting."""

    intervals: list[Interval]
    starts: list[datetime]
    longest: timedelta

    @classmethod
    def of(cls, intervals: list[Interval]) -> Timeline:
        ordered = sorted(intervals, key=lambda i: i.start)
        longest = max((i.end - i.start for i in ordered), default=timedelta(0))
        return cls(ordered, [i.start for i in ordered], longest)

    def overlapping(self, start: datetime, end: datetime) -> list[Interval]:
        """Intervals meeting [start, end): only those starting after start - longest can."""
        low = bisect.bisect_left(self.starts, start - self.longest)
        high = bisect.bisect_left(self.starts, end)
        return [i for i in self.intervals[low:high] if i.end > start]


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
    ) -> None:
        self.now = now
        self.config = config
        self.documents = documents
        self.context = context
        self.approvals = approvals
        self.changed = changed  # (kind, name) of documents the pull request changes

    # --- indexes, built on first use -------------------------------------------------------

    @cached_property
    def _by_name(self) -> dict[tuple[str, str], Document]:
        return {(d.kind, d.name): d for d in self.documents if d.name is not None}

    @cached_property
    def _released_by_service(self) -> dict[str, list[tuple[semver.Version, str]]]:
        """service -> its released versions, parsed, newest first."""
        index: dict[str, list[tuple[semver.Version, str]]] = defaultdict(list)
        for document in self.documents:
            spec = document.spec
            if document.kind != "ReleasePlan" or spec.get("status") != "released":
                continue
            try:
                version = semver.Version.parse(str(spec.get("version")))
            except ValueError:
                continue
            index[_release_service(spec)].append((version, str(spec["version"])))
        for versions in index.values():
            versions.sort(key=lambda v: v[0].sort_key, reverse=True)
        return index

    @cached_property
    def _changes_by_target(self) -> dict[tuple[str, str], Timeline]:
        """(environment, service) -> scheduled intervals of active change requests."""
        index: dict[tuple[str, str], list[Interval]] = defaultdict(list)
        for document in self.documents:
            spec = document.spec
            if document.kind != "ChangeRequest" or spec.get("status") in _INACTIVE:
                continue
            try:
                start, end = self._schedule(spec)
            except (KeyError, ValueError, TypeError):
                continue
            for service in spec.get("services", ()):
                index[(spec.get("environment", ""), service)].append(
                    Interval(start, end, document.name or "")
                )
        return {target: Timeline.of(intervals) for target, intervals in index.items()}

    @cached_property
    def calendar(self) -> Calendar:
        return Calendar.of(self.documents, self.config)

    # --- helpers -----------------------------------------------------------------------------

    def _zone_of(self, holder: dict[str, Any]) -> str:
        return str(holder.get("timezone") or self.config.timezone)

    def _schedule(self, spec: dict[str, Any]) -> tuple[datetime, datetime]:
        schedule = spec["schedule"]
        zone_name = self._zone_of(schedule)
        start = parse_datetime(schedule["start"], zone_name)
        if "end" in schedule:
            return start, parse_datetime(schedule["end"], zone_name)
        # elapsed time: added in UTC, so a clock change does not stretch it
        return start, start + _duration(schedule["duration"])

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
        return self._schedule({"schedule": schedule})[0]

    def fn_schedule_end(self, schedule: dict[str, Any]) -> datetime:
        return self._schedule({"schedule": schedule})[1]

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
        return start + _duration(review["within"])

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
        document = self._by_name.get(("ReleasePlan", name))
        if document is None:
            return ""
        spec = document.spec
        current = semver.Version.parse(str(spec["version"]))
        for version, text in self._released_by_service.get(_release_service(spec), ()):
            if version.compare(current) < 0:
                return text  # newest first: the first older one is the highest
        return ""

    def fn_release(self, name: str) -> Any:
        document = self._by_name.get(("ReleasePlan", name))
        return document.body if document else None

    def fn_change_template(self, name: str) -> Any:
        for template in self.config.spec["changeTemplates"]:
            if template["name"] == name:
                return template
        return None

    def fn_overlapping_changes(self, name: str) -> list[str]:
        document = self._by_name.get(("ChangeRequest", name))
        if document is None or document.spec.get("status") in _INACTIVE:
            return []
        spec = document.spec
        start, end = self._schedule(spec)
        me = name
        found: set[str] = set()
        for service in spec.get("services", ()):
            timeline = self._changes_by_target.get((spec.get("environment", ""), service))
            if timeline is not None:
                found.update(i.name for i in timeline.overlapping(start, end) if i.name != me)
        return sorted(found)

    def fn_freeze_conflicts(self, name: str) -> list[str]:
        """Why the change request of that name may not happen when it is scheduled."""
        document = self._by_name.get(("ChangeRequest", name))
        if document is None or document.spec.get("status") in _INACTIVE:
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
        return [c.message for c in conflicts]

    def fn_release_freeze_conflicts(self, name: str) -> list[str]:
        """Why the deployment window of the release plan of that name is frozen or closed."""
        document = self._by_name.get(("ReleasePlan", name))
        if document is None or "window" not in document.spec:
            return []
        spec = document.spec
        window = spec["window"]
        zone_name = self._zone_of(window)
        start = parse_datetime(window["start"], zone_name)
        end = parse_datetime(window["end"], zone_name)
        services = (spec["service"],) if "service" in spec else tuple(spec.get("services", ()))
        target = Target(spec.get("environment", "production"), services, None)
        conflicts = self.calendar.conflicts(start, end, target, passes=set())
        return [c.message for c in conflicts]

    def fn_active_freezes(self, environment: str, service: str, moment: datetime) -> list[str]:
        freezes, _ = self.calendar.active(moment, Target(environment, (service,), None))
        return sorted({o.window.name for o in freezes})

    def fn_change_window_open(self, environment: str, service: str, moment: datetime) -> bool:
        target = Target(environment, (service,), None)
        _, allowed = self.calendar.matching(target)
        return not allowed or bool(self.calendar.active(moment, target)[1])

    def fn_ignored_approvals(self) -> list[str]:
        return list(self.approvals.ignored)

    def fn_vetoes(self, role: str) -> list[str]:
        return self.approvals.vetoing(role)

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
        """The CEL declarations, with their documentation (shown by docs/policies.md)."""
        return [
            Function("now", (), T.TIMESTAMP, self.fn_now, "The instant being judged (--at)."),
            Function(
                "instant", (T.STRING,), T.TIMESTAMP, self.fn_instant,
                "A date or date-time string as an instant; without offset it is read in the "
                "config's time zone.",
            ),
            Function(
                "scheduleStart", (T.MAP,), T.TIMESTAMP, self.fn_schedule_start,
                "When a schedule (a change request's spec.schedule) starts, in its zone.",
            ),
            Function(
                "scheduleEnd", (T.MAP,), T.TIMESTAMP, self.fn_schedule_end,
                "When a schedule ends: its end, or its start plus the elapsed duration.",
            ),
            Function(
                "submittedAt", (T.MAP,), T.TIMESTAMP, self.fn_submitted_at,
                "When a change was submitted, given its spec.requestor: the pull request's "
                "creation, else the requestor's date, else now().",
            ),
            Function(
                "earliestStart", (T.STRING, T.TIMESTAMP), T.TIMESTAMP, self.fn_earliest_start,
                "The submission time plus the change type's lead time (business days skip "
                "weekends and the config's holidays).",
            ),
            Function(
                "requiresLeadTime", (T.STRING,), T.BOOL, self.fn_requires_lead_time,
                "Whether the change type has a lead time above zero.",
            ),
            Function(
                "addBusinessDays", (T.TIMESTAMP, T.INT), T.TIMESTAMP, self.fn_add_business_days,
                "The same local time n business days later.",
            ),
            Function(
                "businessDaysBetween", (T.TIMESTAMP, T.TIMESTAMP), T.INT,
                self.fn_business_days_between,
                "Business days from the first instant's day to the second's.",
            ),
            Function(
                "semverCompare", (T.STRING, T.STRING), T.INT, self.fn_semver_compare,
                "-1, 0 or 1 by semantic version precedence.",
            ),
            Function(
                "semverBump", (T.STRING, T.STRING), T.STRING, self.fn_semver_bump,
                "major, minor, patch, none or downgrade, from the first version to the second.",
            ),
            Function(
                "semverNext", (T.STRING, T.STRING), T.STRING, self.fn_semver_next,
                "The next version for a bump: semverNext('2.5.3', 'minor') is '2.6.0'.",
            ),
            Function(
                "previousRelease", (T.STRING,), T.STRING, self.fn_previous_release,
                "For the release plan of that name: the highest released version of its "
                "service below its version ('' if none).",
            ),
            Function(
                "release", (T.STRING,), T.DYN, self.fn_release,
                "The ReleasePlan document of that name, or null.",
            ),
            Function(
                "changeTemplate", (T.STRING,), T.DYN, self.fn_change_template,
                "The standard change template of that name from the config, or null.",
            ),
            Function(
                "overlappingChanges", (T.STRING,), T.STRING_LIST, self.fn_overlapping_changes,
                "For the change request of that name: the other active change requests on its "
                "environment and a shared service whose schedules overlap its own.",
            ),
            Function(
                "requiresPostReview", (T.STRING,), T.BOOL, self.fn_requires_post_review,
                "Whether changes of the type need a review after the fact (changeTypes.*."
                "postReview; emergency by default).",
            ),
            Function(
                "postReviewDue", (T.STRING, T.TIMESTAMP), T.TIMESTAMP, self.fn_post_review_due,
                "When the post-review of a change of the type that started at the instant is "
                "due (start plus postReview.within).",
            ),
            Function(
                "freezeConflicts", (T.STRING,), T.STRING_LIST, self.fn_freeze_conflicts,
                "For the change request of that name: why its schedule may not happen (freezes "
                "it overlaps and cannot pass, change windows it is outside of), each citing "
                "the window and when it opens.",
            ),
            Function(
                "releaseFreezeConflicts", (T.STRING,), T.STRING_LIST,
                self.fn_release_freeze_conflicts,
                "For the release plan of that name: the freezes and closed change windows its "
                "deployment window meets.",
            ),
            Function(
                "activeFreezes", (T.STRING, T.STRING, T.TIMESTAMP), T.STRING_LIST,
                self.fn_active_freezes,
                "Names of the freezes that apply to an environment and service at an instant.",
            ),
            Function(
                "changeWindowOpen", (T.STRING, T.STRING, T.TIMESTAMP), T.BOOL,
                self.fn_change_window_open,
                "Whether changes to an environment and service may happen at an instant as far "
                "as change windows go (true where no change window applies).",
            ),
            Function(
                "ignoredApprovals", (), T.STRING_LIST, self.fn_ignored_approvals,
                "Why reviews did not count as approvals, one sentence each.",
            ),
            Function(
                "vetoes", (T.STRING,), T.STRING_LIST, self.fn_vetoes,
                "The people holding the role whose latest review requests changes: they block "
                "the role's requirements until they approve or the review is dismissed.",
            ),
            Function(
                "changed", (T.STRING, T.STRING), T.BOOL, self.fn_changed,
                "Whether the pull request changes the document of that kind and name (true "
                "when unknown).",
            ),
            Function(
                "roleHolders", (T.STRING,), T.STRING, self.fn_role_holders,
                "Who holds a role, for messages: 'team acme/cab, user dana', with any team "
                "whose membership is unknown.",
            ),
            Function(
                "matchesAny", (T.STRING, T.LIST), T.BOOL, self.fn_matches_any,
                "Whether a name matches any of the glob patterns (*, ?, {a,b}).",
            ),
            Function(
                "join", (T.LIST, T.STRING), T.STRING, self.fn_join,
                "The items as text, joined by the separator.",
            ),
            Function(
                "largest", (T.LIST,), T.INT, self.fn_largest,
                "The largest integer of a list (0 if empty).",
            ),
        ]  # fmt: skip


@functools.lru_cache(maxsize=256)
def _duration(text: str) -> timedelta:
    return parse_duration(text)


@functools.lru_cache(maxsize=64)
def _lead_time(text: str) -> LeadTime:
    return parse_lead_time(text)


_INACTIVE = frozenset({"cancelled", "completed", "failed", "rolled-back"})


def _release_service(spec: dict[str, Any]) -> str:
    if "service" in spec:
        return str(spec["service"])
    return ",".join(sorted(str(s) for s in spec.get("services", ())))
