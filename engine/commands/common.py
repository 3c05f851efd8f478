"""Where reports go and whether they are coloured: shared by the reporting commands."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from engine.errors import UsageError


def add_output(parser: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    parser.add_argument("--format", choices=formats, default=formats[0], help="report format")
    parser.add_argument("--output", type=Path, help="write the report to FILE instead of stdout")


@contextlib.contextmanager
def opened(args: argparse.Namespace) -> Iterator[TextIO]:
    """Where the report goes: stdout, or ``--output``, opened first (a bad path fails before
    the work) and written at the end; a full disk or an unwritable device is a usage error
    naming the path, never a traceback."""
    target: Path | None = getattr(args, "output", None)
    if target is None:
        yield sys.stdout
        return
    try:
        stream = target.open("w", encoding="utf-8", newline="\n")
    except OSError as error:
        raise UsageError(f"--output {target}: {error.strerror or error}") from None
    buffer = io.StringIO()
    try:
        yield buffer
        stream.write(buffer.getvalue())
        stream.close()
    except OSError as error:
        raise UsageError(f"--output {target}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def use_color(args: argparse.Namespace, stream: TextIO) -> bool:
    choice = getattr(args, "color", "auto")
    if choice != "auto":
        return bool(choice == "always")
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()
