"""The Action's modes: ``check`` a pull request, ``gate`` a deploy, ``record`` and ``audit``
the trail, ``publish`` a fork's verdict. Each returns what it decided."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.errors import EXIT_DENIED, EXIT_OK
from engine.escaping import markdown as escape_markdown
from engine.github.action.checkout import (
    approving_pull,
    checked_out,
    default_tip,
    present,
    repository,
    teams_of,
    valid_context,
)
from engine.github.action.inputs import CHECK_EVENTS, ActionError, Inputs, Result, Run, text_at
from engine.github.action.output import (
    SUMMARY_LIMIT,
    Log,
    append,
    comment_marker,
    exit_code,
    keep,
    markdown,
    read_limited,
    set_status,
    sticky_comment,
)
from engine.github.client import Client, GitHubError
from engine.github.events import Event, read_event
from engine.gitrepo import GitRepo
from engine.verdict import Report, Verdict


def check(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    from engine.github.snapshot import pull_request_context
    from engine.judging.description import described
    from engine.judging.impact import preview
    from engine.judging.judge import Judge
    from engine.request.context import parse_context
    from engine.workspace.inventory import Workspace

    event = read_event(run.event_name, run.payload, run.sha)
    if event.name not in CHECK_EVENTS or event.pull_request is None:
        raise ActionError(
            f"mode check judges pull requests: run it on pull_request, pull_request_review or "
            f"merge_group, not {event.name or 'an unknown event'} (use mode gate for deploys)"
        )
    kind = "merge" if event.name == "merge_group" else "pull_request"
    if event.head_sha is None or event.base_sha is None:  # pragma: no cover - read_event
        raise ActionError("the event names no head or base commit")
    checked_out(inputs.directory, event.head_sha)
    workspace = Workspace.open(
        repo=inputs.directory,
        config_file=inputs.config,
        policies_from=present(event.base_sha, "the base commit", inputs.directory),
    )
    data = pull_request_context(
        client,
        event.pull_request,
        event=kind,
        actor=run.actor,
        teams=teams_of(workspace.config.spec),
        head_sha=event.head_sha,  # what this run checked out, even if the PR moved on
        base_sha=event.base_sha,
    )
    context = parse_context(valid_context(workspace, data))
    with Judge(workspace, context, now) as judge:
        outcomes = preview(judge, described(judge, judge.judge()), config_file=inputs.config)
    verdict = outcomes.verdict
    folder = keep(run, data, verdict, event.pull_request)
    title = (event.pull_request, str(data["pullRequest"].get("title", "")))
    log.report(outcomes)
    append(run.summary, markdown(verdict, SUMMARY_LIMIT, None, title))
    if inputs.request_reviewers:
        _request_reviews(client, event.pull_request, verdict, workspace, context, run, log)
    comment_id = None
    if inputs.comment:
        marker = comment_marker(inputs)
        body = markdown(verdict, None, run.run_url, title, marker)
        comment_id = sticky_comment(client, event.pull_request, body, verdict, log, marker)
    if inputs.status:
        set_status(client, event.head_sha, verdict, run.run_url, log)
    return Result(verdict, comment_id, exit_code(verdict, inputs.fail_on), folder)


def _request_reviews(
    client: Client, number: int, verdict: Verdict, workspace: Any, context: Any, run: Run, log: Log
) -> None:
    from engine.github.action.reviewers import request

    asked = request(
        client, number, verdict.extra.get("judged"), workspace.config.spec, context, log
    )
    if asked is None:
        return
    who = [*asked.users, *(f"team {t}" for t in asked.teams)]
    line = f"requested reviews from {', '.join(who)}" if who else "requested no review"
    if asked.skipped:
        line += f" (not asked: {'; '.join(asked.skipped)})"
    log.quoted(line)
    append(run.summary, f"changegate {escape_markdown(line)}\n")


def gate(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    from engine.github.snapshot import deploy_context
    from engine.judging.deploy import DeployTarget, target_names
    from engine.judging.gate import open_gate
    from engine.judging.judge import Judge
    from engine.request.context import parse_context
    from engine.workspace.inventory import Workspace

    event = read_event(run.event_name, run.payload, run.sha)
    requested = DeployTarget(
        inputs.environment or event.environment or "",
        inputs.service or _payload_text(event, "service") or "",
        inputs.version or _payload_text(event, "version"),
        inputs.change or _payload_text(event, "change"),
    )
    if not requested.environment or not requested.service:
        raise ActionError(
            "mode gate needs the inputs environment and service (a deployment event gives the "
            "environment, and its payload may give service, version and change)"
        )
    sha = event.head_sha or run.sha
    if not sha:
        raise ActionError("mode gate cannot tell which commit is deployed: GITHUB_SHA is unset")
    # Freezes, plans, changes and policies as the default branch has them now: a branch cannot
    # deploy past a freeze by deleting it, nor an old commit by predating it.
    repo, tip, root = default_tip(run, inputs.directory, sha)
    with repo.worktree(tip) as tree:
        config = tree / repo.relative(inputs.config) if inputs.config else None
        workspace = Workspace.open(repo=tree / root, config_file=config)
        # GitHub's environment names are case-insensitive: "Production" is production.
        env_name, service_name = target_names(
            workspace.config, requested.environment, requested.service
        )
        deploy = requested._replace(environment=env_name.value, service=service_name.value)
        inventory = workspace.load(repository=True)
        data = deploy_context(
            client,
            tip,
            actor=run.actor,
            environment=deploy.environment,
            service=deploy.service,
            version=deploy.version,
            teams=teams_of(workspace.config.spec),
            pull_request=approving_pull(workspace, inventory, client, tip, deploy, now),
        )
        context = parse_context(valid_context(workspace, data))
        notes = [n for n in (env_name.unverified, service_name.unverified) if n]
        with Judge(workspace, context, now, inventory=inventory) as judge:
            outcomes = open_gate(judge, deploy, notes)
    verdict = outcomes.verdict
    folder = keep(run, data, verdict, None)
    log.report(outcomes)
    append(run.summary, markdown(verdict, SUMMARY_LIMIT, None, None))
    return Result(verdict, None, exit_code(verdict, inputs.fail_on), folder)


def record(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    """After a merge to the default branch: judge the merge commit as it was merged and keep
    the decision as a git note, pushed to origin (merged with notes pushed meanwhile)."""
    from engine.trail import replay
    from engine.trail.notes import NOTES_REF
    from engine.trail.record import dumps

    event = read_event(run.event_name, run.payload, run.sha)
    if event.name != "push" or event.head_sha is None:
        raise ActionError("mode record runs on push to the default branch, after a merge")
    repo = repository(inputs.directory)
    commit = event.head_sha
    if not repo.has_commit(commit):
        raise ActionError(f"the pushed commit {commit[:12]} is not in the clone: check it out")
    root = repo.relative(inputs.directory) or "."
    config = repo.relative(inputs.config) if inputs.config else None
    merged = [p for p in client.pulls_of_commit(commit) if p["merged"]]
    merged.sort(key=lambda p: p["mergeCommitSha"] != commit)
    data, paths = _merge_context(repo, commit, root, config, client, run, merged)
    # judged as of the push by GitHub's clock (a committer date can be set to anything), the
    # same on a re-run; without it, as of the commit
    recorded = replay.record_commit(
        repo, commit, root=root, context=data, at=event.pushed_at or replay.merged_at(repo, commit),
        policies_from=replay.first_parent(repo, commit) or commit, config_file=config,
        paths=paths, remote="origin",
    )  # fmt: skip
    note, attempts = recorded.record, recorded.attempts
    verdict = Verdict.from_json(note)  # the record holds the verdict's fields
    folder = keep(run, data, verdict, merged[0]["number"] if merged else None)
    (folder / "record.json").write_text(dumps(note), encoding="utf-8")
    line = (
        f"{recorded.outcome} the decision on {commit[:12]} ({note['decision']}) under "
        f"{NOTES_REF} and pushed it{f' after {attempts} tries' if attempts > 1 else ''}"
    )
    log.quoted(line)
    if note["decision"] == "deny":
        log.warning(
            "changegate recorded a deny",
            f"{commit[:12]} was merged although changegate denies it: audit will flag it",
        )
    append(run.summary, f"### changegate record\n\n{line}\n")
    return Result(verdict, None, EXIT_OK, folder)


def _merge_context(
    repo: GitRepo,
    commit: str,
    root: str,
    config: str | None,
    client: Client,
    run: Run,
    merged: list[dict[str, Any]],
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The request context of a merge (its pull request's, as GitHub has it), and the files
    to judge of a push without one (recorded so: audit flags it)."""
    from engine.github.snapshot import pull_request_context
    from engine.trail.replay import first_parent
    from engine.workspace.inventory import Workspace

    if merged:
        with repo.worktree(commit) as tree:  # the roles as the merged config has them
            workspace = Workspace.open(
                repo=tree / root, config_file=tree / config if config else None
            )
        data = pull_request_context(
            client, merged[0]["number"], event="merge", actor=run.actor,
            teams=teams_of(workspace.config.spec), head_sha=commit,
        )  # fmt: skip
        return data, ()
    data = {"event": "merge", **({"actor": run.actor} if run.actor else {})}
    parent = first_parent(repo, commit)
    changed = repo.run(
        "diff", "--name-only", parent or "4b825dc642cb6eb9a060e54bf8d69288fbee4904", commit
    )
    paths = tuple(p for p in changed.stdout.decode().splitlines() if p.endswith((".yaml", ".yml")))
    return data, paths


def audit(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    """The audit of the default branch: flags in the log and the summary, the HTML report and
    the JSON in verdict-dir (to upload); flags fail the step."""
    from engine.judging.judge import Judge
    from engine.request.context import RequestContext
    from engine.trail import notes
    from engine.trail.audit import audit as run_audit
    from engine.trail.audit import governed_trail
    from engine.trail.history import parse_period
    from engine.trail.metrics import compute
    from engine.trail.report import html
    from engine.workspace.inventory import Workspace

    repo = repository(inputs.directory)
    notes.fetch(repo, "origin")
    root = repo.relative(inputs.directory) or "."
    try:
        deployments = client.deployments()
    except GitHubError as error:
        log.warning("changegate could not read the deployments", f"{error} (deployments: read)")
        deployments = []
    workspace = Workspace.open(repo=inputs.directory, config_file=inputs.config)
    with Judge(workspace, RequestContext(), now) as judge:
        try:
            since, until = parse_period(inputs.since, inputs.until, judge.config.timezone)
        except ValueError as error:
            raise ActionError(f"inputs since and until: {error}") from None
        trail = governed_trail(judge, repo, root)
        for warning in trail.warnings:
            log.warning("changegate audit", warning)
        result = run_audit(judge, trail, since=since, until=until, deployments=deployments)
        report = html(judge, audit=result, metrics=compute(judge, trail, since=since, until=until))
    folder = Path(tempfile.mkdtemp(prefix="changegate-", dir=run.temp))
    (folder / "audit.html").write_text(report, encoding="utf-8")
    (folder / "audit.json").write_text(
        json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8"
    )
    for flag in result.flags:
        log.warning(flag.rule, f"{(flag.commit or '')[:12]} {flag.document}: {flag.message}")
    lines = [
        f"### changegate audit: {len(result.flags)} flags in {len(result.rows)} governed changes",
        "",
    ]
    lines += [
        f"- `{f.rule}` {escape_markdown(f.document)}: {escape_markdown(f.message)}"
        for f in result.flags
    ]
    append(run.summary, "\n".join(lines) + "\n")
    return Result(None, None, EXIT_DENIED if result.flags else EXIT_OK, folder)


def publish(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    """Comment the verdict a read-only run left, treating every byte of it as untrusted: the
    verdict must match its schema and is rendered (escaped) here, and the pull request must
    be the one whose head commit that run checked."""
    del now
    from engine.documents.schemas import SchemaSet

    if run.event_name != "workflow_run":
        raise ActionError("mode publish runs on workflow_run, after the pull request's check")
    if inputs.verdict is None:
        raise ActionError("mode publish needs the input verdict: the downloaded artifact folder")
    # Only the head commit comes from GitHub here; the rest is the artifact's word. No commit
    # status is set from it: a forged "allow" must not turn anything green.
    head_sha = text_at(run.payload, "workflow_run", "head_sha")
    number_text = read_limited(inputs.verdict / "pull-request", 20).strip()
    if not re.fullmatch(r"[0-9]{1,9}", number_text) or int(number_text) == 0:
        raise ActionError("the artifact's pull-request file holds no pull request number")
    number = int(number_text)
    pull = client.pull(number)
    if not head_sha or pull["headSha"] != head_sha:
        raise ActionError(
            f"the artifact names pull request #{number}, whose head is not the commit the "
            "checking run judged: not publishing it"
        )
    try:
        data = json.loads(read_limited(inputs.verdict / "verdict.json", 50_000_000))
        problems = SchemaSet().verdict_errors(data)
        if problems:
            raise ActionError(
                f"the artifact's verdict.json is not a verdict: {problems[0].message}"
            )
        verdict = Verdict.from_json(data)
    except (ValueError, RecursionError) as error:
        raise ActionError(f"the artifact's verdict.json is not a verdict: {error}") from None
    log.report(Report(verdict))
    marker = comment_marker(inputs)
    body = markdown(verdict, None, run.run_url, (number, pull["title"]), marker)
    comment_id = None
    if inputs.comment:
        comment_id = sticky_comment(client, number, body, verdict, log, marker)
    return Result(verdict, comment_id, EXIT_OK)


def _payload_text(event: Event, key: str) -> str | None:
    value = event.deploy_payload.get(key)
    return str(value) if isinstance(value, (str, int, float)) and str(value) else None
