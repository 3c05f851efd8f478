"""``changegate freeze [list|status]``: what is frozen now, and what is coming.

``status`` answers "is anything frozen now, and what comes in the next days"; ``list`` is the
release calendar of a period: freezes and change windows, and beside them the release plans'
deployment windows and the scheduled changes, week by week (or as JSON, or as an iCalendar
file with one event per occurrence that calendar apps subscribe to).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from engine.commands.common import add_output, opened
from engine.documents.config import Config
from engine.documents.fields import ReleasePlanFields
from engine.documents.model import Document
from engine.errors import EXIT_OK, UsageError
from engine.globs import match_any
from engine.request import names
from engine.time import schedules
from engine.time.calendar import Calendar
from engine.time.instants import format_instant, parse_datetime
from engine.time.windows import Occurrence

MAX_DAYS = 3660  # ten years: enough for any plan, bounded for a weekly window

HELP = "what is frozen now, and the calendar of freezes, releases and changes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("status", "list"), default="status")
    parser.add_argument("--env", metavar="E", help="only windows and plans for this environment")
    parser.add_argument("--service", metavar="S", help="only windows and plans for this service")
    parser.add_argument("--from", dest="start", metavar="T", help="start (default: now)")
    parser.add_argument("--days", type=int, default=30, metavar="N", help="days ahead (30)")
    parser.add_argument("--at", metavar="TIME", help="what 'now' is (default: the clock)")
    add_output(parser, ("text", "json", "ics"))


@dataclass(frozen=True)
class Entry:
    """One thing on the calendar: a window occurrence, a release or a change."""

    kind: str  # freeze | change-window | release | change
    name: str
    start: datetime
    end: datetime
    zone: str
    title: str
    detail: str
    environments: tuple[str, ...] | None
    services: tuple[str, ...] | None

    def local(self, moment: datetime) -> str:
        from engine.time.zones import zone

        return moment.astimezone(zone(self.zone)).strftime("%Y-%m-%d %H:%M")

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "start": format_instant(self.start),
            "end": format_instant(self.end),
            "timezone": self.zone,
            "localStart": self.local(self.start),
            "localEnd": self.local(self.end),
            "title": self.title,
            "detail": self.detail,
            "environments": list(self.environments) if self.environments is not None else None,
            "services": list(self.services) if self.services is not None else None,
        }


def _window_entry(occurrence: Occurrence) -> Entry:
    window = occurrence.window
    kind = "freeze" if window.is_freeze else "change-window"
    level = f"{window.level} freeze" if window.is_freeze else "change window"
    return Entry(
        kind=kind,
        name=window.name,
        start=occurrence.start,
        end=occurrence.end,
        zone=window.zone_name,
        title=f"{window.name} ({level})",
        detail=window.reason,
        environments=window.environments,
        services=window.services,
    )


def _release_entry(name: str, spec: dict[str, Any], default_zone: str) -> Entry:
    """A plan's deployment window, or (without one) the whole of its target date."""
    window = spec.get("window")
    zone_name = (window or {}).get("timezone") or default_zone
    if window:
        start = parse_datetime(window["start"], zone_name)
        end = parse_datetime(window["end"], zone_name)
    else:
        start = parse_datetime(spec["targetDate"], zone_name)
        end = parse_datetime(
            (date.fromisoformat(spec["targetDate"]) + timedelta(days=1)).isoformat(), zone_name
        )
    plan = ReleasePlanFields(spec)
    services = plan.services
    return Entry(
        kind="release",
        name=name,
        start=start,
        end=end,
        zone=zone_name,
        title=f"release {', '.join(services)} {spec['version']} ({spec['type']})",
        detail=f"{spec.get('status', 'planned')}, release manager {spec['releaseManager']}",
        environments=(plan.environment,),
        services=services,
    )


def _entries(
    documents: Sequence[Document],
    config: Config,
    period: tuple[datetime, datetime],
    environment: str | None,
    service: str | None,
) -> list[Entry]:
    start, end = period
    entries = [_window_entry(o) for o in Calendar.of(documents, config).upcoming(start, end)]
    for document in documents:
        spec = document.spec
        if document.kind == "ReleasePlan" and spec.get("status") != "cancelled":
            entries.append(_release_entry(document.name or "", spec, config.timezone))
        elif document.kind == "ChangeRequest" and spec.get("status") != "cancelled":
            schedule = spec["schedule"]
            scheduled = schedules.interval(schedule, config.timezone)
            entries.append(
                Entry(
                    kind="change",
                    name=document.name or "",
                    start=scheduled[0],
                    end=scheduled[1],
                    zone=schedule.get("timezone") or config.timezone,
                    title=f"{document.name} ({spec['type']}, {spec['risk']} risk)",
                    detail=spec["title"],
                    environments=(spec["environment"],),
                    services=tuple(spec["services"]),
                )
            )
    chosen = [
        e
        for e in entries
        if e.start < end
        and start < e.end
        and (environment is None or match_any(e.environments, environment, fold=True))
        and (service is None or e.services is None or any(
            match_any([pattern], service) for pattern in e.services
        ))
    ]  # fmt: skip
    return sorted(chosen, key=lambda e: (e.start, e.kind, e.name))


def _start(text: str, zone_name: str) -> datetime:
    """``--from``: a date is midnight and a time without offset is wall-clock time, both in
    the config's zone (the days a team plans by); an offset is exact."""
    try:
        return parse_datetime(text, zone_name)
    except ValueError as error:
        reason = str(error) if "outside the years" in str(error) else ""
        raise UsageError(
            f"--from {text!r}: "
            + (
                reason
                or f"give a date (2024-12-20, midnight in the config's time zone {zone_name}) "
                "or an RFC 3339 time (2024-12-20T09:00:00+01:00)"
            )
        ) from None


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.workspace.inventory import Workspace

    if not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days {args.days}: give a number of days from 1 to {MAX_DAYS}")
    workspace = Workspace.open(repo=args.repo, config_file=args.config)
    config = workspace.config
    start = _start(args.start, config.timezone) if args.start else now
    end = _days_later(start, args.days, config.timezone)
    environment = (
        names.environment(args.env, config.environment_names) if args.env is not None else None
    )
    service = (
        names.service(args.service, config.service_names) if args.service is not None else None
    )
    notes = [n.unverified for n in (environment, service) if n and n.unverified]
    inventory = workspace.load(repository=True)
    notes += [
        f"{why}: a freeze or change window it holds is not shown (and the gate stays closed "
        "until it is fixed)"
        for _, why in inventory.unreadable_windows()
    ]
    entries = _entries(
        inventory.valid,
        config,
        (min(start, now), end),
        environment.value if environment else None,
        service.value if service else None,
    )
    with opened(args) as out:
        if args.format == "ics":
            _ics(entries, out, now, _calendar_key(workspace.root))
        elif args.format == "json":
            data = {
                "apiVersion": "changegate/v1",
                "kind": "Calendar",
                "at": format_instant(now),
                "from": format_instant(start),
                "to": format_instant(end),
                "notes": notes,
                "frozenNow": [
                    e.as_json() for e in entries if e.kind == "freeze" and e.start <= now < e.end
                ],
                "entries": [e.as_json() for e in entries if e.end > start],
            }
            json.dump(data, out, indent=2)
            out.write("\n")
        elif args.action == "status":
            _status(entries, out, now, end, args.days)
        else:
            _calendar(entries, out, start, end, config.timezone)
        if args.format == "text":
            out.writelines(f"note: {note}\n" for note in notes)
    return EXIT_OK


def _scope(entry: Entry) -> str:
    environments = ", ".join(entry.environments) if entry.environments else "every environment"
    services = ", ".join(entry.services) if entry.services else "every service"
    return f"{environments} / {services}"


def _status(entries: list[Entry], out: TextIO, now: datetime, end: datetime, days: int) -> None:
    frozen = [e for e in entries if e.kind == "freeze" and e.start <= now < e.end]
    out.write(f"now ({format_instant(now)}):\n")
    if not frozen:
        out.write("  nothing is frozen\n")
    for entry in frozen:
        out.write(
            f"  frozen: {entry.title} for {_scope(entry)} until {entry.local(entry.end)} "
            f"{entry.zone} ({format_instant(entry.end)})"
            + (f": {entry.detail}" if entry.detail else "")
            + "\n"
        )
    coming = [e for e in entries if e.kind == "freeze" and now < e.start < end]
    out.write(f"freezes in the next {days} days:\n")
    if not coming:
        out.write("  none\n")
    for entry in coming:
        out.write(
            f"  {entry.local(entry.start)} to {entry.local(entry.end)} {entry.zone}  "
            f"{entry.title} for {_scope(entry)}\n"
        )


def _days_later(start: datetime, days: int, zone_name: str) -> datetime:
    """The same wall-clock time ``days`` calendar days later in the zone (a day over a DST
    change has 23 or 25 hours)."""
    from engine.time.zones import zone

    local = start.astimezone(zone(zone_name))
    later = datetime.combine(local.date() + timedelta(days=days), local.timetz().replace(fold=0))
    return later.astimezone(UTC)


def _calendar(
    entries: list[Entry], out: TextIO, start: datetime, end: datetime, zone_name: str
) -> None:
    """Week by week in the config's zone, like a release calendar: freezes beside releases
    and changes."""
    from engine.time.zones import zone

    tz = zone(zone_name)
    first, last = start.astimezone(tz), end.astimezone(tz)
    out.write(f"calendar {first:%Y-%m-%d} to {last:%Y-%m-%d} ({zone_name} days)\n")
    week = None
    for entry in entries:
        if entry.end <= start:
            continue
        year, number, _ = max(entry.start, start).astimezone(tz).isocalendar()
        if (year, number) != week:
            week = (year, number)
            monday = datetime.fromisocalendar(year, number, 1)
            out.write(f"\nweek {number} of {year} (from {monday:%a %Y-%m-%d})\n")
        mark = {"freeze": "■", "change-window": "□", "release": "◆", "change": "•"}[entry.kind]
        out.write(
            f"  {mark} {entry.local(entry.start)} to {entry.local(entry.end)} {entry.zone}  "
            f"{entry.title}  [{_scope(entry)}]\n"
        )
    if not entries:
        out.write("  nothing scheduled\n")
    out.write("\n■ freeze  □ change window  ◆ release  • change\n")


# What RFC 5545 (3.6.5) allows directly inside VTIMEZONE; icalendar adds a COMMENT there,
# which libical reports as an error.
_VTIMEZONE_PROPERTIES: Final = frozenset({"TZID", "LAST-MODIFIED", "TZURL"})


def _calendar_key(root: Path) -> str:
    """A short stable key of the repository for event UIDs, so that the calendars of two
    repositories never clash in a subscriber's app: the origin remote's URL (without any
    credentials) and changegate's folder in it; outside git, the folder's absolute path."""
    import hashlib

    from engine.gitrepo import GitRepo

    identity = str(root.resolve())
    repo = GitRepo.find(root)
    if repo is not None:
        url = repo.remote_url("origin")
        if url:
            identity = f"{url}#{repo.relative(root) or '.'}"
        repo.close()
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _ics(entries: list[Entry], out: TextIO, now: datetime, key: str) -> None:
    """One VEVENT per occurrence, in the window's own zone (with its VTIMEZONE)."""
    import icalendar

    from engine.time.zones import zone

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//changegate//release calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "changegate: freezes, change windows, releases, changes")
    for entry in entries:
        event = icalendar.Event()
        start = entry.start.astimezone(UTC)
        event.add("uid", f"{entry.kind}-{entry.name}-{start:%Y%m%dT%H%M%SZ}-{key}@changegate")
        event.add("dtstamp", now.astimezone(UTC))  # --at: the same inputs, the same file
        tz = zone(entry.zone)
        event.add("dtstart", entry.start.astimezone(tz))
        event.add("dtend", entry.end.astimezone(tz))
        event.add("summary", entry.title)
        if entry.detail:
            event.add("description", entry.detail)
        event.add("categories", [entry.kind.upper()])
        event.add("x-changegate-scope", _scope(entry))
        event.add("transp", "OPAQUE" if entry.kind == "freeze" else "TRANSPARENT")
        calendar.add_component(event)
    if entries:
        # Only the transitions the events need, not 1970 to 2038 (nor stopping at 2038).
        first = min(e.start for e in entries).date() - timedelta(days=1)
        last = max(e.end for e in entries).date() + timedelta(days=1)
        calendar.add_missing_timezones(first_date=first, last_date=last)
        for timezone in calendar.walk("VTIMEZONE"):
            for name in list(timezone):
                if name not in _VTIMEZONE_PROPERTIES and not name.startswith("X-"):
                    del timezone[name]
    out.write(calendar.to_ical().decode())
