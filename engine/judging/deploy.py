"""What a deploy is: a service to an environment, with the version and change request it
carries; the names it gives, checked against the config; and what an environment requires of
it (``environments[].requires``: a protected environment needs a reason to deploy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from engine.documents.config import Config
from engine.documents.fields import ChangeRequestFields
from engine.documents.model import Document
from engine.request.names import Name, same_environment
from engine.request.names import environment as environment_name
from engine.request.names import service as service_name
from engine.time import schedules

ACTIVE: Final = frozenset({"planned", "in-progress"})  # a change request found for a deploy
# a change request named for a deploy: not cancelled, failed or rolled back (one completed
# within its schedule may still carry a deploy: its record is written after the fact)
NAMED: Final = frozenset({"planned", "in-progress", "completed"})
# a release plan that may deploy: not cancelled nor rolled back (a released one may redeploy)
DEPLOYABLE: Final = frozenset({"planned", "in-progress", "released"})


class DeployTarget(NamedTuple):
    """What a deploy asks for: a service to an environment (names resolved by
    :func:`target_names`), and the version and change request it carries, if any."""

    environment: str
    service: str
    version: str | None = None
    change: str | None = None


def target_names(config: Config, environment: str, service: str) -> tuple[Name, Name]:
    """``--env`` and ``--service`` checked against the config (a UsageError if unknown)."""
    return (
        environment_name(environment, config.environment_names),
        service_name(service, config.service_names),
    )


def _entry(config: Config, environment: str) -> dict[str, Any]:
    """The config's entry of an environment (names are unique there, whatever their case)."""
    for entry in config.spec["environments"]:
        if same_environment(str(entry["name"]), environment):
            return dict(entry)
    return {}


def protected(config: Config, environment: str) -> bool:
    return bool(_entry(config, environment).get("protected"))


def requirement(config: Config, environment: str) -> str:
    """What a deploy to ``environment`` must carry: its ``requires``, else by ``protected``."""
    entry = _entry(config, environment)
    default = "change-or-release" if entry.get("protected") else "none"
    return str(entry.get("requires", default))


def targets(document: Document, environment: str, service: str) -> bool:
    """Whether the change request changes the service in the environment."""
    change = ChangeRequestFields(document.fields)
    return same_environment(change.environment, environment) and service in change.services


def scheduled_changes(
    documents: Sequence[Document], config: Config, now: datetime, deploy: DeployTarget
) -> list[Document]:
    """The planned or running change requests for the deploy's service and environment whose
    schedule covers now."""
    return [
        d
        for d in documents
        if d.kind == "ChangeRequest"
        and targets(d, deploy.environment, deploy.service)
        and ChangeRequestFields(d.fields).status in ACTIVE
        and schedules.covers(ChangeRequestFields(d.fields).schedule, config.timezone, now)
    ]


def unmet(config: Config, deploy: DeployTarget, has_change: bool, has_release: bool) -> str | None:
    """What the environment requires that the deploy lacks (None: nothing)."""
    needs = requirement(config, deploy.environment)
    met = {
        "none": True,
        "change-or-release": has_change or has_release,
        "change": has_change,
        "release": has_release,
        "change-and-release": has_change and has_release,
    }[needs]
    if met:
        return None
    change = (
        f"an approved change request scheduled now (--change, or one scheduled for "
        f"{deploy.service} in {deploy.environment})"
    )
    release = "the release plan of the version deployed (--version) passing its deploy checks"
    wanted = {
        "change-or-release": f"{change} or {release}",
        "change": change,
        "release": release,
        "change-and-release": f"{change} and {release}",
    }[needs]
    what = "is a protected environment " if protected(config, deploy.environment) else ""
    return f"{deploy.environment} {what}(requires: {needs}): a deploy needs {wanted}"
