"""The cel-expr-python backend: Google's C++ CEL runtime. The only module importing it."""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.cel.interface import CelType, CompileError, EvalError, Function, friendly

_POSITION = re.compile(r"<input>:(\d+):(\d+): ([^\n]*)")


def importable() -> bool:
    return importlib.util.find_spec("cel_expr_python") is not None


_NONE_MARGIN = 1 << 40
_shielded = False


def shield_none() -> None:
    """Work around a reference-counting bug of cel-expr-python 0.1.3.

    It drops a reference to ``None`` each time it hands a CEL ``null`` to Python (in
    ``Value.plain_value()``, and now and then elsewhere) without having taken one. On CPython
    3.11, where ``None`` is not immortal, its count reaches zero after some thousands of nulls
    and the interpreter aborts: "Fatal Python error: none_dealloc". From 3.12 ``None`` is
    immortal and the bug is harmless. So, once per process on 3.11, ``None`` gets a margin of
    2**40 references: the count is read at the object's first field (where CPython keeps it)
    and written only if it matches what ``sys.getrefcount`` reports.
    """
    global _shielded
    if _shielded or sys.version_info >= (3, 12):
        return
    field = ctypes.c_ssize_t.from_address(id(None))
    if abs(field.value - (sys.getrefcount(None) - 1)) <= 2:
        field.value += _NONE_MARGIN
    else:  # pragma: no cover - an unusual CPython build: a slower, smaller margin
        increment = ctypes.pythonapi.Py_IncRef
        increment.argtypes = [ctypes.py_object]
        for _ in range(1_000_000):
            increment(None)
    _shielded = True


def _types(cel: Any) -> dict[CelType, Any]:
    text_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    return {
        CelType.BOOL: cel.Type.BOOL,
        CelType.INT: cel.Type.INT,
        CelType.DOUBLE: cel.Type.DOUBLE,
        CelType.STRING: cel.Type.STRING,
        CelType.TIMESTAMP: cel.Type.TIMESTAMP,
        CelType.DURATION: cel.Type.DURATION,
        # A map parameter must be declared map(string, dyn): dyn does not match maps at run time.
        CelType.MAP: text_map,
        CelType.LIST: cel.Type.List(cel.Type.DYN),
        CelType.STRING_LIST: cel.Type.List(cel.Type.STRING),
        CelType.DYN: cel.Type.DYN,
    }


def _guarded(impl: Callable[..., Any]) -> Callable[..., Any]:
    """Exceptions from a function become CEL errors carrying their message."""

    @functools.wraps(impl)
    def call(*args: Any) -> Any:
        try:
            return impl(*args)
        except Exception as error:
            raise ValueError(f"{impl.__name__}: {error}") from error

    return call


class GoogleBackend:
    name = "cel-expr-python"

    def __init__(self, variables: Mapping[str, CelType], functions: Sequence[Function]) -> None:
        from cel_expr_python import cel

        shield_none()
        self._cel = cel
        types = _types(cel)
        declarations = [
            cel.FunctionDecl(
                function.name,
                [
                    cel.Overload(
                        f"changegate_{function.name}_{i}",
                        return_type=types[function.result],
                        parameters=[types[p] for p in function.params],
                        impl=_guarded(function.impl),
                    )
                ],
            )
            for i, function in enumerate(functions)
        ]
        self._env = cel.NewEnv(
            variables={name: types[kind] for name, kind in variables.items()},
            functions=declarations,
        )

    def compile(self, expression: str) -> Any:
        try:
            return self._env.compile(expression)
        except RuntimeError as error:
            text = str(error)
            found = _POSITION.search(text)
            if found is None:
                return CompileError(text, 1, 1)
            message = re.sub(r" \(in container '[^']*'\)", "", found.group(3))
            return CompileError(message, int(found.group(1)), int(found.group(2)) + 1)

    def bind(self, values: Mapping[str, Any]) -> Any:
        return self._env.Activation(values)

    def evaluate(self, program: Any, activation: Any) -> Any:
        try:
            value = program.eval(activation)
        except RuntimeError as error:  # the iteration budget, for one, is an exception
            return EvalError(friendly(_strip_status(str(error))))
        if value.type() == self._cel.Type.ERROR:
            return EvalError(friendly(_strip_status(str(value.value()))))
        return value.plain_value()


def _strip_status(message: str) -> str:
    """``INVALID_ARGUMENT: x [INVALID_ARGUMENT]`` -> ``x``."""
    message = re.sub(r"^[A-Z_]+: ", "", message.strip())
    return re.sub(r"\s*\[[A-Z_]+\]$", "", message)
