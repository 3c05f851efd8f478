"""SARIF 2.1.0, as GitHub code scanning ingests it (rules with full descriptions and help)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from engine import __version__
from engine.findings import Finding, Outcome, Severity
from engine.paths import display_path
from engine.reporters import impact
from engine.verdict import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/changegate/changegate"


def _level(finding: Finding) -> str:
    if finding.denies:
        return "error"
    return {Severity.DENY: "error", Severity.WARN: "warning", Severity.INFO: "note"}[
        finding.severity
    ]


def _rule(rule_id: str, text: str, level: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id.replace("/", "-"),
        "shortDescription": {"text": rule_id},
        "fullDescription": {"text": text},
        "help": {"text": text, "markdown": f"**{rule_id}**: {text}"},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["changegate", rule_id.split("/", 1)[0]]},
    }


def artifact(path: Path) -> dict[str, str]:
    """A URI reference for the file: percent-encoded and relative to the source root (the
    working directory) when under it, else an absolute file: URI."""
    shown = display_path(path)
    if shown.startswith("/"):
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(shown, safe="/"), "uriBaseId": "%SRCROOT%"}


def document(report: Report) -> dict[str, Any]:
    findings = report.verdict.findings
    rule_ids = sorted({f.rule for f in findings} | {e.rule for e in report.evaluations})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    levels = {f.rule: _level(f) for f in findings}
    rules = [_rule(r, report.rule_docs.get(r, r), levels.get(r, "error")) for r in rule_ids]
    results = []
    for finding in findings:
        path = display_path(finding.path)
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": _level(finding),
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact(finding.path),
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    }
                }
            ],
            "partialFingerprints": {
                "changegate/v1": hashlib.sha256(
                    f"{finding.rule}|{path}|{finding.kind}|{finding.name}|{finding.field}".encode()
                ).hexdigest()
            },
        }
        if finding.kind:
            result["properties"] = {"kind": finding.kind, "name": finding.name}
        if finding.outcome is Outcome.WAIVED:
            result["suppressions"] = [{"kind": "external", "justification": finding.message}]
        results.append(result)
    run: dict[str, Any] = {}
    found = impact.of(report.verdict.extra)
    if found is not None:
        run["invocations"] = [_invocation(found)]
        run["properties"] = {"impact": found}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                **run,
                "tool": {
                    "driver": {
                        "name": "changegate",
                        "version": __version__,
                        "semanticVersion": __version__.split(".dev")[0],
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"changegate/{report.verdict.event}/"},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _invocation(found: dict[str, Any]) -> dict[str, Any]:
    """The impact preview as notes of the run (shown by SARIF viewers, never as alerts: it
    describes the change, it does not judge a file)."""
    notes = [{"level": "note", "message": {"text": impact.sentence(found)}}]
    for label, entry in impact.entries(found):
        text = f"{label}: {impact.where(entry)}: {entry['rule']}: {entry['message']}"
        notes.append(
            {
                "level": "warning" if label == "newly denied" else "note",
                "message": {"text": text},
                "descriptor": {"id": str(entry["rule"])},
            }
        )
    return {"executionSuccessful": True, "toolExecutionNotifications": notes}


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color
    json.dump(document(report), out, indent=2, ensure_ascii=False)
    out.write("\n")
