"""What the Action writes: the step's log (annotations, and what people wrote only between
stop-commands markers), step outputs, the job summary, the sticky pull request comment, the
commit status, and the files it leaves to upload."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any, Final, TextIO

from engine.errors import EXIT_DENIED, EXIT_OK
from engine.github.action.inputs import ActionError, Inputs, Run
from engine.github.client import Client, GitHubError
from engine.reporters.markdown import MARKER
from engine.verdict import Report, Verdict

SUMMARY_LIMIT: Final = 1_000_000  # GitHub takes 1 MiB of summary per step
STATUS_CONTEXT: Final = "changegate/verdict"


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


def set_status(client: Client, sha: str, verdict: Verdict, url: str | None, log: Log) -> None:
    from engine.reporters.text import summary

    state = "success" if verdict.decision == "allow" else "failure"
    try:
        client.create_status(sha, state, summary(verdict, color=False), url, STATUS_CONTEXT)
    except GitHubError as error:
        if error.status not in {403, 404}:
            raise
        log.warning("changegate could not set the commit status", f"{error} (statuses: write)")


def comment_marker(inputs: Inputs) -> str:
    """The comment's first line: one comment per pull request and working directory."""
    relative = os.path.relpath(inputs.directory, inputs.workspace)
    key = re.sub(r"[^A-Za-z0-9._/-]", "_", relative)
    return MARKER if key in {".", ""} else MARKER.replace(" -->", f" {key} -->")


def exit_code(verdict: Verdict, fail_on: str) -> int:
    if verdict.decision == "deny":
        return EXIT_DENIED
    if fail_on == "warn" and verdict.summary["warnings"]:
        return EXIT_DENIED
    return EXIT_OK


def markdown(
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


def keep(run: Run, context: dict[str, Any], verdict: Verdict, number: int | None) -> Path:
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


def read_limited(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise ActionError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise ActionError(f"{path} is larger than {limit:,} bytes")
    return data.decode("utf-8", errors="replace")


def append(path: Path | None, text: str) -> None:
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

        from engine.reporters import REPORTERS

        annotations = io.StringIO()
        REPORTERS["github"](report, annotations, color=False)
        self.out.write(annotations.getvalue())
        text = io.StringIO()
        REPORTERS["text"](report, text, color=False)
        self.quoted(text.getvalue().rstrip("\n"))
