"""changegate's benchmark: one run prints every figure issue 3 asks for.

1. ``changegate check`` over a synthetic repository of N documents (default 10,000), cold
   (a fresh process: interpreter start, imports, loading, schemas, policies, report), with
   the fast CEL backend and with the fallback, against two floors measured in this process:
   - parse only: reading every file with PyYAML's C loader (``yaml.load(CSafeLoader)``);
   - hand-written Python: that parse plus five built-in rules written directly in Python.
   The ratios are check time / floor. Peak memory (RSS) of each check is reported too.
2. A pull-request-sized check (examples/acme-shop with a shipped context), cold, median of
   several runs.

    python bench/run.py [--documents 10000] [--skip-fallback] [--runs 3]

Figures, not pass/fail: timed assertions do not belong in the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402 - the sibling script

AT = "2024-06-01T00:00:00Z"
CHANGEGATE = [sys.executable, "-m", "engine"]


def _tree_rss(pid: int) -> int:
    """Resident memory (kB) of a process and all its descendants, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue  # it ended meanwhile
    return total


def timed(command: list[str], *, env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (MB) of one fresh process with its workers (the
    sum over the process tree, sampled every 200 ms: sampling must not compete with the workers)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], _tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    errors = process.stderr.read().decode() if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in {0, 1}:
        raise SystemExit(f"{' '.join(command)} failed with {code}:\n{errors}")
    return elapsed, code, max(peak[0], usage.ru_maxrss) // 1024


def parse_floor(files: list[Path]) -> tuple[float, list[object]]:
    started = time.perf_counter()
    documents = [yaml.load(f.read_bytes(), Loader=yaml.CSafeLoader) for f in files]
    return time.perf_counter() - started, documents


def python_floor(documents: list[object]) -> tuple[float, int]:
    """Five built-in rules, written directly in Python over the parsed documents."""
    started = time.perf_counter()
    failures = 0
    released: dict[str, list[tuple[int, ...]]] = {}
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "ReleasePlan":
            spec = doc["spec"]
            if spec.get("status") == "released":
                version = tuple(int(p) for p in spec["version"].split("."))
                released.setdefault(spec["service"], []).append(version)
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        spec = doc.get("spec", {})
        if doc.get("kind") == "ChangeRequest":
            # change-completeness/rollback-plan and standard-template
            if spec["type"] != "standard" and not spec.get("rollback"):
                failures += 1
            if spec["type"] == "standard" and spec.get("template") not in {"tls-rotation"}:
                failures += 1
        elif doc.get("kind") == "ReleasePlan" and spec.get("status") in {"planned", None}:
            # release-readiness/exit-criteria and blocking-bugs
            criteria = spec.get("exitCriteria", [])
            if any(not c.get("check") and not c.get("done") for c in criteria):
                failures += 1
            fixes = spec.get("scope", {}).get("fixes", [])
            if any(
                f["priority"] in {"critical", "high"} and f["status"] not in {"fixed", "verified"}
                for f in fixes
            ):
                failures += 1
        if doc.get("kind") == "ReleasePlan":
            # release-versioning/semver-bump
            version = tuple(int(p) for p in spec["version"].split("."))
            older = [v for v in released.get(spec["service"], []) if v < version]
            if older:
                previous = max(older)
                bump = (
                    "major" if version[0] != previous[0]
                    else "minor" if version[1] != previous[1] else "patch"
                )  # fmt: skip
                failures += bump != spec["type"]
    return time.perf_counter() - started, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each cold check (median)")
    parser.add_argument("--skip-fallback", action="store_true", help="skip cel-python (slow)")
    args = parser.parse_args()

    repo = HERE / "out" / f"repo-{args.documents}"
    if not (repo / "changegate.yaml").exists():
        generate(args.documents, repo)
    files = sorted(repo.rglob("*.yaml"))
    print(f"synthetic repository: {len(files):,} documents in {repo.relative_to(ROOT)}")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")

    # Floors and checks alternate, and each ratio compares neighbours: a shared machine's
    # speed drifts between runs, and this keeps the drift out of the ratios.
    check = [*CHANGEGATE, "check", str(repo), "--at", AT]
    _, documents = parse_floor(files)  # warm the file cache first
    rule_seconds, _ = python_floor(documents)
    backends = ["cel-expr-python"] + ([] if args.skip_fallback else ["cel-python"])
    for backend in backends:
        runs = 1 if backend == "cel-python" else args.runs
        pairs = []
        for _ in range(runs):
            floor_seconds, _ = parse_floor(files)
            seconds, _, peak = timed([*check, "--cel-backend", backend])
            pairs.append((floor_seconds, seconds, peak))
        floor = statistics.median(p[0] for p in pairs)
        seconds = statistics.median(p[1] for p in pairs)
        ratios = sorted(p[1] / p[0] for p in pairs)
        python_ratios = sorted(p[1] / (p[0] + rule_seconds) for p in pairs)
        print(f"{backend}, {runs} run(s):")
        print(f"  floor, parse only (PyYAML C loader):    {floor:6.2f} s")
        print(f"  floor, parse + 5 rules in plain Python: {floor + rule_seconds:6.2f} s")
        print(
            f"  changegate check:                       {seconds:6.2f} s   "
            f"{statistics.median(ratios):.2f}x parse floor (runs {ratios[0]:.2f}-{ratios[-1]:.2f})"
            f"   {statistics.median(python_ratios):.2f}x Python floor"
        )
        print(f"  peak memory (all processes):            {max(p[2] for p in pairs):,} MB")

    context = ROOT / "examples" / "acme-shop" / "contexts" / "pr-42-approved.yaml"
    small = [*CHANGEGATE, "check", "examples/acme-shop", "--context", str(context), "--at", AT]
    timed(small)  # warm the file cache; every run below is still a fresh process
    samples = sorted(timed(small)[0] for _ in range(max(args.runs, 9)))
    print(
        f"\npull-request-sized check (acme-shop), cold: median {statistics.median(samples):.3f} s"
        f" (min {samples[0]:.3f}, max {samples[-1]:.3f}, {len(samples)} runs)"
    )


if __name__ == "__main__":
    main()
