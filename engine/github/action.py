"""The GitHub Action's entry point (``python -m engine.action``, run by action.yml).

action.yml hands every input over as an environment variable (``CHANGEGATE_MODE``, ...),
never by writing it into a script, and GitHub adds its own ``GITHUB_*`` variables. Modes:

- ``check``: judge a pull request (pull_request, pull_request_review, merge_group) with the
  policies of its base commit; annotations, a job summary, a sticky comment, optionally a
  commit status; a deny fails the step, so a required check blocks the merge.
- ``gate``: may this deploy go ahead (``changegate gate``); a closed gate fails the step.
- ``publish``: post the comment of a verdict that a read-only run (a fork's pull request)
  left as an artifact, from a ``workflow_run`` workflow that may write.

Whatever a person wrote reaches the log only between ``::stop-commands::`` markers, and
comments and summaries only escaped (engine/escaping.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from engine.errors import EXIT_DENIED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, ChangegateError
from engine.escaping import markdown as escape_markdown
from engine.github.client import Client, Event, EventError, GitHubError, read_event
from engine.reporters.markdown import MARKER
from engine.verdict import Report, Verdict

MODES: Final = ("check", "gate", "record", "audit", "publish")
# Not pull_request_target: its checkout is the base branch, not the pull request.
CHECK_EVENTS: Final = ("pull_request", "pull_request_review", "merge_group")
SUMMARY_LIMIT: Final = 1_000_000  # GitHub takes 1 MiB of summary per step
STATUS_CONTEXT: Final = "changegate/verdict"
_URL: Final = re.compile(r"^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9._~/-]*)?$")


class ActionError(ChangegateError):
    """The action cannot run as configured (an input, the event, the checkout)."""


@dataclass(frozen=True)
class Inputs:
    mode: str
    token: str = field(repr=False)
    environment: str | None
    service: str | None
    version: str | None
    change: str | None
    comment: bool
    status: bool
    config: Path | None
    fail_on: str
    directory: Path
    verdict: Path | None  # publish: the folder a read-only run left
    workspace: Path = Path()
    since: str | None = None  # audit
    until: str | None = None

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Inputs:
        def text(name: str) -> str | None:
            value = env.get(f"CHANGEGATE_{name.upper().replace('-', '_')}", "").strip()
            return value or None

        def flag(name: str, default: bool) -> bool:
            value = (text(name) or str(default)).lower()
            if value not in {"true", "false"}:
                raise ActionError(f"input {name}: write true or false, not {value!r}")
            return value == "true"

        mode = text("mode") or "check"
        if mode not in MODES:
            raise ActionError(f"input mode: one of {', '.join(MODES)}, not {mode!r}")
        fail_on = text("fail-on") or "deny"
        if fail_on not in {"deny", "warn"}:
            raise ActionError(f"input fail-on: deny or warn, not {fail_on!r}")
        token = text("github-token")
        if token is None:
            raise ActionError(
                "input github-token is empty: pass ${{ github.token }} (or a token that can read "
                "team members, see the README)"
            )
        workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
        config = text("config")
        verdict = text("verdict")
        return cls(
            mode=mode,
            token=token,
            environment=text("environment"),
            service=text("service"),
            version=text("version"),
            change=text("change"),
            comment=flag("comment", True),
            status=flag("status", False),
            config=workspace / config if config else None,
            fail_on=fail_on,
            directory=workspace / (text("working-directory") or "."),
            verdict=workspace / verdict if verdict else None,
            workspace=workspace,
            since=text("since"),
            until=text("until"),
        )


@dataclass(frozen=True)
class Run:
    """The workflow run, as GitHub describes it in the environment."""

    event_name: str
    payload: dict[str, Any]
    repository: str
    api_url: str
    run_url: str | None
    sha: str | None
    actor: str | None
    output: Path | None
    summary: Path | None
    temp: Path

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Run:
        event_path = env.get("GITHUB_EVENT_PATH")
        if not event_path:
            raise ActionError("GITHUB_EVENT_PATH is not set: this runs inside GitHub Actions")
        try:
            payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ActionError(f"cannot read the event payload {event_path}: {error}") from None
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY", "")
        run_id = env.get("GITHUB_RUN_ID", "")
        run_url = f"{server}/{repository}/actions/runs/{run_id}" if run_id else None
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            payload=payload if isinstance(payload, dict) else {},
            repository=repository,
            api_url=env.get("GITHUB_API_URL", "https://api.github.com"),
            run_url=run_url if run_url and _URL.match(run_url) else None,
            sha=env.get("GITHUB_SHA"),
            actor=env.get("GITHUB_ACTOR"),
            output=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
            summary=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
            temp=Path(env.get("RUNNER_TEMP") or "."),
        )


@dataclass
class Result:
    """What a mode decided, for the outputs and the exit code."""

    verdict: Verdict | None
    comment_id: int | None = None
    code: int = EXIT_OK
    folder: Path | None = None


Connect = Callable[..., Client]


def main(
    env: Mapping[str, str] | None = None,
    *,
    connect: Connect = Client.connect,
    now: datetime | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the action; returns the exit code (0 allow, 1 deny or undecidable, 2 usage)."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    # Paths in annotations, comments and the verdict are relative to the workspace, which is
    # the repository's root in GitHub's eyes.
    previous = Path.cwd()
    os.chdir(env.get("GITHUB_WORKSPACE") or previous)
    try:
        return _main(env, connect, now, Log(out))
    finally:
        os.chdir(previous)


def _main(env: Mapping[str, str], connect: Connect, now: datetime | None, log: Log) -> int:
    denied = {"decision": "deny", "failed-rules": "[]", "comment-id": "", "verdict-dir": ""}
    try:
        inputs = Inputs.read(env)
        if env is os.environ:  # git and other children need not see it
            os.environ.pop("CHANGEGATE_GITHUB_TOKEN", None)
        run = Run.read(env)
        moment = now or datetime.now(UTC)
        with connect(inputs.token, run.repository, run.api_url) as client:
            modes = {"check": check, "gate": gate, "record": record, "audit": audit,
                     "publish": publish}  # fmt: skip
            mode = modes[inputs.mode]
            result = mode(inputs, run, client, moment, log)
    except GitHubError as error:
        # GitHub could not be asked, so nothing can be decided: deny, and say why.
        log.error("changegate could not decide", str(error))
        write_outputs(run_or_none(env), denied)
        return EXIT_DENIED
    except EventError as error:
        log.error("changegate", f"{error}: is this the event the workflow is meant for?")
        write_outputs(run_or_none(env), denied)
        return EXIT_USAGE
    except ChangegateError as error:
        log.error("changegate", str(error))
        write_outputs(run_or_none(env), denied)
        return error.exit_code
    except Exception as error:  # a bug: say so, deny, and keep the traceback for the report
        import traceback

        log.error(
            "changegate internal error",
            f"{type(error).__name__}: {error} (this is a bug, please report it)",
        )
        log.quoted(traceback.format_exc().rstrip())
        write_outputs(run_or_none(env), denied)
        return EXIT_INTERNAL
    outputs = {
        "decision": result.verdict.decision if result.verdict else _decision(result.code),
        "failed-rules": json.dumps(
            sorted({f.rule for f in result.verdict.findings if f.denies}) if result.verdict else []
        ),
        "comment-id": str(result.comment_id or ""),
        "verdict-dir": str(result.folder or ""),
    }
    write_outputs(run, outputs)
    return result.code


def _decision(code: int) -> str:
    return "allow" if code == EXIT_OK else "deny"


def run_or_none(env: Mapping[str, str]) -> Run | None:
    try:
        return Run.read(env)
    except ActionError:
        return None


# --- the modes -------------------------------------------------------------------------------


def check(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    from engine.github.client import pull_request_context
    from engine.judging.judge import Judge, Options
    from engine.request.context import parse_context

    event = read_event(run.event_name, run.payload, run.sha)
    if event.name not in CHECK_EVENTS or event.pull_request is None:
        raise ActionError(
            f"mode check judges pull requests: run it on pull_request, pull_request_review or "
            f"merge_group, not {event.name or 'an unknown event'} (use mode gate for deploys)"
        )
    kind = "merge" if event.name == "merge_group" else "pull_request"
    if event.head_sha is None or event.base_sha is None:  # pragma: no cover - read_event
        raise ActionError("the event names no head or base commit")
    _checked_out(inputs.directory, event.head_sha)
    options = Options(
        now=now,
        repo=inputs.directory,
        config_file=inputs.config,
        event=kind,
        policies_from=_present(event.base_sha, "the base commit", inputs.directory),
    )
    with Judge(options) as judge:
        teams = _teams(judge.config.spec)
        data = pull_request_context(
            client,
            event.pull_request,
            event=kind,
            actor=run.actor,
            teams=teams,
            head_sha=event.head_sha,  # what this run checked out, even if the PR moved on
            base_sha=event.base_sha,
        )
        judge.context = parse_context(_valid_context(judge, data))
        outcomes = judge.judge()
    verdict = outcomes.verdict
    folder = _keep(run, data, verdict, event.pull_request)
    title = (event.pull_request, str(data["pullRequest"].get("title", "")))
    log.report(outcomes)
    summary_text = _markdown(verdict, SUMMARY_LIMIT, None, title)
    _append(run.summary, summary_text)
    comment_id = None
    if inputs.comment:
        marker = _marker(inputs)
        body = _markdown(verdict, None, run.run_url, title, marker)
        comment_id = sticky_comment(client, event.pull_request, body, verdict, log, marker)
    if inputs.status:
        _status(client, event.head_sha, verdict, run.run_url, log)
    return Result(verdict, comment_id, _code(verdict, inputs.fail_on), folder)


def gate(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    from engine.github.client import deploy_context
    from engine.judging.gate import open_gate, target_names
    from engine.judging.judge import Judge, Options
    from engine.request.context import parse_context

    event = read_event(run.event_name, run.payload, run.sha)
    environment = inputs.environment or event.environment
    service = inputs.service or _payload_text(event, "service")
    version = inputs.version or _payload_text(event, "version")
    change = inputs.change or _payload_text(event, "change")
    if not environment or not service:
        raise ActionError(
            "mode gate needs the inputs environment and service (a deployment event gives the "
            "environment, and its payload may give service, version and change)"
        )
    sha = event.head_sha or run.sha
    if not sha:
        raise ActionError("mode gate cannot tell which commit is deployed: GITHUB_SHA is unset")
    # Freezes, plans, changes and policies as the default branch has them now: a branch cannot
    # deploy past a freeze by deleting it, nor an old commit by predating it.
    repo, tip, root = _default_tip(run, inputs.directory, sha)
    with repo.worktree(tip) as tree:
        config = tree / repo.relative(inputs.config) if inputs.config else None
        options = Options(now=now, repo=tree / root, config_file=config, event="deploy")
        with Judge(options) as judge:
            # GitHub's environment names are case-insensitive: "Production" is production.
            env_name, service_name = target_names(judge.config, environment, service)
            environment, service = env_name.value, service_name.value
            data = deploy_context(
                client,
                tip,
                actor=run.actor,
                environment=environment,
                service=service,
                version=version,
                teams=_teams(judge.config.spec),
                pull_request=_approving_pull(judge, client, tip, environment, service, change),
            )
            judge.context = parse_context(_valid_context(judge, data))
            outcomes = open_gate(
                judge,
                environment=environment,
                service=service,
                version=version,
                change=change,
                notes=[n for n in (env_name.unverified, service_name.unverified) if n],
            )
    verdict = outcomes.verdict
    folder = _keep(run, data, verdict, None)
    log.report(outcomes)
    _append(run.summary, _markdown(verdict, SUMMARY_LIMIT, None, None))
    return Result(verdict, None, _code(verdict, inputs.fail_on), folder)


def record(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    """After a merge to the default branch: judge the merge commit as it was merged and keep
    the decision as a git note, pushed to origin (merged with notes pushed meanwhile)."""
    from engine.github.client import pull_request_context
    from engine.trail import notes as records

    event = read_event(run.event_name, run.payload, run.sha)
    if event.name != "push" or event.head_sha is None:
        raise ActionError("mode record runs on push to the default branch, after a merge")
    repo = _repo(inputs.directory)
    commit = event.head_sha
    if not repo.has_commit(commit):
        raise ActionError(f"the pushed commit {commit[:12]} is not in the clone: check it out")
    root = repo.relative(inputs.directory) or "."
    config = repo.relative(inputs.config) if inputs.config else None
    records.fetch(repo, "origin")
    merged = [p for p in client.pulls_of_commit(commit) if p["merged"]]
    merged.sort(key=lambda p: p["mergeCommitSha"] != commit)
    paths: tuple[str, ...] = ()
    if merged:
        with _judge_at(repo, commit, root, config, now) as judge:
            teams = _teams(judge.config.spec)
        data = pull_request_context(
            client, merged[0]["number"], event="merge", actor=run.actor, teams=teams,
            head_sha=commit,
        )  # fmt: skip
    else:  # pushed without a pull request: recorded so, and audit flags it
        data = {"event": "merge", **({"actor": run.actor} if run.actor else {})}
        parent = records.first_parent(repo, commit)
        changed = repo.run(
            "diff", "--name-only", parent or "4b825dc642cb6eb9a060e54bf8d69288fbee4904", commit
        )
        paths = tuple(
            p for p in changed.stdout.decode().splitlines() if p.endswith((".yaml", ".yml"))
        )
    # judged as of the push by GitHub's clock (a committer date can be set to anything), the
    # same on a re-run; without it, as of the commit
    at = event.pushed_at or records.merged_at(repo, commit)
    note = records.judge_commit(
        repo, commit, root=root, context=data, at=at,
        policies_from=records.first_parent(repo, commit) or commit, config_file=config,
        paths=paths,
    )  # fmt: skip
    outcome = records.write(repo, commit, note)
    attempts = records.push(repo, "origin")
    verdict = Verdict.from_json(note)  # the record holds the verdict's fields
    folder = _keep(run, data, verdict, merged[0]["number"] if merged else None)
    (folder / "record.json").write_text(records.dumps(note), encoding="utf-8")
    line = (
        f"{outcome} the decision on {commit[:12]} ({note['decision']}) under "
        f"{records.NOTES_REF} and pushed it{f' after {attempts} tries' if attempts > 1 else ''}"
    )
    log.quoted(line)
    if note["decision"] == "deny":
        log.warning(
            "changegate recorded a deny",
            f"{commit[:12]} was merged although changegate denies it: audit will flag it",
        )
    _append(run.summary, f"### changegate record\n\n{line}\n")
    return Result(verdict, None, EXIT_OK, folder)


@contextlib.contextmanager
def _judge_at(
    repo: Any, commit: str, root: str, config: str | None, now: datetime
) -> Iterator[Any]:
    from engine.judging.judge import Judge, Options

    with repo.worktree(commit) as tree:
        options = Options(now=now, repo=tree / root, config_file=tree / config if config else None)
        with Judge(options) as judge:
            yield judge


def audit(inputs: Inputs, run: Run, client: Client, now: datetime, log: Log) -> Result:
    """The audit of the default branch: flags in the log and the summary, the HTML report and
    the JSON in verdict-dir (to upload); flags fail the step."""
    from engine.judging.judge import Judge, Options
    from engine.trail import notes as records
    from engine.trail.audit import audit as run_audit
    from engine.trail.history import load, parse_period
    from engine.trail.metrics import compute
    from engine.trail.report import html

    repo = _repo(inputs.directory)
    records.fetch(repo, "origin")
    root = repo.relative(inputs.directory) or "."
    prefix = "" if root == "." else root.rstrip("/") + "/"
    try:
        deployments = client.deployments()
    except GitHubError as error:
        log.warning("changegate could not read the deployments", f"{error} (deployments: read)")
        deployments = []
    with Judge(Options(now=now, repo=inputs.directory, config_file=inputs.config)) as judge:
        try:
            since, until = parse_period(inputs.since, inputs.until, judge.config.timezone)
        except ValueError as error:
            raise ActionError(f"inputs since and until: {error}") from None

        def governed(path: str) -> bool:
            return path.startswith(prefix) and judge.governed(path[len(prefix) :])

        trail = load(repo, governed)
        for warning in trail.warnings:
            log.warning("changegate audit", warning)
        result = run_audit(judge, trail, since=since, until=until, deployments=deployments)
        metrics = compute(judge, trail, since=since, until=until)
        report = html(judge, audit=result, metrics=metrics)
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
    _append(run.summary, "\n".join(lines) + "\n")
    code = EXIT_DENIED if result.flags else EXIT_OK
    return Result(None, None, code, folder)


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
    head_sha = _text_at(run.payload, "workflow_run", "head_sha")
    number_text = _read(inputs.verdict / "pull-request", 20).strip()
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
        data = json.loads(_read(inputs.verdict / "verdict.json", 50_000_000))
        problems = SchemaSet().verdict_errors(data)
        if problems:
            raise ActionError(
                f"the artifact's verdict.json is not a verdict: {problems[0].message}"
            )
        verdict = Verdict.from_json(data)
    except (ValueError, RecursionError) as error:
        raise ActionError(f"the artifact's verdict.json is not a verdict: {error}") from None
    log.report(Report(verdict))
    marker = _marker(inputs)
    body = _markdown(verdict, None, run.run_url, (number, pull["title"]), marker)
    comment_id = None
    if inputs.comment:
        comment_id = sticky_comment(client, number, body, verdict, log, marker)
    return Result(verdict, comment_id, EXIT_OK)


def _text_at(payload: Any, *keys: str) -> str | None:
    value = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


# --- what the modes share ---------------------------------------------------------------------


def sticky_comment(
    client: Client, number: int, body: str, verdict: Verdict, log: Log, marker: str = MARKER
) -> int | None:
    """One comment per pull request (and working directory), found by its marker line and its
    author (us): updated in place, never duplicated; a pass updates an earlier failure and
    adds nothing new. Commenting is a courtesy: when it fails the verdict still stands, so it
    warns instead of failing the step."""
    try:
        me = client.me()
        ours = [
            c
            for c in client.comments(number)
            if c["body"].split("\n", 1)[0] == marker
            and (c["user"] == me if me else c["userType"] == "Bot")
        ]
        if ours:
            first, *extra = ours
            for duplicate in extra:  # left by runs that raced each other
                client.delete_comment(number, duplicate["id"])
            try:
                client.edit_comment(number, first["id"], body)
                return int(first["id"])
            except GitHubError as error:
                if error.status not in {403, 404}:
                    raise
                # gone since it was listed, or not ours to edit after all: comment anew
        if verdict.decision == "allow" and not ours:
            return None
        return client.create_comment(number, body)
    except GitHubError as error:
        hint = (
            ". A pull request from a fork gets a read-only token: publish the verdict from a "
            "workflow_run workflow (see the README)"
            if error.status in {403, 404}
            else ""
        )
        log.warning("changegate could not comment", f"{error}{hint}")
        return None


def _status(client: Client, sha: str, verdict: Verdict, url: str | None, log: Log) -> None:
    from engine.reporters.text import summary

    state = "success" if verdict.decision == "allow" else "failure"
    try:
        client.create_status(sha, state, summary(verdict, color=False), url, STATUS_CONTEXT)
    except GitHubError as error:
        if error.status not in {403, 404}:
            raise
        log.warning("changegate could not set the commit status", f"{error} (statuses: write)")


def _approving_pull(
    judge: Any, client: Client, sha: str, environment: str, service: str, change: str | None
) -> int | None:
    """The merged pull request that last changed the deploy's change request: its reviews
    are the change's approvals. None when the deploy carries no change request."""
    from engine.judging.gate import scheduled_changes

    if change is not None:
        wanted = change.casefold()
        found = [
            d
            for d in judge.inventory.valid
            if d.kind == "ChangeRequest" and (d.name or "").casefold() == wanted
        ]
    else:
        found = scheduled_changes(judge, environment, service)
        if len(found) > 1:
            names = ", ".join(d.name or "?" for d in found)
            raise ActionError(
                f"several change requests are scheduled now for {service} in {environment} "
                f"({names}): say which one this deploy carries with the input change"
            )
    if not found or judge.git is None:
        return None
    path = judge.git.relative(found[0].path)
    commit = judge.git.last_change(path, sha) if path else None
    if commit is None:
        return None
    merged = [p for p in client.pulls_of_commit(commit) if p["merged"]]
    # the pull request merged as this commit (or that brought it), not one that contains it
    merged.sort(key=lambda p: p["mergeCommitSha"] != commit)
    return int(merged[0]["number"]) if merged else None


def _teams(config: dict[str, Any]) -> list[str]:
    return sorted({t for role in config.get("roles", {}).values() for t in role.get("teams", ())})


def _valid_context(judge: Any, data: dict[str, Any]) -> dict[str, Any]:
    problems = judge.workspace.schemas.context_errors(data)
    if problems:  # pragma: no cover - the context is built here; a bug if it is invalid
        raise AssertionError(f"built an invalid request context: {problems[0].message}")
    return data


def _repo(directory: Path) -> Any:
    from engine.gitrepo import GitRepo

    repo = GitRepo.find(directory)
    if repo is None:
        raise ActionError(f"{directory} is not a git checkout: run actions/checkout first")
    return repo


def _present(sha: str, what: str, directory: Path) -> str:
    """``sha`` if the clone has it; else say how to check out enough history."""
    if not _repo(directory).has_commit(sha):
        raise ActionError(
            f"{what} {sha[:12]} is not in the clone, so the policies it holds cannot be read: "
            "check out with actions/checkout and fetch-depth: 0"
        )
    return sha


def _checked_out(directory: Path, head: str) -> None:
    """The workspace must hold the pull request: its head, or GitHub's merge of it into the
    base (refs/pull/N/merge, whose second parent is the head)."""
    repo = _repo(directory)
    current = repo.head()
    parents = repo.parents(current) if current else []
    if current != head and head not in parents[1:]:
        raise ActionError(
            f"the checkout is {str(current)[:12]}, not pull request head {head[:12]} nor its "
            "merge commit: check out the pull request (actions/checkout's default on "
            "pull_request events) so that what is judged is what would merge"
        )


def _default_tip(run: Run, directory: Path, deployed: str) -> tuple[Any, str, str]:
    """The repository, the tip of its default branch, and changegate's folder in it; the
    deployed commit must be on that branch."""
    repo = _repo(directory)
    branch = _text_at(run.payload, "repository", "default_branch") or "main"
    tip = None
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if repo.has_ref(ref):
            tip = repo.resolve(ref)
            break
    if tip is None:
        raise ActionError(
            f"the default branch {branch} is not in the clone: check out with fetch-depth: 0"
        )
    if not repo.has_commit(deployed) or not repo.is_ancestor(deployed, tip):
        raise ActionError(
            f"commit {deployed[:12]} is not on the default branch {branch}: deploy what was "
            "merged (the gate judges by the default branch's freezes, plans and changes)"
        )
    root = repo.relative(directory)
    if root is None:
        raise ActionError(f"{directory} is outside the git repository {repo.root}")
    return repo, tip, root or "."


def _marker(inputs: Inputs) -> str:
    """The comment's first line: one comment per pull request and working directory."""
    relative = os.path.relpath(inputs.directory, inputs.workspace)
    key = re.sub(r"[^A-Za-z0-9._/-]", "_", relative)
    return MARKER if key in {".", ""} else MARKER.replace(" -->", f" {key} -->")


def _payload_text(event: Event, key: str) -> str | None:
    value = event.deploy_payload.get(key)
    return str(value) if isinstance(value, (str, int, float)) and str(value) else None


def _code(verdict: Verdict, fail_on: str) -> int:
    if verdict.decision == "deny":
        return EXIT_DENIED
    if fail_on == "warn" and verdict.summary["warnings"]:
        return EXIT_DENIED
    return EXIT_OK


def _markdown(
    verdict: Verdict,
    limit: int | None,
    url: str | None,
    title: tuple[int, str] | None,
    marker: str = MARKER,
) -> str:
    from engine.reporters.markdown import render

    if limit is None:
        return render(verdict, details_url=url, pull_request=title, marker=marker)
    return render(verdict, limit=limit, details_url=url, pull_request=title, marker=marker)


def _keep(run: Run, context: dict[str, Any], verdict: Verdict, number: int | None) -> Path:
    """The context and the verdict as files, to upload as an artifact and replay anywhere
    (``changegate check --context context.json``)."""
    from engine.paths import display_path

    folder = Path(tempfile.mkdtemp(prefix="changegate-", dir=run.temp))
    (folder / "context.json").write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    shown = verdict.to_json(display_path)
    (folder / "verdict.json").write_text(json.dumps(shown, indent=2) + "\n", encoding="utf-8")
    if number is not None:
        (folder / "pull-request").write_text(f"{number}\n", encoding="utf-8")
    return folder


def _read(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise ActionError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise ActionError(f"{path} is larger than {limit:,} bytes")
    return data.decode("utf-8", errors="replace")


def _append(path: Path | None, text: str) -> None:
    if path is not None:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text + "\n")


def write_outputs(run: Run | None, outputs: dict[str, str]) -> None:
    """Step outputs, each value under a delimiter it cannot contain."""
    if run is None or run.output is None:
        return
    with run.output.open("a", encoding="utf-8") as stream:
        for name, value in outputs.items():
            delimiter = f"changegate_{secrets.token_hex(16)}"
            stream.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


class Log:
    """The step's log: what people wrote only between stop-commands markers, so that it can
    never run as a workflow command; annotations and masks outside them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def quoted(self, text: str) -> None:
        token = secrets.token_hex(16)
        self.out.write(f"::stop-commands::{token}\n{text}\n::{token}::\n")

    def error(self, title: str, message: str) -> None:
        self._annotate("error", title, message)

    def warning(self, title: str, message: str) -> None:
        self._annotate("warning", title, message)

    def _annotate(self, level: str, title: str, message: str) -> None:
        from engine.escaping import command_data, command_property

        self.out.write(f"::{level} title={command_property(title)}::{command_data(message)}\n")

    def report(self, report: Report) -> None:
        """Annotations at files and lines, then the readable report (quoted)."""
        import io

        from engine.reporters import REPORTERS

        annotations = io.StringIO()
        REPORTERS["github"](report, annotations, color=False)
        self.out.write(annotations.getvalue())
        text = io.StringIO()
        REPORTERS["text"](report, text, color=False)
        self.quoted(text.getvalue().rstrip("\n"))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
