"""The indexes cross-document functions read: documents by name, released versions per
service, and the schedules of active change requests per target. Built from each document's
indexed fields (:attr:`~engine.documents.model.Document.fields`), so that documents from the
cache are not decoded to answer a question about another one."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from engine.documents import semver
from engine.documents.fields import ChangeRequestFields, ReleasePlanFields
from engine.documents.model import Document
from engine.time import schedules


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


class Indexes:
    """Built on first use, each once per run."""

    def __init__(self, documents: Sequence[Document], zone_name: str) -> None:
        self.documents = documents
        self.zone_name = zone_name
        self._timelines: dict[tuple[str, str], Timeline | None] = {}

    @cached_property
    def by_name(self) -> dict[tuple[str, str], Document]:
        return {(d.kind, d.name): d for d in self.documents if d.name is not None}

    @cached_property
    def _released(self) -> dict[str, list[tuple[semver.Version, str]]]:
        index: dict[str, list[tuple[semver.Version, str]]] = defaultdict(list)
        for document in self.documents:
            if document.kind != "ReleasePlan":
                continue
            plan = ReleasePlanFields(document.fields)
            if plan.status != "released":
                continue
            try:
                version = semver.Version.parse(plan.version)
            except ValueError:
                continue
            index[plan.service_key].append((version, plan.version))
        for versions in index.values():
            versions.sort(key=lambda v: v[0].sort_key, reverse=True)
        return index

    def released(self, service_key: str) -> Sequence[tuple[semver.Version, str]]:
        """The released versions of a service (or of services released together), parsed,
        newest first."""
        return self._released.get(service_key, ())

    @cached_property
    def _active_changes(self) -> dict[tuple[str, str], list[Document]]:
        """(environment, service) -> its active change requests."""
        index: dict[tuple[str, str], list[Document]] = defaultdict(list)
        for document in self.documents:
            if document.kind != "ChangeRequest":
                continue
            change = ChangeRequestFields(document.fields)
            if not change.active:
                continue
            for service in change.services:
                index[(change.environment, service)].append(document)
        return index

    def changes_of(self, target: tuple[str, str]) -> Timeline | None:
        """The scheduled intervals of one target's active change requests, built on first
        use: only the targets a question is about are ever scheduled."""
        if target not in self._timelines:
            intervals = []
            for document in self._active_changes.get(target, ()):
                try:
                    start, end = schedules.interval(
                        ChangeRequestFields(document.fields).schedule, self.zone_name
                    )
                except (KeyError, ValueError, TypeError):
                    continue
                intervals.append(Interval(start, end, document.name or ""))
            self._timelines[target] = Timeline.of(intervals) if intervals else None
        return self._timelines[target]
