"""Command line: parse arguments, read the clock once, dispatch, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, Protocol

from engine import __version__
from engine.commands import (
    audit,
    budget,
    check,
    freeze,
    gate,
    impact,
    metrics,
    new,
    policies,
    record,
    schema,
    serve,
    validate,
    verify,
)
from engine.commands import test as test_command
from engine.errors import ExitRequest, ExitStatus, UsageError, error_handler
from engine.time.instants import parse_instant


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, now: datetime) -> int: ...


COMMANDS: dict[str, Command] = {
    "validate": validate,
    "check": check,
    "test": test_command,
    "gate": gate,
    "freeze": freeze,
    "record": record,
    "verify": verify,
    "audit": audit,
    "metrics": metrics,
    "impact": impact,
    "budget": budget,
    "policies": policies,
    "schema": schema,
    "new": new,
    "serve": serve,
}


class _Parser(argparse.ArgumentParser):
    """argparse that leaves through :class:`ExitRequest` instead of ``sys.exit``."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ExitRequest(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"changegate: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="changegate",
        description="Policy-as-code for release plans, change requests and freeze windows.",
    )
    parser.add_argument("--version", action="version", version=f"changegate {__version__}")
    parser.add_argument("--repo", type=Path, help="repository root (default: found from paths)")
    parser.add_argument("--config", type=Path, help="config file (default: <repo>/changegate.yaml)")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour text output (default: only on a terminal, and never with NO_COLOR set)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(sub)
    return parser


def parse_time(text: str, flag: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError as error:
        reason = str(error) if "outside the years" in str(error) else ""
        raise UsageError(
            f"{flag} {text!r}: "
            + (reason or "give an RFC 3339 time with an offset, e.g. 2024-01-25T10:00:00Z")
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    status = ExitStatus()
    with error_handler(status):
        args = build_parser().parse_args(argv)
        at = getattr(args, "at", None)
        # The one read of the clock in a run: every time decision uses this instant.
        now = parse_time(at, "--at") if at else datetime.now(UTC)
        status.code = COMMANDS[args.command].run(args, now)
    return status.code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
