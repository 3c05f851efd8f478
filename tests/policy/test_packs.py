"""Shared packs from other repositories, served from local bare repositories by file:// URLs:
pinned by ``changegate policies lock``, read by ``check`` and ``test`` only as changegate.lock
pins them, and refused (exit 2, with the fix) whenever the lock and the pack disagree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.paths import _realpath
from engine.policy import packs
from tests.support.packs import CRITICAL, Pack, change, config
from tests.support.repos import GitRepo

AT = "2024-01-20T12:00:00Z"


@pytest.fixture
def pack(tmp_path: Path) -> Pack:
    pack = Pack(tmp_path)
    pack.publish({"packs/payments/risk.yaml": CRITICAL, "README.md": "pack\n"}, tag="v1.0.0")
    return pack


@pytest.fixture
def consumer(tmp_path: Path, pack: Pack) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("changegate.yaml", config(pack.source("v1.0.0")))
    repo.write("changes/CHG-1.yaml", change("CHG-1", risk="critical"))
    repo.write("changes/CHG-2.yaml", change("CHG-2", risk="low"))
    return repo


def _lock(cli, repo: GitRepo) -> dict:
    result = cli("--repo", repo.root, "policies", "lock")
    assert result.code == 0, result.err
    return json.loads((repo.root / "changegate.lock").read_text())


def _failing(cli, repo: GitRepo) -> tuple[int, set[tuple[str, str]]]:
    result = cli("check", repo.root, "--at", AT, "--format", "json")
    verdict = json.loads(result.out)
    failed = {
        (f["rule"], f["document"]["name"]) for f in verdict["findings"] if f["outcome"] == "fail"
    }
    return result.code, failed


def test_lock_pins_the_commit_and_digest_and_check_judges_with_the_pack(
    cli, pack: Pack, consumer: GitRepo
) -> None:
    published = pack.work.repo.head.commit.hexsha
    lock = _lock(cli, consumer)
    (entry,) = lock["packs"]
    assert lock["lockVersion"] == 1
    assert entry["source"] == pack.source("v1.0.0")
    assert entry["commit"] == published
    assert entry["digest"].startswith("sha256:")
    assert len(entry["digest"]) == 71
    assert entry["files"] == 1  # the files under #packs/payments, not the README beside it
    code, failed = _failing(cli, consumer)
    assert code == 1
    assert ("pack-risk/not-critical", "CHG-1") in failed
    assert ("pack-risk/not-critical", "CHG-2") not in failed
    verify = cli("--repo", consumer.root, "policies", "verify")
    assert verify.code == 0
    assert verify.out == "✓ 1 pack pinned, cached and matching changegate.lock\n"


def test_a_pack_without_a_lock_entry_is_refused_with_the_fix(cli, consumer: GitRepo) -> None:
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "there is no changegate.lock pinning it" in result.err
    assert "run `changegate policies lock` and commit changegate.lock" in result.err


def test_a_changed_ref_in_the_config_needs_a_new_lock(cli, pack: Pack, consumer: GitRepo) -> None:
    _lock(cli, consumer)
    pack.publish({"packs/payments/NOTES.md": "later\n"}, tag="v1.1.0")
    consumer.write("changegate.yaml", config(pack.source("v1.1.0")))
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "no entry for" in result.err
    assert "@v1.1.0#packs/payments" in result.err
    lock = _lock(cli, consumer)
    assert lock["packs"][0]["source"].endswith("@v1.1.0#packs/payments")
    assert _failing(cli, consumer)[0] == 1


def test_a_digest_mismatch_is_refused(cli, consumer: GitRepo) -> None:
    lock = _lock(cli, consumer)
    lock["packs"][0]["digest"] = "sha256:" + "0" * 64
    (consumer.root / "changegate.lock").write_text(json.dumps(lock, indent=2))
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "hashes to sha256:" in result.err
    assert "but the lock says sha256:000" in result.err
    assert "changegate.lock:4:" in result.err  # the line of the entry
    assert cli("--repo", consumer.root, "policies", "verify").code == 2


def test_a_moved_tag_is_refused_by_verify_while_check_keeps_the_pinned_commit(
    cli, tmp_path: Path, pack: Pack, consumer: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = _lock(cli, consumer)["packs"][0]["commit"]
    permissive = CRITICAL.replace("object.spec.risk != 'critical'", "true")
    moved = pack.publish({"packs/payments/risk.yaml": permissive}, tag="v1.0.0")
    assert moved != pinned
    # a fresh cache: check fetches the pinned commit, never what the tag names now
    monkeypatch.setenv("CHANGEGATE_PACK_CACHE", str(tmp_path / "fresh-cache"))
    code, failed = _failing(cli, consumer)
    assert code == 1
    assert ("pack-risk/not-critical", "CHG-1") in failed
    verify = cli("--repo", consumer.root, "policies", "verify")
    assert verify.code == 2
    assert f"v1.0.0 of {pack.source('v1.0.0')[4:]} now names {moved[:12]}" in verify.err
    assert f"but the lock pins {pinned[:12]}" in verify.err


def test_check_reads_the_cache_without_the_network_and_refuses_an_unreachable_pack(
    cli, tmp_path: Path, pack: Pack, consumer: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lock(cli, consumer)
    shutil.move(pack.bare, tmp_path / "gone.git")
    assert _failing(cli, consumer)[0] == 1  # fetched once, by commit: the cache has it
    monkeypatch.setenv("CHANGEGATE_PACK_CACHE", str(tmp_path / "empty-cache"))
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "cannot fetch commit" in result.err
    assert "check the URL, the network and your access" in result.err


def test_lock_refuses_a_ref_that_does_not_exist(cli, pack: Pack, consumer: GitRepo) -> None:
    consumer.write("changegate.yaml", config(pack.source("v9.9.9")))
    result = cli("--repo", consumer.root, "policies", "lock")
    assert result.code == 2
    assert "cannot fetch ref v9.9.9" in result.err
    assert not (consumer.root / "changegate.lock").exists()


def test_a_lock_entry_for_a_source_no_longer_named_is_refused(cli, consumer: GitRepo) -> None:
    _lock(cli, consumer)
    consumer.write("changegate.yaml", config("builtin:recommended"))
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "changegate.lock:4: pins" in result.err
    assert "which changegate.yaml no longer names" in result.err
    relock = cli("--repo", consumer.root, "policies", "lock")
    assert "dropped" in relock.out
    assert "removed changegate.lock" in relock.out
    assert not (consumer.root / "changegate.lock").exists()


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda lock: lock["packs"][0].update(comit="x"),
            "changegate.lock:9:7: unknown field 'comit'",
        ),
        (lambda lock: lock.update(lockVersion=2), "changegate.lock:2:3: lockVersion must be 1"),
        (lambda lock: lock["packs"][0].update(commit="main"), "commit must be a full commit"),
        (
            lambda lock: lock["packs"][0].update(source="git+ext::sh -c touch% /tmp/pwned@v1#p"),
            "spaces and control characters are not allowed",
        ),
    ],
)
def test_a_malformed_lock_is_refused_at_its_line(cli, consumer: GitRepo, edit, said) -> None:
    lock = _lock(cli, consumer)
    edit(lock)
    (consumer.root / "changegate.lock").write_text(json.dumps(lock, indent=2))
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert said in result.err
    assert "run it rather than editing" in result.err


def test_a_lock_that_is_not_json_is_refused(cli, consumer: GitRepo) -> None:
    _lock(cli, consumer)
    (consumer.root / "changegate.lock").write_text('{"lockVersion": 1,\n  "packs": [}\n')
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert result.err.startswith("changegate: error: ")
    assert "changegate.lock:2:" in result.err


def test_a_symbolic_link_in_the_pack_is_refused(cli, pack: Pack, consumer: GitRepo) -> None:
    (pack.work.root / "packs" / "payments" / "passwd.yaml").symlink_to("/etc/passwd")
    pack.publish({}, tag="v1.0.0")
    result = cli("--repo", consumer.root, "policies", "lock")
    assert result.code == 2
    assert "passwd.yaml is a symbolic link" in result.err


def test_a_path_through_a_symbolic_link_or_out_of_the_pack_is_refused(
    cli, pack: Pack, consumer: GitRepo
) -> None:
    (pack.work.root / "packs" / "linked").symlink_to("payments")
    pack.publish({}, tag="v1.0.0")
    consumer.write("changegate.yaml", config(pack.source("v1.0.0", "packs/linked")))
    result = cli("--repo", consumer.root, "policies", "lock")
    assert result.code == 2
    assert "#packs/linked is not a folder of that commit" in result.err
    consumer.write("changegate.yaml", config(pack.source("v1.0.0", "../other")))
    escaped = cli("check", consumer.root, "--at", AT)
    assert escaped.code == 2
    assert "#../other is not a folder inside the pack's repository" in escaped.err


def test_a_huge_pack_is_refused(
    cli, pack: Pack, consumer: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packs, "MAX_FILES", 3)
    pack.publish({f"packs/payments/n{i}.md": "note\n" for i in range(4)}, tag="v1.0.0")
    result = cli("--repo", consumer.root, "policies", "lock")
    assert result.code == 2
    assert "holds 5 files, over 3: point #PATH at the pack" in result.err


def test_a_pack_policy_named_like_a_local_one_is_refused(cli, consumer: GitRepo) -> None:
    _lock(cli, consumer)
    text = (consumer.root / "changegate.yaml").read_text()  # the pack, and the repo's folder
    consumer.write("changegate.yaml", text.replace("policies: [", "policies: ['./policies', "))
    consumer.write("policies/pack-risk.yaml", CRITICAL)
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert "two policies are named 'pack-risk'" in result.err
    assert "change-policies.git@v1.0.0:packs/payments/risk.yaml" in result.err


def test_credentials_in_a_pack_url_are_refused_and_never_shown(cli, consumer: GitRepo) -> None:
    secret = "ghp_s3cr3tT0ken"
    source = f"git+https://x-access-token:{secret}@github.com/acme/p.git@v1#packs"
    consumer.write("changegate.yaml", config(source))
    for args in (("check", consumer.root), ("--repo", consumer.root, "policies", "lock")):
        result = cli(*args)
        assert result.code == 2
        assert "carries credentials in its URL" in result.err
        assert secret not in result.out + result.err


def test_policy_tests_read_the_pack_through_the_lock(cli, consumer: GitRepo) -> None:
    consumer.write(
        "policies/tests/risk.yaml",
        """\
apiVersion: changegate/v1
kind: PolicyTest
metadata: {name: risk-cases}
spec:
  now: "2024-01-20T12:00:00Z"
  cases:
    - name: a critical change is stopped
      documents:
        - apiVersion: changegate/v1
          kind: ChangeRequest
          metadata: {name: CHG-9}
          spec: {title: t, type: normal, risk: critical, environment: production,
                 services: [checkout], requestor: {name: alice}, description: d,
                 schedule: {start: "2024-02-01T10:00", duration: 1h}}
      expect: {pack-risk/not-critical: fail}
""",
    )
    unlocked = cli("--repo", consumer.root, "test", consumer.root / "policies")
    assert unlocked.code == 2
    assert "no changegate.lock" in unlocked.err
    _lock(cli, consumer)
    result = cli(
        "--repo", consumer.root, "test", consumer.root / "policies", "--coverage-of", "builtin"
    )
    assert result.code == 0, result.out + result.err
    assert "pack-risk/not-critical" in result.out


def test_gate_reads_the_pack_through_the_lock(cli, consumer: GitRepo) -> None:
    gate = ("--repo", consumer.root, "gate", "--env", "production", "--service", "checkout")
    unlocked = cli(*gate, "--at", AT)
    assert unlocked.code == 2
    assert "no changegate.lock pinning it" in unlocked.err
    _lock(cli, consumer)
    assert cli(*gate, "--at", AT).code in {0, 1}


def test_the_installed_command_locks_verifies_and_previews(consumer: GitRepo) -> None:
    command = Path(sys.executable).parent / "changegate"
    if not command.exists():
        pytest.skip("changegate is not installed in this environment's bin/ (run make test)")

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command), "--repo", str(consumer.root), *map(str, args)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    locked = run("policies", "lock")
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout.endswith("wrote changegate.lock: 1 pack\n")
    assert run("policies", "verify").returncode == 0
    consumer.commit("pin the pack")
    text = (consumer.root / "changegate.yaml").read_text()
    consumer.write("changegate.yaml", text.replace("policies: [", "policies: ['./policies', "))
    local = CRITICAL.replace("pack-risk", "local-risk").replace("'critical'", "'low'")
    consumer.write("policies/extra.yaml", local)
    preview = run("impact", "--base", "main", "--at", AT, "--event", "local")
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith(
        "impact against main: this change newly blocks 1 change request"
    )
    assert "(ChangeRequest CHG-2): local-risk/not-critical" in preview.stdout


def test_relocking_says_what_moved_and_what_did_not(cli, pack: Pack, consumer: GitRepo) -> None:
    first = _lock(cli, consumer)["packs"][0]["commit"]
    again = cli("--repo", consumer.root, "policies", "lock")
    assert f"unchanged at {first[:12]}" in again.out
    moved = pack.publish({"packs/payments/NOTES.md": "moved\n"}, tag="v1.0.0")
    relocked = cli("--repo", consumer.root, "policies", "lock")
    assert f"v1.0.0 moved from {first[:12]} to {moved[:12]}" in relocked.out
    lock = json.loads((consumer.root / "changegate.lock").read_text())
    assert lock["packs"][0]["files"] == 2
    lock["packs"][0]["digest"] = "sha256:" + "1" * 64
    (consumer.root / "changegate.lock").write_text(json.dumps(lock))
    corrected = cli("--repo", consumer.root, "policies", "lock")
    assert f"corrected the digest of {moved[:12]}" in corrected.out


def test_an_unreadable_lock_is_replaced_and_a_linked_one_is_not_written(
    cli, tmp_path: Path, consumer: GitRepo
) -> None:
    (consumer.root / "changegate.lock").write_text("not: [a lock")
    replaced = cli("--repo", consumer.root, "policies", "lock")
    assert replaced.code == 0
    assert "replacing an unreadable changegate.lock" in replaced.err
    outside = tmp_path / "elsewhere.lock"
    outside.write_text("{}")
    (consumer.root / "changegate.lock").unlink()
    (consumer.root / "changegate.lock").symlink_to(outside)
    _realpath.cache_clear()  # one process plays several runs: forget the file it was
    refused = cli("--repo", consumer.root, "policies", "lock")
    assert refused.code == 2
    assert "is not a plain file: changegate does not write through it" in refused.err
    assert outside.read_text() == "{}"
    linked = cli("check", consumer.root, "--at", AT)
    assert linked.code == 2
    assert "changegate.lock is not a file of the repository" in linked.err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"lockVersion": 1, "packs": {}}', "changegate.lock:1:20: packs must be a list"),
        ('{"lockVersion": 1, "packs": ["x"]}', "each pack is an object"),
        ('{"lockVersion": 1, "packs": [{"source": "git+file:///p.git@v1"}]}', "lacks commit"),
        ("[1, 2]", "not a lock (a JSON object)"),
        ('{"lockVersion": 1, "packs": [], "extra": 1}', "unknown field 'extra'"),
    ],
)
def test_lock_shapes_that_are_refused(cli, consumer: GitRepo, text: str, said: str) -> None:
    (consumer.root / "changegate.lock").write_text(text)
    result = cli("check", consumer.root, "--at", AT)
    assert result.code == 2
    assert said in result.err


def test_a_pack_pinned_twice_or_with_a_bad_digest_is_refused(cli, consumer: GitRepo) -> None:
    lock = _lock(cli, consumer)
    entry = lock["packs"][0]
    for packs_list, said in (
        ([entry, entry], "is pinned twice"),
        ([{**entry, "digest": "md5:00"}], "digest must be sha256: and 64 hex digits"),
        ([{**entry, "files": True}], "files must be a int"),
    ):
        (consumer.root / "changegate.lock").write_text(json.dumps({**lock, "packs": packs_list}))
        result = cli("check", consumer.root, "--at", AT)
        assert result.code == 2
        assert said in result.err
