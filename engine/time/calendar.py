"""Decisions over freeze and change windows (SPEC §7): what applies to a target at an instant,
what an interval conflicts with, and when a frozen target opens again.

Deny beats allow. A hard freeze yields only to an emergency change; a soft freeze yields to a
change that asks to pass it (``spec.freezeException``) and has the freeze's extra approvals.
Where any change window matches a target, a change must fall inside one occurrence; emergency
changes are exempt from change windows. Every message cites the windows involved.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, NamedTuple

from engine.documents.config import Config
from engine.documents.model import Document
from engine.request.approvals import ApprovalSet
from engine.time.recurrence import window_from
from engine.time.windows import Occurrence, Target, Window, WindowError

HORIZON: Final = timedelta(days=400)  # how far ahead "next opening" looks
NO_APPROVALS: Final = ApprovalSet((), (), {})


class Conflict(NamedTuple):
    """Why an interval may not happen, and which window says so."""

    window: Window
    occurrence: Occurrence | None
    message: str


def missing_approvals(
    requirements: Iterable[dict[str, object]], approvals: ApprovalSet
) -> list[str]:
    """The requirements (role, count) the approvals do not meet, as "role x (n of m)", or
    vetoed by someone holding the role who requested changes."""
    missing = []
    for requirement in requirements:
        role = str(requirement["role"])
        need = int(str(requirement.get("count", 1)))
        have = sum(1 for a in approvals.approvals if role in a.roles)
        vetoing = approvals.vetoing(role)
        if vetoing:
            missing.append(
                f"role {role} ({have} of {need}; changes requested by {', '.join(vetoing)})"
            )
        elif have < need:
            missing.append(f"role {role} ({have} of {need})")
    return missing


class Freezes:
    """The freezes matching one target, ready for search: the occurrences of one-off freezes
    sorted by time (found by bisecting, so a question costs nothing for the freezes far from
    it), the recurring ones asked each time, and the openings already worked out."""

    def __init__(self, windows: Sequence[Window]) -> None:
        self._rank = {id(w): rank for rank, w in enumerate(windows)}  # the documents' order
        self.recurring = [w for w in windows if not w.single]
        once = sorted((o for w in windows if w.single for o in w.occurrences_all()), key=_start)
        self._once = once
        self._starts = [o.start for o in once]
        self._longest = max((o.end - o.start for o in once), default=timedelta(0))
        self.opens: dict[datetime, datetime | None] = {}  # moment -> when it opens

    def overlapping(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Every occurrence meeting [start, end), window by window in the documents' order,
        each window's in time order."""
        low = bisect.bisect_left(self._starts, start - self._longest)
        high = bisect.bisect_left(self._starts, end)
        found = [o for o in self._once[low:high] if o.end > start]
        for window in self.recurring:
            found += window.occurrences(start, end)
        if len(found) > 1:
            found.sort(key=lambda o: (self._rank[id(o.window)], o.start))
        return found

    def covering(self, moment: datetime) -> list[Occurrence]:
        return [o for o in self.overlapping(moment, moment + _INSTANT) if o.covers(moment)]


def _start(occurrence: Occurrence) -> datetime:
    return occurrence.start


_INSTANT: Final = timedelta(microseconds=1)


@dataclass
class Calendar:
    windows: list[Window]
    _matching: dict[Target, tuple[tuple[Window, ...], tuple[Window, ...]]] = field(
        default_factory=dict, repr=False
    )
    _freezes: dict[Target, Freezes] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, documents: Iterable[Document], config: Config) -> Calendar:
        """The windows among ``documents``. Ones that cannot be expanded are left out here:
        validation reports them (and denies) already."""
        windows = []
        for document in documents:
            if document.kind in {"FreezeWindow", "ChangeWindow"}:
                try:
                    windows.append(window_from(document, config.timezone))
                except (WindowError, ValueError):
                    continue
        return cls(windows)

    def matching(self, target: Target) -> tuple[tuple[Window, ...], tuple[Window, ...]]:
        """The freezes and the change windows that apply to the target (remembered: a
        repository's changes share few targets)."""
        found = self._matching.get(target)
        if found is None:
            applying = [w for w in self.windows if w.applies_to(target)]
            found = (
                tuple(w for w in applying if w.is_freeze),
                tuple(w for w in applying if not w.is_freeze),
            )
            self._matching[target] = found
        return found

    def freezes(self, target: Target) -> Freezes:
        """The matching freezes of a target, indexed by time (built once per target)."""
        found = self._freezes.get(target)
        if found is None:
            found = self._freezes[target] = Freezes(self.matching(target)[0])
        return found

    def active(self, moment: datetime, target: Target) -> tuple[list[Occurrence], list[Occurrence]]:
        """The freeze and change-window occurrences covering ``moment`` for the target."""
        _, allowed = self.matching(target)
        return (
            self.freezes(target).covering(moment),
            [o for w in allowed for o in w.at(moment)],
        )

    def opens(self, moment: datetime, target: Target) -> datetime | None:
        """When the target is next free of every matching freeze (a chain of overlapping
        occurrences counts as one); None if not within the horizon. Remembered per moment:
        the changes that meet one freeze all ask when it opens."""
        freezes = self.freezes(target)
        if moment not in freezes.opens:
            freezes.opens[moment] = self._opens(moment, freezes)
        return freezes.opens[moment]

    @staticmethod
    def _opens(moment: datetime, freezes: Freezes) -> datetime | None:
        current = moment
        for _ in range(10_000):
            covering = freezes.covering(current)
            if not covering:
                return current
            current = max(o.end for o in covering)
            if current - moment > HORIZON:
                return None
        return None  # pragma: no cover - 10,000 back-to-back occurrences

    def next_window(self, moment: datetime, target: Target) -> Occurrence | None:
        """The next occurrence of a matching change window starting at or after ``moment``."""
        _, allowed = self.matching(target)
        upcoming = [o for w in allowed if (o := w.next_after(moment, HORIZON)) is not None]
        return min(upcoming, key=lambda o: o.start, default=None)

    def conflicts(
        self,
        start: datetime,
        end: datetime,
        target: Target,
        *,
        passes: set[str],
        approvals: ApprovalSet | None = NO_APPROVALS,
    ) -> list[Conflict]:
        """Why [start, end) may not happen for the target. ``passes`` names the soft freezes
        the change asks to pass (``spec.freezeException.window``); ``approvals`` None means
        they are not known here (outside a pull request), so only the asking is judged."""
        emergency = target.change_type == "emergency"
        _, allowed = self.matching(target)
        conflicts = []
        for occurrence in self.freezes(target).overlapping(start, end):
            message = self._freeze(occurrence, target, emergency, passes, approvals)
            if message:
                conflicts.append(Conflict(occurrence.window, occurrence, message))
        if allowed and not emergency:
            inside = [
                o
                for w in allowed
                for o in w.occurrences(start, end)
                if o.start <= start and end <= o.end
            ]
            if not inside:
                conflicts.append(self._outside(start, end, target, allowed))
        return conflicts

    def _freeze(
        self,
        occurrence: Occurrence,
        target: Target,
        emergency: bool,
        passes: set[str],
        approvals: ApprovalSet | None,
    ) -> str | None:
        window = occurrence.window
        head = (
            f"overlaps {window.level} freeze {window.name}"
            + (f" ({window.reason})" if window.reason else "")
            + f", {occurrence.describe()}"
        )
        opens = self.opens(occurrence.start, target)
        when = (
            f"reschedule it after {occurrence.local(opens)} {window.zone_name}"
            if opens
            else "reschedule it"
        )
        if window.level == "hard":
            if emergency:
                return None
            return f"{head}: only an emergency change may pass a hard freeze; {when}"
        missing = [] if approvals is None else missing_approvals(window.exceptions, approvals)
        if window.name in passes and not missing:
            return None
        needs = []
        if window.name not in passes:
            needs.append(f"spec.freezeException with window: {window.name} and a justification")
        if missing:
            needs.append("approval from " + ", ".join(missing))
        return (
            f"{head}: to pass this soft freeze the change needs "
            + " and ".join(needs)
            + (f", or {when}")
        )

    def _outside(
        self, start: datetime, end: datetime, target: Target, allowed: Sequence[Window]
    ) -> Conflict:
        names = ", ".join(sorted(w.name for w in allowed))
        following = self.next_window(start, target)
        tail = (
            f"; the next one is {following.window.name}, {following.describe()}"
            if following
            else "; none occurs in the next 400 days"
        )
        return Conflict(
            allowed[0],
            None,
            f"is not inside a change window for {target.environment} (changes there must "
            f"fall inside one of: {names}){tail}",
        )

    def upcoming(
        self, start: datetime, end: datetime, target: Target | None = None
    ) -> list[Occurrence]:
        """Every occurrence overlapping [start, end) (of windows matching ``target``)."""
        windows = (
            self.windows if target is None else [w for w in self.windows if w.applies_to(target)]
        )
        found = [o for w in windows for o in w.occurrences(start, end)]
        return sorted(found, key=lambda o: (o.start, o.window.name))
