"""Reporters turn a report into text for people or machines, one module per format."""

from __future__ import annotations

from typing import Protocol, TextIO

from engine.reporters import github, json, junit, markdown, sarif, text
from engine.verdict import Report


class Reporter(Protocol):
    def __call__(self, report: Report, out: TextIO, *, color: bool) -> None: ...


REPORTERS: dict[str, Reporter] = {
    "text": text.report,
    "json": json.report,
    "markdown": markdown.report,
    "sarif": sarif.report,
    "junit": junit.report,
    "github": github.report,
}
