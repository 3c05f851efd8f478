"""``changegate validate [PATH...]``: schema-check documents."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from engine.commands.common import add_output, opened, use_color
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.paths import absolute
from engine.reporters import REPORTERS as ALL_REPORTERS
from engine.verdict import Report, Verdict
from engine.workspace.inventory import Workspace, inventory_rules

HELP = "schema-check documents"

REPORTERS = {name: ALL_REPORTERS[name] for name in ("text", "json")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    add_output(parser, tuple(REPORTERS))


def run(args: argparse.Namespace, now: datetime) -> int:
    workspace = Workspace.open(repo=args.repo, config_file=args.config, paths=args.paths)
    # The whole repository is read, so that a name the given files share with another file
    # is found (the pre-commit hook passes only the files a commit touches); only the given
    # files are reported on.
    inventory = workspace.load(args.paths, repository=True)
    named = inventory.named
    documents = [d for d in inventory.documents if not named or absolute(d.path) in named]
    verdict = Verdict.of(
        event="local",
        at=now,
        findings=[f for f in inventory.findings if not named or absolute(f.path) in named],
        documents=len(documents),
        rules=len(inventory_rules(documents)),
        files=len(named) if named else inventory.files,
    )
    with opened(args) as out:
        REPORTERS[args.format](Report(verdict), out, color=use_color(args, out))
    return EXIT_DENIED if verdict.decision == "deny" else EXIT_OK
