"""The verdict's ``judged`` object as markdown for the pull request comment and the job
summary: each document the pull request adds, changes or deletes, and the reviews that count
and those that do not. Every value comes from documents, contexts or artifacts, so every one
is escaped here (``escaping.markdown``); the template only places the lines."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from engine.escaping import markdown as md
from engine.escaping import truncate

FOLD_AFTER: Final = 3  # more documents than this fold into <details>
MAX_REVIEWS: Final = 50
_SHA: Final = re.compile(r"[0-9a-f]{7,40}")
_OPERATIONS: Final = {"create": "added", "update": "changed", "delete": "deleted"}
_REASONS: Final = {
    "author": "the pull request's author",
    "committer": "committed to the pull request",
    "deployer": "is deploying",
    "bot": "a bot",
    "stale": "changed since the review",
    "changes-requested": "requested changes",
    "dismissed": "review dismissed",
    "no-role": "not in a team of any role",
}


def _t(value: Any, limit: int = 200) -> str:
    return md(truncate(str(value), limit))


def _commit(value: Any) -> str:
    text = str(value or "")
    return f"`{text[:7]}`" if _SHA.fullmatch(text) else (_t(text, 12) if text else "")


def _items(values: Any, limit: int = 10) -> str:
    shown = [_t(v, 100) for v in list(values or ())[:limit]]
    more = len(list(values or ())) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def document_lines(document: Mapping[str, Any]) -> tuple[str, list[str]]:
    """A document's heading and its bullet lines, escaped."""
    operation = _OPERATIONS.get(str(document.get("operation")), "added or changed")
    head = f"**{_t(document.get('kind'), 40)} {_t(document.get('name'))}** ({operation})"
    if document.get("title"):
        head += f": {_t(document['title'], 300)}"
    lines = []
    targets = " · ".join(
        part
        for part in (_t(document.get("environment", ""), 200), _items(document.get("services")))
        if part
    )
    if "changeType" in document:
        what = f"{_t(document['changeType'], 40)} change, {_t(document.get('risk', ''), 40)} risk"
    elif "version" in document:
        what = f"version {_t(document['version'], 100)} ({_t(document.get('releaseType'), 40)})"
    elif document.get("kind") == "FreezeWindow":
        what = f"{_t(document.get('level', ''), 20)} freeze"
    elif document.get("kind") == "ChangeWindow":
        what = "change window"
    else:
        what = ""
    if what or targets:
        lines.append(" · ".join(p for p in (what, targets) if p))
    lines += _schedule_lines(document)
    for requirement in document.get("approvals", ()):
        lines.append(_requirement(requirement))
    return head, lines


def _when(schedule: Mapping[str, Any]) -> str:
    zone = str(schedule.get("timezone", "UTC"))
    local = f"{_t(schedule.get('localStart'), 40)} to {_t(schedule.get('localEnd'), 40)}"
    utc = " to ".join(
        _t(str(schedule.get(k, "")).replace("T", " ").replace(":00Z", ""), 40)
        for k in ("start", "end")
    )
    if zone == "UTC":
        return f"{local} UTC"
    return f"{local} {_t(zone, 60)} ({utc} UTC)"


def _schedule_lines(document: Mapping[str, Any]) -> list[str]:
    lines = []
    schedule = document.get("schedule")
    if document.get("recurrence"):
        lines.append(f"repeats: {_t(document['recurrence'], 200)}")
    if isinstance(schedule, Mapping):
        label = "next" if document.get("kind") in {"FreezeWindow", "ChangeWindow"} else "schedule"
        lines.append(f"{label}: {_when(schedule)}")
    windows = document.get("windows")
    if isinstance(windows, list):
        if not windows:
            lines.append("freezes and change windows: none applies")
        lines += [_window(w) for w in windows[:20]]
    return lines


def _opens(value: Any) -> str:
    return _t(str(value).replace("T", " ").replace(":00Z", " UTC"), 40)


def _window(window: Mapping[str, Any]) -> str:
    name = _t(window.get("name"))
    if window.get("kind") == "change-window":
        if window.get("inside"):
            return f"✅ inside change window {name}"
        following = f"; the next opens {_opens(window['opens'])}" if window.get("opens") else ""
        return f"⛔ outside the change windows ({name}){following}"
    span = (
        f"{_t(window.get('localStart'), 40)} to {_t(window.get('localEnd'), 40)} "
        f"{_t(window.get('timezone'), 60)}"
    )
    level = _t(window.get("level", ""), 20)
    if window.get("blocks"):
        opens = f"; opens {_opens(window['opens'])}" if window.get("opens") else ""
        return f"⛔ {level} freeze {name}, {span}{opens}"
    return f"✅ {level} freeze {name}, {span}: passed"


def _requirement(requirement: Mapping[str, Any]) -> str:
    count = int(requirement.get("count", 1))
    role = _t(requirement.get("role"), 100)
    why = f" ({_t(requirement['for'], 60)})" if requirement.get("for") else ""
    have = list(requirement.get("have") or ())
    vetoed = list(requirement.get("vetoedBy") or ())
    head = f"approvals: {count} from {role}{why}: "
    if vetoed:
        return (
            head
            + f"❌ changes requested by {_items(vetoed)}"
            + (f" (approved by {_items(have)})" if have else "")
        )
    if len(have) >= count:
        return head + f"✅ {_items(have)}"
    return head + f"❌ has {len(have)}" + (f" ({_items(have)})" if have else "")


def review_rows(approvals: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(reviewer, counts, role or why not, commit) for each reviewer, escaped."""
    rows = []
    for review in list(approvals.get("counted") or ())[:MAX_REVIEWS]:
        rows.append(
            (_t(review.get("user"), 100), "✅ counts", _items(review.get("roles")),
             _commit(review.get("commit")))
        )  # fmt: skip
    for review in list(approvals.get("notCounted") or ())[:MAX_REVIEWS]:
        reason = _REASONS.get(str(review.get("reason")), "does not count")
        detail = str(review.get("detail") or "")
        explained = review.get("reason") in {"stale", "no-role"} and detail
        why = _t(reason, 100) + (f": {_t(detail, 300)}" if explained else "")
        rows.append((_t(review.get("user"), 100), "❌ does not count", why,
                     _commit(review.get("commit"))))  # fmt: skip
    return rows


def unknown_teams(approvals: Mapping[str, Any]) -> list[str]:
    found = approvals.get("unknownTeams") or {}
    return [f"role {_t(role, 100)}: {_items(notes, 5)}" for role, notes in found.items()][:20]


def sections(judged: Mapping[str, Any], shown: int) -> dict[str, Any]:
    """What the template needs for the first ``shown`` documents."""
    documents: Sequence[Mapping[str, Any]] = judged.get("documents") or ()
    views = [document_lines(d) for d in documents[:shown]]
    approvals = judged.get("approvals") or {}
    return {
        "documents": views,
        "more": len(documents) - min(shown, len(documents)) + int(judged.get("omitted") or 0),
        "fold": len(documents) > FOLD_AFTER,
        "reviews": review_rows(approvals),
        "unknown_teams": unknown_teams(approvals),
        "total": len(documents) + int(judged.get("omitted") or 0),
    }
