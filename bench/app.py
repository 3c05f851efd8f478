"""The deployment protection App under load: ``changegate serve`` as a real process on
127.0.0.1, a synthetic repository of N documents (default 1,000) as a bare git repository it
fetches, and the fake GitHub of the tests (every request and response checked against
GitHub's OpenAPI description) answering the token exchange, the reads and the callbacks.

D deliveries (default 200), signed as GitHub signs them, are sent C at a time (default 20);
half name a service in the deployment payload, half leave it to the environment's two
services. Printed: the delivery-to-callback latency (from just before a delivery is sent to
the moment the fake GitHub takes its answer), median, p99 and max, and whether any callback
was lost or doubled (the run fails then).

    python bench/app.py [--documents 1000] [--deliveries 200] [--concurrency 20] [--rounds 2]

The first burst meets a cold App (the first fetch of the repository and the first load of
its documents); the next ones a warm one.

Figures, not pass/fail: timed assertions do not belong in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from generate import generate  # noqa: E402 - the sibling script

from tests.support.app import (  # noqa: E402 - the tests' App helpers
    APP_ID,
    INSTALLATION,
    SECRET,
    app_key,
    delivery_headers,
    post,
    protection_body,
)
from tests.support.fakegithub import FakeGitHub, Spec  # noqa: E402

SHARED = ROOT.parent / "shared" / "github"
REPOSITORY = "synthetic/shop"


def repository(documents: int, folder: Path) -> str:
    """The synthetic repository, staging deploying two services, as a bare repository; the
    template CHANGEGATE_GIT_URL needs to fetch it."""
    work = generate(documents, folder / "work")
    config = work / "changegate.yaml"
    text = config.read_text()
    config.write_text(
        text.replace("- {name: staging}", "- {name: staging, services: [service-25, service-26]}")
    )
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "--quiet", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "--quiet", "-m", "synthetic"], check=True)
    bare = folder / "origin" / f"{REPOSITORY}.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(bare)], check=True)
    return f"file://{folder / 'origin'}/{{owner}}/{{repo}}.git"


def start(env: dict[str, str], lines: list[dict[str, object]]) -> tuple[subprocess.Popen[str], str]:
    """The server, its JSON log lines read into ``lines`` as they come (a full pipe would
    stall it), and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    stream = process.stderr
    if stream is None:
        raise SystemExit("no stderr")
    threading.Thread(
        target=lambda: lines.extend(json.loads(text) for text in stream), daemon=True
    ).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in list(lines):
            if line.get("message") == "listening":
                return process, str(line["url"])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise SystemExit("changegate serve did not start")


def deliver(url: str, run_id: int, sent: dict[int, float], statuses: Counter[int]) -> None:
    payload = {"service": "service-25"} if run_id % 2 else {}
    body = protection_body(REPOSITORY, run_id=run_id, environment="staging", payload=payload)
    raw = json.dumps(body).encode()
    headers = delivery_headers(raw)
    sent[run_id] = time.perf_counter()
    statuses[post(f"{url}/webhook", raw, headers).status] += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="bursts: the first cold")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"bench/app.py skipped: {SHARED} is absent (the fake GitHub checks against it)")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="changegate-bench-app-"))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> int:
    template = repository(args.documents, folder)
    private, public = app_key()
    (folder / "app.pem").write_text(private)
    with FakeGitHub(Spec(SHARED / "openapi-subset.json"), owner="synthetic", name="shop") as github:
        github.app_id, github.app_public_key = APP_ID, public
        github.installations.add(INSTALLATION)
        for team in ("synthetic/cab", "synthetic/on-call", "synthetic/platform"):
            github.teams[team] = ["bob", "carol"]
        env = {
            "CHANGEGATE_APP_ID": APP_ID,
            "CHANGEGATE_APP_PRIVATE_KEY_FILE": str(folder / "app.pem"),
            "CHANGEGATE_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": github.url,
            "CHANGEGATE_STATE": str(folder / "state" / "app.sqlite3"),
            "CHANGEGATE_GIT_URL": template,
        }
        lines: list[dict[str, object]] = []
        process, url = start(env, lines)
        rounds = []
        try:
            for number in range(args.rounds):
                rounds.append(burst(args, github, url, first=number * args.deliveries + 1))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        problems = list(github.problems)
    print(f"changegate serve under load, {datetime.now(UTC):%Y-%m-%d}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}: {args.documents} "
          f"documents, {args.deliveries} deliveries {args.concurrency} at a time")  # fmt: skip
    failed = False
    for number, (sent, statuses, reviews, elapsed) in enumerate(rounds):
        label = "first burst (cold: first fetch and load)" if number == 0 else "next burst (warm)"
        failed |= report(label, args, sent, statuses, reviews, elapsed)
    print(f"  API problems: {len(problems)}; exit after SIGTERM: {code}")
    return 1 if failed or problems or code != 0 else 0


def burst(
    args: argparse.Namespace, github: FakeGitHub, url: str, first: int
) -> tuple[dict[int, float], Counter[int], list, float]:  # type: ignore[type-arg]
    """Send one burst of deliveries (run ids from ``first``) and wait for their answers."""
    sent: dict[int, float] = {}
    statuses: Counter[int] = Counter()
    runs = range(first, first + args.deliveries)
    began = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        for run_id in runs:
            pool.submit(deliver, url, run_id, sent, statuses)

    def answers() -> list:  # type: ignore[type-arg]
        return [r for r in github.protection_reviews if int(r.path.split("/")[-2]) in runs]

    deadline = time.monotonic() + 120
    while len(answers()) < args.deliveries and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    time.sleep(0.5)  # a doubled callback would come now
    return sent, statuses, answers(), elapsed


def report(
    label: str,
    args: argparse.Namespace,
    sent: dict[int, float],
    statuses: Counter[int],
    reviews: list,  # type: ignore[type-arg]
    elapsed: float,
) -> bool:
    """Print one burst's figures; True when a callback was lost or doubled."""
    per_run = Counter(int(r.path.split("/")[-2]) for r in reviews)
    lost = sorted(set(sent) - set(per_run))
    doubled = sorted(run for run, count in per_run.items() if count > 1)
    latencies = [
        r.at - sent[int(r.path.split("/")[-2])]
        for r in reviews
        if int(r.path.split("/")[-2]) in sent
    ]
    states = Counter(str(r.body.get("state")) for r in reviews)
    print(f"  {label}: all answered in {elapsed:.1f} s")
    print(f"    HTTP answers: {dict(sorted(statuses.items()))}; callbacks: {len(reviews)} "
          f"{dict(sorted(states.items()))}")  # fmt: skip
    if latencies:
        print(f"    delivery to callback: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")  # fmt: skip
    print(f"    lost callbacks: {len(lost)}{f' {lost[:10]}' if lost else ''}; doubled: "
          f"{len(doubled)}{f' {doubled[:10]}' if doubled else ''}")  # fmt: skip
    return bool(lost or doubled or statuses.get(202) != args.deliveries)


if __name__ == "__main__":
    raise SystemExit(main())
