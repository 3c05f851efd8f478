"""Error budgets (SPEC §10, the domain notes' SLA dashboard): per service with an SLO, the
downtime its production incidents used against what its availability target allows."""

from __future__ import annotations

import calendar as calendar_module
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.documents.fields import DEFAULT_ENVIRONMENT, IncidentFields
from engine.documents.model import Document
from engine.time.durations import parse_duration
from engine.time.instants import parse_instant
from engine.time.zones import zone as zone_of

if TYPE_CHECKING:
    from engine.judging.judge import Judge


def monthly_budgets(
    judge: Judge, incidents: list[Document], month: Callable[[datetime], str | None]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per service with an SLO and per month with an incident: the error budget."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    zone = zone_of(judge.config.timezone)
    for service in judge.config.spec.get("services", ()):
        target = (service.get("slo") or {}).get("availability")
        if target is None:
            continue
        used: dict[str, float] = defaultdict(float)
        for incident in incidents:
            happened = IncidentFields(incident.spec)
            if (
                service["name"] not in happened.services
                or happened.environment != DEFAULT_ENVIRONMENT
            ):
                continue
            detected = parse_instant(happened.detected_at)
            key = month(detected)
            if key is None:
                continue
            if happened.downtime:
                minutes = parse_duration(happened.downtime).total_seconds() / 60
            else:  # its duration; still open: until now (an open incident uses budget too)
                resolved = happened.resolved_at
                end = parse_instant(resolved) if resolved else max(judge.now, detected)
                minutes = (end - detected).total_seconds() / 60
            used[key] += minutes
        months: dict[str, dict[str, float]] = {}
        for key, minutes in sorted(used.items()):
            year, number = map(int, key.split("-"))
            days = calendar_module.monthrange(year, number)[1]
            start = datetime(year, number, 1, tzinfo=zone)
            length = timedelta(days=days)
            elapsed = min(max((judge.now - start) / length, 0.0), 1.0) or 1.0
            allowed = (100 - float(target)) / 100 * days * 24 * 60
            months[key] = {
                "target": float(target),
                "allowedMinutes": round(allowed, 1),
                "usedMinutes": round(minutes, 1),
                "remainingMinutes": round(allowed - minutes, 1),
                "burnRate": round(minutes / (allowed * elapsed), 2) if allowed else 0.0,
            }
        if months:
            out[service["name"]] = months
    return out
