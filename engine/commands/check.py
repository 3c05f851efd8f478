"""``changegate check [PATH...]``: validate, then evaluate the policies for the event."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cel import BACKENDS
from engine.commands.common import add_output, opened, use_color
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.judging.judge import Judge, Options
from engine.reporters import REPORTERS
from engine.request.context import EVENTS

HELP = "validate and evaluate policies for an event"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    add_judging(parser)
    add_output(parser, tuple(REPORTERS))


def add_judging(parser: argparse.ArgumentParser, *, event: bool = True) -> None:
    """The flags every judging command shares (check, and gate, which is always a deploy)."""
    if event:
        parser.add_argument("--event", choices=EVENTS, help="the event (default: the context's)")
    parser.add_argument(
        "--at", metavar="TIME", help="judge as of this RFC 3339 time (default: now)"
    )
    parser.add_argument("--context", type=Path, metavar="FILE", help="request context (YAML/JSON)")
    parser.add_argument(
        "--policies-from",
        metavar="REF",
        help="read config, policies and waivers from this git ref (a pull request's base)",
    )
    parser.add_argument(
        "--cel-backend",
        choices=("auto", *BACKENDS),
        help="CEL runtime (default: $CHANGEGATE_CEL_BACKEND, else the fastest installed)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes for large repositories (default: one per core, from 2,000 files)",
    )


def options(args: argparse.Namespace) -> Options:
    backend = None if args.cel_backend in {None, "auto"} else args.cel_backend
    return Options(
        now=args.now,
        repo=args.repo,
        config_file=args.config,
        paths=tuple(getattr(args, "paths", ()) or ()),
        event=getattr(args, "event", None),
        context_file=args.context,
        policies_from=args.policies_from,
        backend=backend,
        jobs=args.jobs,
    )


def run(args: argparse.Namespace) -> int:
    with Judge(options(args)) as judge:
        outcomes = judge.judge()
    with opened(args) as out:
        REPORTERS[args.format](outcomes, out, color=use_color(args, out))
    return EXIT_DENIED if outcomes.verdict.decision == "deny" else EXIT_OK
