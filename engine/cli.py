"""Command line: parse arguments, read the clock once, dispatch, map errors to exit codes."""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NoReturn, Protocol

from engine import __version__
from engine.errors import ExitRequest, ExitStatus, UsageError, error_handler
from engine.heap import one_run
from engine.time.instants import parse_instant


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, now: datetime) -> int: ...


# name -> what it does; the module engine.commands.<name> is imported only when it runs (or
# when its own --help is asked for), so that starting changegate stays fast
COMMANDS: dict[str, str] = {
    "validate": "schema-check documents",
    "check": "validate and evaluate policies for an event",
    "test": "run policy tests, with per-rule coverage",
    "gate": "may a service deploy to an environment now?",
    "freeze": "what is frozen now, and the calendar of freezes, releases and changes",
    "record": "record the decision on a merged commit as a git note (refs/notes/changegate)",
    "verify": "replay the decision recorded on a commit and show that it gives the same verdict",
    "audit": "walk the history of governed documents and flag what an auditor must see",
    "metrics": "DORA metrics and governance KPIs per service and month, from documents and history",
    "impact": "what a policy change newly denies, unblocks or warns",
    "budget": "error budget per service: SLO, allowed downtime, used, remaining, burn rate",
    "policies": "pin shared policy packs in changegate.lock (lock), or check them (verify)",
    "schema": "print the JSON Schema of a kind (or of any document)",
    "new": "scaffold a document from a template",
    "serve": "the GitHub App for custom deployment protection rules",
}
_RUNS_ON: Final = frozenset({"serve"})  # commands whose process outlives one run
# global options that take a value (skipped when looking for the command's name)
_VALUED: Final = frozenset({"--repo", "--config", "--color"})


def command(name: str) -> Command:
    """The module of a command."""
    module: Command = importlib.import_module(f"engine.commands.{name}")
    return module


def chosen(argv: Sequence[str]) -> str | None:
    """The command named on the command line, found before parsing it."""
    tokens = iter(argv)
    for token in tokens:
        if token in _VALUED:
            next(tokens, None)
        elif token == "--":  # noqa: S105 - the end of options, not a password
            return next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


class _Parser(argparse.ArgumentParser):
    """argparse that leaves through :class:`ExitRequest` instead of ``sys.exit``."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ExitRequest(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"changegate: error: {message}\n")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``selected`` command's module is imported to add its flags (all of
    them when None, as the documentation builder wants)."""
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
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if selected is None or name == selected:
            command(name).add_arguments(sub)
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


def entry() -> NoReturn:
    """The ``changegate`` command: :func:`main`, then the process ends without freeing what
    the run made, object by object (tens of milliseconds on a large repository). As on any
    exit, the ``atexit`` handlers run and then the output is flushed; a process with other
    threads still running, or whose output cannot be written, ends the usual way."""
    code = main(last=True)
    threading = sys.modules.get("threading")  # never imported: no other thread
    if threading is not None and threading.active_count() > 1:
        raise SystemExit(code)
    atexit._run_exitfuncs()  # each runs once: a later usual exit does not run them again
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:
            continue
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away (changegate ... | head): as main says
            continue
        except OSError:  # a full disk, say: Python's own exit reports it, as always
            raise SystemExit(code) from None
    os._exit(code)


def main(argv: Sequence[str] | None = None, *, last: bool = False) -> int:
    """Run the command line ``argv`` and give its exit code. ``last``: nothing runs in this
    process afterwards (see :func:`entry`)."""
    status = ExitStatus()
    arguments = list(sys.argv[1:] if argv is None else argv)
    with error_handler(status):
        selected = chosen(arguments)
        args = build_parser(selected if selected in COMMANDS else "").parse_args(arguments)
        at = getattr(args, "at", None)
        # The one read of the clock in a run: every time decision uses this instant.
        now = parse_time(at, "--at") if at else datetime.now(UTC)
        if args.command in _RUNS_ON:
            status.code = command(args.command).run(args, now)
        else:
            with one_run(last=last):
                status.code = command(args.command).run(args, now)
    return status.code


if __name__ == "__main__":  # pragma: no cover
    entry()
