"""Deriving valid approvals from raw reviews (SPEC §6)."""

from __future__ import annotations

from engine.documents.config import effective
from engine.request.approvals import derive
from engine.request.context import parse_context

HEAD = "abcdef1"
ROLES = {"cab": {"teams": ["acme/cab"]}, "manager": {"users": ["Dana"]}}


def approvals(
    reviews: list[dict], **overrides: object
) -> tuple[list[tuple[str, tuple]], list[str]]:
    data = {
        "event": "pull_request",
        "pullRequest": {"author": "alice", "headSha": HEAD, "committers": ["alice", "erin"]},
        "reviews": reviews,
        "teams": {"acme/cab": ["Bob", "carol"]},
        **overrides,
    }
    spec = effective({"roles": ROLES, "bots": ["ci-runner"]})
    result = derive(parse_context(data), spec, lambda c: None if c == HEAD else "stale")
    return [(a.user, a.roles) for a in result.approvals], list(result.ignored)


def review(user: str, state: str = "APPROVED", commit: str = HEAD, **extra: object) -> dict:
    return {"user": user, "state": state, "commit": commit, **extra}


def test_logins_compare_without_case_and_roles_come_from_teams_and_users() -> None:
    found, ignored = approvals([review("bob"), review("dana"), review("frank")])
    assert found == [("bob", ("cab",)), ("dana", ("manager",)), ("frank", ())]
    assert ignored == []


def test_the_latest_counted_review_wins() -> None:
    found, ignored = approvals(
        [review("bob"), review("bob", "DISMISSED"), review("carol", "CHANGES_REQUESTED"),
         review("carol"), review("carol", "COMMENTED"), review("carol", "PENDING")]
    )  # fmt: skip
    assert found == [("carol", ("cab",))]
    assert ignored == ["bob's approval was followed by dismissed"]


def test_independence() -> None:
    found, ignored = approvals(
        [review("alice"), review("erin"), review("dependabot[bot]"), review("ci-runner"),
         review("hal", userType="Bot")]
    )  # fmt: skip
    assert found == []
    assert ignored == [
        "alice is the pull request's author",
        "erin committed to the pull request",
        "dependabot[bot] is a bot",
        "ci-runner is a bot",
        "hal is a bot",
    ]


def test_the_deploy_actor_does_not_count_at_deploy_only() -> None:
    assert approvals([review("bob")], actor="bob")[0] == [("bob", ("cab",))]
    found, ignored = approvals([review("bob")], actor="bob", event="deploy")
    assert found == []
    assert ignored == ["bob is deploying"]


def test_binding_and_missing_commits() -> None:
    found, ignored = approvals(
        [review("bob", commit="0000000"), {"user": "carol", "state": "APPROVED"}]
    )
    assert found == []
    assert ignored == [
        "bob's approval does not count: stale",
        "carol's approval does not count: the review names no commit",
    ]


def test_unknown_teams_are_reported_per_role() -> None:
    spec = effective({"roles": {"cab": {"teams": ["acme/cab", "acme/oncall"]}}})
    data = {
        "pullRequest": {"author": "alice", "headSha": HEAD},
        "reviews": [review("bob")],
        "teams": {"acme/cab": ["bob"]},
        "teamErrors": {"acme/oncall": "403"},
    }
    result = derive(parse_context(data), spec, lambda c: None)
    assert [(a.user, a.roles) for a in result.approvals] == [("bob", ("cab",))]
    assert result.unknown_teams == {"cab": ("team acme/oncall could not be read (403)",)}
