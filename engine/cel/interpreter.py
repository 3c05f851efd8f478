"""The cel-python backend: a pure-Python CEL interpreter, for platforms without
cel-expr-python wheels. The only module importing celpy."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.cel.interface import CelType, CompileError, EvalError, Function, friendly


def to_plain(value: Any) -> Any:
    """celpy values -> plain Python (the interface's currency)."""
    from celpy import celtypes

    if value is None or isinstance(value, celtypes.NullType):
        return None
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.TimestampType):
        return datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo)
    if isinstance(value, celtypes.DurationType):
        return timedelta(seconds=value.total_seconds())
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.BytesType):
        return bytes(value)
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def to_cel(value: Any) -> Any:
    """Plain Python -> celpy values."""
    from celpy import celtypes
    from celpy.adapter import json_to_cel

    if isinstance(value, datetime):
        return celtypes.TimestampType(value)
    if isinstance(value, timedelta):
        return celtypes.DurationType(value)
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(k): to_cel(v) for k, v in value.items()})
    if isinstance(value, list):
        return celtypes.ListType([to_cel(v) for v in value])
    return json_to_cel(value)


def _wrapped(impl: Callable[..., Any]) -> Callable[..., Any]:
    from celpy.evaluation import CELEvalError

    @functools.wraps(impl)
    def call(*args: Any) -> Any:
        try:
            return to_cel(impl(*(to_plain(a) for a in args)))
        except Exception as error:
            return CELEvalError(f"{impl.__name__}: {error}", type(error), error.args)

    return call


def _null_inequality() -> None:
    """``{...} != null`` and ``[...] != null`` are true in CEL (and cel-expr-python), and
    cel-python's ``==`` agrees (false), but its ``!=`` raises "no such overload" for null.
    Teach its map and list types the mirror of their own ``==``, once."""
    from celpy import celtypes

    for cls in (celtypes.MapType, celtypes.ListType):
        original = cls.__ne__
        if getattr(original, "changegate_null", False):
            continue

        def ne(self: Any, other: Any, _original: Callable[..., bool] = original) -> bool:
            return True if other is None else _original(self, other)

        ne.changegate_null = True  # type: ignore[attr-defined]
        cls.__ne__ = ne  # type: ignore[method-assign]


class InterpreterBackend:
    name = "cel-python"

    def __init__(self, variables: Mapping[str, CelType], functions: Sequence[Function]) -> None:
        limit = sys.getrecursionlimit()
        import celpy  # it raises the process recursion limit when imported; keep ours
        from celpy.celparser import CELParseError
        from celpy.evaluation import CELEvalError

        sys.setrecursionlimit(limit)
        _null_inequality()
        self._parse_error = CELParseError
        self._eval_error = CELEvalError
        self._env = celpy.Environment()
        self._functions = {f.name: _wrapped(f.impl) for f in functions}
        self._variables = dict(variables)

    def compile(self, expression: str) -> Any:
        try:
            ast = self._env.compile(expression)
        except self._parse_error as error:
            line = getattr(error, "line", None) or 1
            column = getattr(error, "column", None) or 1
            first = str(error.args[0]).splitlines()[0] if error.args else "syntax error"
            return CompileError(f"Syntax error: {first}", int(line), int(column))
        return self._env.program(ast, functions=self._functions)

    def bind(self, values: Mapping[str, Any]) -> Any:
        return {name: to_cel(value) for name, value in values.items()}

    def evaluate(self, program: Any, activation: Any) -> Any:
        try:
            result = program.evaluate(activation)
        except self._eval_error as error:
            return EvalError(friendly(str(error.args[0]) if error.args else str(error)))
        except RecursionError:
            return EvalError(friendly("recursion"))
        if isinstance(result, self._eval_error):
            return EvalError(friendly(str(result.args[0]) if result.args else str(result)))
        return to_plain(result)
