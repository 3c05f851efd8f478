"""Typed views of the fields the engine itself reads from documents (policies read the rest in
CEL). Each view wraps a schema-valid ``spec``; defaults the SPEC gives live here, once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

DEFAULT_ENVIRONMENT: Final = "production"
INACTIVE: Final = frozenset({"cancelled", "completed", "failed", "rolled-back"})


class _View:
    __slots__ = ("spec",)

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec

    def _text(self, key: str) -> str | None:
        value = self.spec.get(key)
        return str(value) if value is not None else None


class ReleasePlanFields(_View):
    """A ReleasePlan's ``spec``."""

    @property
    def services(self) -> tuple[str, ...]:
        if "service" in self.spec:
            return (str(self.spec["service"]),)
        return tuple(str(s) for s in self.spec.get("services", ()))

    @property
    def service_key(self) -> str:
        """One key for the services a plan releases together (release history is per key)."""
        return self.services[0] if "service" in self.spec else ",".join(sorted(self.services))

    @property
    def environment(self) -> str:
        return str(self.spec.get("environment", DEFAULT_ENVIRONMENT))

    @property
    def version(self) -> str:
        return str(self.spec.get("version"))

    @property
    def status(self) -> str:
        return str(self.spec.get("status", "planned"))

    @property
    def released_at(self) -> str | None:
        return self._text("releasedAt")

    @property
    def window(self) -> Mapping[str, Any] | None:
        window = self.spec.get("window")
        return window if isinstance(window, Mapping) else None


class ChangeRequestFields(_View):
    """A ChangeRequest's ``spec``."""

    @property
    def environment(self) -> str:
        return str(self.spec.get("environment", ""))

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.spec.get("services", ()))

    @property
    def type(self) -> str | None:
        return self._text("type")

    @property
    def status(self) -> str:
        return str(self.spec.get("status", "planned"))

    @property
    def active(self) -> bool:
        """Planned or in progress: not cancelled, completed, failed or rolled back."""
        return self.status not in INACTIVE

    @property
    def schedule(self) -> Mapping[str, Any]:
        schedule = self.spec.get("schedule")
        return schedule if isinstance(schedule, Mapping) else {}

    @property
    def freeze_exception(self) -> str | None:
        """The soft freeze the change asks to pass (``freezeException.window``)."""
        exception = self.spec.get("freezeException")
        return str(exception["window"]) if isinstance(exception, Mapping) else None

    @property
    def started_at(self) -> str | None:
        execution = self.spec.get("execution") or {}
        value = execution.get("startedAt")
        return str(value) if value else None

    @property
    def ended_at(self) -> str | None:
        execution = self.spec.get("execution") or {}
        value = execution.get("endedAt")
        return str(value) if value else None


class IncidentFields(_View):
    """An Incident's ``spec``."""

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.spec.get("services", ()))

    @property
    def environment(self) -> str:
        return str(self.spec.get("environment", DEFAULT_ENVIRONMENT))

    @property
    def detected_at(self) -> str:
        return str(self.spec["detectedAt"])

    @property
    def resolved_at(self) -> str | None:
        return self._text("resolvedAt")

    @property
    def downtime(self) -> str | None:
        impact = self.spec.get("impact") or {}
        value = impact.get("downtime")
        return str(value) if value else None

    @property
    def sla_impact(self) -> bool:
        """Whether it counts against the services' error budgets (``impact.slaImpact``,
        default true)."""
        impact = self.spec.get("impact") or {}
        return impact.get("slaImpact", True) is not False
