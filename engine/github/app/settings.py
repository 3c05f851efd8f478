"""The App's settings, from the environment (docs/app.md has the table). Every problem is
said at once, as a ConfigError (exit 2), before the server listens."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from engine.errors import ConfigError

DEFAULT_API: Final = "https://api.github.com"
DEFAULT_STATE: Final = "changegate-app.sqlite3"
DEFAULT_GIT_URL: Final = "https://x-access-token:{token}@github.com/{owner}/{repo}.git"
GIT_URL_FIELDS: Final = frozenset({"token", "owner", "repo"})


@dataclass(frozen=True)
class Settings:
    app_id: str
    private_key: str = field(repr=False)
    webhook_secret: bytes = field(repr=False)
    api_url: str = DEFAULT_API
    state: Path = Path(DEFAULT_STATE)
    git_url: str = DEFAULT_GIT_URL

    @property
    def mirrors(self) -> Path:
        """Where the bare mirrors of the repositories live: beside the state file."""
        return self.state.parent / "mirrors"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        problems: list[str] = []
        app_id = env.get("CHANGEGATE_APP_ID", "").strip()
        if not app_id or any(c.isspace() for c in app_id):
            problems.append(
                "CHANGEGATE_APP_ID: give the App's id (or client id) from its settings page"
            )
        key = _private_key(env, problems)
        secret = env.get("CHANGEGATE_WEBHOOK_SECRET", "")
        if not secret.strip():
            problems.append(
                "CHANGEGATE_WEBHOOK_SECRET: give the App's webhook secret; without one anybody "
                "could sign a delivery"
            )
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API
        if urlsplit(api_url).scheme not in {"http", "https"} or not urlsplit(api_url).netloc:
            problems.append(
                f"GITHUB_API_URL {api_url!r}: give the REST API's URL, e.g. {DEFAULT_API} or "
                "https://HOST/api/v3 for GitHub Enterprise Server"
            )
        git_url = env.get("CHANGEGATE_GIT_URL") or DEFAULT_GIT_URL
        problems += _template_problems(git_url)
        if problems:
            raise ConfigError("changegate serve: invalid settings:\n  " + "\n  ".join(problems))
        return cls(
            app_id=app_id,
            private_key=key,
            webhook_secret=secret.encode(),
            api_url=api_url.rstrip("/"),
            state=Path(env.get("CHANGEGATE_STATE") or DEFAULT_STATE),
            git_url=git_url,
        )


def _private_key(env: Mapping[str, str], problems: list[str]) -> str:
    text = env.get("CHANGEGATE_APP_PRIVATE_KEY", "")
    path = env.get("CHANGEGATE_APP_PRIVATE_KEY_FILE", "")
    if text and path:
        problems.append(
            "CHANGEGATE_APP_PRIVATE_KEY and CHANGEGATE_APP_PRIVATE_KEY_FILE are both set: keep one"
        )
        return ""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"CHANGEGATE_APP_PRIVATE_KEY_FILE {path}: cannot read it ({error})")
            return ""
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")  # a PEM squeezed onto one line of an env file
    if "PRIVATE KEY-----" not in text:
        problems.append(
            "CHANGEGATE_APP_PRIVATE_KEY(_FILE): give the App's private key, the PEM file GitHub "
            "generated on the App's settings page"
        )
    return text


def _template_problems(template: str) -> list[str]:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        return [f"CHANGEGATE_GIT_URL {template!r}: {error}"]
    problems = []
    unknown = fields - GIT_URL_FIELDS
    if unknown:
        problems.append(
            f"CHANGEGATE_GIT_URL: unknown placeholder(s) {', '.join(sorted(unknown))}: use "
            "{token}, {owner} and {repo}"
        )
    if not {"owner", "repo"} <= fields:
        problems.append(
            "CHANGEGATE_GIT_URL: the template needs {owner} and {repo}, e.g. " + DEFAULT_GIT_URL
        )
    return problems
