"""A seeded change trail: a real git repository with three months of release plans, change
requests, a freeze, incidents and a waiver, merged through pull requests with decision
records, and one planted bypass of each kind that ``changegate audit`` flags."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.cli import main

AUDIT_AT = "2024-03-31T12:00:00Z"

CONFIG = """\
apiVersion: changegate/v1
kind: Config
metadata: {name: trail}
spec:
  timezone: UTC
  services:
    - {name: checkout, slo: {availability: 99.9}}
    - {name: catalog, slo: {availability: 99.5}}
  roles:
    cab: {users: [bob, carol]}
    manager: {users: [dana]}
    on-call: {users: [frank]}
    policy-owners: {users: [grace]}
"""

FREEZE = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: march-freeze}
spec:
  reason: Quarter close
  level: hard
  timezone: UTC
  start: "2024-03-01T00:00"
  end: "2024-03-04T00:00"
  scope: {environments: [production]}
"""


def change(
    name: str,
    *,
    start: str,
    service: str = "checkout",
    kind: str = "normal",
    release: str | None = None,
    status: str = "planned",
    execution: dict[str, Any] | None = None,
    testing: bool = True,
) -> str:
    spec: dict[str, Any] = {
        "title": f"Change {name}",
        "type": kind,
        "risk": "low",
        "environment": "production",
        "services": [service],
        "requestor": {"name": "alice"},
        "description": "Raise the connection pool size.",
        "justification": "Peak traffic needs more connections.",
        "impact": {"systems": [f"{service}-api"], "users": 0, "downtime": "0m"},
        "implementation": ["Apply the new pool size", "Watch the error rate"],
        "rollback": ["Restore the previous pool size"],
        "schedule": {"start": start, "duration": "1h", "timezone": "UTC"},
        "status": status,
    }
    if testing:
        spec["testing"] = {"unit": True, "integration": True, "uat": True}
    if release:
        spec["release"] = release
    if execution:
        spec["execution"] = execution
    body = {
        "apiVersion": "changegate/v1",
        "kind": "ChangeRequest",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(body, sort_keys=False)


def release(
    name: str,
    service: str,
    version: str,
    previous: str,
    kind: str,
    target: str,
    *,
    window: tuple[str, str] | None = None,
    status: str = "planned",
    released: str | None = None,
    features: tuple[str, ...] = ("F-1",),
    freeze: str | None = None,
    summary: str = "Faster checkout",
) -> str:
    spec: dict[str, Any] = {
        "service": service,
        "version": version,
        "previousVersion": previous,
        "type": kind,
        "summary": summary,
        "targetDate": target,
        "releaseManager": "erin",
        "scope": {
            "features": [
                {"id": f, "title": f"Feature {f}", "owner": "team-a", "status": "ready"}
                for f in features
            ]
        },
        "exitCriteria": [
            {
                "id": "uat",
                "title": "UAT sign-off",
                "done": True,
                "evidence": "https://example.com/uat",
            }
        ],
        "goNoGo": {"date": target, "deciders": ["erin"], "decision": "go"},
        "rollout": {
            "strategy": "rolling",
            "rollback": {
                "plan": "Redeploy the previous version",
                "triggers": [{"metric": "error_rate", "operator": ">", "threshold": "1%"}],
            },
        },
        "status": status,
    }
    if window:
        spec["window"] = {"start": window[0], "end": window[1], "timezone": "UTC"}
    if released:
        spec["releasedAt"] = released
    if freeze:
        spec["scopeFreeze"] = freeze
    body = {
        "apiVersion": "changegate/v1",
        "kind": "ReleasePlan",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(body, sort_keys=False)


def incident(
    name: str,
    service: str,
    detected: str,
    resolved: str,
    *,
    downtime: str | None = None,
    release_name: str | None = None,
) -> str:
    spec: dict[str, Any] = {
        "title": f"Errors in {service}",
        "severity": "SEV-2",
        "services": [service],
        "environment": "production",
        "detectedAt": detected,
        "resolvedAt": resolved,
        "status": "resolved",
    }
    if downtime:
        spec["impact"] = {"downtime": downtime}
    if release_name:
        spec["release"] = release_name
    body = {
        "apiVersion": "changegate/v1",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(body, sort_keys=False)


WAIVER = """\
apiVersion: changegate/v1
kind: Waiver
metadata: {name: rollback-waiver}
spec:
  rule: change-completeness/rollback-plan
  selector: {names: [CHG-101]}
  owner: alice
  justification: The pool change is reverted by redeploying.
  expires: "2024-02-15"
"""


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([str(a) for a in args])
    return code, out.getvalue()


@dataclass
class Trail:
    root: Path
    merges: dict[int, str] = field(default_factory=dict)  # pull request -> merge commit
    direct_push: str = ""
    commits: int = 0

    def __post_init__(self) -> None:
        import git

        self.repo = git.Repo.init(self.root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Trail Builder")
            config.set_value("user", "email", "builder@example.com")
            config.set_value("commit", "gpgsign", "false")

    def _commit(self, message: str, when: str, author: str, files: dict[str, str | None]) -> str:
        for path, text in files.items():
            target = self.root / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        self.repo.git.add(A=True)
        env = {
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": f"{author.lower()}@example.com",
        }
        with self.repo.git.custom_environment(**env):
            self.repo.git.commit("-m", message)
        self.commits += 1
        return self.repo.head.commit.hexsha

    def push(self, message: str, when: str, author: str, files: dict[str, str | None]) -> str:
        """A commit straight on main."""
        return self._commit(message, when, author, files)

    def pull_request(
        self,
        number: int,
        opened: str,
        merged: str,
        files: dict[str, str | None],
        *,
        author: str = "alice",
        reviews: tuple[tuple[str, str], ...] = (),
        record: bool = True,
    ) -> str:
        base = self.repo.head.commit.hexsha
        branch = f"pr-{number}"
        self.repo.git.checkout("-b", branch)
        head = self._commit(f"Work for #{number}", opened, author.title(), files)
        self.repo.git.checkout("main")
        env = {"GIT_AUTHOR_DATE": merged, "GIT_COMMITTER_DATE": merged}
        with self.repo.git.custom_environment(**env):
            self.repo.git.merge(
                "--no-ff", branch, "-m", f"Merge pull request #{number} from acme/{branch}"
            )
        self.commits += 1
        merge = self.repo.head.commit.hexsha
        self.merges[number] = merge
        if record:
            context = {
                "event": "merge",
                "actor": "bob",
                "pullRequest": {
                    "number": number,
                    "author": author,
                    "headSha": head,
                    "baseSha": base,
                    "createdAt": opened,
                    "changedFiles": sorted(files),
                    "committers": [author],
                },
                "reviews": [
                    {
                        "id": number * 100 + i,
                        "user": user,
                        "state": "APPROVED",
                        "commit": head,
                        "submittedAt": at,
                    }
                    for i, (user, at) in enumerate(reviews)
                ],
            }
            path = self.root.parent / f"context-{number}.json"
            path.write_text(json.dumps(context), encoding="utf-8")
            code, out = run("--repo", self.root, "record", merge, "--context", path, "--at", merged)
            assert code == 0, out
        return merge


def build(root: Path) -> Trail:
    t = Trail(root)
    t.push(
        "Start governing releases",
        "2024-01-02T09:00:00Z",
        "Alice",
        {"changegate.yaml": CONFIG, "freezes/march-freeze.yaml": FREEZE},
    )
    chg101 = {"start": "2024-01-16T10:00", "release": "checkout-v1.1.0"}
    t.pull_request(
        1,
        "2024-01-08T09:00:00Z",
        "2024-01-10T12:00:00Z",
        {"changes/CHG-101.yaml": change("CHG-101", **chg101)},
        reviews=(("bob", "2024-01-09T09:00:00Z"),),
    )
    v110 = ("checkout-v1.1.0", "checkout", "1.1.0", "1.0.0", "minor", "2024-01-20")
    window = ("2024-01-20T09:00", "2024-01-20T12:00")
    t.pull_request(
        2,
        "2024-01-11T09:00:00Z",
        "2024-01-12T12:00:00Z",
        {"releases/checkout-v1.1.0.yaml": release(*v110, window=window)},
    )
    done = {
        "startedAt": "2024-01-16T10:05:00Z",
        "endedAt": "2024-01-16T10:40:00Z",
        "result": "successful",
    }
    t.pull_request(
        3,
        "2024-01-18T09:00:00Z",
        "2024-01-19T12:00:00Z",
        {"changes/CHG-101.yaml": change("CHG-101", **chg101, status="completed", execution=done)},
        reviews=(("bob", "2024-01-18T10:00:00Z"),),
    )
    t.pull_request(
        4,
        "2024-01-20T13:00:00Z",
        "2024-01-21T12:00:00Z",
        {
            "releases/checkout-v1.1.0.yaml": release(
                *v110, window=window, status="released", released="2024-01-20T10:00:00Z"
            )
        },
    )
    # planted: a direct push to main
    t.direct_push = t.push(
        "Fix the release summary",
        "2024-01-22T08:00:00Z",
        "Mallory",
        {
            "releases/checkout-v1.1.0.yaml": release(
                *v110,
                window=window,
                status="released",
                released="2024-01-20T10:00:00Z",
                summary="Faster, safer checkout",
            )
        },
    )
    t.pull_request(
        5,
        "2024-01-25T12:00:00Z",
        "2024-01-26T12:00:00Z",
        {
            "incidents/INC-1.yaml": incident(
                "INC-1", "checkout", "2024-01-25T10:00:00Z", "2024-01-25T11:30:00Z", downtime="30m"
            )
        },
    )
    t.pull_request(
        21,
        "2024-02-01T09:00:00Z",
        "2024-02-01T12:00:00Z",
        {"policies/waivers/rollback-waiver.yaml": WAIVER},
        reviews=(("grace", "2024-02-01T10:00:00Z"),),
    )
    t.pull_request(
        6,
        "2024-02-01T09:00:00Z",
        "2024-02-02T12:00:00Z",
        {"changes/CHG-102.yaml": change("CHG-102", start="2024-02-12T10:00", service="catalog")},
        reviews=(("carol", "2024-02-01T15:00:00Z"),),
    )
    # planted: merged without a decision record
    t.pull_request(
        13,
        "2024-02-05T09:00:00Z",
        "2024-02-06T12:00:00Z",
        {"changes/CHG-103.yaml": change("CHG-103", start="2024-02-20T10:00")},
        reviews=(("bob", "2024-02-05T10:00:00Z"),),
        record=False,
    )
    # planted: merged although the record says deny (nobody approved; testing missing)
    t.pull_request(
        14,
        "2024-02-07T09:00:00Z",
        "2024-02-08T12:00:00Z",
        {"changes/CHG-104.yaml": change("CHG-104", start="2024-02-20T10:00", testing=False)},
    )
    # planted: approved, then edited without a new decision
    t.pull_request(
        15,
        "2024-02-09T09:00:00Z",
        "2024-02-10T12:00:00Z",
        {"changes/CHG-105.yaml": change("CHG-105", start="2024-02-20T10:00")},
        reviews=(("bob", "2024-02-09T13:00:00Z"),),
    )
    t.pull_request(
        16,
        "2024-02-13T09:00:00Z",
        "2024-02-14T12:00:00Z",
        {"changes/CHG-105.yaml": change("CHG-105", start="2024-02-22T10:00")},
        reviews=(("bob", "2024-02-13T10:00:00Z"),),
        record=False,
    )
    # planted: an emergency change whose post-review came late (due 2024-02-11T10:00)
    emergency = {"start": "2024-02-09T10:00", "kind": "emergency"}
    t.pull_request(
        17,
        "2024-02-09T08:00:00Z",
        "2024-02-09T09:00:00Z",
        {"changes/CHG-106.yaml": change("CHG-106", **emergency)},
        reviews=(("frank", "2024-02-09T08:30:00Z"),),
    )
    ran = {
        "startedAt": "2024-02-09T10:00:00Z",
        "endedAt": "2024-02-09T10:30:00Z",
        "result": "successful",
    }
    t.pull_request(
        18,
        "2024-02-14T09:00:00Z",
        "2024-02-14T12:00:00Z",
        {"changes/CHG-106.yaml": change("CHG-106", **emergency, status="completed", execution=ran)},
        reviews=(("frank", "2024-02-14T10:00:00Z"), ("carol", "2024-02-14T11:00:00Z")),
    )
    v120 = ("checkout-v1.2.0", "checkout", "1.2.0", "1.1.0", "minor", "2024-02-20")
    window = ("2024-02-20T09:00", "2024-02-20T12:00")
    t.pull_request(
        7,
        "2024-02-15T09:00:00Z",
        "2024-02-18T10:00:00Z",
        {"releases/checkout-v1.2.0.yaml": release(*v120, window=window)},
    )
    v200 = ("catalog-v2.0.0", "catalog", "2.0.0", "1.0.0", "major", "2024-03-02")
    t.pull_request(
        9,
        "2024-02-19T09:00:00Z",
        "2024-02-20T10:00:00Z",
        {
            "releases/catalog-v2.0.0.yaml": release(
                *v200, features=("F-1", "F-2"), freeze="2024-02-25"
            )
        },
    )
    t.pull_request(
        8,
        "2024-02-21T09:00:00Z",
        "2024-02-21T18:00:00Z",
        {
            "releases/checkout-v1.2.0.yaml": release(
                *v120, window=window, status="rolled-back", released="2024-02-20T15:00:00Z"
            )
        },
    )
    # planted: a change that ran before its lead time (submitted 02-22, earliest 02-27)
    t.pull_request(
        19,
        "2024-02-22T09:00:00Z",
        "2024-02-22T12:00:00Z",
        {"changes/CHG-107.yaml": change("CHG-107", start="2024-02-28T10:00")},
        reviews=(("bob", "2024-02-22T11:00:00Z"),),
    )
    early = {
        "startedAt": "2024-02-26T08:00:00Z",
        "endedAt": "2024-02-26T08:30:00Z",
        "result": "successful",
    }
    t.pull_request(
        20,
        "2024-02-26T09:00:00Z",
        "2024-02-26T12:00:00Z",
        {
            "changes/CHG-107.yaml": change(
                "CHG-107", start="2024-02-28T10:00", status="completed", execution=early
            )
        },
        reviews=(("bob", "2024-02-26T10:00:00Z"),),
    )
    # scope changes after the scope freeze of 02-25
    t.pull_request(
        10,
        "2024-02-27T09:00:00Z",
        "2024-02-27T12:00:00Z",
        {
            "releases/catalog-v2.0.0.yaml": release(
                *v200, features=("F-1", "F-3"), freeze="2024-02-25"
            )
        },
    )
    t.pull_request(
        12,
        "2024-03-03T12:00:00Z",
        "2024-03-04T12:00:00Z",
        {
            "incidents/INC-2.yaml": incident(
                "INC-2",
                "catalog",
                "2024-03-03T08:00:00Z",
                "2024-03-03T10:00:00Z",
                release_name="catalog-v2.0.0",
            )
        },
    )
    # planted: released inside the March freeze
    t.pull_request(
        11,
        "2024-03-05T09:00:00Z",
        "2024-03-05T12:00:00Z",
        {
            "releases/catalog-v2.0.0.yaml": release(
                *v200,
                features=("F-1", "F-3"),
                freeze="2024-02-25",
                status="released",
                released="2024-03-02T10:00:00Z",
            )
        },
    )
    return t
