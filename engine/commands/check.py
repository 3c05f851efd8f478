"""``changegate check [PATH...]``: validate, then evaluate the policies for the event."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from engine.commands import common
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.reporters import REPORTERS

HELP = "validate and evaluate policies for an event"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    common.add_judging(parser)
    common.add_output(parser, tuple(REPORTERS))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.judging.judge import Judge

    workspace = common.workspace(args)
    context = common.request_context(args, workspace)
    from engine.judging.description import described, local_notes
    from engine.judging.impact import preview

    with Judge(workspace, context, now, common.judging(args)) as judge:
        outcomes = judge.judge()
        outcomes = replace(described(judge, outcomes), notes=local_notes(judge, outcomes.targets))
        outcomes = preview(judge, outcomes, config_file=args.config)
    with common.opened(args) as out:
        REPORTERS[args.format](outcomes, out, color=common.use_color(args, out))
    return EXIT_DENIED if outcomes.verdict.decision == "deny" else EXIT_OK
