"""``changegate test [PATH...]``: run policy tests and report per-rule coverage."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from engine.cel import BACKENDS
from engine.commands.common import add_output, backend, opened, pack_reader, use_color
from engine.errors import EXIT_DENIED, EXIT_OK
from engine.paths import display_path
from engine.workspace.inventory import Workspace

if TYPE_CHECKING:
    from engine.policy import testing as policytest

HELP = "run policy tests, with per-rule coverage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="policies and tests (default: policies/)",
    )
    parser.add_argument(
        "--min-coverage",
        type=float,
        default=0.0,
        metavar="PERCENT",
        help="fail unless this share of rules has a passing and a failing case",
    )
    parser.add_argument(
        "--coverage-of",
        choices=("local", "builtin", "all"),
        default="local",
        help="whose rules coverage counts: the policies under test (local, the default), the "
        "built-in packs the config names (builtin), or both (all)",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="judge the cases with changegate's default config, not the repository's "
        "changegate.yaml (a test's spec.config merges over either)",
    )
    parser.add_argument("--cel-backend", choices=("auto", *BACKENDS), help="CEL runtime")
    add_output(parser, ("text", "json"))


def run(args: argparse.Namespace, now: datetime) -> int:
    del now  # every case pins its own
    from engine.documents.config import defaults
    from engine.policy import testing as policytest

    workspace = Workspace.open(repo=args.repo, config_file=args.config, paths=args.paths)
    paths = args.paths or [workspace.root / "policies"]
    config = defaults() if args.defaults else workspace.config
    result = policytest.run(
        paths,
        workspace.schemas,
        config,
        backend(args),
        coverage_of=args.coverage_of,
        read_pack=pack_reader(workspace),
    )
    used = display_path(config.path) if config.path else None
    with opened(args) as out:
        if args.format == "json":
            _json(result, out, used, args.coverage_of)
        else:
            out.write(
                f"config: {used} (each test's spec.config merges over it)\n"
                if used
                else "config: changegate's defaults (each test's spec.config merges over them)\n"
            )
            _text(result, out, args.coverage_of, color=use_color(args, out))
    if result.failed or result.coverage < args.min_coverage:
        return EXIT_DENIED
    return EXIT_OK


def _text(result: policytest.TestRun, out: TextIO, coverage_of: str, *, color: bool) -> None:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    current = None
    for case in result.results:
        if case.path != current:
            current = case.path
            out.write(f"{display_path(case.path)}\n")
        mark = paint("✓", "32") if case.passed else paint("✗", "31")
        out.write(f"  {mark} {case.name} (line {case.line})\n")
        for problem in case.problems:
            out.write(f"      {problem}\n")
    whose = {
        "local": "the rules of the policies under test",
        "builtin": "the rules of the built-in packs",
        "all": "the rules of the policies under test and of the built-in packs",
    }[coverage_of]
    out.write(f"\ncoverage of {whose} (covered: at least one passing and one failing case)\n")
    if not result.rules:
        out.write(f"  none: no rules to count (--coverage-of {coverage_of}); see --coverage-of\n")
    width = max((len(r) for r in result.rules), default=4)
    out.write(f"  {'rule':<{width}}  pass  fail  covered\n")
    for rule in result.rules:
        seen = result.seen.get(rule, {})
        mark = paint("yes", "32") if result.covered(rule) else paint("no", "31")
        out.write(
            f"  {rule:<{width}}  {seen.get('pass', 0):>4}  {seen.get('fail', 0):>4}  {mark}\n"
        )
    covered = sum(result.covered(r) for r in result.rules)
    passed = len(result.results) - len(result.failed)
    line = (
        f"{passed}/{len(result.results)} cases passed; {covered}/{len(result.rules)} rules "
        f"covered ({result.coverage:.0f}%) with {result.backend}"
    )
    out.write(
        "\n" + (paint("✓ " + line, "32") if not result.failed else paint("✗ " + line, "31")) + "\n"
    )


def _json(result: policytest.TestRun, out: TextIO, config: str | None, coverage_of: str) -> None:
    data = {
        "apiVersion": "changegate/v1",
        "kind": "PolicyTestReport",
        "celBackend": result.backend,
        "config": config,
        "cases": [
            {
                "file": display_path(c.path),
                "line": c.line,
                "name": c.name,
                "passed": c.passed,
                "problems": c.problems,
                "outcomes": c.outcomes,
            }
            for c in result.results
        ],
        "coverage": {
            "of": coverage_of,
            "percent": round(result.coverage, 1),
            "rules": {
                rule: {**result.seen.get(rule, {}), "covered": result.covered(rule)}
                for rule in result.rules
            },
        },
    }
    json.dump(data, out, indent=2)
    out.write("\n")
