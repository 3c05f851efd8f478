"""The document cache: verdicts with it, without it, cold and warm are the same, on both CEL
backends; entries that do not hold together are loaded again; it stays under .git."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from engine.documents.fields import INDEXED, ChangeRequestFields, IncidentFields, Projection
from engine.documents.fields import ReleasePlanFields as PlanFields
from engine.workspace import cache
from tests.support.files import ROOT, write
from tests.support.repos import GitRepo

CHANGEGATE = Path(sys.executable).parent / "changegate"
AT = "2024-06-03T10:00:00Z"
BACKENDS = ["cel-expr-python", "cel-python"]


def generated(documents: int, out: Path) -> Path:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "bench" / "generate.py")
    assert spec
    assert spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return Path(generate.generate(documents, out, seed=11))


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated repository with problems of every sort, committed, and a pull request
    branch that edits one change request."""
    root = generated(160, tmp_path_factory.mktemp("cached") / "repo")
    changes = sorted((root / "changes").glob("*.yaml"))
    text = changes[0].read_text()
    write(changes[1], changes[1].read_text().replace("  title: ", "  titel: "))  # schema
    write(root / "changes" / "broken.yaml", "kind: ChangeRequest\nspec: [unclosed\n")  # YAML
    write(root / "changes" / "twice.yaml", text)  # a duplicate name, found across files
    write(root / "releases" / "odd.yaml", "apiVersion: changegate/v1\nkind: Releaseplan\n")
    write(root / "incidents" / "empty.yaml", "")
    repo = GitRepo(root)
    base = repo.commit("base")
    repo.branch("pr")
    write(changes[2], changes[2].read_text().replace("status: planned", "status: in-progress"))
    head = repo.commit("edit one change request")
    context = {
        "event": "pull_request",
        "pullRequest": {
            "number": 7, "author": "alice", "headSha": head, "baseSha": base,
            "createdAt": "2024-05-01T00:00:00Z", "committers": ["alice"],
            "changedFiles": [changes[2].relative_to(root).as_posix()],
        },
        "reviews": [{"user": "bob", "state": "APPROVED", "commit": head}],
        "teams": {"synthetic/cab": ["bob"]},
    }  # fmt: skip
    write(root.parent / "context.json", json.dumps(context))
    return root


def run(root: Path, *args: str, cache_setting: str = "", backend: str = BACKENDS[0]) -> Any:
    env = {**os.environ, "CHANGEGATE_CEL_BACKEND": backend, "CHANGEGATE_CACHE": cache_setting}
    result = subprocess.run(
        [str(CHANGEGATE), "--repo", str(root), *args, "--format", "json"],
        capture_output=True, text=True, env=env, check=False, cwd=root,
    )  # fmt: skip
    assert result.returncode in {0, 1}, result.stderr
    verdict = json.loads(result.stdout)
    verdict.pop("engine", None)  # timings
    verdict.pop("at", None)  # validate reads the clock
    return verdict


RUNS = {
    "check": ("check", "--at", AT, "--jobs", "1"),
    "check on two processes": ("check", "--at", AT, "--jobs", "2"),
    "validate": ("validate",),
    "pull request": (
        "check",
        "--at",
        AT,
        "--context",
        "../context.json",
        "--policies-from",
        "main",
    ),
    "gate": ("gate", "--env", "production", "--service", "service-01", "--at", AT),
}


def cache_folder(root: Path) -> Path:
    return root / ".git" / "changegate" / "cache"


def copy_of(repository: Path, tmp_path: Path, *, cached: bool = True) -> Path:
    """A copy of the repository (and the pull request's context beside it)."""
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy)
    shutil.copy(repository.parent / "context.json", tmp_path / "context.json")
    if not cached:
        shutil.rmtree(cache_folder(copy), ignore_errors=True)
    return copy


@pytest.mark.parametrize("backend", BACKENDS)
def test_verdicts_are_the_same_without_the_cache_and_with_it_cold_and_warm(
    repository: Path, backend: str
) -> None:
    shutil.rmtree(cache_folder(repository), ignore_errors=True)
    for name, args in RUNS.items():
        without = run(repository, *args, cache_setting="off", backend=backend)
        cold = run(repository, *args, backend=backend)
        warm = run(repository, *args, backend=backend)
        assert without == cold == warm, name
    everything = run(repository, *RUNS["validate"], backend=backend)
    rules = {f["rule"] for f in everything["findings"]}
    assert {"yaml/parse", "schema/ChangeRequest", "schema/envelope"} <= rules
    lines = {f["document"]["line"] for f in everything["findings"] if "document" in f}
    assert len(lines) > 1  # positions came from the cached files' source maps too


def test_the_cache_lives_under_the_git_directory_and_leaves_the_tree_clean(
    repository: Path,
) -> None:
    run(repository, *RUNS["validate"])
    segments = list(cache_folder(repository).glob("*/*.jsonl"))
    assert segments
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repository, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    assert status == ""


def test_the_cache_can_be_turned_off_or_moved(repository: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    run(repository, *RUNS["validate"], cache_setting=str(moved))
    assert list(moved.glob("*/*.jsonl"))
    copy = tmp_path / "copy"
    shutil.copytree(repository, copy, ignore=shutil.ignore_patterns("changegate"))
    run(copy, *RUNS["validate"], cache_setting="off")
    assert not (copy / ".git" / "changegate").exists()


def corrupt(segment: Path, *, blob: str | None = None) -> str:
    """Flip one byte in the body of an entry (the first, or ``blob``'s); its blob id."""
    lines = segment.read_bytes().split(b"\n")
    at = next(
        i for i, line in enumerate(lines) if line and (blob is None or line[:40] == blob.encode())
    )
    line = bytearray(lines[at])
    line[-5] ^= 0x01
    lines[at] = bytes(line)
    segment.write_bytes(b"\n".join(lines))
    return lines[at][:40].decode()


def entries(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for segment in sorted(cache_folder(root).glob("*/*.jsonl")):
        for line in segment.read_bytes().split(b"\n"):
            if line:
                found[line[:40].decode()] = line
    return found


def sound(line: bytes) -> bool:
    return line[41:49] == b"%08x" % zlib.crc32(line[50:])


def test_a_corrupt_entry_is_loaded_again_and_rewritten(repository: Path, tmp_path: Path) -> None:
    copy = copy_of(repository, tmp_path, cached=False)
    expected = run(copy, *RUNS["check"])
    (segment,) = cache_folder(copy).glob("*/*.jsonl")
    blob = corrupt(segment)
    assert not sound(entries(copy)[blob])
    assert run(copy, *RUNS["check"]) == expected
    assert sound(entries(copy)[blob])  # the newest segment holds it again, whole


def forge(segment: Path, change: Any) -> None:
    """Rewrite every entry through ``change`` (a function of its parts), with a checksum that
    holds: a cache written by something else than changegate."""
    out = []
    for line in segment.read_bytes().split(b"\n"):
        if not line:
            continue
        parts = change(line[50:].split(b"\t"))
        rest = b"\t".join(parts)
        out.append(line[:41] + b"%08x" % zlib.crc32(rest) + b"\t" + rest)
    segment.write_bytes(b"\n".join(out) + b"\n")


@pytest.mark.parametrize(
    "change",
    [
        lambda parts: [parts[0], b'{"d": "x", "f": 1}', *parts[2:]],  # a summary of no shape
        lambda parts: parts[:2],  # documents without their bodies
        lambda parts: [*parts[:2], *[b"[not json" for _ in parts[2:]]],  # bodies not JSON
        lambda parts: [*parts[:2], *[b"[1, 2]" for _ in parts[2:]]],  # bodies not mappings
    ],
    ids=["summary", "missing bodies", "not JSON", "not mappings"],
)
def test_entries_that_do_not_hold_together_are_never_used(
    repository: Path, tmp_path: Path, change: Any
) -> None:
    copy = copy_of(repository, tmp_path, cached=False)
    expected = {name: run(copy, *RUNS[name]) for name in ("check", "pull request", "gate")}
    for segment in cache_folder(copy).glob("*/*.jsonl"):
        forge(segment, change)
    for name, verdict in expected.items():
        assert run(copy, *RUNS[name]) == verdict, name


def test_junk_in_the_cache_folder_is_ignored(repository: Path, tmp_path: Path) -> None:
    copy = copy_of(repository, tmp_path)
    expected = run(copy, *RUNS["check"])
    (shape,) = {s.parent for s in cache_folder(copy).glob("*/*.jsonl")}
    (shape / "0-junk.jsonl").write_bytes(b"\x00\xff" * 1000 + b"\n" + b"a" * 40 + b"\tx\n")
    (shape / "1-folder.jsonl").mkdir()
    for segment in shape.glob("0*.jsonl"):
        segment.write_bytes(segment.read_bytes()[:-100])  # cut short
    assert run(copy, *RUNS["check"]) == expected


def test_a_changed_config_starts_another_shape(repository: Path, tmp_path: Path) -> None:
    copy = copy_of(repository, tmp_path)
    run(copy, *RUNS["validate"])
    before = {s.name for s in cache_folder(copy).iterdir()}
    config = copy / "changegate.yaml"
    write(
        config,
        config.read_text().replace("    - {name: qa}", "    - {name: qa}\n    - {name: dev}"),
    )
    run(copy, *RUNS["validate"])
    after = {s.name for s in cache_folder(copy).iterdir()}
    assert len(after - before) == 1


def test_runs_at_the_same_time_both_write_and_agree(repository: Path, tmp_path: Path) -> None:
    copy = copy_of(repository, tmp_path, cached=False)
    env = {**os.environ, "CHANGEGATE_CACHE": ""}
    command = [str(CHANGEGATE), "--repo", str(copy), *RUNS["check"], "--format", "json"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True, cwd=copy)
        for _ in range(3)
    ]
    outputs = [json.loads(p.communicate()[0]) for p in processes]
    for output in outputs:
        output.pop("engine")
        output.pop("at")
    assert outputs[0] == outputs[1] == outputs[2] == run(copy, *RUNS["check"])


def test_segments_are_merged_once_they_are_many(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    write(
        repo.root / "changegate.yaml",
        (ROOT / "examples" / "acme-shop" / "changegate.yaml").read_text(),
    )
    for round_ in range(cache.MAX_SEGMENTS + 3):
        write(repo.root / "incidents" / f"INC-{round_}.yaml", INCIDENT.format(n=round_))
        run(repo.root, "validate")
        segments = list(cache_folder(repo.root).glob("*/*.jsonl"))
        assert len(segments) <= cache.MAX_SEGMENTS
    assert len(entries(repo.root)) >= cache.MAX_SEGMENTS + 3


INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata: {{name: INC-{n}}}
spec:
  title: Checkout errors {n}
  severity: SEV-2
  services: [checkout]
  detectedAt: "2024-01-11T10:15:00Z"
  status: open
"""


def test_a_worktree_shares_the_repository_cache(repository: Path, tmp_path: Path) -> None:
    copy = copy_of(repository, tmp_path)
    worktree = tmp_path / "worktree"
    subprocess.run(["git", "worktree", "add", "-q", str(worktree), "main"], cwd=copy, check=True)
    assert cache.location(worktree) == (copy / ".git" / "changegate" / "cache").resolve()


# --- indexed fields -----------------------------------------------------------------------------

FULL_SPECS = {
    "ReleasePlan": {
        "service": "checkout", "version": "2.4.0", "status": "released", "environment": "qa",
        "releasedAt": "2024-01-20T10:00:00Z",
        "window": {"start": "2024-01-20T09:00", "end": "2024-01-20T11:00"},
        "scope": {"features": []}, "owner": "x",
    },
    "ChangeRequest": {
        "environment": "production", "services": ["checkout"], "type": "normal",
        "status": "planned", "schedule": {"start": "2024-01-25T10:00", "duration": "1h"},
        "freezeException": {"window": "w"}, "execution": {"startedAt": "2024-01-25T10:00:00Z"},
        "title": "t",
    },
    "Incident": {
        "services": ["checkout"], "environment": "production",
        "detectedAt": "2024-01-11T10:15:00Z", "resolvedAt": "2024-01-11T11:00:00Z",
        "impact": {"downtime": "15m", "slaImpact": True}, "title": "t",
    },
}  # fmt: skip
VIEWS = {
    "ReleasePlan": PlanFields,
    "ChangeRequest": ChangeRequestFields,
    "Incident": IncidentFields,
}


@pytest.mark.parametrize("kind", sorted(INDEXED))
def test_each_view_reads_only_what_the_index_holds(kind: str) -> None:
    """Every property of a view gives the same from the cache's projection as from the whole
    spec: reading a key the index lacks would raise."""
    spec = FULL_SPECS[kind]
    short, rest = INDEXED[kind]
    projected = Projection(
        kind,
        {k: spec[k] for k in short if k in spec},
        lambda: {k: spec[k] for k in rest if k in spec},
    )
    view = VIEWS[kind]
    properties = [n for n, v in vars(view).items() if isinstance(v, property)]
    assert properties
    for name in properties:
        assert getattr(view(projected), name) == getattr(view(spec), name), name


def test_a_key_the_index_lacks_is_refused_loudly() -> None:
    projected = Projection("ChangeRequest", {"status": "planned"}, None)
    assert projected.get("status") == "planned"
    with pytest.raises(LookupError, match=r"spec\.title of a ChangeRequest is not indexed"):
        projected.get("title")


def test_a_cache_folder_given_by_the_user_loses_nothing_of_theirs(
    repository: Path, tmp_path: Path
) -> None:
    """CHANGEGATE_CACHE=DIR may name a folder that holds other things: only the shapes this
    cache wrote are ever pruned."""
    shared = tmp_path / "shared"
    theirs = [shared / "notes", shared / ("a" * 32)]  # a name like a shape's, with a file
    for folder in theirs:
        write(folder / "keep.txt", "mine")
    copy = copy_of(repository, tmp_path)
    config = copy / "changegate.yaml"
    for number in range(cache.MAX_SHAPES + 2):  # every config edit starts another shape
        services = f"    - {{name: service-00}}\n    - {{name: extra-{number}}}"
        write(config, config.read_text().replace("    - {name: service-00}", services, 1))
        run(copy, *RUNS["validate"], cache_setting=str(shared))
    assert all((folder / "keep.txt").read_text() == "mine" for folder in theirs)
    shapes = [s for s in shared.iterdir() if s not in theirs]
    assert len(shapes) == cache.MAX_SHAPES


def test_an_entry_under_another_files_blob_id_is_not_believed(
    repository: Path, tmp_path: Path
) -> None:
    """Two files of one SHA-1 blob id (a collision) are told apart by their SHA-256: the
    entry of a harmless change request filed under the blob id of a freeze is not used."""
    copy = copy_of(repository, tmp_path, cached=False)
    saturday = ("gate", "--env", "production", "--service", "service-01", "--at",
                "2024-06-08T10:00:00Z")  # fmt: skip
    expected = run(copy, *saturday)
    assert expected["gate"]["allowed"] is False  # the weekend freeze of freezes/calendar.yaml
    freeze = (copy / "freezes" / "calendar.yaml").read_bytes()
    change = sorted((copy / "changes").glob("CHG-*.yaml"))[0].read_bytes()
    lines = entries(copy)
    forged = lines[cache.blob_id(change)]
    forged = cache.blob_id(freeze).encode() + forged[40:]  # its checksum still holds
    (segment,) = cache_folder(copy).glob("*/*.jsonl")
    kept = [ln for ln in segment.read_bytes().split(b"\n") if ln and ln[:40] != forged[:40]]
    segment.write_bytes(b"\n".join([*kept, forged]) + b"\n")  # in place of the freeze's entry
    assert run(copy, *saturday) == expected
