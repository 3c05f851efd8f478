"""What a scaffold (``changegate new``) fills in by itself: who writes it (the GitHub actor or
git's user, never the operating system's account), the organisation that owns the teams, the
approvals the change type needs, and a schedule that the repository's freezes and change
windows allow after the type's lead time. Whatever it cannot know stays a ``[placeholder]``,
which ``change-completeness/placeholders`` finds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from engine.documents.config import Config
from engine.errors import UsageError
from engine.gitrepo import GitRepo
from engine.suggest import did_you_mean
from engine.time.calendar import Calendar
from engine.time.durations import parse_lead_time
from engine.time.windows import Target
from engine.time.zones import zone

# Kinds with a type to choose, their choices, and the default.
TYPES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "ChangeRequest": (("standard", "normal", "expedited", "emergency"), "normal"),
    "ReleasePlan": (("major", "minor", "patch"), "minor"),
    "FreezeWindow": (("hard", "soft"), "hard"),
}
PERSON: Final = "[Name]"
_SEARCH_DAYS: Final = 90  # how far a scaffold looks for a schedule that windows allow


def chosen_type(kind: str, given: str | None) -> str:
    """``--type`` checked against the kind's choices (a usage error with a suggestion)."""
    if kind not in TYPES:
        if given is None:
            return ""
        raise UsageError(
            f"--type: {_article(kind)} {kind} has no type to choose (kinds with one: "
            f"{', '.join(TYPES)})"
        )
    choices, default = TYPES[kind]
    if given is None:
        return default
    if given.lower() in choices:
        return given.lower()
    raise UsageError(
        f"--type {given!r}: {_article(kind)} {kind} is one of {', '.join(choices)}"
        + did_you_mean(given, choices)
    )


def _article(kind: str) -> str:
    return "an" if kind[0] in "AEIOU" else "a"


def person(env: Mapping[str, str], git: GitRepo | None) -> str:
    """Who writes the document: the GitHub actor in a workflow, else git's ``github.user``
    or ``user.name``; else a placeholder (the OS account says nothing about who approves)."""
    actor = env.get("GITHUB_ACTOR", "").strip()
    if actor:
        return actor
    for key in ("github.user", "user.name"):
        value = git_config(key, git)
        if value:
            return value
    return PERSON


def git_config(key: str, git: GitRepo | None) -> str | None:
    """A git setting as the repository sees it (its own, then the user's global one)."""
    if git is None:
        from engine.gitrepo import global_config

        return global_config(key)
    found = git.run("config", "--get", key, check=False)
    value = found.stdout.decode(errors="replace").strip()
    return value or None


def organisation(env: Mapping[str, str], git: GitRepo | None) -> str:
    """The GitHub organisation owning the teams of roles: the repository's owner."""
    owner = env.get("GITHUB_REPOSITORY_OWNER", "").strip()
    if owner:
        return owner
    url = git.remote_url("origin") if git is not None else None
    found = re.search(r"github\.com[:/]+([A-Za-z0-9-]+)/", url or "")
    return found.group(1) if found else "my-org"


def approvals_needed(config: Config, change_type: str) -> tuple[str, str]:
    """The type's approvals ("1 approval from role cab (team acme/cab)") and its
    post-review ("role cab within 48h"), for the scaffold's comments."""
    settings = config.change_type(change_type)
    parts = []
    for requirement in settings.get("approvals", ()):
        role, count = requirement["role"], requirement.get("count", 1)
        holders = config.spec["roles"].get(role, {})
        held = [f"team {t}" for t in holders.get("teams", ())]
        held += [f"user {u}" for u in holders.get("users", ())]
        parts.append(
            f"{count} approval{'s' if count != 1 else ''} from role {role}"
            + (f" ({', '.join(held)})" if held else " (define it under roles in changegate.yaml)")
        )
    review = settings.get("postReview")
    post = f"an approval from role {review['role']} within {review['within']}" if review else ""
    return " and ".join(parts), post


@dataclass(frozen=True)
class Slot:
    start: datetime
    duration: str
    note: str


def schedule(
    config: Config,
    documents: list[Any],
    now: datetime,
    *,
    change_type: str,
    environment: str,
    service: str,
) -> Slot:
    """When a new change of this type could happen: after its lead time (an emergency: the
    next quarter hour), outside every freeze and inside a change window where one applies."""
    tz = zone(config.timezone)
    duration = "1h" if change_type == "emergency" else "2h"
    length = timedelta(hours=1 if change_type == "emergency" else 2)
    if change_type == "emergency":
        local = now.astimezone(tz) + timedelta(minutes=15)
        start = local.replace(minute=local.minute // 15 * 15, second=0, microsecond=0)
        return Slot(start, duration, "as soon as it is approved")
    lead = parse_lead_time(config.change_type(change_type).get("leadTime", "0s"))
    days = lead.business_days if lead.business_days is not None else 0
    earliest = now + lead.elapsed + timedelta(days=days * 7 // 5 + (2 if days else 0))
    calendar = Calendar.of(documents, config)
    target = Target(environment, (service,), change_type)
    day = earliest.astimezone(tz).date() + timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        candidates = [datetime.combine(day + timedelta(days=offset), time(10), tzinfo=tz)]
        following = calendar.next_window(candidates[0] - timedelta(hours=10), target)
        if following is not None:
            candidates.insert(0, following.start.astimezone(tz))
        for start in candidates:
            end = start + length
            if start >= earliest and not calendar.conflicts(
                start, end, target, passes=set(), approvals=None
            ):
                lead_text = config.change_type(change_type).get("leadTime", "0s")
                return Slot(start, duration, f"the first slot after the {lead_text} lead time "
                            "that no freeze or change window blocks")  # fmt: skip
    fallback = datetime.combine(day, time(10), tzinfo=tz)
    return Slot(fallback, duration, "no slot the windows allow in 90 days: pick one")


def local_text(moment: datetime, zone_name: str) -> str:
    return moment.astimezone(zone(zone_name)).strftime("%Y-%m-%dT%H:%M")


def schema_path(root: Path, kind_file: str) -> Path:
    """Where ``changegate new`` keeps the bundled schema its modeline names."""
    return root / ".changegate" / "schemas" / kind_file
