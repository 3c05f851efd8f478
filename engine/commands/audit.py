"""``changegate audit``: the change trail and what an auditor must see in it."""

from __future__ import annotations

import argparse
import csv
import json
import os
from datetime import datetime
from typing import Any, TextIO

from engine.commands import common
from engine.commands.common import add_output, opened
from engine.errors import EXIT_DENIED, EXIT_OK, UsageError

HELP = "walk the history of governed documents and flag what an auditor must see"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_period(parser)
    parser.add_argument(
        "--github-repo",
        metavar="OWNER/NAME",
        help="also check the repository's GitHub deployments (token from GITHUB_TOKEN)",
    )
    add_output(parser, ("text", "json", "csv", "html"))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.trail.audit import audit

    judge, trail, (since, until) = common.history(args, now)
    with judge:
        deployments = _deployments(args) if args.github_repo else []
        result = audit(judge, trail, since=since, until=until, deployments=deployments)
        metrics = None
        if args.format == "html":
            from engine.trail.metrics import compute

            metrics = compute(judge, trail, since=since, until=until)
    with opened(args) as out:
        if args.format == "json":
            json.dump(result.as_json(), out, indent=2)
            out.write("\n")
        elif args.format == "csv":
            _csv(result, out)
        elif args.format == "html":
            from engine.trail.report import html

            out.write(html(judge, audit=result, metrics=metrics))
        else:
            _text(result, out)
    return EXIT_DENIED if result.flags else EXIT_OK


def _deployments(args: argparse.Namespace) -> list[dict[str, Any]]:
    from engine.github.client import DEFAULT_API, Client

    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise UsageError("--github-repo needs a token in GITHUB_TOKEN (deployments: read)")
    api = os.environ.get("GITHUB_API_URL", DEFAULT_API)
    with Client.connect(token, args.github_repo, api) as client:
        return client.deployments()


def _text(result: Any, out: TextIO) -> None:
    from engine.time.instants import format_instant

    span = " ".join(
        part for part in (
            f"since {format_instant(result.since)}" if result.since else "",
            f"until {format_instant(result.until)}" if result.until else "",
        ) if part
    )  # fmt: skip
    out.write(
        f"change trail{' ' + span if span else ''}: {len(result.rows)} governed changes, "
        f"{result.records} decision records\n"
    )
    for flag in result.flags:
        where = (flag.commit or "")[:12] or "-"
        out.write(f"{flag.rule}: {where} {flag.document}: {flag.message}\n")
    out.write(
        f"{'✗' if result.flags else '✓'} {len(result.flags)} flag"
        f"{'' if len(result.flags) == 1 else 's'}\n"
    )


def _csv(result: Any, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rule", "at", "commit", "document", "path", "message"])
    for flag in result.flags:
        data = flag.as_json()
        writer.writerow(
            [_cell(data[k]) for k in ("rule", "at", "commit", "document", "path", "message")]
        )


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text
