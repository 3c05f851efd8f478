"""``changegate check``: what a local run says it did not judge."""

from __future__ import annotations

from pathlib import Path

from tests.support.files import EXAMPLES

SHOP = EXAMPLES / "acme-shop"
AT = "2024-01-20T12:00:00Z"


def test_a_local_check_ends_saying_what_it_did_not_judge_and_how_to(cli) -> None:
    result = cli("check", SHOP, "--at", AT)
    assert result.code == 0
    last = result.out.splitlines()[-1]
    assert last.startswith("note: event local: approvals were not judged (not run: ")
    assert "change-approvals" in last
    assert "lead times were counted from spec.requestor.date" in last
    assert last.endswith(
        "judge them with --event pull_request --context FILE (the pull request, its reviews "
        "and the reviewers' teams)"
    )
    assert result.out.splitlines()[-2].startswith("✓ allow:")


def test_the_note_is_only_for_local_text_runs_and_what_they_judged(cli) -> None:
    context = SHOP / "contexts" / "pr-42-approved.yaml"
    pull = cli("check", SHOP, "--context", context, "--at", AT)
    assert "note:" not in pull.out
    as_json = cli("check", SHOP, "--at", AT, "--format", "json")
    assert "note" not in as_json.out
    # governance judges changes to incidents on pull requests only: the note names it
    incident = cli("check", SHOP / "incidents", "--at", AT)
    assert "approvals were not judged (not run: governance)" in incident.out


def test_a_release_plan_alone_needs_no_word_on_lead_times(cli) -> None:
    result = cli("check", Path(SHOP / "releases" / "checkout-v2.5.0.yaml"), "--at", AT)
    (note,) = [line for line in result.out.splitlines() if line.startswith("note:")]
    assert "release-go-no-go" in note
    assert "lead times" not in note
