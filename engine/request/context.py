"""The request context (SPEC §5): what is happening, from a file or from the GitHub Action."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from engine.documents.loader import load_file
from engine.documents.sourcemap import format_field
from engine.errors import ConfigError, UsageError
from engine.paths import display_path, normalise
from engine.time.instants import format_instant, parse_instant

EVENTS: Final = ("pull_request", "merge", "deploy", "local")


class Review(NamedTuple):
    user: str
    state: str
    commit: str | None = None
    submitted_at: str | None = None
    id: int | None = None
    user_type: str = "User"


class PullRequest(NamedTuple):
    author: str
    number: int | None = None
    title: str | None = None
    url: str | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    base_ref: str | None = None
    created_at: datetime | None = None
    changed_files: tuple[str, ...] | None = None  # None: not known
    changed_files_incomplete: bool = False
    committers: tuple[str, ...] = ()
    committers_incomplete: bool = False
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestContext:
    event: str = "local"
    actor: str | None = None
    environment: str | None = None
    service: str | None = None
    version: str | None = None
    pull_request: PullRequest | None = None
    reviews: tuple[Review, ...] = ()
    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    team_errors: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str | None] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the context file it was read from, if any

    def with_event(self, event: str | None) -> RequestContext:
        if event is None or event == self.event:
            return self
        return replace(self, event=event)

    def for_deploy(self, environment: str, service: str, version: str | None) -> RequestContext:
        """The context of a deploy of ``service`` to ``environment`` (the gate's)."""
        return replace(
            self, event="deploy", environment=environment, service=service, version=version
        )

    def request(self, now: datetime) -> dict[str, Any]:
        """The CEL variable ``request``."""
        out: dict[str, Any] = {
            "event": self.event,
            "time": format_instant(now),
            "actor": self.actor or "",
            "environment": self.environment or "",
            "service": self.service or "",
            "version": self.version or "",
        }
        pr = self.pull_request
        if pr is not None:
            out["pullRequest"] = {
                "number": pr.number or 0,
                "title": pr.title or "",
                "author": pr.author,
                "headSha": pr.head_sha or "",
                "baseSha": pr.base_sha or "",
                "createdAt": format_instant(pr.created_at) if pr.created_at else "",
                "changedFiles": list(pr.changed_files or ()),
                "committers": list(pr.committers),
                "labels": list(pr.labels),
            }
        return out


def parse_context(data: dict[str, Any]) -> RequestContext:
    """A schema-valid context mapping as a value."""
    pr_data = data.get("pullRequest")
    pull_request = None
    if isinstance(pr_data, dict):
        created = pr_data.get("createdAt")
        changed = pr_data.get("changedFiles")
        pull_request = PullRequest(
            author=pr_data["author"],
            number=pr_data.get("number"),
            title=pr_data.get("title"),
            url=pr_data.get("url"),
            head_sha=pr_data.get("headSha"),
            base_sha=pr_data.get("baseSha"),
            base_ref=pr_data.get("baseRef"),
            created_at=_instant(created, "pullRequest.createdAt") if created else None,
            changed_files=_paths(changed) if changed is not None else None,
            changed_files_incomplete=bool(pr_data.get("changedFilesIncomplete", False)),
            committers_incomplete=bool(pr_data.get("committersIncomplete", False)),
            committers=tuple(pr_data.get("committers", ())),
            labels=tuple(pr_data.get("labels", ())),
        )
    reviews = tuple(
        Review(
            user=r["user"],
            state=r["state"],
            commit=r.get("commit"),
            submitted_at=r.get("submittedAt"),
            id=r.get("id"),
            user_type=r.get("userType", "User"),
        )
        for r in data.get("reviews", ())
    )
    return RequestContext(
        event=data.get("event", "pull_request" if pull_request else "local"),
        actor=data.get("actor"),
        environment=data.get("environment"),
        service=data.get("service"),
        version=data.get("version"),
        pull_request=pull_request,
        reviews=reviews,
        teams={team: tuple(members) for team, members in data.get("teams", {}).items()},
        team_errors=dict(data.get("teamErrors", {})),
        checks=dict(data.get("checks", {})),
        raw=data,
    )


def _instant(text: str, field: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError as error:
        raise ConfigError(f"{field}: {error}") from None


def _paths(changed: list[str]) -> tuple[str, ...]:
    """The changed files in one spelling each (``changes/./x.yaml`` is ``changes/x.yaml``), so
    that no spelling slips past the governed globs; one that leaves the repository is an
    error, never ignored."""
    found = []
    for index, path in enumerate(changed):
        normal = normalise(path)
        if normal is None:
            raise ConfigError(
                f"pullRequest.changedFiles[{index}] {path!r} is not a path inside the repository: "
                "changed files are paths from the repository's root, as GitHub lists them"
            )
        found.append(normal)
    return tuple(dict.fromkeys(found))


def load_context(path: Path, validate: Any) -> RequestContext:
    """Read a context file (YAML or JSON). ``validate(data)`` returns jsonschema-style
    errors; any problem is a ConfigError naming the file, line and field."""
    if not path.is_file():
        raise UsageError(f"--context {path}: no such file")
    loaded = load_file(path)
    shown = display_path(path)
    if loaded.problems:
        problem = loaded.problems[0]
        raise ConfigError(f"{shown}:{problem.line}:{problem.column}: {problem.message}")
    if len(loaded.documents) != 1 or not isinstance(loaded.documents[0].data, dict):
        raise ConfigError(f"{shown}: a context file holds one mapping (see SPEC §5)")
    document = loaded.documents[0]
    problems = []
    for error in validate(document.data):
        where = tuple(error.absolute_path)
        line, column = document.source.locate(where)
        problems.append(
            f"  {shown}:{line}:{column}: {format_field(where) or 'context'}: {error.message}"
        )
    if problems:
        raise ConfigError("invalid context file:\n" + "\n".join(sorted(problems)))
    try:
        return replace(parse_context(document.data), source=path)
    except ConfigError as error:
        raise ConfigError(f"{shown}: {error}") from None
