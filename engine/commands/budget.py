"""``changegate budget [--service S] [--at T]``: each service's error budget, the figures of
the domain notes' ``sla_calculator.py``: the SLO, the downtime it allows in the period, what
incidents used, what is left and the burn rate (the computation: engine/time/budgets.py)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from engine.commands import common
from engine.commands.common import add_output, opened
from engine.errors import EXIT_OK
from engine.time.instants import format_instant

if TYPE_CHECKING:
    from engine.time.budgets import Budget

HELP = "error budget per service: SLO, allowed downtime, used, remaining, burn rate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", metavar="S", help="only this service")
    parser.add_argument("--at", metavar="TIME", help="what 'now' is (default: the clock)")
    add_output(parser, ("text", "json"))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.paths import display_path
    from engine.request.names import service as service_name
    from engine.time import budgets

    workspace = common.workspace(args)
    config = workspace.config
    services = config.service_names
    if args.service is not None:
        services = [service_name(args.service, services).value]
    inventory = workspace.load(repository=True)
    valid = {id(d) for d in inventory.valid}
    unread = sorted(
        {
            display_path(d.path)
            for d in inventory.documents
            if d.kind == "Incident" and id(d) not in valid
        }
    )
    if unread:
        print(
            f"changegate: warning: {common.plural(len(unread), 'incident file')} with problems "
            f"not counted: {', '.join(unread)}; run changegate validate",
            file=sys.stderr,
        )
    slos = budgets.slos(config.spec)
    found = budgets.outages(inventory.valid)
    results = [budgets.compute(slos[s], found, now, config.timezone) for s in services if s in slos]
    without = [s for s in services if s not in slos]
    with opened(args) as out:
        if args.format == "json":
            data = {
                "apiVersion": "changegate/v1",
                "kind": "ErrorBudgets",
                "at": format_instant(now),
                "timezone": config.timezone,
                "budgets": [b.as_json() for b in results],
                "withoutSlo": without,
                "unreadIncidents": unread,
            }
            json.dump(data, out, indent=2)
            out.write("\n")
        else:
            _text(results, without, now, config.timezone, out)
    return EXIT_OK


def _text(
    results: list[Budget], without: list[str], now: datetime, zone_name: str, out: TextIO
) -> None:
    if not results and not without:
        out.write(
            "changegate.yaml lists no services: give them an SLO under "
            "services[].slo.availability to have error budgets\n"
        )
        return
    out.write(f"error budgets at {format_instant(now)} (calendar months in {zone_name})\n")
    for budget in results:
        out.write("\n")
        _one(budget, out)
    if without:
        out.write("\n")
    for service in without:
        out.write(f"{service}: no SLO (set services[].slo.availability in changegate.yaml)\n")


def _one(budget: Budget, out: TextIO) -> None:
    slo = budget.slo
    days = budget.window.seconds / 86400
    length = f"{days:.0f} days" if days.is_integer() else f"{days * 24:.0f} hours"
    rows: list[tuple[str, Any]] = [
        ("allowed", f"{budget.allowed:.1f} min ({100 - slo.availability:.4g}% of {length})"),
        ("used", f"{budget.used:.1f} min"),
    ]
    out.write(
        f"{budget.service}: SLO {slo.availability:g}% availability over {budget.window.label}\n"
    )
    for name, value in rows:
        out.write(f"  {name:<10} {value}\n")
    for charge in budget.charges:
        until = format_instant(charge.resolved) if charge.resolved else "still open"
        note = f" ({charge.note})" if charge.note else ""
        out.write(
            f"    {charge.incident}: {charge.minutes:.1f} min, "
            f"{format_instant(charge.detected)} to {until}{note}\n"
        )
    left = f"{budget.left:.1f} min ({budget.remaining:.0%})"
    if budget.low:
        left += f", below the {slo.warn_below:g}% warning threshold"
    out.write(f"  {'remaining':<10} {left}\n")
    out.write(f"  {'burn rate':<10} {budget.burn_rate:.1f}x ({_pace(budget)})\n")


def _pace(budget: Budget) -> str:
    if budget.exhausted:
        return "spent: releases and changes are held until it recovers"
    if budget.burn_rate > 1:
        return "too fast: at this rate it is spent before the period ends"
    return "on track"
