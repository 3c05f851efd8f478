"""The CEL backends behind one interface, and their agreement on the built-in pack."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from engine import cel
from engine.cel import CelType, CompileError, EvalError, Function
from engine.documents.config import defaults
from engine.documents.schemas import SchemaSet
from engine.errors import UsageError
from engine.policy import testing as policytest
from tests.support.files import ROOT

BACKENDS = cel.available()
needs_both = pytest.mark.skipif(
    len(BACKENDS) < 2, reason="cel-expr-python has no wheel for this platform"
)

FUNCTIONS = [
    Function("twice", (CelType.INT,), CelType.INT, lambda x: 2 * x, "doubles"),
    Function("boom", (CelType.MAP,), CelType.BOOL, lambda m: 1 / 0, "fails"),
    Function("moment", (), CelType.TIMESTAMP, lambda: datetime(2024, 1, 20, tzinfo=UTC), "a time"),
]
VARIABLES = {"object": CelType.MAP, "approvals": CelType.LIST, "maybe": CelType.DYN}


def run(backend: str, expression: str, **values: object) -> object:
    runtime = cel.create(backend, VARIABLES, FUNCTIONS)
    program = runtime.compile(expression)
    if isinstance(program, CompileError):
        return program
    data = {"object": {}, "approvals": [], "maybe": None, **values}
    return runtime.evaluate(program, runtime.bind(data))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("twice(object.spec.n) == 4", {"object": {"spec": {"n": 2}}}, True),
        (
            "object.spec.services.exists(s, s == 'checkout')",
            {"object": {"spec": {"services": ["checkout"]}}},
            True,
        ),
        ("moment() > timestamp('2024-01-01T00:00:00Z')", {}, True),
        (
            "approvals.filter(a, 'cab' in a.roles).size()",
            {"approvals": [{"roles": ["cab"]}, {"roles": []}]},
            1,
        ),
        ("maybe == null", {}, True),
        # cel-python raises "no such overload" for these unless taught otherwise
        ("maybe != null && dyn([1]) != null && null != maybe", {"maybe": {"a": 1}}, True),
        ("maybe == null || dyn([1]) == null", {"maybe": {"a": 1}}, False),
        ("has(object.spec) && has(object.spec.x)", {"object": {"spec": {}}}, False),
        ("[1, 2, 3].map(x, x * 2)", {}, [2, 4, 6]),
        ("{'a': 1}", {}, {"a": 1}),
    ],
)
def test_values(backend: str, expression: str, values: dict[str, object], expected: object) -> None:
    assert run(backend, expression, **values) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_runtime_errors_are_values(backend: str) -> None:
    missing = run(backend, "object.spec.zz == 1", object={"spec": {}})
    assert isinstance(missing, EvalError)
    assert "zz" in missing.message
    failed = run(backend, "boom(object)")
    assert isinstance(failed, EvalError)
    assert "division by zero" in failed.message


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("expression", "line", "column"),
    [("object.x &&& true", 1, 12), ("object.x +\n  'y' ++", 2, 8)],
)
def test_compile_errors_carry_a_position(
    backend: str, expression: str, line: int, column: int
) -> None:
    error = run(backend, expression)
    assert isinstance(error, CompileError)
    assert error.line == line
    assert abs(error.column - column) <= 1  # the two parsers point one character apart
    assert error.caret(expression).splitlines()[1].endswith("^")


@pytest.mark.skipif("cel-expr-python" not in BACKENDS, reason="needs cel-expr-python")
def test_undeclared_names_fail_to_compile_with_the_typed_backend() -> None:
    error = run("cel-expr-python", "nosuch.thing == 1")
    assert isinstance(error, CompileError)
    assert "undeclared reference to 'nosuch.thing'" in error.message
    assert "(in container" not in error.message


def test_undeclared_names_are_evaluation_errors_without_an_input_dump() -> None:
    error = run("cel-python", "nosuch.thing == 1", object={"big": list(range(10_000))})
    assert isinstance(error, EvalError)
    assert error.message == "undeclared reference to 'nosuch'"


@pytest.mark.skipif("cel-expr-python" not in BACKENDS, reason="needs cel-expr-python")
def test_the_iteration_limit_is_explained() -> None:
    error = run(
        "cel-expr-python", "object.items.all(x, x >= 0)", object={"items": list(range(20_000))}
    )
    assert isinstance(error, EvalError)
    assert "10,000 loop iterations" in error.message


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cel.create("cel-python", VARIABLES, FUNCTIONS).name == "cel-python"
    monkeypatch.setenv("CHANGEGATE_CEL_BACKEND", "cel-python")
    assert cel.create(None, VARIABLES, FUNCTIONS).name == "cel-python"
    with pytest.raises(UsageError, match="unknown CEL backend 'fast'"):
        cel.create("fast", VARIABLES, FUNCTIONS)


@needs_both
def test_every_builtin_example_gives_identical_outcomes_on_both_backends() -> None:
    """Not only the expectations: every rule's outcome on every case, and every message."""
    schemas = SchemaSet()
    config = defaults()
    results = {
        backend: policytest.run([ROOT / "policies"], schemas, config, backend)
        for backend in BACKENDS
    }
    fast, portable = (results[b] for b in ("cel-expr-python", "cel-python"))
    assert fast.backend == "cel-expr-python"
    assert portable.backend == "cel-python"
    assert len(fast.results) == len(portable.results) >= 60
    for one, other in zip(fast.results, portable.results, strict=True):
        assert one.name == other.name
        assert one.outcomes == other.outcomes, one.name
        assert one.problems == other.problems == [], one.name
    assert fast.coverage == portable.coverage == 100.0


@pytest.mark.skipif("cel-expr-python" not in BACKENDS, reason="needs cel-expr-python")
def test_many_nulls_do_not_crash_the_interpreter() -> None:
    """cel-expr-python 0.1.3 drops a reference to None per null it returns; on CPython 3.11
    that aborted the interpreter (none_dealloc) after a few thousand. The backend shields it."""
    script = (
        "from engine import cel\n"
        "runtime = cel.create('cel-expr-python', {'object': cel.CelType.MAP}, [])\n"
        "program = runtime.compile('object.missing_or_null')\n"
        "activation = runtime.bind({'object': {'missing_or_null': None}})\n"
        "for _ in range(200_000):\n"
        "    assert runtime.evaluate(program, activation) is None\n"
        "print('survived')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "survived"
