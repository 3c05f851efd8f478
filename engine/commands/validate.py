"""``changegate validate [PATH...]``: schema-check documents."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands.output import add_output, opened, use_color
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.reporters import REPORTERS as ALL_REPORTERS
from engine.verdict import Report, Verdict
from engine.workspace import Workspace

HELP = "schema-check documents"

REPORTERS = {name: ALL_REPORTERS[name] for name in ("text", "json")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    add_output(parser, tuple(REPORTERS))


def run(args: argparse.Namespace) -> int:
    workspace = Workspace.open(repo=args.repo, config_file=args.config, paths=args.paths)
    inventory = workspace.load(args.paths)
    verdict = Verdict.of(
        event="local",
        at=args.now,
        findings=inventory.findings,
        documents=len(inventory.documents),
        rules=len(inventory.rules),
        files=inventory.files,
    )
    with opened(args) as out:
        REPORTERS[args.format](Report(verdict), out, color=use_color(args, out))
    return EXIT_DENIED if verdict.decision == "deny" else EXIT_OK
