"""``changegate impact --base REF [PATH...]``: what the working tree's policy set newly
denies, no longer denies and newly warns, against REF's, over every governed document."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from engine.commands import common
from engine.errors import EXIT_OK

HELP = "what a policy change newly denies, unblocks or warns"
FORMATS = ("text", "json", "markdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.request.context import EVENTS

    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="judge only these (default: all)"
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="REF",
        help="the git ref whose config, policies, waivers, windows and lock are compared",
    )
    parser.add_argument(
        "--event",
        choices=EVENTS,
        help="the event both sides judge (default: the context's, else pull_request)",
    )
    parser.add_argument("--at", metavar="TIME", help="judge as of this RFC 3339 time")
    parser.add_argument("--context", type=Path, metavar="FILE", help="request context (YAML/JSON)")
    common.add_output(parser, FORMATS)


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.judging.impact import standalone
    from engine.workspace.inventory import Workspace

    paths = tuple(args.paths or ())
    base = Workspace.open(
        repo=args.repo, config_file=args.config, paths=paths, policies_from=args.base
    )
    head = Workspace.open(repo=base.root, config_file=args.config)
    context = common.request_context(args, base)
    if args.event is None and args.context is None:
        context = context.with_event("pull_request")
    found = standalone(base, head, context, now, paths=paths).as_json()
    with common.opened(args) as out:
        if args.format == "json":
            document = {"apiVersion": "changegate/v1", "kind": "Impact", **found}
            json.dump(document, out, indent=2, ensure_ascii=False)
            out.write("\n")
        elif args.format == "markdown":
            from engine.reporters.markdown import impact_markdown

            out.write(impact_markdown(found))
        else:
            from engine.reporters.text import impact_lines

            color = common.use_color(args, out)
            for line in impact_lines({"impact": found}, color=color):
                out.write(line + "\n")
    return EXIT_OK
