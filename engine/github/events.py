"""GitHub Actions events: the facts changegate needs from a workflow run's event payload (the
file at ``$GITHUB_EVENT_PATH``), each checked for its type, never trusted blindly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from engine.errors import ChangegateError

MERGE_QUEUE: Final = re.compile(r"(?:^|/)gh-readonly-queue/.+/pr-(\d+)-[0-9a-f]{40}$")


@dataclass(frozen=True)
class Event:
    """What the workflow run is about, read from the event payload."""

    name: str  # GITHUB_EVENT_NAME
    pull_request: int | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    base_ref: str | None = None
    environment: str | None = None  # a deployment's
    deploy_payload: dict[str, Any] = field(default_factory=dict)
    pushed_at: datetime | None = None  # a push's, by GitHub's clock (not the committer's)


class EventError(ChangegateError):
    """An event payload without what changegate needs from it."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}: is this the event the workflow is meant for?")


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _pushed_at(payload: Any) -> datetime | None:
    """repository.pushed_at of a push event: epoch seconds in push payloads (an ISO time in
    the REST API's repository objects); None when absent or unreadable."""
    value = (payload.get("repository") or {}).get("pushed_at")
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _field(payload: Any, *keys: str) -> Any:
    value = payload
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise EventError(f"the event payload has no {'.'.join(keys)}")
        value = value[key]
    return value


def _sha(payload: Any, *keys: str) -> str:
    value = _field(payload, *keys)
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise EventError(f"the event payload's {'.'.join(keys)} is not a commit SHA")
    return value


def _text(payload: Any, *keys: str) -> str:
    value = _field(payload, *keys)
    if not isinstance(value, str):
        raise EventError(f"the event payload's {'.'.join(keys)} is not text")
    return value


def read_event(name: str, payload: Any, sha: str | None) -> Event:
    """The facts changegate needs from an event payload (``sha``: GITHUB_SHA). Raises
    EventError, naming the field, when the payload lacks one."""
    if name in {"pull_request", "pull_request_review"}:
        number = _field(payload, "pull_request", "number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise EventError("the event payload's pull_request.number is not a number")
        return Event(
            name,
            pull_request=number,
            head_sha=_sha(payload, "pull_request", "head", "sha"),
            base_sha=_sha(payload, "pull_request", "base", "sha"),
            base_ref=_text(payload, "pull_request", "base", "ref"),
        )
    if name == "merge_group":
        found = MERGE_QUEUE.search(_text(payload, "merge_group", "head_ref"))
        return Event(
            name,
            pull_request=int(found.group(1)) if found else None,
            head_sha=_sha(payload, "merge_group", "head_sha"),
            base_sha=_sha(payload, "merge_group", "base_sha"),
            base_ref=_text(payload, "merge_group", "base_ref").removeprefix("refs/heads/"),
        )
    if name == "push":
        return Event(
            name,
            head_sha=_sha(payload, "after"),
            base_sha=payload.get("before"),
            pushed_at=_pushed_at(payload),
        )
    if name in {"deployment", "deployment_status"}:
        extra = _field(payload, "deployment", "payload")
        return Event(
            name,
            head_sha=_sha(payload, "deployment", "sha"),
            environment=_text(payload, "deployment", "environment"),
            deploy_payload=extra if isinstance(extra, dict) else {},
        )
    return Event(name, head_sha=sha)
