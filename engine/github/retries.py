"""What a failed GitHub API call means: how long GitHub asks to wait before trying again, and
the failure said as a sentence with a way out. Plain functions over the error's status,
headers and body, so that they need no PyGithub (``client.py`` is its one importer)."""

from __future__ import annotations

import math
from typing import Any


def wait_for(error: Any, attempt: int, now: float) -> float | None:
    """How long GitHub asks to wait before trying again, or None if retrying won't help.
    ``now`` is the wall clock as an epoch time (for ``x-ratelimit-reset``)."""
    status = error.status
    headers = {str(k).lower(): str(v) for k, v in (error.headers or {}).items()}
    if status in {403, 429}:
        if "retry-after" in headers:
            return _seconds(headers["retry-after"], now)
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            reset = _number(headers["x-ratelimit-reset"])
            return 60.0 if reset is None else max(reset - now, 0.0) + 1.0
        message = str((error.data or {}).get("message", "")).lower()
        if "rate limit" in message:  # a secondary limit without retry-after: a minute
            return 60.0
        return None
    if isinstance(status, int) and status >= 500:
        return 2.0**attempt
    return None


def describe(what: str, error: Any) -> str:
    """An API error as a sentence with a way out; GitHub's message, never its headers."""
    status = error.status
    message = ""
    if isinstance(error.data, dict):
        message = str(error.data.get("message", ""))[:300]
    hint = {
        401: "the token is missing, invalid or expired",
        403: "the token lacks a permission this needs (see the README's permissions table)",
        404: "not found, or not visible to the token (GitHub answers 404 for both)",
        422: "GitHub rejected the request",
    }.get(status, "GitHub failed; re-run the job")
    return f"{what}: GitHub answered {status}{f' ({message})' if message else ''}: {hint}"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _seconds(retry_after: str, now: float) -> float:
    """Retry-After as seconds: a number, or an HTTP date; anything else waits a minute."""
    number = _number(retry_after)
    if number is not None:
        return max(number, 0.0)
    from email.utils import parsedate_to_datetime

    try:
        return max(parsedate_to_datetime(retry_after).timestamp() - now, 0.0)
    except (TypeError, ValueError, IndexError):
        return 60.0
