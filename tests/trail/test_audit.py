"""The audit trail on a seeded history (tests/support/trail.py): records, verify, audit,
metrics and the HTML report, checked against what was planted and against figures worked out
by hand."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.gitrepo import GitRepo
from engine.trail import notes
from engine.trail import record as records
from engine.trail.notes import NOTES_REF, read
from tests.support.trail import AUDIT_AT, Trail, build, run


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return build(tmp_path_factory.mktemp("trail") / "repo")


def audit_json(trail: Trail, *extra: str) -> dict[str, Any]:
    code, out = run("--repo", trail.root, "audit", "--at", AUDIT_AT, "--format", "json", *extra)
    assert code in {0, 1}, out
    return json.loads(out)


def test_the_history_is_at_least_forty_commits(trail: Trail) -> None:
    assert trail.commits >= 40
    assert int(trail.repo.git.rev_list("--count", "HEAD")) == trail.commits


def test_audit_flags_every_planted_bypass_and_no_clean_change(trail: Trail) -> None:
    data = audit_json(trail)
    m = trail.merges
    found = {(f["rule"], f["commit"], f["path"]) for f in data["flags"]}
    assert found == {
        ("audit/direct-push", trail.direct_push, "releases/checkout-v1.1.0.yaml"),
        ("audit/no-decision-record", m[13], "changes/CHG-103.yaml"),
        ("audit/denied-decision", m[14], "changes/CHG-104.yaml"),
        ("audit/edited-after-approval", m[16], "changes/CHG-105.yaml"),
        ("audit/post-review", m[18], "changes/CHG-106.yaml"),
        ("audit/inside-freeze", m[11], "releases/catalog-v2.0.0.yaml"),
        ("audit/lead-time", m[19], "changes/CHG-107.yaml"),
        ("audit/expired-waiver", m[21], "policies/waivers/rollback-waiver.yaml"),
    }
    assert data["summary"] == {
        "changes": 23,
        "records": 19,
        "flags": 8,
        "byRule": dict.fromkeys([
            "audit/direct-push", "audit/no-decision-record", "audit/denied-decision",
            "audit/edited-after-approval", "audit/post-review", "audit/inside-freeze",
            "audit/lead-time", "audit/expired-waiver",
        ], 1) | {"audit/unreadable-record": 0, "audit/replaced-record": 0,
                "audit/forged-record": 0},
    }  # fmt: skip
    evidence = {f["rule"]: f["message"] for f in data["flags"]}
    assert "by Mallory changed releases/checkout-v1.1.0.yaml" in evidence["audit/direct-push"]
    assert (
        "record says deny (change-approvals/required-approvals)"
        in evidence["audit/denied-decision"]
    )
    assert (
        "came 2024-02-14T11:00:00Z, after it was due (2024-02-11T10:00:00Z)"
        in (evidence["audit/post-review"])
    )
    assert "inside hard freeze march-freeze" in evidence["audit/inside-freeze"]
    assert (
        "submitted 2024-02-22T09:00:00Z, earliest start 2024-02-27T09:00:00Z"
        in (evidence["audit/lead-time"])
    )


def test_the_trail_lists_each_governed_change_with_its_record(trail: Trail) -> None:
    rows = audit_json(trail)["trail"]
    by_commit = {r["commit"]: r for r in rows}
    merged = by_commit[trail.merges[1]]
    assert (merged["pullRequest"], merged["decision"], merged["documents"]) == (
        1, "allow", ["changes/CHG-101.yaml"],
    )  # fmt: skip
    assert merged["signature"] == "unsigned"
    assert merged["author"] == "Trail Builder <builder@example.com>"  # the merge's author
    assert by_commit[trail.direct_push]["pullRequest"] is None
    assert by_commit[trail.merges[13]]["decision"] is None


def test_a_period_narrows_the_trail(trail: Trail) -> None:
    data = audit_json(trail, "--since", "2024-02-01", "--until", "2024-02-10")
    rules = sorted(f["rule"] for f in data["flags"] if f["commit"] in set(trail.merges.values()))
    assert rules == ["audit/denied-decision", "audit/no-decision-record"]
    assert all("2024-02-01" <= r["date"] < "2024-02-10" for r in data["trail"])


def test_csv_is_a_table_of_the_flags_safe_for_spreadsheets(trail: Trail) -> None:
    code, out = run("--repo", trail.root, "audit", "--at", AUDIT_AT, "--format", "csv")
    assert code == 1
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["rule", "at", "commit", "document", "path", "message"]
    assert len(rows) == 9
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_metrics_match_the_figures_worked_out_by_hand(trail: Trail) -> None:
    code, out = run("--repo", trail.root, "metrics", "--at", AUDIT_AT, "--format", "json")
    assert code == 0
    data = json.loads(out)
    overall = data["services"]["all services"]
    figures = overall["months"]
    # releases: checkout 1.1.0 (Jan, on time, its change merged 2024-01-10T12:00 -> 238 h),
    # checkout 1.2.0 (Feb, late, rolled back, plan merged 02-18T10:00 -> 53 h), catalog 2.0.0
    # (Mar, on time by date, an incident names it, plan merged 02-20T10:00 -> 264 h)
    assert {m: f["deployments"] for m, f in figures.items()} == {
        "2024-01": 1, "2024-02": 1, "2024-03": 1
    }  # fmt: skip
    assert [figures[m]["leadTimeHours"] for m in sorted(figures)] == [238.0, 53.0, 264.0]
    assert [figures[m]["changeFailureRate"] for m in sorted(figures)] == [0.0, 100.0, 100.0]
    assert [figures[m]["onTimeRate"] for m in sorted(figures)] == [100.0, 0.0, 100.0]
    assert [figures[m]["rollbackRate"] for m in sorted(figures)] == [0.0, 100.0, 0.0]
    # incidents: 90 minutes in January, 120 in March
    assert [figures[m]["timeToRestoreHours"] for m in sorted(figures)] == [1.5, None, 2.0]
    # catalog 2.0.0 had F-1 and F-2 at its scope freeze; F-2 left and F-3 came after
    assert figures["2024-03"]["scopeChangeRate"] == 100.0
    # approvals: 24 h in January; 6, 4, 0.5 and 2 h in February (CHG-103 has no record and
    # CHG-104 no approval)
    assert figures["2024-01"]["approvalCycleHours"] == 24.0
    assert figures["2024-02"]["approvalCycleHours"] == 3.0
    # CHG-104 lacks its testing plan: 5 of 6 complete in February; one emergency of 6
    assert (figures["2024-02"]["completeness"], figures["2024-02"]["emergencyShare"]) == (
        83.3,
        16.7,
    )
    assert overall["total"] == {
        "deployments": 3, "leadTimeHours": 238.0, "changeFailureRate": 66.7,
        "timeToRestoreHours": 1.75, "onTimeRate": 66.7, "scopeChangeRate": 100.0,
        "rollbackRate": 33.3, "approvalCycleHours": 4.0, "completeness": 85.7,
        "emergencyShare": 14.3,
    }  # fmt: skip

    # error budgets, every month of the history: 0.1% of January (31 days) is 44.64 min, 30
    # used (32.8% left); February has 29 days (41.76 min); 0.5% of March is 223.2 min, 120
    # used (46.2% left) with 30.5 of 31 days gone: 120 / (223.2 * 30.5 / 31) = 0.55x
    def month(allowed: float, used: float, left: float, percent: float, burn: float,
              incidents: list[str], target: float) -> dict[str, object]:  # fmt: skip
        return {"target": target, "allowedMinutes": allowed, "usedMinutes": used,
                "remainingMinutes": left, "remainingPercent": percent, "burnRate": burn,
                "incidents": incidents}  # fmt: skip

    assert data["errorBudgets"] == {
        "checkout": {
            "2024-01": month(44.6, 30.0, 14.6, 32.8, 0.67, ["INC-1"], 99.9),
            "2024-02": month(41.8, 0.0, 41.8, 100.0, 0.0, [], 99.9),
            "2024-03": month(44.6, 0.0, 44.6, 100.0, 0.0, [], 99.9),
        },
        "catalog": {
            "2024-01": month(223.2, 0.0, 223.2, 100.0, 0.0, [], 99.5),
            "2024-02": month(208.8, 0.0, 208.8, 100.0, 0.0, [], 99.5),
            "2024-03": month(223.2, 120.0, 103.2, 46.2, 0.55, ["INC-2"], 99.5),
        },
    }
    assert data["services"]["catalog"]["total"]["deployments"] == 1


def test_the_metrics_report_draws_a_burn_down_per_service(trail: Trail, tmp_path: Path) -> None:
    report = tmp_path / "metrics.html"
    code, out = run("--repo", trail.root, "metrics", "--at", AUDIT_AT, "--format", "html",
                    "--output", report)  # fmt: skip
    assert code == 0, out
    page = report.read_text(encoding="utf-8")
    # catalog's March: 120 of 223.2 minutes used by INC-2 on the 3rd, 103.2 left
    for title in ("checkout: error budget left, 2024-03", "catalog: error budget left, 2024-03"):
        assert f'aria-label="{title}"' in page
    assert "103.2 min left" in page
    assert "<td>INC-2</td>" in page
    assert page.count('class="burn"') == 2
    assert "<dt><b>Error budget</b></dt>" in page


def test_verify_replays_every_record_to_the_same_decision(trail: Trail) -> None:
    recorded = [n for n in trail.merges if n not in {13, 16}]
    for number in recorded:
        code, out = run("--repo", trail.root, "verify", trail.merges[number])
        assert code == 0, out
        assert "replays to the same decision" in out
    code, out = run("--repo", trail.root, "verify", trail.merges[13])
    assert (code, "has no decision record" in out) == (1, True)


@pytest.fixture
def copy(trail: Trail, tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(trail.root, target)
    return target


def test_verify_reports_a_tampered_record_field_by_field(trail: Trail, copy: Path) -> None:
    repo = GitRepo(copy)
    commit = trail.merges[15]
    record = read(repo, commit)
    assert record is not None
    record["decision"] = "deny"
    tampered = copy.parent / "tampered.json"
    tampered.write_text(json.dumps(record))
    repo.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-F", str(tampered), commit)
    code, out = run("--repo", copy, "verify", commit)
    assert code == 1
    assert "decision: recorded 'deny', replayed 'allow'" in out
    # an approval added to the recorded context: the inputs no longer match their digest
    record["decision"] = "allow"
    head = record["context"]["pullRequest"]["headSha"]
    review = {"user": "carol", "state": "APPROVED", "id": 9, "commit": head}
    record["context"]["reviews"].append(review)
    tampered.write_text(json.dumps(record))
    repo.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-F", str(tampered), commit)
    code, out = run("--repo", copy, "verify", commit, "--format", "json")
    differences = json.loads(out)["differences"]
    assert code == 1
    assert differences[0].startswith("inputs.digest: the recorded inputs no longer match")
    assert "approvals: carol (review 9): recorded (absent), replayed cab" in differences


def test_record_pushes_its_note_and_keeps_those_already_there(trail: Trail, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git("clone", "--bare", "--quiet", trail.root, origin, cwd=tmp_path)
    git("push", "--quiet", origin, f"{NOTES_REF}:{NOTES_REF}", cwd=trail.root)
    git("clone", "--quiet", origin, tmp_path / "work", cwd=tmp_path)  # a clone has no notes
    context = trail.root.parent / "context-15.json"
    code, out = run("--repo", tmp_path / "work", "record", trail.merges[15], "--context", context,
                    "--at", "2024-02-10T12:00:00Z", "--push", "origin")  # fmt: skip
    assert code == 0, out
    assert out.startswith("unchanged the decision")  # fetched first: the remote had it already
    assert "pushed to origin" in out
    listed = git("notes", f"--ref={NOTES_REF}", "list", cwd=origin)
    assert len(listed.splitlines()) == 19  # nothing lost


def test_recording_twice_changes_nothing_and_a_different_record_needs_replace(
    trail: Trail, copy: Path
) -> None:
    commit = trail.merges[15]
    context = trail.root.parent / "context-15.json"
    again = run(
        "--repo", copy, "record", commit, "--context", context, "--at", "2024-02-10T12:00:00Z"
    )
    assert again[0] == 0
    assert again[1].startswith("unchanged the decision")
    later = run(
        "--repo", copy, "record", commit, "--context", context, "--at", "2024-03-10T12:00:00Z"
    )
    assert later[0] == 2
    assert "already has a different decision record" in later[1]
    replaced = run("--repo", copy, "record", commit, "--context", context,
                   "--at", "2024-03-10T12:00:00Z", "--replace")  # fmt: skip
    assert replaced[0] == 0
    assert replaced[1].startswith("replaced the decision")


def git(*args: str | Path, cwd: Path) -> str:
    return subprocess.run(["git", *map(str, args)], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def test_records_of_merges_that_land_together_are_all_kept(trail: Trail, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git("clone", "--bare", "--quiet", trail.root, origin, cwd=tmp_path)  # without the notes
    clones = []
    for name in ("one", "two"):
        git("clone", "--quiet", origin, tmp_path / name, cwd=tmp_path)
        clones.append(tmp_path / name)
    contexts = {15: trail.merges[15], 19: trail.merges[19]}
    # each clone records its merge before either pushes: the second push is rejected, so it
    # fetches the first's notes, merges them and pushes again
    for clone, (number, commit) in zip(clones, contexts.items(), strict=True):
        context = trail.root.parent / f"context-{number}.json"
        code, out = run("--repo", clone, "record", commit, "--context", context, "--at", AUDIT_AT)
        assert code == 0, out
    assert notes.push(GitRepo(clones[0]), "origin") == 1
    assert notes.push(GitRepo(clones[1]), "origin") == 2  # rejected, merged, pushed
    listed = git("notes", f"--ref={NOTES_REF}", "list", cwd=origin)
    assert {line.split()[1] for line in listed.splitlines()} == set(contexts.values())


def test_the_html_report_renders_in_headless_chromium(trail: Trail, tmp_path: Path) -> None:
    browser = next(
        (
            shutil.which(b)
            for b in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(b)
        ),
        None,
    )
    if browser is None:
        pytest.skip("no headless Chromium here (apt install chromium)")
    report = tmp_path / "audit.html"
    code, out = run("--repo", trail.root, "audit", "--at", AUDIT_AT, "--format", "html",
                    "--output", report)  # fmt: skip
    assert code == 1, out
    html = report.read_text(encoding="utf-8")
    for rule in ("audit/direct-push", "audit/no-decision-record", "audit/denied-decision",
                 "audit/edited-after-approval", "audit/post-review", "audit/inside-freeze",
                 "audit/lead-time", "audit/expired-waiver"):  # fmt: skip
        assert f'<td class="rule">{rule}</td>' in html
    assert "<script" not in html
    assert "http" not in html.split("<body>")[0]  # no stylesheet or font from the network
    assert html.count("<svg") == 12  # ten figures, and a burn-down per service with an SLO
    shot = tmp_path / "audit.png"
    result = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,4200", f"--screenshot={shot}", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1280, 4200)
        colors = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    # not blank: many colours, with the flags' red, the decisions' green and the charts' blue
    assert len(colors) > 50
    for wanted in ((0xB4, 0x23, 0x18), (0x06, 0x76, 0x47), (0x3B, 0x6F, 0xD8)):
        near = sum(
            n for n, c in colors if sum(abs(a - b) for a, b in zip(c, wanted, strict=True)) < 40
        )
        assert near > 100, wanted
    shutil.copy(shot, Path("/tmp/changegate-audit-report.png"))  # for a person to look at


def test_text_output_of_audit_and_metrics(trail: Trail) -> None:
    code, out = run("--repo", trail.root, "audit", "--at", AUDIT_AT)
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == "change trail: 23 governed changes, 19 decision records"
    assert lines[-1] == "✗ 8 flags"
    assert any(line.startswith(f"audit/lead-time: {trail.merges[19][:12]} ChangeRequest CHG-107:")
               for line in lines)  # fmt: skip
    code, out = run("--repo", trail.root, "metrics", "--at", AUDIT_AT)
    assert code == 0
    assert "  Deployments                        1         1         1         3" in out
    assert "error budget of checkout\n" in out
    assert ("  2024-01: target 99.9%, allowed 44.6 min, used 30.0 min, remaining 14.6 min (32.8%), "
            "burn rate 0.67x; used by INC-1\n") in out  # fmt: skip
    code, out = run("--repo", trail.root, "audit", "--since", "someday")
    assert (code, "--since 'someday': give a date" in out) == (2, True)
    code, out = run("--repo", trail.root, "metrics", "--at", AUDIT_AT, "--since", "2030-01-01")
    assert (code, out) == (0, "no releases, change requests or incidents in the period: nothing "
                              "to count\n")  # fmt: skip


def test_github_deployments_inside_a_freeze_are_flagged(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.fakegithub import FakeGitHub, Spec
    from tests.support.files import shared_or_skip

    with FakeGitHub(Spec(shared_or_skip("github", "openapi-subset.json"))) as github:
        github.add_deployment(
            trail.merges[11], "production", "2024-03-02T09:00:00Z", service="catalog"
        )
        github.add_deployment(
            trail.merges[11], "staging", "2024-03-02T09:00:00Z", service="catalog"
        )
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        data = audit_json(trail, "--github-repo", github.repository)
        assert github.problems == []
    deployed = [f for f in data["flags"] if f["document"].startswith("GitHub deployment")]
    assert len(deployed) == 1  # staging is not frozen
    assert (
        "of catalog to production at 2024-03-02T09:00:00Z, inside hard freeze march-freeze"
        in (deployed[0]["message"])
    )


def test_the_html_report_shows_bidi_controls_and_markup_as_written(tmp_path: Path) -> None:
    """A commit subject or document name can carry bidi controls that reorder what an auditor
    reads ("Trojan Source"): the report shows them as code points, and markup as text."""
    from types import SimpleNamespace

    from engine.trail.audit import Audit
    from engine.trail.flags import Flag
    from engine.trail.report import html

    at = datetime(2024, 3, 10, 12, tzinfo=UTC)
    flag = Flag("audit/direct-push", "0" * 40, "ChangeRequest CHG-\u202e1-GNL", None,
                "pushed by <b>mallory</b>\u2066", at)  # fmt: skip
    judge = SimpleNamespace(workspace=SimpleNamespace(root=tmp_path), now=at)
    page = html(judge, audit=Audit(at, None, None, flags=[flag]))
    assert "ChangeRequest CHG-&lt;U+202E&gt;1-GNL" in page
    assert "pushed by &lt;b&gt;mallory&lt;/b&gt;&lt;U+2066&gt;" in page
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)


def _note(repo: GitRepo, commit: str, text: str) -> None:
    repo.run("notes", f"--ref={NOTES_REF}", "add", "-f", "-m", text, commit)


def test_an_edited_derived_field_is_caught_by_verify_and_by_audit(trail: Trail, copy: Path) -> None:
    """The pull request's creation feeds the lead-time flag: moving it back a week must not
    quietly clear the flag. verify names the field; audit refuses the record."""
    repo = GitRepo(copy)
    commit = trail.merges[19]
    record = read(repo, commit)
    assert record is not None
    record["pullRequest"]["createdAt"] = "2024-02-10T09:00:00Z"
    _note(repo, commit, json.dumps(record))
    code, out = run("--repo", copy, "verify", commit)
    assert code == 1, out
    assert "digest: the record no longer matches its own digest" in out
    assert "pullRequest.createdAt: recorded '2024-02-10T09:00:00Z', replayed '" in out
    data = json.loads(run("--repo", copy, "audit", "--at", AUDIT_AT, "--format", "json")[1])
    flags = {(f["rule"], f["commit"]) for f in data["flags"]}
    assert ("audit/unreadable-record", commit) in flags
    assert any(rule == "audit/lead-time" for rule, _ in flags)  # still judged without it
    [unreadable] = [f for f in data["flags"] if f["rule"] == "audit/unreadable-record"]
    assert "edited after it was written" in unreadable["message"]


def test_a_note_that_is_not_a_record_is_flagged_and_can_be_replaced(
    trail: Trail, copy: Path
) -> None:
    repo = GitRepo(copy)
    commit = trail.merges[15]
    for garbage in ("garbage", '{"kind": "DecisionRecord", "decision": "deny", "findings": [1]}'):
        _note(repo, commit, garbage)
        code, out = run("--repo", copy, "audit", "--at", AUDIT_AT)
        assert code == 1, out
        assert f"audit/unreadable-record: {commit[:12]}" in out
        assert "Record the decision again with changegate record" in out
        code, out = run("--repo", copy, "verify", commit)
        assert code == 1, out
        assert "cannot be read as a decision record" in out
        assert out.startswith(f"✗ the record on {commit[:12]} cannot be verified:")
    context = trail.root.parent / "context-15.json"
    code, out = run("--repo", copy, "record", commit, "--context", context)
    assert code == 2, out  # never overwritten unasked
    code, out = run("--repo", copy, "record", commit, "--context", context, "--replace")
    assert (code, out.split(" ")[0]) == (0, "replaced"), out
    assert run("--repo", copy, "verify", commit)[0] == 0


def test_recording_again_without_at_judges_the_merge_as_merged(trail: Trail, copy: Path) -> None:
    """A record judges the instant its commit was merged, not the clock: recording again later
    (a re-run job) gives the same record."""
    context = trail.root.parent / "context-15.json"
    code, out = run("--repo", copy, "record", trail.merges[15], "--context", context)
    assert code == 0, out
    assert out.startswith("unchanged the decision")


def test_a_record_is_evidence_only_for_what_its_commit_changed(trail: Trail, copy: Path) -> None:
    """A merge that changed no governed document, recorded with a context that judged every
    document and an early pull request, must not move CHG-107's submission (and so clear its
    lead-time flag)."""
    repo = GitRepo(copy)
    git("checkout", "-q", "-b", "pr-30", cwd=copy)
    (copy / "incidents").mkdir(exist_ok=True)
    shutil.copy(copy / "changes" / "CHG-101.yaml", copy / "incidents" / "notes.txt")
    git("add", "-A", cwd=copy)
    git("commit", "-q", "-m", "Work for #30", cwd=copy)
    git("checkout", "-q", "main", cwd=copy)
    git("merge", "-q", "--no-ff", "pr-30", "-m", "Merge pull request #30 from acme/pr-30",
        cwd=copy)  # fmt: skip
    head = repo.resolve("HEAD")
    context = copy.parent / "everything.json"
    context.write_text(json.dumps({
        "event": "merge",
        "pullRequest": {"number": 30, "author": "dave", "headSha": head, "baseSha": head,
                        "createdAt": "2024-02-10T09:00:00Z"},
        "reviews": [{"id": 3001, "user": "carol", "state": "APPROVED", "commit": head,
                     "submittedAt": "2024-03-01T09:00:00Z"}],
    }))  # fmt: skip
    code, out = run("--repo", copy, "record", "HEAD", "--context", context)
    assert code == 0, out
    flags = json.loads(run("--repo", copy, "audit", "--at", AUDIT_AT, "--format", "json")[1])[
        "flags"
    ]

    def lead_time(found: list[dict[str, Any]]) -> list[str]:
        return [f["message"] for f in found if f["rule"] == "audit/lead-time"]

    assert "audit/lead-time" in {f["rule"] for f in flags}
    assert lead_time(flags) == lead_time(audit_json(trail)["flags"])


def test_a_period_is_applied_to_the_whole_history_not_handed_to_git(trail: Trail) -> None:
    """git log --since stops at the first commit out of date order, and a walk cut at the
    period's start forgets the approvals before it: neither may change what is flagged."""
    for since, until in (("2024-02-11", None), ("2024-01-01", "2024-02-15"), ("2024-03-01", None)):
        extra = ["--since", since] + (["--until", until] if until else [])
        data = audit_json(trail, *extra)
        start = datetime.fromisoformat(since).replace(tzinfo=UTC)
        end = datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None
        expected = {
            (f["rule"], f["commit"])
            for f in audit_json(trail)["flags"]
            if f["at"] and (f["rule"] == "audit/expired-waiver" or start <= datetime.fromisoformat(
                f["at"].replace("Z", "+00:00")))
            and (end is None or datetime.fromisoformat(f["at"].replace("Z", "+00:00")) < end)
        }  # fmt: skip
        assert {(f["rule"], f["commit"]) for f in data["flags"]} == expected, (since, until)
    assert ("audit/edited-after-approval", trail.merges[16]) in {
        (f["rule"], f["commit"]) for f in audit_json(trail, "--since", "2024-02-11")["flags"]
    }


def test_a_shallow_clone_is_refused_rather_than_audited_short(trail: Trail, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    git("clone", "--quiet", "--depth", "1", trail.root.as_uri(), shallow, cwd=tmp_path)
    code, out = run("--repo", shallow, "audit", "--at", AUDIT_AT)
    assert code == 2, out
    assert "is a shallow clone" in out
    assert "fetch-depth: 0" in out
    full = tmp_path / "full"
    git("clone", "--quiet", trail.root.as_uri(), full, cwd=tmp_path)  # no notes fetched
    code, out = run("--repo", full, "audit", "--at", AUDIT_AT)
    assert "warning: there is no refs/notes/changegate here" in out


def test_dates_of_a_period_start_at_midnight_in_the_config_zone() -> None:
    from engine.trail.history import parse_period

    since, until = parse_period("2024-02-01", "2024-03-01T00:00:00Z", "Europe/Berlin")
    assert since == datetime(2024, 1, 31, 23, tzinfo=UTC)
    assert until == datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="until must be after since"):
        parse_period("2024-03-01", "2024-02-01", "UTC")


def test_a_release_the_gate_let_through_a_freeze_is_not_flagged(trail: Trail, copy: Path) -> None:
    """catalog 2.0.0 went out inside the hard March freeze: flagged, unless an approved (an
    allow record) emergency change of catalog in production was scheduled over that moment,
    which the gate lets pass."""
    from tests.support.trail import Trail as Builder
    from tests.support.trail import change

    def inside_freeze() -> set[str]:
        data = json.loads(run("--repo", copy, "audit", "--at", AUDIT_AT, "--format", "json")[1])
        return {f["document"] for f in data["flags"] if f["rule"] == "audit/inside-freeze"}

    release = {"ReleasePlan catalog-v2.0.0"}
    assert inside_freeze() == release
    path = "changes/CHG-190.yaml"
    emergency = change("CHG-190", start="2024-03-02T09:30", service="catalog", kind="emergency")
    (copy / path).write_text(emergency, encoding="utf-8")
    assert inside_freeze() == release  # not approved: no decision record allowed it
    (copy / path).unlink()
    builder = Builder(copy)  # opens the copy again, to merge pull requests into it
    reviews = (("carol", "2024-03-01T10:00:00Z"), ("frank", "2024-03-01T10:00:00Z"))
    for number, kind, flagged in ((30, "normal", True), (31, "emergency", False)):
        text = change("CHG-190", start="2024-03-02T09:30", service="catalog", kind=kind)
        merge = builder.pull_request(
            number, "2024-03-01T09:00:00Z", f"2024-03-01T1{number - 30}:30:00Z", {path: text},
            reviews=reviews,
        )  # fmt: skip
        # a normal change inside the hard freeze is denied; the emergency one is allowed
        decision = read(GitRepo(copy), merge)["decision"]  # type: ignore[index]
        assert decision == ("deny" if flagged else "allow"), kind
        assert (inside_freeze() == release) is flagged, kind


def test_a_replaced_or_removed_record_is_flagged_from_the_notes_history(
    trail: Trail, copy: Path
) -> None:
    """A record is written once: --replace (or a hand-made git notes add -f, or a removal) can
    change what the note says now, but the notes ref's history still shows it to the audit."""
    context = trail.root.parent / "context-15.json"
    code, out = run("--repo", copy, "record", trail.merges[15], "--context", context,
                    "--at", "2024-03-10T12:00:00Z", "--replace")  # fmt: skip
    assert code == 0, out
    git("notes", f"--ref={NOTES_REF}", "remove", trail.merges[17], cwd=copy)
    data = json.loads(run("--repo", copy, "audit", "--at", AUDIT_AT, "--format", "json")[1])
    replaced = {f["commit"]: f for f in data["flags"] if f["rule"] == "audit/replaced-record"}
    assert set(replaced) == {trail.merges[15], trail.merges[17]}
    assert (
        " was replaced by Trail Builder <builder@example.com> in notes commit "
        in (replaced[trail.merges[15]]["message"])
    )
    assert "it said allow, it now says allow" in replaced[trail.merges[15]]["message"]
    assert "it said allow, the note is gone" in replaced[trail.merges[17]]["message"]
    # the untouched trail has no such flag, and the other flags stay
    assert data["summary"]["byRule"]["audit/direct-push"] == 1


BROKEN = {
    "a list": lambda r: [r],
    "no digest": lambda r: {k: v for k, v in r.items() if k != "digest"},
    "decision maybe": lambda r: r | {"decision": "maybe"},
    "findings of numbers": lambda r: r | {"findings": [1]},
    "approvals of numbers": lambda r: r | {"approvals": [1]},
    "roles a string": lambda r: r | {"approvals": [{"roles": "cab", "submittedAt": None}]},
    "a bad submission time": lambda r: r | {"approvals": [{"roles": [], "submittedAt": "bad"}]},
    "pullRequest a string": lambda r: r | {"pullRequest": "x"},
    "a bad creation time": lambda r: r | {"pullRequest": {"createdAt": "yesterday"}},
    "summary a list": lambda r: r | {"summary": []},
    "engine a string": lambda r: r | {"engine": "x"},
    "a document without path": lambda r: r | {"documents": [{"kind": "ChangeRequest"}]},
    "revision a number": lambda r: r | {"policy": {"revision": 1}},
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_malformed_record_is_a_problem_never_a_crash(trail: Trail, name: str) -> None:
    record = read(GitRepo(trail.root), trail.merges[15])
    assert record is not None
    assert records.problem(record) is None
    broken = BROKEN[name](record)
    if isinstance(broken, dict) and name != "no digest":
        broken["digest"] = records.record_digest(broken)  # well-signed, still malformed
    assert isinstance(records.problem(broken), str)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ({"paths": ["../../../../etc/hostname"]}, "paths[0] is not a relative path inside"),
        ({"root": "/"}, "root is not a relative path inside the repository"),
        ({"config": "../cg.yaml"}, "config is not a relative path inside the repository"),
        ({"policy": {"revision": "0" * 40, "digest": "x"}}, "the record cannot be replayed"),
    ],
)
def test_verify_fails_a_record_that_names_what_it_must_not(
    trail: Trail, copy: Path, edit: dict[str, Any], said: str
) -> None:
    """Even with both digests made to match, a record cannot send verify outside the commit's
    tree, and one that names a revision that does not exist fails verification (1), it is
    not a usage error (2)."""
    repo = GitRepo(copy)
    commit = trail.merges[15]
    record = read(repo, commit)
    assert record is not None
    record |= edit
    record["inputs"] = {"digest": records.inputs_digest(record)}
    record["digest"] = records.record_digest(record)
    _note(repo, commit, json.dumps(record))
    code, out = run("--repo", copy, "verify", commit)
    assert code == 1, out
    assert said in out
    code, out = run("--repo", copy, "audit", "--at", AUDIT_AT)
    assert code == 1, out  # flagged or judged, never a traceback
    assert "Traceback" not in out


def test_notes_moved_into_fan_out_folders_are_not_replacements(trail: Trail, copy: Path) -> None:
    """As notes grow past a few hundred, git moves them from ab12... to ab/12...: a delete and
    an add of the same content, which is no replacement."""
    committer = b"committer x <x@example.com> 1711000000 +0000\n"
    stream = [b"commit refs/heads/side\nmark :%d\n%sdata 1\n%d\n" % (i, committer, i % 10)
              for i in range(1, 701)]  # fmt: skip
    stream.append(b"commit refs/notes/changegate\n")
    stream.append(b"committer changegate <changegate@example.com> 1711000000 +0000\n")
    stream.append(b"data 10\nmany notes\nfrom refs/notes/changegate^0\n")
    stream += [b"N inline :%d\ndata 2\n{}\n" % i for i in range(1, 701)]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=copy, input=b"".join(stream),
                   check=True)  # fmt: skip
    moved = git("show", "--raw", "--no-renames", "--format=", NOTES_REF, cwd=copy)
    assert " D\t" in moved  # the trail's own notes moved into folders
    data = json.loads(run("--repo", copy, "audit", "--at", AUDIT_AT, "--format", "json")[1])
    assert data["summary"]["byRule"]["audit/replaced-record"] == 0
    assert data["summary"]["records"] == 19


def test_a_change_record_with_scaffold_text_is_not_complete() -> None:
    from engine.trail.metrics import _complete

    written = {
        "type": "normal", "justification": "Orders are slow", "impact": {"downtime": "0m"},
        "implementation": ["Create the index"], "testing": {"unit": True},
        "rollback": ["Drop the index"],
    }  # fmt: skip
    assert _complete(written)
    assert not _complete({**written, "implementation": ["Create the index", "Step 2"]})
    assert not _complete({**written, "impact": {"systems": ["[List]"]}})  # nested too
    assert not _complete({**written, "justification": "Business reason for the change."})
