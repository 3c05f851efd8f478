"""Valid approvals, derived from raw reviews (SPEC §6), never declared in YAML.

Per user, the latest review that is not COMMENTED counts; it must be APPROVED, bound to the
head commit (or to an earlier commit at which every governed document the pull request
changes had the same content), and given by someone who is not the author, a committer, the
deploy actor or a bot. Roles come from ``Config.roles`` through team membership; a team whose
membership is unknown grants nothing (fail closed), and the reason is kept for the message.
A role holder whose latest review requests changes vetoes that role's requirements, whatever
commit the review is on, until they approve or the review is dismissed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from engine.request.context import RequestContext, Review

# What a review's commit is checked with: None if it is acceptable, else why not.
Binding = Callable[[str], str | None]

_COUNTED: Final = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


class Approval(NamedTuple):
    user: str
    roles: tuple[str, ...]
    commit: str | None
    review_id: int | None
    submitted_at: str | None

    def as_cel(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "roles": list(self.roles),
            "commit": self.commit or "",
            "reviewId": self.review_id or 0,
            "submittedAt": self.submitted_at or "",
        }


class Veto(NamedTuple):
    """A role holder whose latest review requests changes: it blocks the requirements of
    that role until they approve or the review is dismissed (policy-bot's disapproval)."""

    user: str
    roles: tuple[str, ...]
    review_id: int | None


class NotCounted(NamedTuple):
    """A person's latest review that is not an approval that counts, and why: ``reason`` is
    one of author, committer, deployer, bot, stale (the documents changed since, or the
    review cannot be bound to the head), changes-requested, dismissed; ``detail`` says it."""

    user: str
    reason: str
    detail: str
    commit: str | None = None


class ApprovalSet(NamedTuple):
    approvals: tuple[Approval, ...]
    ignored: tuple[str, ...]  # one sentence per review that does not count, and why
    unknown_teams: dict[str, tuple[str, ...]]  # role -> why its teams' members are unknown
    vetoes: tuple[Veto, ...] = ()
    not_counted: tuple[NotCounted, ...] = ()  # the same reviews, structured (for comments)

    def vetoing(self, role: str) -> list[str]:
        """The logins whose requested changes block the requirements of ``role``."""
        return [v.user for v in self.vetoes if role in v.roles]


def is_bot(login: str, user_type: str, bots: frozenset[str]) -> bool:
    return user_type == "Bot" or login.lower().endswith("[bot]") or login.lower() in bots


def role_holders(
    roles: Mapping[str, Any], context: RequestContext
) -> tuple[dict[str, set[str]], dict[str, tuple[str, ...]]]:
    """role -> lower-cased logins holding it; role -> why some of its teams are unknown."""
    holders: dict[str, set[str]] = {}
    unknown: dict[str, tuple[str, ...]] = {}
    for role, spec in roles.items():
        members = {user.lower() for user in spec.get("users", ())}
        notes = []
        for team in spec.get("teams", ()):
            if team in context.team_errors:
                notes.append(f"team {team} could not be read ({context.team_errors[team]})")
            elif team in context.teams:
                members.update(m.lower() for m in context.teams[team])
            else:
                notes.append(f"team {team}'s members are not in the request context")
        holders[role] = members
        if notes:
            unknown[role] = tuple(notes)
    return holders, unknown


def derive(
    context: RequestContext,
    config_spec: Mapping[str, Any],
    binding: Binding,
) -> ApprovalSet:
    pr = context.pull_request
    latest: dict[str, Review] = {}
    for review in context.reviews:
        if review.state in _COUNTED:
            latest[review.user.lower()] = review
    excluded: dict[str, str] = {}
    if pr is not None:
        excluded[pr.author.lower()] = "is the pull request's author"
        for committer in pr.committers:
            excluded.setdefault(committer.lower(), "committed to the pull request")
    if context.event == "deploy" and context.actor:
        excluded.setdefault(context.actor.lower(), "is deploying")
    bots = frozenset(b.lower() for b in config_spec.get("bots", ()))
    holders, unknown = role_holders(config_spec.get("roles", {}), context)
    approvals: list[Approval] = []
    ignored: list[str] = []
    vetoes: list[Veto] = []
    skipped: list[NotCounted] = []

    def skip(review: Review, reason: str, detail: str, sentence: str | None) -> None:
        skipped.append(NotCounted(review.user, reason, detail, review.commit))
        if sentence is not None:
            ignored.append(sentence)

    for login, review in latest.items():
        if review.state != "APPROVED":
            state = review.state.lower().replace("_", " ")
            approved = any(
                r.user.lower() == login and r.state == "APPROVED" for r in context.reviews
            )
            sentence = f"{review.user}'s approval was followed by {state}" if approved else None
            why = "dismissed" if review.state == "DISMISSED" else "changes-requested"
            skip(review, why, f"{review.user}'s latest review is {state}", sentence)
            roles = tuple(sorted(role for role, members in holders.items() if login in members))
            bot = is_bot(review.user, review.user_type, bots)
            if review.state == "CHANGES_REQUESTED" and roles and not bot:
                vetoes.append(Veto(review.user, roles, review.id))
            continue
        if is_bot(review.user, review.user_type, bots):
            skip(review, "bot", "a bot", f"{review.user} is a bot")
            continue
        if login in excluded:
            why = excluded[login]
            code = {"is the pull request's author": "author", "is deploying": "deployer"}
            skip(review, code.get(why, "committer"), why, f"{review.user} {why}")
            continue
        reason = binding(review.commit) if review.commit else "the review names no commit"
        if reason is not None:
            sentence = f"{review.user}'s approval does not count: {reason}"
            skip(review, "stale", reason, sentence)
            continue
        roles = tuple(sorted(role for role, members in holders.items() if login in members))
        approvals.append(
            Approval(review.user, roles, review.commit, review.id, review.submitted_at)
        )
    return ApprovalSet(tuple(approvals), tuple(ignored), unknown, tuple(vetoes), tuple(skipped))
