"""``changegate schema [KIND]``: print a self-contained JSON Schema (for editors)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from engine.documents.model import KINDS, resolve_kind
from engine.documents.schemas import SchemaSet
from engine.errors import EXIT_OK

HELP = "print the JSON Schema of a kind (or of any document)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", metavar="KIND", help=", ".join(KINDS))


def run(args: argparse.Namespace, now: datetime) -> int:
    del now
    kind = resolve_kind(args.kind) if args.kind else None
    json.dump(SchemaSet().bundle(kind), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK
