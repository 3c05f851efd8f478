"""Reading verdicts in tests: run a command for its JSON verdict, and say which rules came
out how, in the verdict's own (file) order, so assertions stay exact."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

DENYING = ("fail", "error")


def verdict_json(cli: Callable[..., Any], *args: Any) -> tuple[int, dict[str, Any]]:
    """``changegate ARGS --format json``: the exit code and the verdict (0 or 1 only)."""
    result = cli(*args, "--format", "json")
    assert result.code in {0, 1}, result.err
    assert "Traceback" not in result.err
    return result.code, json.loads(result.out)


def rules(verdict: dict[str, Any], outcomes: Sequence[str] = DENYING) -> list[str]:
    """The rule of every finding with one of ``outcomes``, in the verdict's order."""
    return [f["rule"] for f in verdict["findings"] if f["outcome"] in outcomes]


def failed(verdict: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(rule, document name) of every denying finding, in the verdict's order."""
    return [
        (f["rule"], f["document"]["name"])
        for f in verdict["findings"]
        if f["severity"] == "deny" and f["outcome"] in DENYING
    ]


def outcomes(verdict: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(rule, severity, outcome) of every finding, in the verdict's order."""
    return [(f["rule"], f["severity"], f["outcome"]) for f in verdict["findings"]]


def assert_outcomes(
    verdict: dict[str, Any],
    *,
    fail: Sequence[str] | None = None,
    warn: Sequence[str] | None = None,
    error: Sequence[str] | None = None,
    waived: Sequence[str] | None = None,
) -> None:
    """Each class given lists exactly its rules, in order: ``fail`` the deny failures,
    ``warn`` the warnings, ``error`` the evaluation errors, ``waived`` the waived findings."""
    found = outcomes(verdict)
    classes = {
        "fail": [r for r, s, o in found if o == "fail" and s == "deny"],
        "warn": [r for r, s, o in found if o == "fail" and s == "warn"],
        "error": [r for r, _, o in found if o == "error"],
        "waived": [r for r, _, o in found if o == "waived"],
    }
    for name, expected in (("fail", fail), ("warn", warn), ("error", error), ("waived", waived)):
        if expected is not None:
            assert classes[name] == list(expected), f"{name}: {classes[name]} != {list(expected)}"
