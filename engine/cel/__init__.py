"""CEL behind one small interface: compile, bind, evaluate, with errors as values.

Two backends implement it: Google's C++ runtime (cel-expr-python, the default where its wheels
exist, ~100x faster) and the pure-Python cel-python. Nothing else in changegate imports either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Final

from engine.cel.interface import (
    Backend,
    CelType,
    CompileError,
    EvalError,
    Function,
    friendly,
)
from engine.errors import UsageError

__all__ = [
    "BACKENDS",
    "Backend",
    "CelType",
    "CompileError",
    "EvalError",
    "Function",
    "available",
    "create",
    "friendly",
]

BACKENDS: Final = ("cel-expr-python", "cel-python")
_ENV: Final = "CHANGEGATE_CEL_BACKEND"


def available() -> list[str]:
    from engine.cel import google

    return [name for name in BACKENDS if name != "cel-expr-python" or google.importable()]


def create(
    name: str | None,
    variables: Mapping[str, CelType],
    functions: Sequence[Function],
) -> Backend:
    """The backend ``name`` (or $CHANGEGATE_CEL_BACKEND, or the fastest available)."""
    choice = name or os.environ.get(_ENV) or "auto"
    if choice not in {"auto", *BACKENDS}:
        raise UsageError(f"unknown CEL backend {choice!r}: use auto, {' or '.join(BACKENDS)}")
    from engine.cel import google, interpreter

    if choice in {"auto", "cel-expr-python"}:
        if google.importable():
            return google.GoogleBackend(variables, functions)
        if choice == "cel-expr-python":
            raise UsageError(
                "cel-expr-python is not installed (it ships wheels for CPython 3.11-3.13 on "
                "x86_64/aarch64 Linux, arm64 macOS and Windows); use --cel-backend cel-python"
            )
    return interpreter.InterpreterBackend(variables, functions)
