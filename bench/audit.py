"""changegate audit over a long history: a synthetic repository of N commits (default 5,000)
on the default branch, most of them squash-merged pull requests with a decision record, some
direct pushes, written with git fast-import; then `changegate audit` (JSON and HTML) and
`changegate metrics`, cold, timed against the 30 s the audit may take on this machine.

    python bench/audit.py [--commits 5000] [--runs 3]

Figures, not pass/fail: timed assertions do not belong in the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CEILING = 30.0  # seconds: what issue 6 allows for 5,000 commits

CONFIG = """\
apiVersion: changegate/v1
kind: Config
metadata: {name: long-history}
spec:
  timezone: UTC
  services: [{name: checkout, slo: {availability: 99.9}}, {name: catalog}]
  roles: {cab: {users: [bob, carol]}}
"""


def change(number: int, start: datetime, status: str) -> str:
    return f"""\
apiVersion: changegate/v1
kind: ChangeRequest
metadata: {{name: CHG-{number:05d}}}
spec:
  title: Change {number}
  type: normal
  risk: low
  environment: production
  services: [{"checkout" if number % 2 else "catalog"}]
  requestor: {{name: alice}}
  description: Change {number} of a long history.
  justification: Keeps the service healthy.
  impact: {{systems: [db], users: 0, downtime: 0m}}
  implementation: [Apply it]
  rollback: [Revert it]
  testing: {{unit: true, integration: true, uat: true}}
  schedule: {{start: "{start:%Y-%m-%dT%H:%M}", duration: 1h, timezone: UTC}}
  status: {status}
"""


def record(commit: str, path: str, at: datetime, number: int) -> str:
    """A decision record of the shape ``changegate record`` writes, with both digests right
    (audit reads only well-formed, unedited records)."""
    from engine.trail.record import inputs_digest, record_digest

    stamp = "%Y-%m-%dT%H:%M:%SZ"
    body: dict[str, object] = {
        "apiVersion": "changegate/v1",
        "kind": "DecisionRecord",
        "commit": commit,
        "root": ".",
        "config": None,
        "paths": [],
        "event": "merge",
        "at": f"{at:{stamp}}",
        "decision": "allow",
        "summary": {"documents": 1, "rules": 0, "failed": 0, "warnings": 0, "errors": 0,
                    "waived": 0},
        "documents": [{"kind": "ChangeRequest", "name": None, "path": path, "sha256": "0" * 64}],
        "approvals": [
            {"user": "bob", "roles": ["cab"], "reviewId": number, "commit": commit,
             "submittedAt": f"{at - timedelta(hours=2):{stamp}}"}
        ],
        "pullRequest": {"number": number, "author": "alice", "headSha": commit,
                        "baseSha": commit, "createdAt": f"{at - timedelta(days=1):{stamp}}"},
        "policy": {"revision": commit, "digest": "sha256:" + "0" * 64},
        "engine": {"version": "bench", "celBackend": "cel-expr-python", "tzdata": "bench"},
        "context": {"event": "merge"},
        "findings": [],
        "rules": [],
    }  # fmt: skip
    body["inputs"] = {"digest": inputs_digest(body)}
    body["digest"] = record_digest(body)
    return json.dumps(body)


def generate(commits: int, out: Path, seed: int = 11) -> Path:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(out)], check=True)
    stream: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    start = datetime(2023, 1, 2, 9, tzinfo=UTC)
    files: list[str] = []
    for index in range(commits):
        mark = index + 1
        when = start + timedelta(hours=2 * index)
        stamp = f"{int(when.timestamp())} +0000"
        direct = rng.random() < 0.02
        number = index + 1
        author = "mallory" if direct else "alice"
        stream.append(f"commit refs/heads/main\nmark :{mark}\n".encode())
        stream.append(f"author {author} <{author}@example.com> {stamp}\n".encode())
        stream.append(f"committer GitHub <noreply@github.com> {stamp}\n".encode())
        data("Start" if index == 0 else f"Change {number}" + ("" if direct else f" (#{number})"))
        if index == 0:
            stream.append(b"M 100644 inline changegate.yaml\n")
            data(CONFIG)
            continue
        if files and rng.random() < 0.4:
            path = rng.choice(files)
            status = rng.choice(["in-progress", "completed"])
        else:
            path = f"changes/CHG-{number:05d}.yaml"
            files.append(path)
            status = "planned"
        cr = int(path[-10:-5])
        stream.append(f"M 100644 inline {path}\n".encode())
        data(change(cr, when + timedelta(days=7), status))
    subprocess.run(
        ["git", "-C", str(out), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    subprocess.run(["git", "-C", str(out), "checkout", "--quiet", "main"], check=True)
    # the decision records, as notes of the pull request commits (they name their commit)
    shas = subprocess.run(
        ["git", "-C", str(out), "rev-list", "--reverse", "main"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    stream = [b"commit refs/notes/changegate\n"]
    stream.append(b"committer changegate <changegate@example.com> 1700000000 +0000\n")
    data("Decision records")
    for index in range(1, commits):
        if rng.random() < 0.9:
            when = start + timedelta(hours=2 * index)
            stream.append(f"N inline {shas[index]}\n".encode())
            data(record(shas[index], f"changes/CHG-{index + 1:05d}.yaml", when, index + 1))
    subprocess.run(
        ["git", "-C", str(out), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    return out


def timed(command: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    repo = generate(args.commits, HERE / "out" / f"history-{args.commits}")
    count = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    notes = len(
        subprocess.run(
            ["git", "-C", str(repo), "notes", "--ref=refs/notes/changegate", "list"],
            capture_output=True,
            check=True,
        ).stdout.splitlines()
    )
    print(f"synthetic history: {count} commits, {notes} decision records, in {repo}")
    base = [sys.executable, "-m", "engine", "--repo", str(repo)]
    at = ["--at", "2023-12-31T00:00:00Z"]
    for name, command in (
        ("audit --format json", [*base, "audit", *at, "--format", "json", "--output", "/dev/null"]),
        ("audit --format html", [*base, "audit", *at, "--format", "html", "--output", "/dev/null"]),
        (
            "metrics --format json",
            [*base, "metrics", *at, "--format", "json", "--output", "/dev/null"],
        ),
    ):
        samples = []
        for _ in range(args.runs):
            seconds, code = timed(command)
            if code not in {0, 1}:
                raise SystemExit(f"{name} failed with exit {code}")
            samples.append(seconds)
        median = statistics.median(samples)
        print(
            f"  {name:24} median {median:6.2f} s  ({median / CEILING:.2f} of the {CEILING:.0f} s "
            f"ceiling; runs {min(samples):.2f}-{max(samples):.2f})"
        )


if __name__ == "__main__":
    main()
