"""``changegate schema [KIND]``: print a self-contained JSON Schema (for editors)."""

from __future__ import annotations

import argparse
import json
import sys

from engine.documents.model import KINDS
from engine.documents.schemas import SchemaSet
from engine.errors import EXIT_OK, UsageError
from engine.suggest import closest

HELP = "print the JSON Schema of a kind (or of any document)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", metavar="KIND", help=", ".join(KINDS))


def resolve_kind(text: str) -> str:
    """A kind from what a person typed: ChangeRequest, changerequest or change-request."""
    match = closest(text, KINDS)
    folded = text.lower().replace("-", "").replace("_", "")
    if match is not None and match.lower() == folded:
        return match
    hint = f": did you mean {match}?" if match else ""
    raise UsageError(f"unknown kind {text!r}{hint} (kinds: {', '.join(KINDS)})")


def run(args: argparse.Namespace) -> int:
    kind = resolve_kind(args.kind) if args.kind else None
    json.dump(SchemaSet().bundle(kind), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK
