"""The impact preview's cost against a full check, at N documents (default 10,000).

The repository comes from bench/generate.py and is committed as ``main``; the change under
test tightens one rule (a policy the working tree adds) and deletes a freeze, as a pull
request touching the rules would. Timed, cold, as separate processes:

- ``check --policies-from main`` of a working tree that touches no rule: the full check;
- the same check of the working tree that does: the check with its impact preview;
- ``changegate impact --base main``: the preview on its own.

The issue's target: the preview at most about twice a full check.

    python bench/impact.py [--documents 10000] [--runs 3]

Figures, not pass/fail: timed assertions do not belong in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

AT = "2024-03-06T12:00:00Z"
TIGHTER = """\
apiVersion: changegate/v1
kind: Policy
metadata: {name: bench-risk}
spec:
  match: {kinds: [ChangeRequest]}
  rules:
    - name: no-high-risk-in-production
      expression: "!(object.spec.environment == 'production' && object.spec.risk == 'high')"
      message: high-risk changes to production wait for the quarterly review
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def prepare(documents: int) -> Path:
    repo = generate(documents, HERE / "out" / f"impact-{documents}")
    shutil.rmtree(repo / ".git", ignore_errors=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(
        repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
        "commit", "--quiet", "--no-gpg-sign", "-m", "base",
    )  # fmt: skip
    return repo


def change_rules(repo: Path) -> None:
    """The pull request: a new, tighter policy, and one fewer freeze."""
    (repo / "policies").mkdir(exist_ok=True)
    (repo / "policies" / "bench-risk.yaml").write_text(TIGHTER)
    for path in removed(repo):
        path.unlink()


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode not in {0, 1}:
        raise SystemExit(f"{' '.join(command[3:6])} failed: {result.stderr.strip()}")
    return seconds, result.stdout


def median(command: list[str], runs: int) -> tuple[float, str]:
    samples = [timed(command) for _ in range(runs)]
    return statistics.median(s for s, _ in samples), samples[-1][1]


def contexts(repo: Path) -> tuple[Path, Path]:
    """Request contexts of one pull request (no reviews yet): as the Action builds it, listing
    the files it changes (the new policy, the deleted freeze), and the same without that list,
    which judges every document (the full check the preview is measured against)."""
    changed = ["policies/bench-risk.yaml", *(p.relative_to(repo).as_posix() for p in removed(repo))]
    pull = {
        "number": 1,
        "author": "dana",
        "createdAt": "2024-03-05T09:00:00Z",
        "committers": ["dana"],
    }
    paths = []
    for name, listed in (("pr", {"changedFiles": changed}), ("all", {})):
        context = {
            "event": "pull_request",
            "actor": "dana",
            "pullRequest": {**pull, **listed},
            "reviews": [],
            "teams": {},
        }
        path = repo.parent / f"{repo.name}-{name}-context.json"
        path.write_text(json.dumps(context))
        paths.append(path)
    return paths[0], paths[1]


def removed(repo: Path) -> list[Path]:
    return sorted((repo / "freezes").glob("migration-*.yaml"))[:1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    repo = prepare(args.documents)
    base = [sys.executable, "-m", "engine", "--repo", str(repo)]
    check = [*base, "check", "--at", AT, "--format", "json"]
    impact = [*base, "impact", "--base", "main", "--at", AT, "--format", "json"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"repository: {args.documents:,} documents in {repo}, median of {args.runs} cold runs")
    pr_context, all_context = contexts(repo)
    events = {"pull_request": ["--context", str(all_context)], "local": ["--event", "local"]}
    full = {
        (event, jobs): median([*check, *flags, "--jobs", jobs], args.runs)[0]
        for event, flags in events.items()
        for jobs in ("1", "2")
    }
    change_rules(repo)
    alone = {}
    for event, flags in events.items():
        alone[event], out = median([*impact, *flags], args.runs)
        found = json.loads(out)
        print(
            f"the change, as a {event} event sees it: {len(found['newlyDenied'])} newly denied, "
            f"{len(found['noLongerDenied'])} no longer denied, over {found['documents']:,} "
            "documents judged twice"
        )
    pr = [*check, "--policies-from", "main", "--context", str(pr_context)]
    previewed, _ = median(pr, args.runs)
    rows: list[tuple[str, float, float | None, str | None]] = [
        (f"{event}: full check, every document", full[(event, "1")], full[(event, "2")], None)
        for event in events
    ]
    rows += [(f"{event}: changegate impact", alone[event], None, event) for event in events]
    rows.append(("pull_request: PR check + preview", previewed, None, "pull_request"))
    for name, seconds, parallel, compared in rows:
        if compared is None:
            print(f"{name:38} {seconds:6.2f} s (--jobs 1), {parallel:.2f} s (--jobs 2)")
            continue
        one, two = full[(compared, "1")], full[(compared, "2")]
        print(
            f"{name:38} {seconds:6.2f} s = {seconds / one:.2f}x the full check (--jobs 1), "
            f"{seconds / two:.2f}x (--jobs 2)"
        )
    print("target: the impact preview at most about 2x a full check")
    git(repo, "checkout", "--quiet", "--", ".")
    git(repo, "clean", "--quiet", "-fd")


if __name__ == "__main__":
    main()
