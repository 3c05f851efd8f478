"""Linter-style text: ``path:line:col: rule: message``, then one summary line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TextIO

from engine.findings import Finding, Outcome, Severity
from engine.paths import display_path
from engine.time.instants import format_instant
from engine.verdict import Report, Verdict

_RESET = "\033[0m"
_STYLES = {
    "path": "\033[1m",
    "rule": "\033[36m",
    "deny": "\033[31m",
    "warn": "\033[33m",
    "info": "\033[34m",
    "ok": "\033[32m",
    "dim": "\033[2m",
}


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLES[style]}{text}{_RESET}" if color else text


def _tag(finding: Finding) -> tuple[str, str]:
    """A word before the message for anything but a plain deny failure, and its colour."""
    if finding.outcome is Outcome.ERROR:
        return "error: ", "deny"
    if finding.outcome is Outcome.WAIVED:
        return "waived: ", "dim"
    if finding.outcome is Outcome.SKIP:
        return "skipped: ", "dim"
    if finding.severity is Severity.WARN:
        return "warning: ", "warn"
    if finding.severity is Severity.INFO:
        return "info: ", "info"
    return "", "deny"


def line(finding: Finding, *, color: bool) -> str:
    where = f"{display_path(finding.path)}:{finding.line}:{finding.column}"
    tag, style = _tag(finding)
    message = finding.message.replace("\n", " ")
    return (
        f"{_paint(where, 'path', color)}: {_paint(finding.rule, 'rule', color)}: "
        f"{_paint(tag, style, color) if tag else ''}{message}"
    )


def summary(verdict: Verdict, *, color: bool) -> str:
    counts = verdict.summary
    documents = _plural(counts["documents"], "document")
    if verdict.files is not None:
        documents += f" from {_plural(verdict.files, 'file')}"
    parts = [
        f"{counts[key]} {label}"
        for key, label in (
            ("failed", "failed"),
            ("errors", "errors"),
            ("warnings", "warnings"),
            ("waived", "waived"),
        )
        if counts[key]
    ]
    if verdict.decision == "deny":
        return _paint(f"✗ deny: {', '.join(parts)} in {documents}", "deny", color)
    detail = f" ({', '.join(parts)})" if parts else ", no problems"
    return _paint(f"✓ allow: {documents} checked{detail}", "ok", color)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def gate_lines(
    gate: dict[str, object], at: str, *, color: bool, said: Sequence[str] = ()
) -> list[str]:
    """The deploy gate's answer and its reasons, but for those ending in a message ``said``
    already (the findings printed above, with their files and lines)."""
    verb = "may" if gate["allowed"] else "may not"
    state = "open" if gate["allowed"] else "closed"
    head = f"gate {state}: {gate['service']} {verb} deploy to {gate['environment']} at {at}"
    reasons = gate.get("reasons")
    lines = [_paint(head, "ok" if gate["allowed"] else "deny", color)]
    if isinstance(reasons, list):
        lines += [
            f"  - {reason}"
            for reason in reasons
            if not any(str(reason).endswith(message) for message in said)
        ]
    return lines


_IMPACT_STYLES: Final = {"newly denied": "deny", "no longer denied": "ok", "newly warned": "warn"}


def impact_lines(extra: dict[str, Any], *, color: bool) -> list[str]:
    """The impact preview: its sentence, then a line per document and rule it moves."""
    from engine.reporters import impact

    found = impact.of(extra)
    if found is None:
        return []
    lines = [f"impact against {found['base']}: {impact.sentence(found)}"]
    if found.get("error"):
        lines.append(f"  {found['error']}")
    for label, entry in impact.entries(found):
        what = _paint(label, _IMPACT_STYLES[label], color)
        message = str(entry["message"]).replace("\n", " ")
        rule = _paint(str(entry["rule"]), "rule", color)
        lines.append(f"  {what}: {impact.where(entry)}: {rule}: {message}")
    return lines


def report(report: Report, out: TextIO, *, color: bool) -> None:
    verdict = report.verdict
    for finding in verdict.findings:
        out.write(line(finding, color=color) + "\n")
    gate = verdict.extra.get("gate")
    if isinstance(gate, dict):
        said = [f.message for f in verdict.findings]
        for text in gate_lines(gate, format_instant(verdict.at), color=color, said=said):
            out.write(text + "\n")
    out.write(summary(verdict, color=color) + "\n")
    for text in impact_lines(verdict.extra, color=color):
        out.write(text + "\n")
    for note in report.notes:
        out.write(_paint(f"note: {note}", "dim", color) + "\n")
