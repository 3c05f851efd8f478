"""Reporters turn a report into text for people or machines, one module per format.

Each format's module is imported when it is used: a run writes one format, and the others'
dependencies (XML, hashing, Jinja2) would only slow its start.
"""

from __future__ import annotations

import importlib
from typing import Protocol, TextIO

from engine.verdict import Report


class Reporter(Protocol):
    def __call__(self, report: Report, out: TextIO, *, color: bool) -> None: ...


def _lazy(module: str) -> Reporter:
    def report(report: Report, out: TextIO, *, color: bool) -> None:
        importlib.import_module(f"engine.reporters.{module}").report(report, out, color=color)

    return report


REPORTERS: dict[str, Reporter] = {
    "text": _lazy("text"),
    "json": _lazy("json"),
    "markdown": _lazy("markdown"),
    "sarif": _lazy("sarif"),
    "junit": _lazy("junit"),
    "github": _lazy("github"),
}
