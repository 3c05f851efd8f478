"""Freeze and change windows: their occurrences as half-open UTC intervals (SPEC §7).

Occurrences are expanded in the window's local wall time (python-dateutil's rrule on naive
local datetimes, as its authors advise), then each local time becomes an instant:
- in a gap (clocks jump forward) with the offset before the gap, as RFC 5545 says: 02:30 on
  spring-forward day in New York is 03:30 EDT;
- in an ambiguous hour (clocks fall back) a freeze takes the widest reading (start at the
  earlier instant, end at the later) and a change window the narrowest;
- a ``duration`` is elapsed time, added to the start instant: a 64h freeze starting Friday
  16:00 in Berlin on the weekend the clocks go forward ends Monday 09:00 local.

Expansion is lazy and bounded: a window's occurrences are generated once, in order, only as
far as a question needs, and never past a fixed number.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from engine.documents.model import Document
from engine.errors import ChangegateError
from engine.globs import match_any
from engine.time.instants import format_instant

MAX_OCCURRENCES: Final = 200_000  # far beyond a daily rule for 500 years
SPAN_YEARS: Final = 200  # a rule is expanded this far from recurrence.from, and no further
_MARGIN: Final = timedelta(days=2)  # local and UTC times differ by at most ~26 hours


class WindowError(ChangegateError, ValueError):
    """A window that cannot be expanded; the message says why and what to write."""


class Target(NamedTuple):
    """What a change or deploy touches. An unknown change type matches every changeTypes
    scope (fail closed)."""

    environment: str
    services: tuple[str, ...]
    change_type: str | None = None


class Occurrence(NamedTuple):
    window: Window
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    def covers(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    def local(self, instant: datetime) -> str:
        """An instant as wall-clock time in the window's zone, e.g. 2025-01-02 00:00."""
        return instant.astimezone(self.window.zone).strftime("%Y-%m-%d %H:%M")

    def describe(self) -> str:
        window = self.window
        return (
            f"{self.local(self.start)} to {self.local(self.end)} {window.zone_name} "
            f"({_utc(self.start)} to {_utc(self.end)})"
        )

    def until(self, reopens: datetime | None) -> str:
        """When the occurrence ends, locally and in UTC, and whether others follow without a
        break until ``reopens`` (None: for over a year)."""
        zone_name = self.window.zone_name
        until = f"{self.local(self.end)} {zone_name} ({format_instant(self.end)})"
        if reopens is None:
            return until + "; more freezes follow for over a year"
        if reopens > self.end:
            until += (
                f"; other freezes follow without a break until {self.local(reopens)} "
                f"{zone_name} ({format_instant(reopens)})"
            )
        return until


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _exists(local: datetime, tz: ZoneInfo, fold: int) -> bool:
    aware = local.replace(tzinfo=tz, fold=fold)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


def instant(local: datetime, tz: ZoneInfo, *, earliest: bool) -> datetime:
    """A wall-clock time as an instant (UTC). In a gap: the offset before the gap. In an
    ambiguous hour: the earlier reading if ``earliest``, else the later one."""
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    if not _exists(local, tz, 0):  # a gap: fold 0 reads the offset before it
        return first.astimezone(UTC)
    readings = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    return readings[0] if earliest else readings[1]


@dataclass
class Window:
    """A FreezeWindow (deny) or a ChangeWindow (allow-only), ready to expand."""

    document: Document
    kind: str
    name: str
    zone_name: str
    zone: ZoneInfo
    level: str | None  # hard | soft for freezes
    reason: str
    environments: tuple[str, ...] | None
    services: tuple[str, ...] | None
    change_types: tuple[str, ...] | None
    exceptions: tuple[dict[str, Any], ...]
    # one-off
    start_local: datetime | None = None
    end_local: datetime | None = None
    # recurring: the rule without COUNT and UNTIL, which are applied here, and bounded
    rule: Any = None  # dateutil rrule over naive local datetimes, ending at ``horizon``
    first: datetime | None = None  # the rule's DTSTART: recurrence.from at recurrence.start
    # The same rule from a later local time (None where COUNT or INTERVAL make it depend on
    # its first day), so that a question about 2025 does not expand every week since 2000.
    resume: Callable[[datetime], Any] | None = None
    horizon: datetime | None = None
    barren: bool = False  # the rule matches no day at all
    count: int | None = None
    until: datetime | None = None  # the last local start allowed (UNTIL or recurrence.until)
    duration: timedelta | None = None
    end_time: time | None = None
    end_days: int = 0
    exdates: frozenset[date] = frozenset()
    _starts: list[datetime] = field(default_factory=list, repr=False)
    _source: Iterator[datetime] | None = field(default=None, repr=False)
    _floor: datetime | None = field(default=None, repr=False)  # _starts are those from here
    _done: bool = field(default=False, repr=False)  # every start is in _starts
    _ended: bool = field(default=False, repr=False)  # by COUNT or UNTIL, not the horizon

    @property
    def is_freeze(self) -> bool:
        return self.kind == "FreezeWindow"

    @property
    def single(self) -> bool:
        """A one-off window: one occurrence, from ``start`` to ``end``."""
        return self.rule is None

    def occurrences_all(self) -> list[Occurrence]:
        """Every occurrence of a one-off window (it has one)."""
        if self.rule is not None or self.start_local is None:
            raise ValueError(f"{self.kind} {self.name} recurs: ask for a span of time")
        return [self._occurrence(self.start_local)]

    @property
    def longest(self) -> timedelta:
        """An upper bound of one occurrence's length, for searching."""
        if self.duration is not None:
            return self.duration
        if self.start_local is not None and self.end_local is not None:
            return self.end_local - self.start_local + _MARGIN
        return timedelta(days=self.end_days + 1) + _MARGIN

    def applies_to(self, target: Target) -> bool:
        """AND across fields, OR within a list; an omitted field matches everything."""
        if not match_any(self.environments, target.environment, fold=True):
            return False
        if self.services is not None and not any(
            match_any(self.services, s) for s in target.services
        ):
            return False
        return (
            self.change_types is None
            or target.change_type is None
            or target.change_type in self.change_types
        )

    # --- occurrences ------------------------------------------------------------------------

    def _occurrence(self, local_start: datetime) -> Occurrence:
        widest = self.is_freeze  # freezes take the widest reading, change windows the narrowest
        start = instant(local_start, self.zone, earliest=widest)
        if self.duration is not None:
            end = start + self.duration
        else:
            if self.end_local is not None:
                local_end = self.end_local
            else:
                assert self.end_time is not None  # noqa: S101 - set together with rule
                local_end = datetime.combine(
                    local_start.date() + timedelta(days=self.end_days), self.end_time
                )
            end = instant(local_end, self.zone, earliest=not widest)
        return Occurrence(self, start, end)

    def _generate(self, rule: Any) -> Iterator[datetime]:
        """The local starts in order: the rule's first COUNT, up to UNTIL, without exdates."""
        if self.barren or self.count == 0:  # COUNT=0: no occurrence at all, never forever
            return
        for number, local_start in enumerate(rule, start=1):
            if self.until is not None and local_start > self.until:
                self._ended = True
                return
            if local_start.date() not in self.exdates:
                yield local_start
            if number == self.count:
                self._ended = True
                return

    def _extend(self, local_limit: datetime) -> None:
        """Generate local starts until one passes ``local_limit`` (or the rule ends)."""
        if self._done or (self._starts and self._starts[-1] > local_limit):
            return
        if self.rule is None:
            assert self.start_local is not None  # noqa: S101 - a one-off window
            self._starts = [self.start_local]
            self._done = self._ended = True
            return
        if self._source is None:
            later = self.resume is not None and self._floor not in (None, self.first)
            rule = self.resume(self._floor) if later else self.rule  # type: ignore[misc,arg-type]
            self._source = self._generate(rule)
        for local_start in self._source:
            self._starts.append(local_start)
            if len(self._starts) > MAX_OCCURRENCES:
                raise WindowError(
                    f"{self.kind} {self.name} has more than {MAX_OCCURRENCES:,} occurrences "
                    "before the time asked about: set recurrence.from closer to it"
                )
            if local_start > local_limit:
                return
        self._done = True

    def _beyond(self, local_limit: datetime) -> None:
        """Fail rather than answer "no occurrence" past the horizon of an unending rule."""
        if self._done and not self._ended and self.horizon and local_limit > self.horizon:
            raise WindowError(
                f"{self.kind} {self.name} is expanded for {SPAN_YEARS} years from "
                f"recurrence.from (to {self.horizon:%Y-%m-%d}) and the time asked about is "
                "later: set recurrence.from closer to it"
            )

    def _anchor(self, low: datetime) -> None:
        """Expand from the day of the first question rather than from the rule's first day;
        a question before that starts over from the first day (questions mostly move on)."""
        if self.resume is None or self.first is None:
            return
        if self._floor is None:
            self._floor = max(self.first, datetime.combine(low.date(), time.min))
        elif low < self._floor:
            self._floor = self.first
            self._starts, self._source, self._done, self._ended = [], None, False, False

    def occurrences(self, start: datetime, end: datetime) -> list[Occurrence]:
        """The occurrences overlapping [start, end) (UTC), in order."""
        low = start.astimezone(self.zone).replace(tzinfo=None) - self.longest - _MARGIN
        local_end = end.astimezone(self.zone).replace(tzinfo=None)
        high = local_end + _MARGIN
        self._anchor(low)
        self._extend(high)
        self._beyond(local_end)
        first = bisect.bisect_left(self._starts, low)
        last = bisect.bisect_right(self._starts, high)
        found = (self._occurrence(s) for s in self._starts[first:last])
        return [o for o in found if o.overlaps(start, end)]

    def at(self, moment: datetime) -> list[Occurrence]:
        return self.occurrences(moment, moment + timedelta(microseconds=1))

    def next_after(self, moment: datetime, horizon: timedelta) -> Occurrence | None:
        """The first occurrence starting at or after ``moment``, within ``horizon``."""
        for occurrence in self.occurrences(moment, moment + horizon):
            if occurrence.start >= moment:
                return occurrence
        return None

    def ever_occurs(self) -> bool:
        """Whether any occurrence exists within the horizon."""
        return self.rule is None or next(self._generate(self.rule), None) is not None
