"""``request-reviewers: true``: ask the teams and users of each role whose approval is missing
to review the pull request.

Once: nobody who already reviewed it, nobody GitHub lists as requested already, and no team one
of whose members already reviewed it (after a team's review GitHub drops the team's request; the
reviews show it was asked). Never the author, a committer (their approval could not count) or a
bot. A team is requested by its slug, and only in the repository's own organisation (GitHub
cannot request another one). Asking is a courtesy: a request GitHub refuses is a warning, and
the verdict stands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from engine.github.client import Client, GitHubError
from engine.request.approvals import is_bot
from engine.request.context import RequestContext

MAX_REQUESTED: Final = 15  # GitHub takes at most 15 reviewers and teams per request


class Request(NamedTuple):
    users: tuple[str, ...]
    teams: tuple[str, ...]  # slugs
    skipped: tuple[str, ...]  # who was not asked, and why


def missing_roles(judged: Mapping[str, Any] | None) -> list[str]:
    """The roles a described document still needs (too few approvals, or a veto)."""
    roles: list[str] = []
    for document in (judged or {}).get("documents", ()):
        for requirement in document.get("approvals", ()):
            short = len(requirement.get("have", ())) < int(requirement.get("count", 1))
            if (short or requirement.get("vetoedBy")) and requirement["role"] not in roles:
                roles.append(str(requirement["role"]))
    return roles


def plan(
    roles: Sequence[str],
    config_spec: Mapping[str, Any],
    context: RequestContext,
    owner: str,
    pending: Mapping[str, Sequence[str]],
) -> Request:
    """Whom to ask for ``roles``; ``pending`` holds GitHub's requested users and team slugs."""
    pr = context.pull_request
    author = pr.author.lower() if pr else ""
    committers = {c.lower() for c in pr.committers} if pr else set()
    reviewed = {r.user.lower() for r in context.reviews}
    bots = frozenset(b.lower() for b in config_spec.get("bots", ()))
    asked_users = {u.lower() for u in pending.get("users", ())}
    asked_teams = {t.lower() for t in pending.get("teams", ())}
    users: list[str] = []
    teams: list[str] = []
    skipped: list[str] = []
    for role in roles:
        holders = config_spec.get("roles", {}).get(role, {})
        for user in holders.get("users", ()):
            login = str(user).lower()
            why = (
                "is the author" if login == author
                else "committed to it" if login in committers
                else "is a bot" if is_bot(str(user), "User", bots)
                else "already reviewed it" if login in reviewed
                else "is already requested" if login in asked_users
                else None
            )  # fmt: skip
            if why:
                skipped.append(f"{user} {why}")
            elif user not in users:
                users.append(str(user))
        for team in holders.get("teams", ()):
            org, _, slug = str(team).partition("/")
            members = {m.lower() for m in context.teams.get(team, ())}
            why = (
                f"is not in {owner}, the repository's organisation" if org.lower() != owner.lower()
                else "is already requested" if slug.lower() in asked_teams
                else "has already reviewed it" if members & reviewed
                else None
            )  # fmt: skip
            if why:
                skipped.append(f"team {team} {why}")
            elif slug not in teams:
                teams.append(slug)
    return Request(tuple(users), tuple(teams), tuple(skipped))


def request(
    client: Client,
    number: int,
    judged: Mapping[str, Any] | None,
    config_spec: Mapping[str, Any],
    context: RequestContext,
    log: Any,
) -> Request | None:
    """Ask for the missing reviews; None when no role is missing. Failures only warn."""
    roles = missing_roles(judged)
    if not roles:
        return None
    owner = client.repository.split("/", 1)[0]
    try:
        pull = client.pull(number)
    except GitHubError as error:
        log.warning("changegate could not request reviews", str(error))
        return None
    pending = {"users": pull.get("requestedReviewers", []), "teams": pull.get("requestedTeams", [])}
    wanted = plan(roles, config_spec, context, owner, pending)
    users, teams = list(wanted.users[:MAX_REQUESTED]), list(wanted.teams)
    teams = teams[: max(MAX_REQUESTED - len(users), 0)]
    if not users and not teams:
        return wanted
    try:
        client.request_reviewers(number, users, teams)
        return wanted
    except GitHubError as error:
        if len(users) + len(teams) == 1:
            log.warning("changegate could not request a review", str(error))
            return Request((), (), wanted.skipped)
    # one refused reviewer (not a collaborator, a secret team) must not stop the others
    asked_users, asked_teams = [], []
    for user in users:
        if _one(client, number, [user], [], log):
            asked_users.append(user)
    for team in teams:
        if _one(client, number, [], [team], log):
            asked_teams.append(team)
    return Request(tuple(asked_users), tuple(asked_teams), wanted.skipped)


def _one(client: Client, number: int, users: list[str], teams: list[str], log: Any) -> bool:
    try:
        client.request_reviewers(number, users, teams)
        return True
    except GitHubError as error:
        who = users[0] if users else f"team {teams[0]}"
        log.warning("changegate could not request a review", f"{who}: {error}")
        return False
