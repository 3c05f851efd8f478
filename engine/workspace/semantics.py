"""Checks JSON Schema cannot express: real calendar dates, time zones that exist, ends after
starts, and environment or service names the config knows (typos must not pass)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final

from engine.documents.config import Config
from engine.documents.model import Document, schema_rule
from engine.documents.sourcemap import FieldPath, format_field
from engine.findings import Finding, Severity
from engine.globs import match_any
from engine.paths import inner_folder
from engine.suggest import did_you_mean
from engine.time.durations import parse_duration, parse_lead_time
from engine.time.instants import parse_date, parse_datetime
from engine.time.zones import ZoneError, check_zone_name

_DATES: Final[dict[str, tuple[str, ...]]] = {
    "ReleasePlan": (
        "spec.targetDate", "spec.window.start", "spec.window.end", "spec.scopeFreeze",
        "spec.goNoGo.date", "spec.releasedAt", "spec.postRelease.retrospective",
    ),
    "ChangeRequest": (
        "spec.requestor.date", "spec.schedule.start", "spec.schedule.end",
        "spec.execution.startedAt", "spec.execution.endedAt",
    ),
    "FreezeWindow": (
        "spec.start", "spec.end", "spec.recurrence.from", "spec.recurrence.until",
        "spec.recurrence.exdates.*",
    ),
    "Incident": (
        "spec.detectedAt", "spec.resolvedAt", "spec.timeline.*.at", "spec.actionItems.*.due",
    ),
    "Waiver": ("spec.expires",),
    "Policy": ("spec.rules.*.effective.from", "spec.rules.*.effective.until"),
    "Config": ("spec.holidays.*.date",),
}  # fmt: skip
_DATES["ChangeWindow"] = _DATES["FreezeWindow"]

_ZONES: Final[dict[str, tuple[str, ...]]] = {
    "ReleasePlan": ("spec.window.timezone",),
    "ChangeRequest": ("spec.schedule.timezone",),
    "FreezeWindow": ("spec.timezone",),
    "ChangeWindow": ("spec.timezone",),
    "Config": ("spec.timezone",),
}

# (start, end) pairs that must be in order.
_ORDERED: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "ReleasePlan": (("spec.window.start", "spec.window.end"),),
    "ChangeRequest": (
        ("spec.schedule.start", "spec.schedule.end"),
        ("spec.execution.startedAt", "spec.execution.endedAt"),
    ),
    "FreezeWindow": (("spec.start", "spec.end"),),
    "ChangeWindow": (("spec.start", "spec.end"),),
    "Incident": (("spec.detectedAt", "spec.resolvedAt"),),
}

_ENVIRONMENTS: Final = {
    "ChangeRequest": ("spec.environment",),
    "ReleasePlan": ("spec.environment",),
    "Incident": ("spec.environment",),
}
_SERVICES: Final = {
    "ChangeRequest": ("spec.services.*",),
    "ReleasePlan": ("spec.service", "spec.services.*"),
    "Incident": ("spec.services.*",),
}
_SCOPES: Final = ("FreezeWindow", "ChangeWindow")
_DURATIONS: Final[dict[str, tuple[str, ...]]] = {
    "ChangeRequest": ("spec.schedule.duration",),
    "FreezeWindow": ("spec.recurrence.duration",),
    "ChangeWindow": ("spec.recurrence.duration",),
    "Config": (
        "spec.changeTypes.*.leadTime", "spec.changeTypes.*.postReview.within",
        "spec.environments.*.maxWait",
    ),
}  # fmt: skip
# GitHub fails a job that waited 30 days on its deployment protection rules.
MAX_WAIT: Final = timedelta(days=30)
_DATE_SHAPE: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T|\Z)")


@functools.lru_cache(maxsize=256)
def _parts(pattern: str) -> tuple[tuple[str, ...], bool]:
    parts = tuple(pattern.split("."))
    return parts, "*" in parts


def values_at(data: Any, pattern: str) -> list[tuple[FieldPath, Any]]:
    """Values at a dotted path where ``*`` stands for every item of a list."""
    parts, wild = _parts(pattern)
    if not wild:  # most patterns name one field: a walk down dictionaries
        value = data
        for part in parts:
            if value.__class__ is not dict or part not in value:
                return []
            value = value[part]
        return [(parts, value)]
    found: list[tuple[FieldPath, Any]] = [((), data)]
    for part in parts:
        step: list[tuple[FieldPath, Any]] = []
        for path, value in found:
            if part == "*":
                if value.__class__ is list:
                    step.extend(((*path, i), item) for i, item in enumerate(value))
                elif value.__class__ is dict:
                    step.extend(((*path, key), item) for key, item in value.items())
            elif value.__class__ is dict and part in value:
                step.append(((*path, part), value[part]))
        if not step:
            return step
        found = step
    return found


def check(document: Document, config: Config) -> list[Finding]:
    """Findings for one schema-valid document."""
    rule = schema_rule(document.kind)
    body = document.body
    findings: list[Finding] = []
    zone_name = config.timezone
    for pattern in _ZONES.get(document.kind, ()):
        for path, value in values_at(body, pattern):
            if not isinstance(value, str):
                continue
            try:
                check_zone_name(value)
            except ZoneError as error:
                findings.append(document.finding(rule, f"{_dotted(path)}: {error}", field=path))
            else:
                zone_name = value
    for pattern in _DATES.get(document.kind, ()):
        for path, value in values_at(body, pattern):
            if isinstance(value, str) and (problem := _date_problem(value)):
                findings.append(document.finding(rule, f"{_dotted(path)}: {problem}", field=path))
    if findings:
        return findings  # an order cannot be judged without real dates and a zone
    for start_pattern, end_pattern in _ORDERED.get(document.kind, ()):
        starts = dict(values_at(body, start_pattern))
        ends = dict(values_at(body, end_pattern))
        for (start_path, start), (end_path, end) in zip(starts.items(), ends.items(), strict=False):
            if _not_after(start, end, zone_name):
                findings.append(
                    document.finding(
                        rule,
                        f"{_dotted(end_path)} ({end}) must be after {_dotted(start_path)} "
                        f"({start})",
                        field=end_path,
                    )
                )
    findings.extend(_catalog(document, config))
    findings.extend(_durations(document))
    if document.kind in _SCOPES:
        findings.extend(_window(document, config))
    if document.kind == "Config":
        findings.extend(_config(document))
        findings.extend(_environments(document))
    return findings


def _durations(document: Document) -> Iterator[Finding]:
    """Durations that parse and stay within what a calendar can hold."""
    rule = schema_rule(document.kind)
    for pattern in _DURATIONS.get(document.kind, ()):
        for path, value in values_at(document.body, pattern):
            if isinstance(value, str):
                try:
                    parse_lead_time(value)
                except ValueError as error:
                    if "longer than" in str(error):  # the shape is the schema's business
                        yield document.finding(rule, f"{_dotted(path)}: {error}", field=path)


def _config(document: Document) -> Iterator[Finding]:
    """Names listed once (environments whatever their case, as GitHub compares them), and
    policy sources that are built-in packs or folders inside the repository."""
    rule = schema_rule(document.kind)
    for field, fold in (("environments", True), ("services", False)):
        seen: dict[str, str] = {}
        for path, value in values_at(document.body, f"spec.{field}.*.name"):
            if not isinstance(value, str):
                continue
            key = value.casefold() if fold else value
            if key in seen:
                yield document.finding(
                    rule,
                    f"{field[:-1]} {value!r} is listed twice (as {seen[key]!r} before): list "
                    "each once, with all its settings",
                    field=path,
                )
            seen.setdefault(key, value)
    for path, value in values_at(document.body, "spec.policies.*"):
        if isinstance(value, str) and (problem := policy_source_problem(value)):
            yield document.finding(rule, f"{_dotted(path)}: {problem}", field=path)


def policy_source_problem(origin: str) -> str | None:
    """Why a policy source is neither a built-in pack, a shared pack (``git+URL@REF#PATH``)
    nor a folder of the repository."""
    from engine.policy.packsource import SourceError, is_pack, parse, redact

    if origin.startswith("builtin:"):
        return None
    if is_pack(origin):
        try:
            parse(origin)
        except SourceError as error:
            return str(error)
        return None
    if ":" in origin.split("/", 1)[0]:
        return (
            f"{redact(origin)!r} is neither builtin:PACK, a shared pack git+URL@REF#PATH nor a "
            "folder of the repository"
        )
    if inner_folder(origin) is None:
        return (
            f"{origin!r} leaves the repository: a policy folder is a path from the "
            "repository's root, such as ./policies"
        )
    return None


def _window(document: Document, config: Config) -> Iterator[Finding]:
    """A window's recurrence must expand; one that never occurs is a warning."""
    from engine.time.recurrence import window_from
    from engine.time.windows import WindowError

    rule = schema_rule(document.kind)
    try:
        window = window_from(document, config.timezone)
    except (WindowError, ValueError) as error:
        yield document.finding(rule, f"{error}", field=("spec", "recurrence", "rrule"))
        return
    if not window.ever_occurs():
        yield document.finding(
            rule,
            f"{document.kind} {document.name} never occurs (the rule, its exdates and until "
            "leave no day): check recurrence.rrule",
            field=("spec", "recurrence"),
            severity=Severity.WARN,
        )


def _catalog(document: Document, config: Config) -> Iterator[Finding]:
    rule = schema_rule(document.kind)
    body = document.body
    for names, patterns, what in (
        (config.environment_names, _ENVIRONMENTS, "environment"),
        (config.service_names, _SERVICES, "service"),
    ):
        if not names:
            continue
        for pattern in patterns.get(document.kind, ()):
            for path, value in values_at(body, pattern):
                if isinstance(value, str) and value not in names:
                    yield document.finding(
                        rule,
                        f"unknown {what} {value!r}"
                        + (
                            did_you_mean(value, names)
                            or f": changegate.yaml lists {', '.join(names)}"
                        ),
                        field=path,
                    )
        if document.kind in _SCOPES:
            field = "environments" if what == "environment" else "services"
            for path, value in values_at(body, f"spec.scope.{field}.*"):
                fold = what == "environment"  # environment names compare as GitHub's do
                if isinstance(value, str) and not any(
                    match_any([value], n, fold=fold) for n in names
                ):
                    yield document.finding(
                        rule,
                        f"scope pattern {value!r} matches no {what} in changegate.yaml"
                        + (did_you_mean(value, names) or "")
                        + ": the window would never apply",
                        field=path,
                    )


def _environments(document: Document) -> Iterator[Finding]:
    """What the deployment protection App reads from ``environments``: the services each
    deploys must be known services, and a wait no longer than GitHub lets a job wait."""
    rule = schema_rule(document.kind)
    body = document.body
    known = [v for _, v in values_at(body, "spec.services.*.name") if isinstance(v, str)]
    if known:
        for path, value in values_at(body, "spec.environments.*.services.*"):
            if isinstance(value, str) and value not in known:
                yield document.finding(
                    rule,
                    f"{_dotted(path)}: unknown service {value!r}"
                    + (did_you_mean(value, known) or f": services lists {', '.join(known)}"),
                    field=path,
                )
    for path, value in values_at(body, "spec.environments.*.maxWait"):
        if not isinstance(value, str):
            continue
        try:
            too_long = parse_duration(value) > MAX_WAIT
        except ValueError:
            continue  # the schema's pattern reports it
        if too_long:
            yield document.finding(
                rule,
                f"{_dotted(path)}: {value} is longer than 30d, the longest GitHub lets a job "
                "wait on its protection rules: give 30d or less",
                field=path,
            )


def _date_problem(text: str) -> str | None:
    """Only the calendar: the shape of the string is the schema's business."""
    if not _DATE_SHAPE.match(text):
        return None
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return f"{text[:10]} is not a real calendar date"
    try:
        parse_date(text[:10])
    except ValueError as error:
        return str(error)
    return None


def _not_after(start: Any, end: Any, zone_name: str) -> bool:
    if not isinstance(start, str) or not isinstance(end, str):
        return False
    try:
        return parse_datetime(end, zone_name) <= parse_datetime(start, zone_name)
    except ValueError:
        return False


def _dotted(path: FieldPath) -> str:
    return format_field(path)
