"""One repository of an organisation that shares one policy pack, measured for docs/scale.md.

A pack repository holds the built-in recommended policies as ``packs/change-management``
(served from a bare repository by a file:// URL: the transport costs nothing here, so the
figures are changegate's own); a consumer repository of N documents (default 1,000, from
bench/generate.py) names it in changegate.yaml instead of builtin:recommended. Timed, cold,
as separate processes, as CI runs them:

- ``policies lock`` (resolve the tag, fetch, hash) and ``policies verify``;
- a pull request that adds one change request: ``check --policies-from main`` with an empty
  pack cache (the commit is fetched) and with the cache a previous run left;
- the pack's next release bumped by a lock-only pull request: ``check --policies-from main``
  with the impact preview over every document;
- ``audit --format json`` of the repository's history.

    python bench/scale.py [--documents 1000] [--runs 3]
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
PACK = "packs/change-management"
IDENTITY = ("-c", "user.name=bench", "-c", "user.email=bench@example.com")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *args], check=True, capture_output=True, text=True
    )
    return done.stdout


def pack_repository(out: Path) -> tuple[Path, Path]:
    """The organisation's pack (its work tree and the bare repository it is served from)."""
    work, bare = out / "org-policies", out / "org-policies.git"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(bare, ignore_errors=True)
    (work / PACK).mkdir(parents=True)
    for policy in sorted((ROOT / "policies" / "recommended").glob("*.yaml")):
        shutil.copy(policy, work / PACK / policy.name)
    git(out, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "--no-gpg-sign", "-m", "v1.0.0")
    git(work, "tag", "v1.0.0")
    git(out, "clone", "--quiet", "--bare", str(work), str(bare))
    return work, bare


def consumer(out: Path, documents: int, bare: Path) -> Path:
    repo = generate(documents, out / f"consumer-{documents}")
    shutil.rmtree(repo / ".git", ignore_errors=True)
    config = (repo / "changegate.yaml").read_text()
    source = f"git+{bare.as_uri()}@v1.0.0#{PACK}"
    (repo / "changegate.yaml").write_text(
        config.replace("spec:\n", f"spec:\n  policies: ['{source}', ./policies]\n", 1)
    )
    git(out, "init", "--quiet", "--initial-branch=main", str(repo))
    return repo


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in {0, 1}:
        raise SystemExit(f"{' '.join(command[4:7])} failed: {done.stderr.strip()}")
    return seconds


def context(repo: Path, changed: list[str]) -> Path:
    path = repo.parent / f"{repo.name}-{len(changed)}-context.json"
    pull = {"number": 2, "author": "dana", "createdAt": "2024-03-05T09:00:00Z"}
    path.write_text(
        json.dumps(
            {
                "event": "pull_request",
                "actor": "dana",
                "pullRequest": {**pull, "changedFiles": changed, "committers": ["dana"]},
                "reviews": [],
                "teams": {},
            }
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    work, bare = pack_repository(out)
    repo = consumer(out, args.documents, bare)
    cache = out / "scale-pack-cache"
    env = {**os.environ, "CHANGEGATE_PACK_CACHE": str(cache)}
    base = [sys.executable, "-m", "engine", "--repo", str(repo)]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"one repository: {args.documents:,} documents; one pack of {PACK}; median of {args.runs}"
    )
    rows: list[tuple[str, float]] = []

    def measure(name: str, command: list[str], *, cold: bool = False) -> None:
        samples = []
        for _ in range(args.runs):
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            samples.append(timed(command, env))
        rows.append((name, statistics.median(samples)))

    measure("policies lock (cold cache)", [*base, "policies", "lock"], cold=True)
    measure("policies verify", [*base, "policies", "verify"])
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--no-gpg-sign", "-m", "base")
    new = repo / "changes" / "CHG-999999.yaml"
    first = sorted((repo / "changes").glob("*.yaml"))[0]
    new.write_text(first.read_text().replace(first.stem, new.stem, 1))
    one = [*base, "check", "--policies-from", "main", "--at", AT, "--format", "json"]
    one += ["--context", str(context(repo, [f"changes/{new.name}"]))]
    measure("PR check, empty pack cache", one, cold=True)
    measure("PR check, warm pack cache", one)
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    new.unlink()
    policy = work / PACK / "change-completeness.yaml"
    policy.write_text(policy.read_text().replace("severity: deny", "severity: warn", 1))
    git(work, "commit", "--quiet", "--no-gpg-sign", "-am", "v1.1.0")
    git(work, "tag", "v1.1.0")
    git(work, "push", "--quiet", str(bare), "main", "v1.1.0")
    config = repo / "changegate.yaml"
    config.write_text(config.read_text().replace("@v1.0.0#", "@v1.1.0#"))
    subprocess.run([*base, "policies", "lock"], env=env, check=True, capture_output=True)
    bump = [*base, "check", "--policies-from", "main", "--at", AT, "--format", "json"]
    bump += ["--context", str(context(repo, ["changegate.yaml", "changegate.lock"]))]
    measure("lock-bump PR check + impact preview", bump)
    verdict = subprocess.run(bump, env=env, capture_output=True, text=True, check=False).stdout
    impact = json.loads(verdict)["impact"]
    git(repo, "checkout", "--quiet", "--", ".")
    audit = [*base, "audit", "--at", AT, "--format", "json", "--output", os.devnull]
    measure("audit --format json", audit)
    for name, seconds in rows:
        print(f"  {name:38} {seconds:6.2f} s")
    print(
        f"  pack cache after one fetch:            {size / 1024:6.0f} KiB; the lock-bump preview "
        f"judged {impact['documents']:,} documents: {len(impact['noLongerDenied'])} rule "
        f"outcomes no longer deny"
    )


if __name__ == "__main__":
    main()
