"""Generate a synthetic changegate repository of N documents (default 10,000).

Mostly change requests (about 900 bytes each, like real ones), with release plans, incidents
and freezes mixed in; deterministic for a given N and seed. Every document is valid, and a
few percent fail policies, so the checks do real work.

    python bench/generate.py --documents 10000 --out bench/out/repo-10000
"""

from __future__ import annotations

import argparse
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

SERVICES = [f"service-{i:02d}" for i in range(40)]
ENVIRONMENTS = ["production", "staging", "qa"]
PEOPLE = ["alice", "bob", "carol", "dana", "erin", "frank", "grace", "heidi"]

CONFIG = """\
apiVersion: changegate/v1
kind: Config
metadata:
  name: synthetic
spec:
  timezone: Europe/Berlin
  environments:
{environments}
  services:
{services}
  roles:
    cab: {{teams: [synthetic/cab]}}
    manager: {{users: [dana]}}
    on-call: {{teams: [synthetic/on-call]}}
    policy-owners: {{teams: [synthetic/platform]}}
  changeTemplates:
    - {{name: tls-rotation, description: Rotate a TLS certificate, maxRisk: low}}
    - {{name: scale-out, description: Add instances, maxRisk: medium}}
"""

CHANGE = """\
apiVersion: changegate/v1
kind: ChangeRequest
metadata:
  name: CHG-{number:06d}
  labels: {{team: {team}}}
spec:
  title: {title}
  type: {type}
{template}  risk: {risk}
  environment: {environment}
  services: [{service}]
  requestor: {{name: {person}, team: {team}, date: "{requested}"}}
  description: |
    Apply configuration change {number} to {service} in {environment}; the change is
    rolled out gradually and verified with the service's dashboards.
  justification: Keeps {service} within its SLO during the next campaign.
  impact: {{systems: [{service}-db], users: {users}, downtime: 0m}}
  implementation:
    - Announce the change in the team channel
    - Apply the change to one instance and watch the error rate
    - Apply the change to the remaining instances
{rollback}  testing: {{unit: true, integration: true, uat: {uat}}}
  schedule: {{start: "{start}", duration: {duration}}}
  status: planned
"""

RELEASE = """\
apiVersion: changegate/v1
kind: ReleasePlan
metadata:
  name: {service}-v{version}
spec:
  service: {service}
  version: "{version}"
  type: {type}
  targetDate: "{target}"
  window: {{start: "{target}T10:00", end: "{target}T14:00", timezone: UTC}}
  releaseManager: {person}
  scope:
    features:
      - {{id: F-{number}, title: Feature {number}, owner: team-a, status: ready}}
    fixes:
      - {{id: B-{number}, title: Fix {number}, priority: {priority}, status: {fix_status}}}
  exitCriteria:
    - {{id: uat, title: UAT sign-off received, done: {done}}}
    - {{id: security-scan, title: Security scan passed, check: codeql}}
  goNoGo: {{date: "{target}", deciders: [{person}], decision: pending}}
  rollout:
    strategy: blue-green
    rollback:
      plan: Switch back to blue
      triggers:
        - {{metric: error_rate, operator: ">", threshold: 1%}}
  status: {status}
"""

INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata:
  name: INC-{number:06d}
spec:
  title: Errors in {service}
  severity: SEV-{severity}
  services: [{service}]
  environment: production
  detectedAt: "{detected}T10:15:00Z"
  resolvedAt: "{detected}T11:15:00Z"
  rootCause: Connection pool exhausted
  status: resolved
"""


FREEZES = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata:
  name: holiday-freeze
spec:
  reason: Holiday peak traffic
  level: hard
  timezone: Europe/Berlin
  recurrence:
    rrule: FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20
    start: "00:00"
    end: "00:00"
    days: 13
  scope: {{environments: [production]}}
---
apiVersion: changegate/v1
kind: FreezeWindow
metadata:
  name: weekend-freeze
spec:
  reason: Thin weekend on-call for the tier-1 services
  level: soft
  timezone: Europe/Berlin
  recurrence: {{rrule: "FREQ=WEEKLY;BYDAY=FR", start: "16:00", duration: 64h}}
  scope: {{environments: [production], services: [service-0*]}}
  exceptions:
    approvals: [{{role: manager}}]
---
apiVersion: changegate/v1
kind: ChangeWindow
metadata:
  name: qa-weekdays
spec:
  timezone: Europe/Berlin
  recurrence: {{rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", start: "00:00", end: "00:00"}}
  scope: {{environments: [qa], services: [service-1*]}}
"""

ONE_OFF = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata:
  name: {name}
spec:
  reason: Migration of {service}'s database
  level: hard
  timezone: UTC
  start: "{start}T00:00"
  end: "{end}T00:00"
  scope: {{environments: [production], services: [{service}]}}
"""


def generate(documents: int, out: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for folder in ("changes", "releases", "incidents", "freezes"):
        (out / folder).mkdir(parents=True)
    (out / "changegate.yaml").write_text(
        CONFIG.format(
            environments="\n".join(f"    - {{name: {e}}}" for e in ENVIRONMENTS),
            services="\n".join(f"    - {{name: {s}}}" for s in SERVICES),
        )
    )
    day0 = date(2024, 1, 1)
    versions: dict[str, list[int]] = {s: [1, 0, 0] for s in SERVICES}
    releases: dict[str, list[dict[str, object]]] = {s: [] for s in SERVICES}
    # the config is document 0; three recurring windows, and a one-off freeze per 1,000
    one_offs = documents // 1000
    (out / "freezes" / "calendar.yaml").write_text(FREEZES.format())
    for index in range(one_offs):
        first = day0 + timedelta(days=rng.randrange(365))
        (out / "freezes" / f"migration-{index:03d}.yaml").write_text(
            ONE_OFF.format(
                name=f"migration-{index:03d}",
                service=rng.choice(SERVICES),
                start=first.isoformat(),
                end=(first + timedelta(days=2)).isoformat(),
            )
        )
    for number in range(1 + 3 + one_offs, documents):
        roll = rng.random()
        service = rng.choice(SERVICES)
        person = rng.choice(PEOPLE)
        if roll < 0.80:
            kind = rng.choices(["normal", "standard", "expedited", "emergency"], [60, 25, 10, 5])[0]
            start = day0 + timedelta(days=rng.randrange(365))
            # Mostly scheduled around the freezes (Monday to Thursday, not over the holidays),
            # as changes are where the gate is enforced; the rest meet a freeze now and then.
            while rng.random() < 0.98 and (
                start.weekday() > 3
                or (start.month, start.day) < (1, 3)
                or (start.month, start.day) >= (12, 19)
            ):
                start += timedelta(days=1)
            # Mostly submitted in time, as in a repository where the gate is enforced; a few
            # percent too late, so the lead-time rule finds something.
            ahead = {"normal": 8, "expedited": 3}.get(kind, 1)
            late = rng.random() < 0.02
            requested = start - timedelta(
                days=rng.randrange(0, 3) if late else ahead + rng.randrange(10)
            )
            text = CHANGE.format(
                number=number,
                team=f"team-{service[-2:]}",
                title=f"Configuration change {number} for {service}",
                type=kind,
                template="  template: tls-rotation\n" if kind == "standard" else "",
                risk=rng.choice(["low", "low", "medium", "high"]) if kind != "standard" else "low",
                environment=rng.choice(ENVIRONMENTS),
                service=service,
                person=person,
                requested=requested.isoformat(),
                users=rng.randrange(50_000),
                rollback="  rollback:\n    - Revert the configuration\n"
                if rng.random() > 0.01
                else "",
                uat=str(rng.random() > 0.5).lower(),
                start=f"{start.isoformat()}T{rng.randrange(24):02d}:00",
                duration=rng.choice(["30m", "1h", "2h"]),
            )
            (out / "changes" / f"CHG-{number:06d}.yaml").write_text(text)
        elif roll < 0.95:
            current = versions[service]
            bump = rng.choice(["minor", "minor", "patch", "major"])
            if bump == "major":
                current[:] = [current[0] + 1, 0, 0]
            elif bump == "minor":
                current[:] = [current[0], current[1] + 1, 0]
            else:
                current[2] += 1
            releases[service].append(
                {
                    "service": service,
                    "version": ".".join(map(str, current)),
                    "type": bump,
                    "target": (day0 + timedelta(days=len(releases[service]))).isoformat(),
                    "person": person,
                    "number": number,
                    "priority": rng.choice(["low", "medium", "high"]),
                    "fix_status": rng.choice(["fixed", "verified", "verified", "open"]),
                    "done": str(rng.random() > 0.1).lower(),
                }
            )
        else:
            detected = day0 + timedelta(days=rng.randrange(365))
            text = INCIDENT.format(
                number=number,
                service=service,
                severity=rng.randrange(1, 5),
                detected=detected.isoformat(),
            )
            (out / "incidents" / f"INC-{number:06d}.yaml").write_text(text)
    for plans in releases.values():
        for i, plan in enumerate(plans):
            status = "planned" if i == len(plans) - 1 else "released"
            path = out / "releases" / f"{plan['service']}-v{plan['version']}.yaml"
            path.write_text(RELEASE.format(**plan, status=status))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = args.out or Path(__file__).parent / "out" / f"repo-{args.documents}"
    generate(args.documents, out, args.seed)
    print(f"generated {args.documents} documents in {out}")


if __name__ == "__main__":
    main()
