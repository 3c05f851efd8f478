"""The Action's entry point: read the inputs and the run, connect to GitHub, run the mode,
write the step outputs; every error through the one handler, said as an annotation."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from engine.errors import EXIT_OK, ChangegateError, ExitStatus, error_handler
from engine.github.action import modes
from engine.github.action.inputs import Inputs, Result, Run, run_or_none
from engine.github.action.output import Log, write_outputs
from engine.github.client import Client
from engine.heap import one_run

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
    log = Log(out or sys.stdout)
    # Paths in annotations, comments and the verdict are relative to the workspace, which is
    # the repository's root in GitHub's eyes.
    previous = Path.cwd()
    os.chdir(env.get("GITHUB_WORKSPACE") or previous)
    status = ExitStatus()
    result: Result | None = None
    try:
        with error_handler(status, _Annotations(log)), one_run():
            result = _run(env, connect, now, log)
            status.code = result.code
    finally:
        os.chdir(previous)
    write_outputs(run_or_none(env), _outputs(result))
    return status.code


def _run(env: Mapping[str, str], connect: Connect, now: datetime | None, log: Log) -> Result:
    inputs = Inputs.read(env)
    if env is os.environ:  # git and other children need not see it
        os.environ.pop("CHANGEGATE_GITHUB_TOKEN", None)
    run = Run.read(env)
    moment = now or datetime.now(UTC)
    with connect(inputs.token, run.repository, run.api_url) as client:
        mode = getattr(modes, inputs.mode)
        result: Result = mode(inputs, run, client, moment, log)
        return result


def _outputs(result: Result | None) -> dict[str, str]:
    """The step outputs; a run that ended in an error denies (nothing could be decided)."""
    if result is None:
        return {"decision": "deny", "failed-rules": "[]", "comment-id": "", "verdict-dir": ""}
    verdict = result.verdict
    return {
        "decision": verdict.decision
        if verdict
        else ("allow" if result.code == EXIT_OK else "deny"),
        "failed-rules": json.dumps(
            sorted({f.rule for f in verdict.findings if f.denies}) if verdict else []
        ),
        "comment-id": str(result.comment_id or ""),
        "verdict-dir": str(result.folder or ""),
    }


class _Annotations:
    """The error handler's reporter in a workflow: an error annotation, and for a bug the
    traceback quoted in the log (so it can never run as a workflow command)."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def user(self, error: ChangegateError) -> None:
        self.log.error(error.title, str(error))

    def internal(self, error: Exception, trace: str) -> None:
        self.log.error(
            "changegate internal error",
            f"{type(error).__name__}: {error} (this is a bug, please report it)",
        )
        self.log.quoted(trace.rstrip())
