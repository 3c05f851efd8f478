"""JUnit XML as CI systems read it: a suite per policy, a case per rule and document.

Deny failures are failures, evaluation errors are errors, warnings pass with their message
in system-out, waived and skipped outcomes are skipped."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TextIO
from xml.etree import ElementTree as ET

from engine.findings import Finding, Outcome
from engine.paths import display_path
from engine.time.instants import format_instant
from engine.verdict import Report

# XML 1.0 has no way to write these characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _case_name(rule: str, kind: str | None, name: str | None) -> str:
    what = f"{kind} {name}" if kind else "file"
    return f"{rule.split('/', 1)[-1]} [{what}]"


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color
    verdict = report.verdict
    cases: dict[str, list[ET.Element]] = defaultdict(list)
    reported: set[tuple[str, str | None, str | None]] = set()
    for finding in verdict.findings:
        reported.add((finding.rule, finding.kind, finding.name))
        cases[finding.rule.split("/", 1)[0]].append(_finding_case(finding))
    for evaluation in report.evaluations:
        key = (evaluation.rule, evaluation.kind, evaluation.name)
        if key in reported:
            continue
        suite = evaluation.rule.split("/", 1)[0]
        case = ET.Element(
            "testcase",
            classname=suite,
            name=_case_name(evaluation.rule, evaluation.kind, evaluation.name),
        )
        if evaluation.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", message="the rule does not apply")
        cases[suite].append(case)
    root = ET.Element("testsuites", name="changegate", timestamp=format_instant(verdict.at))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite_name in sorted(cases):
        members = cases[suite_name]
        counts = {
            "tests": len(members),
            "failures": sum(1 for c in members if c.find("failure") is not None),
            "errors": sum(1 for c in members if c.find("error") is not None),
            "skipped": sum(1 for c in members if c.find("skipped") is not None),
        }
        attributes = {"name": suite_name, **{k: str(v) for k, v in counts.items()}}
        element = ET.SubElement(root, "testsuite", attributes)
        element.extend(members)
        for count in totals:
            totals[count] += counts[count]
    for count, value in totals.items():
        root.set(count, str(value))
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


def _finding_case(finding: Finding) -> ET.Element:
    path = display_path(finding.path)
    case = ET.Element(
        "testcase",
        classname=finding.rule.split("/", 1)[0],
        name=_xml_text(_case_name(finding.rule, finding.kind, finding.name)),
        file=_xml_text(path),
        line=str(finding.line),
    )
    where = f"{path}:{finding.line}:{finding.column}"
    message = _xml_text(finding.message)
    if finding.outcome is Outcome.ERROR:
        element = ET.SubElement(case, "error", message=message, type=finding.rule)
        element.text = f"{_xml_text(where)}: {message}"
    elif finding.outcome is Outcome.WAIVED:
        ET.SubElement(case, "skipped", message=f"waived: {message}")
    elif finding.denies:
        element = ET.SubElement(case, "failure", message=message, type=finding.rule)
        element.text = f"{_xml_text(where)}: {message}"
    else:
        output = ET.SubElement(case, "system-out")
        output.text = f"{finding.severity}: {_xml_text(where)}: {message}"
    return case
