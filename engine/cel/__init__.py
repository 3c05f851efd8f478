"""CEL behind one small interface: compile, bind, evaluate, with errors as values.

Two backends implement it: Google's C++ runtime (cel-expr-python, the default where its wheels
exist, ~100x faster) and the pure-Python cel-python. Nothing else in changegate imports either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, Final, NamedTuple, Protocol

from engine.errors import UsageError


class CelType(Enum):
    """The types changegate declares for variables, function parameters and results."""

    BOOL = "bool"
    INT = "int"
    DOUBLE = "double"
    STRING = "string"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    MAP = "map"  # map(string, dyn)
    LIST = "list"  # list(dyn)
    STRING_LIST = "list(string)"
    DYN = "dyn"


class Function(NamedTuple):
    """A function changegate adds to CEL. ``impl`` takes and returns plain Python values
    (dict, list, str, int, float, bool, None, datetime, timedelta)."""

    name: str
    params: tuple[CelType, ...]
    result: CelType
    impl: Callable[..., Any]
    doc: str

    @property
    def signature(self) -> str:
        params = ", ".join(p.value for p in self.params)
        return f"{self.name}({params}) -> {self.result.value}"


class CompileError(NamedTuple):
    """Why an expression does not compile; line and column are 1-based within it."""

    message: str
    line: int
    column: int

    def caret(self, expression: str) -> str:
        lines = expression.splitlines() or [""]
        text = lines[min(self.line, len(lines)) - 1]
        return f"{text}\n{' ' * (self.column - 1)}^"


class EvalError(NamedTuple):
    """Why an evaluation produced no value (CEL errors are values, not exceptions)."""

    message: str


class Backend(Protocol):
    name: str

    def compile(self, expression: str) -> Any | CompileError: ...

    def bind(self, values: Mapping[str, Any]) -> Any: ...

    def evaluate(self, program: Any, activation: Any) -> Any | EvalError: ...


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


_ITERATION: Final = re.compile(r"iteration budget exceeded", re.IGNORECASE)
_ACTIVATION_DUMP: Final = re.compile(r" \(in (?:activation|container) .*", re.DOTALL)
MAX_MESSAGE: Final = 300


def friendly(message: str) -> str:
    """CEL runtime messages, with the limits explained and never an input dump."""
    message = _ACTIVATION_DUMP.sub("", message)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    if _ITERATION.search(message):
        return (
            "CEL stopped after 10,000 loop iterations in one evaluation (cel-expr-python's "
            "fixed limit): pre-compute large collections with a changegate function instead of "
            "looping over them in CEL"
        )
    if "recursion" in message.lower():
        return "CEL nested too deeply (the runtime's recursion limit): simplify the expression"
    return message
