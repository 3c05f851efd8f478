"""Typed views of the fields the engine itself reads from documents (policies read the rest in
CEL). Each view wraps a schema-valid ``spec``; defaults the SPEC gives live here, once.

The views read only the keys :data:`INDEXED` lists for their kind, so they answer the same
from a document's :func:`projection` (what the cache keeps at hand for cross-document
look-ups) as from its whole ``spec``; a projection refuses any other key, loudly."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

DEFAULT_ENVIRONMENT: Final = "production"
INACTIVE: Final = frozenset({"cancelled", "completed", "failed", "rolled-back"})


# kind -> the keys of spec its view reads (and the cache keeps for every document): the short
# ones every look-up across documents asks (which target, which status), decoded with the
# document's summary, and the rest, decoded for the documents a question is about
INDEXED: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "ReleasePlan": (
        frozenset({"service", "services", "environment", "version", "status"}),
        frozenset({"releasedAt", "window"}),
    ),
    "ChangeRequest": (
        frozenset({"environment", "services", "type", "status"}),
        frozenset({"schedule", "freezeException", "execution"}),
    ),
    "Incident": (
        frozenset({"services", "environment"}),
        frozenset({"detectedAt", "resolvedAt", "impact"}),
    ),
}


class Projection(Mapping[str, Any]):
    """The indexed keys of a spec: the short ones at hand, the rest decoded on first use.
    Reading a key the index does not hold is a bug in the engine (its answer would be wrong,
    not missing), so it raises instead of answering."""

    __slots__ = ("_keys", "_kind", "_rest", "_values")

    def __init__(
        self, kind: str, values: dict[str, Any], rest: Callable[[], dict[str, Any]] | None
    ) -> None:
        self._kind = kind
        self._keys = INDEXED[kind]
        self._values = values
        self._rest = rest

    def _known(self, key: object) -> None:
        short, rest = self._keys
        if key in short:
            return
        if key not in rest:
            raise LookupError(f"spec.{key} of a {self._kind} is not indexed: see fields.INDEXED")
        if self._rest is not None:
            self._values = {**self._values, **self._rest()}
            self._rest = None

    def get(self, key: str, default: Any = None) -> Any:
        self._known(key)
        return self._values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._known(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        self._known(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        for keys in INDEXED[self._kind]:
            for key in sorted(keys):
                self._known(key)
        return iter(self._values)

    def __len__(self) -> int:
        return len(list(iter(self)))


def projection(kind: str, spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The indexed keys of a document's spec, short and rest (None for kinds nothing looks
    across)."""
    keys = INDEXED.get(kind)
    if keys is None:
        return None
    short, rest = keys
    return (
        {key: spec[key] for key in short if key in spec},
        {key: spec[key] for key in rest if key in spec},
    )


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
