"""GitHub workflow commands: one annotation per finding at its file and line."""

from __future__ import annotations

from typing import TextIO

from engine.escaping import command_data, command_property
from engine.findings import Finding, Outcome, Severity
from engine.paths import display_path
from engine.reporters.text import summary
from engine.verdict import Report


def level(finding: Finding) -> str:
    if finding.outcome is Outcome.WAIVED:
        return "notice"
    if finding.denies:
        return "error"
    return "warning" if finding.severity is Severity.WARN else "notice"


def annotation(finding: Finding) -> str:
    properties = ",".join(
        f"{key}={command_property(value)}"
        for key, value in (
            ("file", display_path(finding.path)),
            ("line", str(finding.line)),
            ("col", str(finding.column)),
            ("title", finding.rule),
        )
    )
    return f"::{level(finding)} {properties}::{command_data(finding.message)}"


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color
    for finding in report.verdict.findings:
        out.write(annotation(finding) + "\n")
    out.write(f"::notice title=changegate::{command_data(summary(report.verdict, color=False))}\n")
