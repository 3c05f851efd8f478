"""``changegate gate --env ENV --service SVC``: may SVC deploy to ENV now?"""

from __future__ import annotations

import argparse
from datetime import datetime

from engine.commands import common
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.reporters import REPORTERS

HELP = "may a service deploy to an environment now?"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="the target environment")
    parser.add_argument("--service", required=True, metavar="SVC", help="the service deployed")
    parser.add_argument("--version", metavar="V", help="the version deployed (its release plan)")
    parser.add_argument("--change", metavar="ID", help="the change request the deploy carries")
    common.add_judging(parser, event=False)
    common.add_output(parser, tuple(REPORTERS))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.judging.deploy import DeployTarget, target_names
    from engine.judging.gate import open_gate
    from engine.judging.judge import Judge

    workspace = common.workspace(args)
    environment, service = target_names(workspace.config, args.env, args.service)
    deploy = DeployTarget(environment.value, service.value, args.version, args.change)
    # gate is always a deploy: a context file's event is replaced
    context = common.request_context(args, workspace).for_deploy(
        deploy.environment, deploy.service, deploy.version
    )
    notes = [n for n in (environment.unverified, service.unverified) if n]
    with Judge(workspace, context, now, common.judging(args)) as judge:
        outcomes = open_gate(judge, deploy, notes)
    with common.opened(args) as out:
        REPORTERS[args.format](outcomes, out, color=common.use_color(args, out))
    return EXIT_OK if outcomes.verdict.extra["gate"]["allowed"] else EXIT_DENIED
