"""A protection request judged at one instant: the environment and the services it deploys,
resolved against the config as ``changegate gate`` resolves ``--env`` and ``--service``, the
same gate for each service, and the decision (approved only when every service may deploy).

Which services: the deployment payload's ``service`` (deployments created through the API
may carry one); else the environment's ``services`` in changegate.yaml (GitHub Actions
creates the deployments of ``environment:`` jobs with an empty payload); else the
repository's only service; else the request is rejected, saying what to add.

A request closed only by freezes and change windows waits when its environment says
``onClosed: wait``; the calendar says when the gate should open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from engine import rules
from engine.documents.config import Config
from engine.errors import UsageError
from engine.github.action.checkout import approving_pull, teams_of, valid_context
from engine.github.app.mirror import Snapshot
from engine.github.app.webhooks import ProtectionRequest
from engine.github.client import Client, GitHubError
from engine.github.snapshot import deploy_context
from engine.judging.deploy import DeployTarget
from engine.judging.gate import open_gate
from engine.judging.judge import Judge
from engine.request import names
from engine.request.context import parse_context
from engine.time.calendar import Calendar
from engine.time.durations import parse_duration
from engine.time.windows import Target
from engine.workspace.semantics import MAX_WAIT

WAITABLE: Final = frozenset({rules.FROZEN, rules.OUTSIDE_WINDOW})
APPROVED: Final = "approved"
REJECTED: Final = "rejected"
WAITING: Final = "waiting"


@dataclass(frozen=True)
class Decision:
    """What to answer: ``approved``, ``rejected``, or ``waiting`` (for the gate to open,
    expected at ``opens`` when the calendar knows)."""

    state: str
    reasons: tuple[str, ...]
    services: tuple[str, ...] = ()
    opens: datetime | None = None
    max_wait: timedelta = MAX_WAIT


class Judged(NamedTuple):
    """The gate's answer for one service."""

    service: str
    allowed: bool
    reasons: list[str]
    failed: frozenset[str]  # the rules that denied
    opens: datetime | None  # when a gate closed only by windows should open


@dataclass
class ReadOnce(Client):
    """The client of one decision: each team's members and each commit's checks are read
    once, however many services the decision judges."""

    _seen: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def team_members(self, team: str) -> list[str]:
        if ("team", team) not in self._seen:
            self._seen["team", team] = super().team_members(team)
        return list(self._seen["team", team])

    def checks(self, sha: str) -> dict[str, str | None]:
        """The commit's CI results; none when the App may not read them (without the Checks
        and Commit statuses permissions): exit criteria bound to a check then fail."""
        if ("checks", sha) not in self._seen:
            try:
                self._seen["checks", sha] = super().checks(sha)
            except GitHubError as error:
                if error.status != 403:
                    raise
                self._seen["checks", sha] = {}
        return dict(self._seen["checks", sha])


def decide(
    request: ProtectionRequest, snapshot: Snapshot, client: Client, now: datetime
) -> Decision:
    """Judge every service the request deploys at ``now``. Errors are raised (the caller
    rejects with them): nothing here approves by default."""
    config = snapshot.workspace.config
    environment, services, notes = deploy_targets(config, request)
    version = _text(request.version, "version")
    change = _text(request.change, "change")
    judged = [
        _judge(snapshot, client, request, DeployTarget(environment, s, version, change), now, notes)
        for s in services
    ]
    return _combine(judged, config.environment(environment))


def deploy_targets(config: Config, request: ProtectionRequest) -> tuple[str, list[str], list[str]]:
    """The environment as the config spells it, the services judged, and what about their
    names could not be verified."""
    environment = names.environment(
        request.environment, config.environment_names, flag="the deployment's environment"
    )
    notes = [environment.unverified] if environment.unverified else []
    text = _text(request.service, "service")
    if text is not None:
        service = names.service(text, config.service_names, flag="the deployment payload's service")
        if service.unverified:
            notes.append(service.unverified)
        return environment.value, [service.value], notes
    listed = config.environment(environment.value).get("services")
    if listed:
        return environment.value, [str(s) for s in listed], notes
    if len(config.service_names) == 1:
        return environment.value, list(config.service_names), notes
    raise UsageError(
        f"cannot tell which service the deployment to {environment.value} deploys: its payload "
        "names none (GitHub Actions creates the deployments of environment: jobs with an empty "
        f"payload) and changegate.yaml lists no services for {environment.value}: list them "
        "under environments[].services, or create the deployment with the payload "
        '{"service": "NAME"}'
    )


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    shown = value.get("invalid", "not a text") if isinstance(value, dict) else "not a text"
    raise UsageError(f"the deployment payload's {what} is {shown}: give it as a short text")


def _judge(
    snapshot: Snapshot,
    client: Client,
    request: ProtectionRequest,
    deploy: DeployTarget,
    now: datetime,
    notes: list[str],
) -> Judged:
    workspace, inventory, tip = snapshot.workspace, snapshot.inventory, snapshot.tip
    data = deploy_context(
        client,
        tip,
        actor=request.actor,
        environment=deploy.environment,
        service=deploy.service,
        version=deploy.version,
        teams=teams_of(workspace.config.spec),
        pull_request=approving_pull(
            workspace,
            inventory,
            client,
            tip,
            deploy,
            now,
            naming="the deployment payload's change",
        ),
    )
    context = parse_context(valid_context(workspace, data))
    with Judge(workspace, context, now, inventory=inventory) as judge:
        outcomes = open_gate(judge, deploy, notes)
        gate = outcomes.verdict.extra["gate"]
        failed = frozenset(f.rule for f in outcomes.verdict.findings if f.denies)
        opens = None
        if not gate["allowed"] and failed and failed <= WAITABLE:
            target = Target(deploy.environment, (deploy.service,))
            opens = opening(judge.library.calendar, now, target)
    return Judged(deploy.service, bool(gate["allowed"]), list(gate["reasons"]), failed, opens)


def opening(calendar: Calendar, now: datetime, target: Target) -> datetime | None:
    """When the target should next be free of its freezes and inside a change window (where
    change windows apply); None when the calendar cannot say within its horizon."""
    free = calendar.opens(now, target)
    if free is None:
        return None
    _, allowed = calendar.matching(target)
    if allowed and not any(o for w in allowed for o in w.at(free)):
        following = calendar.next_window(free, target)
        return following.start if following else None
    return free


def _combine(judged: list[Judged], settings: dict[str, Any]) -> Decision:
    several = len(judged) > 1
    reasons = tuple(
        f"{j.service}: {reason}" if several else reason for j in judged for reason in j.reasons
    )
    services = tuple(j.service for j in judged)
    if all(j.allowed for j in judged):
        return Decision(APPROVED, reasons, services)
    closed = [j for j in judged if not j.allowed]
    waitable = all(j.failed and j.failed <= WAITABLE for j in closed)
    if settings.get("onClosed") == "wait" and waitable:
        expected = [j.opens for j in closed]
        opens = None if None in expected else max(o for o in expected if o is not None)
        limit = min(parse_duration(str(settings.get("maxWait", "30d"))), MAX_WAIT)
        return Decision(WAITING, reasons, services, opens, limit)
    return Decision(REJECTED, reasons, services)
