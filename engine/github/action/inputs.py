"""The Action's inputs (environment variables set by action.yml) and the workflow run GitHub
describes in its own ``GITHUB_*`` variables."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from engine.errors import EXIT_OK, ChangegateError
from engine.verdict import Verdict

MODES: Final = ("check", "gate", "record", "audit", "publish")
# Not pull_request_target: its checkout is the base branch, not the pull request.
CHECK_EVENTS: Final = ("pull_request", "pull_request_review", "merge_group")
_URL: Final = re.compile(r"^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?$")


class ActionError(ChangegateError):
    """The action cannot run as configured (an input, the event, the checkout)."""


@dataclass(frozen=True)
class Inputs:
    mode: str
    token: str = field(repr=False)
    environment: str | None
    service: str | None
    version: str | None
    change: str | None
    comment: bool
    status: bool
    config: Path | None
    fail_on: str
    directory: Path
    verdict: Path | None  # publish: the folder a read-only run left
    workspace: Path = Path()
    since: str | None = None  # audit
    until: str | None = None
    request_reviewers: bool = False  # check: ask the holders of missing roles to review

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Inputs:
        def text(name: str) -> str | None:
            value = env.get(f"CHANGEGATE_{name.upper().replace('-', '_')}", "").strip()
            return value or None

        def flag(name: str, default: bool) -> bool:
            value = (text(name) or str(default)).lower()
            if value not in {"true", "false"}:
                raise ActionError(f"input {name}: write true or false, not {value!r}")
            return value == "true"

        mode = text("mode") or "check"
        if mode not in MODES:
            raise ActionError(f"input mode: one of {', '.join(MODES)}, not {mode!r}")
        fail_on = text("fail-on") or "deny"
        if fail_on not in {"deny", "warn"}:
            raise ActionError(f"input fail-on: deny or warn, not {fail_on!r}")
        token = text("github-token")
        if token is None:
            raise ActionError(
                "input github-token is empty: pass ${{ github.token }} (or a token that can read "
                "team members, see the README)"
            )
        workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
        config = text("config")
        verdict = text("verdict")
        return cls(
            mode=mode,
            token=token,
            environment=text("environment"),
            service=text("service"),
            version=text("version"),
            change=text("change"),
            comment=flag("comment", True),
            status=flag("status", False),
            config=workspace / config if config else None,
            fail_on=fail_on,
            directory=workspace / (text("working-directory") or "."),
            verdict=workspace / verdict if verdict else None,
            workspace=workspace,
            since=text("since"),
            until=text("until"),
            request_reviewers=flag("request-reviewers", False),
        )


@dataclass(frozen=True)
class Run:
    """The workflow run, as GitHub describes it in the environment."""

    event_name: str
    payload: dict[str, Any]
    repository: str
    api_url: str
    run_url: str | None
    sha: str | None
    actor: str | None
    output: Path | None
    summary: Path | None
    temp: Path

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Run:
        event_path = env.get("GITHUB_EVENT_PATH")
        if not event_path:
            raise ActionError("GITHUB_EVENT_PATH is not set: this runs inside GitHub Actions")
        try:
            payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ActionError(f"cannot read the event payload {event_path}: {error}") from None
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY", "")
        run_id = env.get("GITHUB_RUN_ID", "")
        run_url = f"{server}/{repository}/actions/runs/{run_id}" if run_id else None
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            payload=payload if isinstance(payload, dict) else {},
            repository=repository,
            api_url=env.get("GITHUB_API_URL", "https://api.github.com"),
            run_url=run_url if run_url and _URL.match(run_url) else None,
            sha=env.get("GITHUB_SHA"),
            actor=env.get("GITHUB_ACTOR"),
            output=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            summary=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
            temp=Path(env.get("RUNNER_TEMP") or "."),
        )


@dataclass
class Result:
    """What a mode decided, for the outputs and the exit code."""

    verdict: Verdict | None
    comment_id: int | None = None
    code: int = EXIT_OK
    folder: Path | None = None


def run_or_none(env: Mapping[str, str]) -> Run | None:
    try:
        return Run.read(env)
    except ActionError:
        return None


def text_at(payload: Any, *keys: str) -> str | None:
    value = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None
