"""JUnit XML as CI systems read it, valid against the Jenkins xUnit plugin's ``junit-10.xsd``
(the schema Jenkins, GitLab and junitparser agree on): a suite per document file, a case per
rule and document.

That schema has no ``file`` or ``line`` on a test case: the file is the suite's ``file``, and
``path:line:column`` starts every message. Deny failures are failures, evaluation errors are
errors, warnings are skipped cases of type ``warning`` (shown in a CI test tab without failing
the build: the exit code decides that), waived and inapplicable rules are skipped too, and
notes (severity info) pass with their message in ``system-out``."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Final, TextIO
from xml.etree import ElementTree as ET

from engine.findings import Finding, Outcome, Severity
from engine.paths import display_path
from engine.reporters import impact
from engine.time.instants import format_instant
from engine.verdict import Report

# XML 1.0 has no way to write these characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NO_FILE: Final = "changegate"  # the suite of evaluations whose file a report does not know
IMPACT_SUITE: Final = "changegate impact"  # the impact preview: one passing case per entry


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _case_name(rule: str, kind: str | None, name: str | None) -> str:
    what = f"{kind} {name}" if kind else "file"
    return f"{rule.split('/', 1)[-1]} [{what}]"


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color
    verdict = report.verdict
    suites: dict[str, list[ET.Element]] = defaultdict(list)
    reported: set[tuple[str, str | None, str | None]] = set()
    for finding in verdict.findings:
        reported.add((finding.rule, finding.kind, finding.name))
        suites[_xml_text(display_path(finding.path))].append(_finding_case(finding))
    for evaluation in report.evaluations:
        key = (evaluation.rule, evaluation.kind, evaluation.name)
        if key in reported:
            continue
        case = ET.Element(
            "testcase",
            classname=evaluation.rule.split("/", 1)[0],
            name=_xml_text(_case_name(evaluation.rule, evaluation.kind, evaluation.name)),
        )
        if evaluation.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", message="the rule does not apply")
        where = display_path(evaluation.path) if evaluation.path else NO_FILE
        suites[_xml_text(where)].append(case)
    found = impact.of(verdict.extra)
    if found is not None:
        suites[IMPACT_SUITE] = _impact_cases(found)
    root = ET.Element("testsuites", name="changegate")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    stamp = format_instant(verdict.at)
    for path in sorted(suites):
        members = suites[path]
        counts = {
            "tests": len(members),
            "failures": sum(1 for c in members if c.find("failure") is not None),
            "errors": sum(1 for c in members if c.find("error") is not None),
            "skipped": sum(1 for c in members if c.find("skipped") is not None),
        }
        attributes = {"name": path, **{k: str(v) for k, v in counts.items()}}
        if path not in {NO_FILE, IMPACT_SUITE}:
            attributes["file"] = path
        attributes["timestamp"] = stamp
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


def _impact_cases(found: dict[str, object]) -> list[ET.Element]:
    """The impact preview as cases that pass with what changed in ``system-out`` (the verdict's
    own cases fail or pass; the preview describes the change, it does not judge it)."""
    summary = ET.Element("testcase", classname="impact", name="summary")
    ET.SubElement(summary, "system-out").text = _xml_text(impact.sentence(found))
    cases = [summary]
    for label, entry in impact.entries(found):
        document = entry["document"]
        case = ET.Element(
            "testcase",
            classname=f"impact.{label.replace(' ', '-')}",
            name=_xml_text(_case_name(str(entry["rule"]), document["kind"], document["name"])),
        )
        output = ET.SubElement(case, "system-out")
        output.text = _xml_text(f"{label}: {impact.where(entry)}: {entry['message']}")
        cases.append(case)
    return cases


def _finding_case(finding: Finding) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=finding.rule.split("/", 1)[0],
        name=_xml_text(_case_name(finding.rule, finding.kind, finding.name)),
    )
    where = _xml_text(f"{display_path(Path(finding.path))}:{finding.line}:{finding.column}")
    message = _xml_text(finding.message)
    if finding.outcome is Outcome.ERROR:
        element = ET.SubElement(case, "error", message=message, type=finding.rule)
        element.text = f"{where}: {message}"
    elif finding.outcome is Outcome.WAIVED:
        element = ET.SubElement(case, "skipped", message=f"waived: {message}", type="waived")
        element.text = f"{where}: {message}"
    elif finding.denies:
        element = ET.SubElement(case, "failure", message=message, type=finding.rule)
        element.text = f"{where}: {message}"
    elif finding.severity is Severity.WARN:
        # visible in a test tab as a skipped case (not a pass), without failing the build
        element = ET.SubElement(case, "skipped", message=f"warning: {message}", type="warning")
        element.text = f"{where}: {message}"
    else:
        output = ET.SubElement(case, "system-out")
        output.text = f"{finding.severity}: {where}: {message}"
    return case
