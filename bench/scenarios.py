"""The repositories the benchmark runs on, made once under bench/out/ and reused:

- ``repo-N``: the synthetic repository of N documents (generate.py), a git repository whose
  branch ``pr`` changes one change request, with the pull request's context beside it;
- ``invalid-N``: the same documents with every change request missing its title;
- ``freezes-N``: the same with 100 production-wide one-off freezes more.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

from generate import generate

OUT = Path(__file__).resolve().parent / "out"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2024-05-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-05-01T00:00:00Z",
}  # fmt: skip
CHANGED = "changes/CHG-000014.yaml"


class Repositories(NamedTuple):
    valid: Path
    context: Path  # the pull request's context (YAML), for ``check --context``
    invalid: Path
    freezes: Path


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **_GIT_ENV},
    ).stdout.strip()  # fmt: skip


def _copy(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git"))
    return target


def make(documents: int) -> Repositories:
    repo = OUT / f"repo-{documents}"
    context = OUT / f"pr-{documents}.yaml"
    if not (repo / ".git").is_dir() or not context.exists():
        generate(documents, repo)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "base")
        base = _git(repo, "rev-parse", "HEAD")
        _git(repo, "checkout", "-q", "-b", "pr")
        changed = repo / CHANGED
        changed.write_text(changed.read_text().replace("status: planned", "status: in-progress"))
        _git(repo, "commit", "-q", "-am", "edit one change request")
        head = _git(repo, "rev-parse", "HEAD")
        context.write_text(json.dumps(_context(base, head)))
    invalid = OUT / f"invalid-{documents}"
    if not invalid.exists():
        _copy(repo, invalid)
        for path in (invalid / "changes").glob("*.yaml"):
            lines = path.read_text().splitlines(keepends=True)
            path.write_text("".join(line for line in lines if not line.startswith("  title: ")))
    freezes = OUT / f"freezes-{documents}"
    if not freezes.exists():
        _copy(repo, freezes)
        _wide_freezes(freezes / "freezes", 100)
    return Repositories(repo, context, invalid, freezes)


def _context(base: str, head: str) -> dict[str, object]:
    return {
        "event": "pull_request",
        "pullRequest": {
            "number": 7, "author": "alice", "headSha": head, "baseSha": base,
            "createdAt": "2024-05-01T00:00:00Z", "changedFiles": [CHANGED],
            "committers": ["alice"],
        },
        "reviews": [{"user": "bob", "state": "APPROVED", "commit": head}],
        "teams": {"synthetic/cab": ["bob"]},
    }  # fmt: skip


def _wide_freezes(folder: Path, count: int) -> None:
    rng = random.Random(5)
    for number in range(count):
        first = date(2024, 1, 1) + timedelta(days=rng.randrange(365))
        (folder / f"wide-{number:03d}.yaml").write_text(
            f"""\
apiVersion: changegate/v1
kind: FreezeWindow
metadata:
  name: wide-{number:03d}
spec:
  reason: Production-wide freeze {number}
  level: hard
  timezone: UTC
  start: "{first.isoformat()}T00:00"
  end: "{(first + timedelta(days=1)).isoformat()}T00:00"
  scope: {{environments: [production]}}
"""
        )
