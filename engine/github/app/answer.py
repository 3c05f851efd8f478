"""The comment GitHub shows beside the App's answer: what was decided, for what, at which
instant and commit, and the gate's reasons. Every reason is escaped (documents are written
by pull request authors) and the whole is bounded; a token or a traceback never gets here
(``masked`` takes secrets out of any message first)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from engine.escaping import markdown, truncate
from engine.github.app.decide import WAITING, Decision
from engine.time.instants import format_instant

LIMIT: Final = 4_000  # characters of the whole comment
REASON_LIMIT: Final = 600  # characters of one reason


def masked(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def comment(
    decision: Decision,
    *,
    environment: str,
    now: datetime,
    commit: str | None,
    branch: str,
    next_check: datetime | None = None,
    deadline: datetime | None = None,
) -> str:
    where = f"{branch} at {commit[:12]}" if commit else f"{branch} (not read)"
    services = ", ".join(decision.services)
    head = {
        "approved": "changegate approves",
        "rejected": "changegate rejects",
        WAITING: "changegate holds",
    }[decision.state]
    title = (
        f"{head} the deployment to {markdown(environment)}"
        + (f" of {markdown(services)}" if services else "")
        + f" (judged at {format_instant(now)} against {markdown(where)})"
    )
    lines = [title]
    if decision.state == WAITING and next_check is not None and deadline is not None:
        lines.append(
            "Only freezes or change windows keep it closed: it is approved when the gate opens "
            f"(looked at again at {format_instant(next_check)}, against the default branch as "
            f"it is then) and rejected if still closed at {format_instant(deadline)}."
        )
    body = "\n".join(lines) + "\n"
    shown = 0
    for reason in decision.reasons:
        line = f"- {markdown(truncate(reason, REASON_LIMIT))}\n"
        if len(body) + len(line) > LIMIT - 40:
            break
        body += line
        shown += 1
    if shown < len(decision.reasons):
        body += f"- … and {len(decision.reasons) - shown} more (see the App's log)\n"
    return body.rstrip("\n")
