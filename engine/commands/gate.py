"""``changegate gate --env ENV --service SVC``: may SVC deploy to ENV now?"""

from __future__ import annotations

import argparse
from dataclasses import replace

from engine.commands.check import add_judging, options
from engine.commands.common import add_output, opened, use_color
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.reporters import REPORTERS

HELP = "may a service deploy to an environment now?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="the target environment")
    parser.add_argument("--service", required=True, metavar="SVC", help="the service deployed")
    parser.add_argument("--version", metavar="V", help="the version deployed (its release plan)")
    parser.add_argument("--change", metavar="ID", help="the change request the deploy carries")
    add_judging(parser, event=False)
    add_output(parser, tuple(REPORTERS))


def run(args: argparse.Namespace) -> int:
    from engine.judging.gate import open_gate, target_names
    from engine.judging.judge import Judge

    settings = replace(options(args), event="deploy")
    with Judge(settings) as judge:
        environment, service = target_names(judge.config, args.env, args.service)
        judge.context = replace(
            judge.context,
            event="deploy",
            environment=environment.value,
            service=service.value,
            version=args.version,
        )
        outcomes = open_gate(
            judge,
            environment=environment.value,
            service=service.value,
            version=args.version,
            change=args.change,
            notes=[n for n in (environment.unverified, service.unverified) if n],
        )
    with opened(args) as out:
        REPORTERS[args.format](outcomes, out, color=use_color(args, out))
    return EXIT_OK if outcomes.verdict.extra["gate"]["allowed"] else EXIT_DENIED
