"""The small interface every CEL backend implements: types, functions, errors as values."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final, NamedTuple, Protocol


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
