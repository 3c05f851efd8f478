"""``changegate metrics``: DORA figures and governance KPIs, per service and month."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, TextIO

from engine.commands import common
from engine.commands.common import add_output, opened
from engine.errors import EXIT_OK

HELP = "DORA metrics and governance KPIs per service and month, from documents and history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_period(parser)
    add_output(parser, ("text", "json", "html"))


def run(args: argparse.Namespace, now: datetime) -> int:
    from engine.trail.metrics import compute

    judge, trail, (since, until) = common.history(args, now)
    with judge:
        result = compute(judge, trail, since=since, until=until)
        with opened(args) as out:
            if args.format == "json":
                json.dump(result.as_json(), out, indent=2)
                out.write("\n")
            elif args.format == "html":
                from engine.trail.report import html

                out.write(html(judge, metrics=result))
            else:
                _text(result, out)
    return EXIT_OK


def _text(result: Any, out: TextIO) -> None:
    from engine.trail.metrics import FIGURES

    data = result.as_json()
    if not data["services"] and not data["errorBudgets"]:
        out.write("no releases, change requests or incidents in the period: nothing to count\n")
    for service, figures in data["services"].items():
        out.write(f"{service}\n")
        months = list(figures["months"])
        width = max((len(label) for _, label, _ in FIGURES), default=10)
        out.write(f"  {'':{width}}  " + "  ".join(f"{m:>8}" for m in [*months, "total"]) + "\n")
        for key, label, unit in FIGURES:
            cells = [figures["months"][m][key] for m in months] + [figures["total"][key]]
            out.write(
                f"  {label:{width}}  " + "  ".join(f"{_show(c, unit):>8}" for c in cells) + "\n"
            )
    for service, months in data["errorBudgets"].items():
        out.write(f"error budget of {service}\n")
        for month, b in months.items():
            used_by = f"; used by {', '.join(b['incidents'])}" if b["incidents"] else ""
            out.write(
                f"  {month}: target {b['target']}%, allowed {b['allowedMinutes']} min, used "
                f"{b['usedMinutes']} min, remaining {b['remainingMinutes']} min "
                f"({b['remainingPercent']}%), burn rate {b['burnRate']}x{used_by}\n"
            )


def _show(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value}{unit}"
