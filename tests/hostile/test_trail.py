"""Hostile decision records (issue 10): notes under refs/notes/changegate that are too big,
nested too deeply or not records, and records copied to commits they were not made for. audit,
verify and metrics must flag them, never crash (exit 3) and never pass a forgery silently."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.gitrepo import GitRepo
from engine.trail import notes
from engine.trail.record import inputs_digest, record_digest
from tests.support.trail import AUDIT_AT, CONFIG, FREEZE, Trail, change, run


@dataclass(frozen=True)
class History:
    root: Path
    start: str  # the first commit, pushed before any pull request
    merges: dict[int, str]
    readme: str  # a later direct push that changes nothing governed


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """PR 1 adds CHG-101, PR 2 deletes it, PR 3 adds it back (its record was never written and
    the audit says so), then a README push."""
    root = tmp_path_factory.mktemp("hostile-trail") / "repo"
    trail = Trail(root)
    start = trail.push(
        "Start governing",
        "2024-01-02T09:00:00Z",
        "Alice",
        {"changegate.yaml": CONFIG, "freezes/march-freeze.yaml": FREEZE},
    )
    chg = change("CHG-101", start="2024-01-16T10:00")
    trail.pull_request(
        1,
        "2024-01-08T09:00:00Z",
        "2024-01-10T12:00:00Z",
        {"changes/CHG-101.yaml": chg},
        reviews=(("bob", "2024-01-09T09:00:00Z"),),
    )
    trail.pull_request(
        2,
        "2024-01-11T09:00:00Z",
        "2024-01-12T12:00:00Z",
        {"changes/CHG-101.yaml": None},
        reviews=(("carol", "2024-01-11T10:00:00Z"),),
    )
    trail.pull_request(
        3,
        "2024-01-13T09:00:00Z",
        "2024-01-14T12:00:00Z",
        {"changes/CHG-101.yaml": chg},
        reviews=(("carol", "2024-01-13T10:00:00Z"),),
        record=False,
    )
    readme = trail.push("Say hello", "2024-01-15T08:00:00Z", "Alice", {"README.md": "hello\n"})
    return History(root, start, dict(trail.merges), readme)


@pytest.fixture
def copy(history: History, tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(history.root, target)
    return target


def sound(code: int, out: str) -> None:
    assert code != 3, out
    assert "Traceback" not in out


def audit(root: Path, *extra: str) -> tuple[int, list[tuple[str, str]]]:
    code, out = run("--repo", root, "audit", "--at", AUDIT_AT, "--format", "json", *extra)
    sound(code, out)
    assert code in {0, 1}, out
    return code, sorted((f["rule"], f["commit"]) for f in json.loads(out)["flags"])


def note(root: Path, commit: str, data: bytes) -> None:
    GitRepo(root).run(
        "notes", f"--ref={notes.NOTES_REF}", "add", "-f", "-F", "-", commit, stdin=data
    )


def record_of(root: Path, commit: str) -> dict[str, Any]:
    found = notes.read(GitRepo(root), commit)
    assert found is not None
    return found


def resigned(record: dict[str, Any]) -> bytes:
    """The record with both digests recomputed, as a forger with sha256 would."""
    record["inputs"] = {"digest": inputs_digest(record)}
    record["digest"] = record_digest(record)
    return json.dumps(record).encode()


UNEDITED = [("audit/edited-after-approval", "")]  # PR 3 re-added CHG-101 without a record


def baseline(history: History) -> list[tuple[str, str]]:
    return [(rule, history.merges[3]) for rule, _ in UNEDITED]


def test_the_history_audits_as_planted(history: History) -> None:
    assert audit(history.root) == (1, baseline(history))
    code, out = run("--repo", history.root, "verify", history.merges[1])
    assert code == 0, out


# --- forged records ---------------------------------------------------------------------------


def test_a_record_copied_to_another_merge_is_forged(history: History, copy: Path) -> None:
    forged = record_of(copy, history.merges[1]) | {"commit": history.merges[3]}
    note(copy, history.merges[3], resigned(forged))
    assert audit(copy) == (1, [("audit/forged-record", history.merges[3])])


def test_a_record_whose_head_is_not_an_ancestor_is_forged(history: History, copy: Path) -> None:
    forged = record_of(copy, history.merges[2]) | {"commit": history.start}
    forged["pullRequest"] = forged["pullRequest"] | {"number": 99}  # no other commit claims it
    note(copy, history.start, resigned(forged))
    code, flags = audit(copy)
    assert code == 1
    assert ("audit/forged-record", history.start) in flags


@pytest.mark.parametrize("head", ["0" * 40, "f" * 12], ids=["unknown full sha", "unknown prefix"])
def test_a_record_naming_a_head_the_repository_lacks_is_forged(
    history: History, copy: Path, head: str
) -> None:
    forged = record_of(copy, history.merges[1]) | {"commit": history.readme}
    forged["pullRequest"] = forged["pullRequest"] | {"number": 98, "headSha": head}
    note(copy, history.readme, resigned(forged))
    code, flags = audit(copy)
    assert code == 1
    # a prefix is not a commit SHA at all: the note is no record
    flag = "audit/unreadable-record" if len(head) < 40 else "audit/forged-record"
    assert (flag, history.readme) in flags


def test_a_record_copied_without_changing_its_commit_is_unreadable(
    history: History, copy: Path
) -> None:
    data = json.dumps(record_of(copy, history.merges[1])).encode()
    note(copy, history.merges[3], data)
    code, flags = audit(copy)
    assert code == 1
    assert ("audit/unreadable-record", history.merges[3]) in flags
    code, out = run("--repo", copy, "verify", history.merges[3])
    sound(code, out)
    assert code == 1
    assert f"is the record of another commit ({history.merges[1][:12]}): it was copied" in out


def test_a_record_copied_without_new_digests_is_unreadable(history: History, copy: Path) -> None:
    forged = record_of(copy, history.merges[1]) | {"commit": history.merges[3]}
    note(copy, history.merges[3], json.dumps(forged).encode())
    code, flags = audit(copy)
    assert code == 1
    assert ("audit/unreadable-record", history.merges[3]) in flags


@pytest.mark.parametrize("number", ["1", 1.0, [1]], ids=["string", "float", "list"])
def test_a_copied_record_with_a_respelled_number_is_not_a_silent_pass(
    history: History, copy: Path, number: Any
) -> None:
    forged = record_of(copy, history.merges[1]) | {"commit": history.merges[3]}
    forged["pullRequest"] = forged["pullRequest"] | {"number": number}
    note(copy, history.merges[3], resigned(forged))
    code, flags = audit(copy)
    assert code == 1
    assert {
        ("audit/forged-record", history.merges[3]),
        ("audit/unreadable-record", history.merges[3]),
    } & set(flags)


# --- notes that are not records ---------------------------------------------------------------


def _too_big(_: dict[str, Any]) -> bytes:
    return b'{"kind": "DecisionRecord", "pad": "' + b"x" * (16 * 1024 * 1024 + 1) + b'"}'


def _deep(_: dict[str, Any]) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


def _deep_object(_: dict[str, Any]) -> bytes:
    return b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def _invalid_utf8(_: dict[str, Any]) -> bytes:
    return b'{"kind": "DecisionRecord", "x": "\xff\xfe"}'


def _long_integer(_: dict[str, Any]) -> bytes:
    return b"1" * 5_000


def _year_9999(record: dict[str, Any]) -> bytes:
    return resigned(record | {"at": "9999-12-31T23:59:59Z"})


def _paths_outside(record: dict[str, Any]) -> bytes:
    return resigned(record | {"paths": ["../../../etc/passwd"]})


def _findings_not_objects(record: dict[str, Any]) -> bytes:
    return resigned(record | {"findings": ["deny"]})


NOTES: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "over 16 MiB": _too_big,
    "nested 100,000 arrays deep": _deep,
    "nested 50,000 objects deep": _deep_object,
    "JSON null": lambda _: b"null",
    "a number": lambda _: b"42",
    "a string": lambda _: b'"allow"',
    "an empty object": lambda _: b"{}",
    "a list of the record": lambda record: json.dumps([record]).encode(),
    "invalid UTF-8": _invalid_utf8,
    "not JSON": lambda _: b"decision: allow\n",
    "an integer of 5,000 digits": _long_integer,
    "at in 9999": _year_9999,
    "paths outside the tree": _paths_outside,
    "findings that are not objects": _findings_not_objects,
}


@pytest.mark.parametrize("case", sorted(NOTES))
def test_a_note_that_is_not_a_record_is_flagged_by_audit_and_verify_and_ignored_by_metrics(
    history: History, copy: Path, case: str
) -> None:
    commit = history.merges[1]
    note(copy, commit, NOTES[case](record_of(copy, commit)))
    code, flags = audit(copy)
    assert code == 1
    assert ("audit/unreadable-record", commit) in flags
    code, out = run("--repo", copy, "verify", commit)
    sound(code, out)
    assert code == 1
    assert out.startswith(f"✗ the record on {commit[:12]} cannot be verified:")
    code, out = run("--repo", copy, "metrics", "--at", AUDIT_AT, "--format", "json")
    sound(code, out)
    assert code == 0
    assert "services" in json.loads(out)


@pytest.mark.parametrize("kind", ["tree", "blob"])
def test_a_note_on_something_that_is_not_a_commit_is_ignored(
    history: History, copy: Path, kind: str
) -> None:
    target = {"tree": "HEAD^{tree}", "blob": "HEAD:changegate.yaml"}[kind]
    sha = subprocess.run(
        ["git", "rev-parse", target], cwd=copy, check=True, capture_output=True, text=True
    ).stdout.strip()
    note(copy, sha, resigned(record_of(copy, history.merges[1]) | {"commit": sha}))
    assert audit(copy) == (1, baseline(history))
    code, out = run("--repo", copy, "metrics", "--at", AUDIT_AT)
    sound(code, out)
    assert code == 0


def test_a_notes_ref_that_is_not_a_commit_hides_nothing(history: History, copy: Path) -> None:
    blob = subprocess.run(
        ["git", "rev-parse", "HEAD:changegate.yaml"],
        cwd=copy,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(["git", "update-ref", notes.NOTES_REF, blob], cwd=copy, check=True)
    code, flags = audit(copy)
    assert code == 1
    assert ("audit/no-decision-record", history.merges[1]) in flags
    assert ("audit/no-decision-record", history.merges[2]) in flags
    code, out = run("--repo", copy, "verify", history.merges[1])
    sound(code, out)
    assert code == 1


# --- periods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--since", "2024-02-30"),
        ("--since", "9999-12-31"),
        ("--until", "1899-12-31"),
        ("--until", "2024-13-01"),
    ],
)
def test_a_period_that_cannot_be_computed_with_is_a_usage_error(
    history: History, flag: str, value: str
) -> None:
    for command in ("audit", "metrics"):
        code, out = run("--repo", history.root, command, "--at", AUDIT_AT, flag, value)
        sound(code, out)
        assert code == 2
        said = f"changegate: error: {flag} {value!r}: " + (
            "give a date (2024-01-01) or an RFC 3339 time"
            if value[:4] in {"2024"}
            else "'" + value + "' is outside the years changegate computes with (1900 to 2999)"
        )
        assert said in out


def test_an_offset_cannot_carry_a_period_out_of_range(history: History) -> None:
    code, out = run(
        "--repo", history.root, "audit", "--at", AUDIT_AT, "--since", "2999-12-31T23:59:59-23:59"
    )
    sound(code, out)
    assert code == 2
    assert "outside the years changegate computes with" in out
