"""The machine formats, each judged by an independent reader: SARIF by its JSON schema and by
Microsoft's SARIF multitool with GitHub's ingestion rules, JUnit XML by junitparser, the PR
comment by a CommonMark renderer, workflow commands by the escaping @actions/core does."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from markdown_it import MarkdownIt

from engine.findings import Evaluation, Finding, Outcome, Severity
from engine.reporters import github, junit, sarif
from engine.reporters.markdown import MARKER, render
from engine.verdict import Report, Verdict
from tests.support.files import EXAMPLES, ROOT, shared_or_skip

AT = "2024-01-20T12:00:00Z"
WHEN = datetime(2024, 1, 20, 12, tzinfo=UTC)
ACME = EXAMPLES / "acme-shop"
SELF_APPROVED = ACME / "contexts" / "pr-42-self-approved.yaml"

MULTITOOL_PACKAGE = "@microsoft/sarif-multitool-linux@5.7.0"
MULTITOOL_HOME = ROOT / ".cache" / "sarif-multitool"
COMMENT_LIMIT = 65_536  # GitHub rejects longer comment bodies


def finding(
    rule: str,
    severity: Severity,
    outcome: Outcome,
    message: str,
    *,
    path: str = "changes/CHG-1.yaml",
    line: int = 3,
    column: int = 5,
    kind: str | None = "ChangeRequest",
    name: str | None = "CHG-1",
    field: str | None = None,
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        outcome=outcome,
        message=message,
        path=Path(path),
        line=line,
        column=column,
        kind=kind,
        name=name if kind is not None else None,  # an unidentified document has neither
        field=field,
    )


def verdict(findings: Iterable[Finding], *, documents: int = 2) -> Verdict:
    return Verdict.of(
        event="pull_request",
        at=WHEN,
        findings=findings,
        documents=documents,
        rules=8,
        backend="cel-expr-python",
    )


def write(reporter: Any, report: Report) -> str:
    out = io.StringIO()
    reporter(report, out, color=False)
    return out.getvalue()


# One finding of every kind a run reports, and the evaluations around them.
KINDS = (
    finding(
        "approvals/required",
        Severity.DENY,
        Outcome.FAIL,
        "normal change needs 1 approval from role cab (has 0)",
        line=9,
        column=3,
        field="spec.approvals",
    ),
    finding("conflicts/overlap", Severity.WARN, Outcome.FAIL, "overlaps CHG-2", line=12, column=3),
    finding(
        "lead-time/minimum",
        Severity.DENY,
        Outcome.ERROR,
        "the rule's expression failed: no such key: submitted",
        line=4,
        column=1,
    ),
    finding(
        "completeness/rollback",
        Severity.DENY,
        Outcome.WAIVED,
        "waived by waiver-legacy until 2024-02-01: legacy system without a tested rollback",
        line=15,
        column=3,
    ),
    finding("style/title", Severity.INFO, Outcome.FAIL, "titles read better imperative", line=6),
    finding(
        "yaml/parse",
        Severity.DENY,
        Outcome.FAIL,
        "mapping values are not allowed here",
        path="changes/broken.yaml",
        line=2,
        column=7,
        kind=None,
    ),
)
CHG_1 = Path("changes/CHG-1.yaml")
EVALUATIONS = (
    Evaluation("approvals/required", Outcome.FAIL, Severity.DENY, "ChangeRequest", "CHG-1", CHG_1),
    Evaluation("approvals/high-risk", Outcome.SKIP, Severity.DENY, "ChangeRequest", "CHG-1", CHG_1),
    Evaluation("freeze/active", Outcome.PASS, Severity.DENY, "ChangeRequest", "CHG-1", CHG_1),
)
DOCS = {
    "approvals/required": "Every approval requirement of the change type is met.",
    "freeze/active": "No change is scheduled inside an active freeze window.",
}


def kinds_report(findings: Iterable[Finding] = KINDS) -> Report:
    return Report(verdict(findings), EVALUATIONS, DOCS)


def real_run(
    cli: Any, monkeypatch: pytest.MonkeyPatch, fmt: str, *extra: Any, context: Path = SELF_APPROVED
) -> str:
    """``changegate check`` on acme-shop from the repository root, as CI runs it: it denies."""
    monkeypatch.chdir(ROOT)  # paths are shown relative to the working directory
    result = cli("check", ACME, "--context", context, "--at", AT, "--format", fmt, *extra)
    assert result.code == 1, result.err
    return result.out


def json_findings(cli: Any, context: Path = SELF_APPROVED) -> list[dict[str, Any]]:
    result = cli("check", ACME, "--context", context, "--at", AT, "--format", "json")
    assert result.code == 1, result.err
    findings: list[dict[str, Any]] = json.loads(result.out)["findings"]
    return findings


# --- SARIF: the schema ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_schema() -> Any:
    from jsonschema.validators import validator_for

    schema = json.loads(shared_or_skip("sarif", "sarif-2.1.0.json").read_text(encoding="utf-8"))
    cls = validator_for(schema)  # the draft its $schema names
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(validator: Any, document: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def assert_consistent(document: dict[str, Any]) -> None:
    """What GitHub code scanning needs beyond the schema."""
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids)), ids
    for rule in rules:  # GH2012: both are required
        assert rule["fullDescription"]["text"].strip(), rule
        assert rule["help"]["text"].strip(), rule
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert physical["region"]["startColumn"] >= 1


def sarif_level(severity: str, outcome: str) -> str:
    if severity == "deny" and outcome in {"fail", "error"}:
        return "error"
    return {"deny": "error", "warn": "warning", "info": "note"}[severity]


@pytest.mark.parametrize(
    ("context", "event"),
    [("pr-42-self-approved", "pull_request"), ("deploy-checkout-2.5.0", "deploy")],
)
def test_sarif_of_a_real_run_is_valid_and_matches_the_verdict(
    cli, monkeypatch, tmp_path, sarif_schema, context, event
) -> None:
    output = tmp_path / "changegate.sarif"
    context_file = ACME / "contexts" / f"{context}.yaml"
    assert real_run(cli, monkeypatch, "sarif", "--output", output, context=context_file) == ""
    document = json.loads(output.read_text(encoding="utf-8"))
    assert_valid(sarif_schema, document)
    assert_consistent(document)

    (run,) = document["runs"]
    expected = [
        (
            f["rule"],
            sarif_level(f["severity"], f["outcome"]),
            f["document"]["path"],
            f["document"]["line"],
            f["document"]["column"],
            f["message"],
        )
        for f in json_findings(cli, context_file)
    ]
    assert expected  # both contexts deny
    assert [
        (
            r["ruleId"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["locations"][0]["physicalLocation"]["region"]["startColumn"],
            r["message"]["text"],
        )
        for r in run["results"]
    ] == expected
    assert run["automationDetails"] == {"id": f"changegate/{event}/"}
    assert run["tool"]["driver"]["name"] == "changegate"


def test_sarif_of_the_self_approved_pull_request_points_at_the_change(cli, monkeypatch) -> None:
    document = json.loads(real_run(cli, monkeypatch, "sarif"))
    (run,) = document["runs"]
    (result,) = run["results"]
    assert result["ruleId"] == "change-approvals/required-approvals"
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {
            "uri": "examples/acme-shop/changes/CHG-2024-0150.yaml",
            "uriBaseId": "%SRCROOT%",
        },
        "region": {"startLine": 9, "startColumn": 3},
    }
    assert result["properties"] == {"kind": "ChangeRequest", "name": "CHG-2024-0150"}
    assert "suppressions" not in result


def test_sarif_of_every_kind_of_finding_is_valid(sarif_schema) -> None:
    document = json.loads(write(sarif.report, kinds_report()))
    assert_valid(sarif_schema, document)
    assert_consistent(document)
    # the validator does reject what is wrong, so a pass above means something
    broken = json.loads(json.dumps(document))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert list(sarif_schema.iter_errors(broken))


def test_sarif_results_rules_locations_and_suppressions() -> None:
    document = json.loads(write(sarif.report, kinds_report()))
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "approvals/high-risk",
        "approvals/required",
        "completeness/rollback",
        "conflicts/overlap",
        "freeze/active",
        "lead-time/minimum",
        "style/title",
        "yaml/parse",
    ]
    by_id = {r["id"]: r for r in rules}
    assert by_id["approvals/required"]["fullDescription"] == {"text": DOCS["approvals/required"]}
    assert by_id["approvals/required"]["help"]["text"] == DOCS["approvals/required"]
    assert by_id["freeze/active"]["fullDescription"] == {"text": DOCS["freeze/active"]}
    assert by_id["conflicts/overlap"]["defaultConfiguration"] == {"level": "warning"}
    assert by_id["style/title"]["defaultConfiguration"] == {"level": "note"}
    assert by_id["lead-time/minimum"]["defaultConfiguration"] == {"level": "error"}

    rows = [
        (
            r["ruleId"],
            r["ruleIndex"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"],
            r["locations"][0]["physicalLocation"]["region"],
            r.get("suppressions"),
        )
        for r in run["results"]
    ]
    here = {"uri": "changes/CHG-1.yaml", "uriBaseId": "%SRCROOT%"}
    waiver = "waived by waiver-legacy until 2024-02-01: legacy system without a tested rollback"
    assert rows == [  # in file order
        ("lead-time/minimum", 5, "error", here, {"startLine": 4, "startColumn": 1}, None),
        ("style/title", 6, "note", here, {"startLine": 6, "startColumn": 5}, None),
        ("approvals/required", 1, "error", here, {"startLine": 9, "startColumn": 3}, None),
        ("conflicts/overlap", 3, "warning", here, {"startLine": 12, "startColumn": 3}, None),
        (
            "completeness/rollback",
            2,
            "error",
            here,
            {"startLine": 15, "startColumn": 3},
            [{"kind": "external", "justification": waiver}],
        ),
        (
            "yaml/parse",
            7,
            "error",
            {"uri": "changes/broken.yaml", "uriBaseId": "%SRCROOT%"},
            {"startLine": 2, "startColumn": 7},
            None,
        ),
    ]
    assert run["results"][0]["properties"] == {"kind": "ChangeRequest", "name": "CHG-1"}
    assert "properties" not in run["results"][-1]  # the file could not be read as a document
    fingerprints = [r["partialFingerprints"]["changegate/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(re.fullmatch(r"[0-9a-f]{64}", f) for f in fingerprints)


# Paths that are legal file names but not legal in a URI reference as they stand.
AWKWARD_PATHS = (
    "changes/my change.yaml",
    "changes/100%.yaml",
    "changes/a#b.yaml",
    "changes/why?.yaml",
    "changes/é.yaml",
    "a:b.yaml",
)
_URI_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*")


def test_sarif_uris_are_percent_encoded_relative_references() -> None:
    findings = [
        finding("approvals/required", Severity.DENY, Outcome.FAIL, "m", path=p)
        for p in AWKWARD_PATHS
    ]
    document = json.loads(write(sarif.report, kinds_report(findings)))
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]
    ]
    assert sorted(unquote(uri).removeprefix("./") for uri in uris) == sorted(AWKWARD_PATHS)
    wrong = [
        uri
        for uri in uris
        if not _URI_PATH.fullmatch(uri) or urlsplit(uri).scheme or urlsplit(uri).netloc
    ]
    assert wrong == []


def test_sarif_file_outside_the_working_directory_is_not_under_srcroot(in_tmp) -> None:
    outside = "/elsewhere/changes/CHG-9.yaml"
    report = kinds_report(
        [finding("approvals/required", Severity.DENY, Outcome.FAIL, "m", path=outside)]
    )
    document = json.loads(write(sarif.report, report))
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    artifact = location["artifactLocation"]
    if "uriBaseId" in artifact:
        assert not artifact["uri"].startswith("/"), artifact
    else:
        assert artifact["uri"] == "file://" + outside, artifact


# --- SARIF: Microsoft's multitool with GitHub's ingestion rules ---------------------------


class Unavailable(Exception):
    """The SARIF multitool cannot be fetched or run on this machine; the message says why."""


def _download_multitool(scratch: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed: cannot fetch the SARIF multitool")
    try:
        done = subprocess.run(
            [npm, "pack", MULTITOOL_PACKAGE, "--pack-destination", str(scratch), "--silent"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"npm pack {MULTITOOL_PACKAGE} failed: {error}") from error
    tarballs = sorted(scratch.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        output = (done.stderr or done.stdout)[-2000:]
        raise Unavailable(f"npm pack {MULTITOOL_PACKAGE} failed: {output}")
    MULTITOOL_HOME.parent.mkdir(parents=True, exist_ok=True)
    staging = MULTITOOL_HOME.with_name(f"{MULTITOOL_HOME.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(staging, filter="data")
    tarballs[0].unlink()  # 43 MB
    shutil.rmtree(MULTITOOL_HOME, ignore_errors=True)  # a broken earlier attempt
    try:
        staging.rename(MULTITOOL_HOME)  # whole or not at all: a partial tree is never reused
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another session won the race


def _runnable_multitool(scratch: Path) -> Path:
    if sys.platform != "linux":
        raise Unavailable(f"{MULTITOOL_PACKAGE} runs on Linux only")
    tool = MULTITOOL_HOME / "package" / "Sarif.Multitool"
    if not tool.is_file():
        _download_multitool(scratch)
    if not tool.is_file():
        raise Unavailable(f"{MULTITOOL_PACKAGE} did not unpack {tool.name}")
    tool.chmod(tool.stat().st_mode | 0o111)  # npm's postinstall does this; npm pack does not
    try:
        done = subprocess.run(
            [str(tool), "--version"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"the SARIF multitool does not run here: {error}") from error
    if done.returncode != 0:
        raise Unavailable(f"the SARIF multitool does not run here: {done.stdout}{done.stderr}")
    return tool


@pytest.fixture(scope="session")
def sarif_multitool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``Sarif.Multitool`` from npm, downloaded once into .cache/ and reused after."""
    try:
        return _runnable_multitool(tmp_path_factory.mktemp("npm-pack"))
    except Unavailable as reason:
        pytest.skip(str(reason))


@dataclass(frozen=True)
class Judgement:
    file: str
    rule: str
    level: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}: {self.level} {self.rule}: {self.text}"


def _message(result: dict[str, Any], rules: list[dict[str, Any]]) -> str:
    message = result["message"]
    if "text" in message:
        return str(message["text"])
    rule = rules[result["ruleIndex"]] if "ruleIndex" in result else {}
    text = str(rule.get("messageStrings", {}).get(message.get("id"), {}).get("text", message))
    for number, argument in enumerate(message.get("arguments", [])):
        text = text.replace(f"{{{number}}}", str(argument))
    return text


def judge(tool: Path, folder: Path, *files: Path) -> list[Judgement]:
    """What ``Sarif.Multitool validate --rule-kind "Gh;Sarif"`` says of each file, notes too:
    a file it cannot process (``a:b.yaml`` as a uri with a uriBaseId does it) gets no result
    at all, not even the notes every file gets, so silence is not a pass."""
    out = folder / "multitool.sarif"
    done = subprocess.run(
        [
            str(tool),
            "validate",
            *map(str, files),
            *("--rule-kind", "Gh;Sarif", "--level", "Error;Warning;Note"),
            *("-o", str(out), "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    log = json.loads(out.read_text(encoding="utf-8-sig"))
    judgements = []
    for run in log["runs"]:
        for invocation in run.get("invocations", []):
            assert invocation.get("executionSuccessful"), invocation
        rules = run["tool"]["driver"].get("rules", [])
        for result in run.get("results", []):
            uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            judgements.append(
                Judgement(
                    file=Path(unquote(urlsplit(uri).path)).name,
                    rule=result["ruleId"],
                    level=result.get("level", "warning"),
                    text=_message(result, rules),
                )
            )
    return judgements


def test_sarif_multitool_with_github_rules_finds_no_errors(
    sarif_multitool, cli, monkeypatch, tmp_path
) -> None:
    real = tmp_path / "real.sarif"
    real_run(cli, monkeypatch, "sarif", "--output", real)
    kinds = tmp_path / "kinds.sarif"
    kinds.write_text(write(sarif.report, kinds_report()), encoding="utf-8")
    # A control the judge must reject: rules without fullDescription and help (GH2012).
    stripped = json.loads(kinds.read_text(encoding="utf-8"))
    for rule in stripped["runs"][0]["tool"]["driver"]["rules"]:
        del rule["fullDescription"], rule["help"]
    control = tmp_path / "control.sarif"
    control.write_text(json.dumps(stripped), encoding="utf-8")

    judgements = judge(sarif_multitool, tmp_path, real, kinds, control)

    for name in (real.name, kinds.name, control.name):
        assert any(j.file == name for j in judgements), f"the multitool skipped {name}"
    ours = [j for j in judgements if j.file in {real.name, kinds.name}]
    errors = [j for j in ours if j.level == "error"]
    warnings = [j for j in ours if j.level == "warning"]
    print(*warnings, sep="\n")  # shown with -rA; warnings are allowed
    assert not errors, "\n".join(map(str, errors + warnings))
    assert {j.rule for j in judgements if j.file == control.name and j.level == "error"} == {
        "GH2012"
    }


def test_sarif_multitool_accepts_awkward_paths(sarif_multitool, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # not a:b.yaml: the multitool silently skips a file holding it (see judge)
    paths = (*(p for p in AWKWARD_PATHS if p != "a:b.yaml"), "/elsewhere/changes/CHG-9.yaml")
    findings = [
        finding("approvals/required", Severity.DENY, Outcome.FAIL, "m", path=p) for p in paths
    ]
    awkward = tmp_path / "awkward.sarif"
    awkward.write_text(write(sarif.report, kinds_report(findings)), encoding="utf-8")
    judgements = judge(sarif_multitool, tmp_path, awkward)
    assert judgements, "the multitool skipped awkward.sarif"
    errors = [j for j in judgements if j.level == "error"]
    assert not errors, "\n".join(map(str, errors))


# --- JUnit XML --------------------------------------------------------------------------------


def cases(xml: str) -> dict[str, Any]:
    """Each test case by ``classname/name``, with its attributes as written."""
    parsed = JUnitXml.fromstring(xml)
    attributes = {
        f"{e.get('classname')}/{e.get('name')}": dict(e.attrib)
        for e in ET.fromstring(xml.encode()).iter("testcase")  # noqa: S314 - our own output
    }
    return {
        f"{case.classname}/{case.name}": (case, attributes[f"{case.classname}/{case.name}"])
        for suite in parsed
        for case in suite
    }


JUNIT_XSD = Path(__file__).parent / "data" / "junit-10.xsd"


@pytest.fixture(scope="module")
def junit_schema() -> Any:
    """The Jenkins xUnit plugin's junit-10.xsd (vendored with its licence, from pytest's
    sdist, which tests its own JUnit output against it)."""
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


def assert_junit_valid(schema: Any, xml: str) -> None:
    errors = [str(e.reason) for e in schema.iter_errors(xml.encode())]
    assert not errors, "\n".join(errors)


def test_the_vendored_xsd_keeps_its_licence_and_rejects_what_it_should(junit_schema) -> None:
    text = JUNIT_XSD.read_text(encoding="utf-8")
    assert "The MIT License (MIT)" in text
    assert "Gregory Boissinot" in text
    # a control: a testcase with file and line (as changegate wrote them before) is invalid
    control = (
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
        '<testcase name="c" file="a.yaml" line="3"/></testsuite></testsuites>'
    )
    assert not junit_schema.is_valid(control)


def test_junit_of_a_real_run_counts_what_the_verdict_found(cli, monkeypatch, junit_schema) -> None:
    xml = real_run(cli, monkeypatch, "junit")
    assert_junit_valid(junit_schema, xml)
    (denied,) = json_findings(cli)
    parsed = JUnitXml.fromstring(xml)
    # thirteen evaluations of the one changed document; six rules do not apply to it (the
    # high-risk review, the post-review of an emergency change, a standard change's template,
    # and release-readiness's three release plan rules; its error budget rule passes)
    assert (parsed.name, parsed.tests, parsed.failures, parsed.errors) == ("changegate", 13, 1, 0)
    (suite,) = list(parsed)
    path = "examples/acme-shop/changes/CHG-2024-0150.yaml"
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == (
        path,
        13,
        1,
        0,
        6,
    )
    assert ET.fromstring(xml.encode()).find("testsuite").get("file") == path  # noqa: S314
    everything = cases(xml)
    assert len(everything) == 13
    case, attributes = everything[
        "change-approvals/required-approvals [ChangeRequest CHG-2024-0150]"
    ]
    (failure,) = case.result
    assert isinstance(failure, Failure)
    assert failure.message == denied["message"]
    assert failure.type == "change-approvals/required-approvals"
    assert failure.text == f"{path}:9:3: {denied['message']}"
    assert "file" not in attributes
    assert "line" not in attributes
    skipped = [c for c, _ in everything.values() if c.is_skipped]
    assert {c.name for c in skipped} == {
        "high-risk-review [ChangeRequest CHG-2024-0150]",
        "post-review [ChangeRequest CHG-2024-0150]",
        "standard-template [ChangeRequest CHG-2024-0150]",
        "exit-criteria [ChangeRequest CHG-2024-0150]",
        "blocking-bugs [ChangeRequest CHG-2024-0150]",
        "ci-checks [ChangeRequest CHG-2024-0150]",
    }
    assert all(r.message == "the rule does not apply" for c in skipped for r in c.result)


def test_junit_maps_each_outcome_to_its_element(junit_schema) -> None:
    report = kinds_report()
    xml = write(junit.report, report)
    assert_junit_valid(junit_schema, xml)
    parsed = JUnitXml.fromstring(xml)
    summary = report.verdict.summary
    # six findings, and the two evaluations no finding reported
    assert (parsed.tests, parsed.failures, parsed.errors) == (8, 2, 1)
    assert parsed.failures == summary["failed"]
    assert parsed.errors == summary["errors"]
    assert [(s.name, s.tests, s.failures, s.errors, s.skipped) for s in parsed] == [
        ("changes/CHG-1.yaml", 7, 1, 1, 3),  # skipped: waived, a warning, a rule not applying
        ("changes/broken.yaml", 1, 1, 0, 0),
    ]
    by_name = {key: case for key, (case, _) in cases(xml).items()}

    def only(key: str) -> Any:
        (result,) = by_name[key].result
        return result

    denied = only("approvals/required [ChangeRequest CHG-1]")
    assert isinstance(denied, Failure)
    assert denied.message == "normal change needs 1 approval from role cab (has 0)"
    assert denied.type == "approvals/required"
    assert denied.text == "changes/CHG-1.yaml:9:3: " + denied.message

    errored = only("lead-time/minimum [ChangeRequest CHG-1]")
    assert isinstance(errored, Error)
    assert errored.message == "the rule's expression failed: no such key: submitted"
    assert errored.type == "lead-time/minimum"

    waived = only("completeness/rollback [ChangeRequest CHG-1]")
    assert isinstance(waived, Skipped)
    assert waived.message == (
        "waived: waived by waiver-legacy until 2024-02-01: legacy system without a tested rollback"
    )

    unparsed = only("yaml/parse [file]")
    assert isinstance(unparsed, Failure)
    assert unparsed.text == "changes/broken.yaml:2:7: mapping values are not allowed here"

    # a warning is visible in a test tab (skipped, typed warning) and fails no build
    warned = only("conflicts/overlap [ChangeRequest CHG-1]")
    assert isinstance(warned, Skipped)
    assert (warned.type, warned.message) == ("warning", "warning: overlaps CHG-2")
    assert warned.text == "changes/CHG-1.yaml:12:3: overlaps CHG-2"
    note = by_name["style/title [ChangeRequest CHG-1]"]
    assert note.is_passed
    assert note.result == []
    assert note.system_out == "info: changes/CHG-1.yaml:6:5: titles read better imperative"
    assert by_name["freeze/active [ChangeRequest CHG-1]"].is_passed
    assert only("approvals/high-risk [ChangeRequest CHG-1]").message == "the rule does not apply"


def test_junit_keeps_evaluations_without_a_file_in_a_suite_of_their_own(junit_schema) -> None:
    lost = Evaluation("freeze/active", Outcome.PASS, Severity.DENY, "ChangeRequest", "CHG-9")
    xml = write(junit.report, Report(verdict([]), (lost,), {}))
    assert_junit_valid(junit_schema, xml)
    (suite,) = list(JUnitXml.fromstring(xml))
    assert suite.name == "changegate"
    assert ET.fromstring(xml.encode()).find("testsuite").get("file") is None  # noqa: S314


MARKUP = "a < b && c > d \"q\" 'a' ]]> <![CDATA[x]]> </failure> &amp; &#0; \r\n\tend"


def test_junit_is_well_formed_when_messages_hold_markup(junit_schema) -> None:
    hostile = finding("approvals/required", Severity.DENY, Outcome.FAIL, MARKUP)
    xml = write(junit.report, Report(verdict([hostile]), (), {}))
    assert_junit_valid(junit_schema, xml)
    ET.fromstring(xml.encode())  # noqa: S314 - our own output; raises when not well formed
    case, _ = cases(xml)["approvals/required [ChangeRequest CHG-1]"]
    (failure,) = case.result
    assert failure.message == MARKUP  # attributes keep \r \n \t as character references
    # element text: XML parsers normalize \r\n to \n, everything else comes back as written
    assert failure.text == f"changes/CHG-1.yaml:3:5: {MARKUP}".replace("\r\n", "\n")


CONTROL = "before \x00\x01\x08\x0b\x0c\x1b\x1f after"


def test_junit_is_well_formed_when_messages_hold_control_characters() -> None:
    hostile = finding("approvals/required", Severity.DENY, Outcome.FAIL, CONTROL)
    xml = write(junit.report, Report(verdict([hostile]), (), {}))
    root = ET.fromstring(xml.encode())  # noqa: S314 - our own output
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("before ")
    assert message.endswith(" after")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", message)


# --- Markdown: the pull request comment -------------------------------------------------------

HOSTILE = (
    "<!-- hidden --> <script>alert(1)</script> <img src=x onerror=alert(1)> "
    "[click](https://evil.example) ![x](https://evil.example/x.png) "
    "cc @org/team and @alice, fixes #123 **bold** _em_ a|b back\\slash\\|pipe "
    "`code` ``` fence ~~gone~~ &amp; &lt;b&gt; \x1b[31mred\x1b[0m\x00 "
    "line one\nline two\r\nline three END"
)
HOSTILE_PATH = "changes/<!-- p -->|@bob #7 `x`.yaml"
HOSTILE_NAME = "<script>@carol|#9</script>\nnext"
BIG = ("<b>@alice</b> | #1 [x](y) " * 5_000)[:100_000]  # 100 KB
URL = "https://github.com/acme/shop/actions/runs/1"
# what our template writes; anything else came from user text
SAFE_TAGS = frozenset(
    {"h2", "h3", "p", "strong", "em", "code", "sub", "details", "summary"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)


def shown(text: str) -> str:
    """How user text must read on GitHub: itself, on one line, with a zero-width space after
    ``@`` and after ``#``/``GH-`` before digits (no mentions, no issue references, also not
    ``owner/repo#123``) and inside ``://`` and ``www.`` (no autolinked URLs)."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    text = text.replace("\r", " ").replace("\n", " ")
    text = re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", text)
    text = re.sub(r"#(?=\d)", "#\u200b", text)
    text = re.sub(r"(?<=\bGH-)(?=\d)", "\u200b", text, flags=re.IGNORECASE)
    return re.sub(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)", "\u200b", text, flags=re.IGNORECASE)


class Page(HTMLParser):
    """Rendered HTML: its tags, comments, text, links and tables (rows of cell texts)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.links: list[str | None] = []
        self.tables: list[list[list[str]]] = []
        self.texts: list[str] = []
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((tag, name) for name, _ in attrs)
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in {"td", "th"}:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def to_html(markdown: str) -> str:
    """Much as GitHub renders a comment: CommonMark, raw HTML allowed, GFM tables."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def separators(line: str) -> int:
    """Unescaped pipes in a line of a markdown table."""
    count, escaped = 0, False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            count += 1
    return count


HOSTILE_FINDINGS = (
    finding(
        "hostile/deny", Severity.DENY, Outcome.FAIL, HOSTILE, path=HOSTILE_PATH, name=HOSTILE_NAME
    ),
    finding("hostile/error", Severity.DENY, Outcome.ERROR, HOSTILE, path="changes/b.yaml", line=4),
    finding("hostile/warn", Severity.WARN, Outcome.FAIL, HOSTILE, path="changes/b.yaml", line=5),
    finding(
        "hostile/waived", Severity.DENY, Outcome.WAIVED, HOSTILE, path="changes/b.yaml", line=6
    ),
    finding("hostile/big", Severity.DENY, Outcome.FAIL, BIG, path="changes/c.yaml", line=7),
)


def test_markdown_renders_hostile_text_as_plain_text() -> None:
    markdown = render(verdict(HOSTILE_FINDINGS))
    html = to_html(markdown)
    page = Page(html)

    # our marker, once, first; no other comment survives
    assert markdown.startswith(MARKER + "\n")
    assert markdown.count("<!--") == 1
    assert html.startswith(MARKER)
    assert page.comments == [" changegate:verdict "]
    # no tags of theirs, no links, no images, no emphasis of theirs
    assert set(page.tags) <= SAFE_TAGS, sorted(set(page.tags) - SAFE_TAGS)
    for forbidden in ("<script", "<img", "<a "):
        assert forbidden not in html
    assert page.attributes == []  # no href, src, on...= anywhere
    assert page.links == []
    assert "<strong>bold</strong>" not in html
    assert "<em>em</em>" not in html
    # no mentions, no issue references
    for who in ("@alice", "@org", "@bob", "@carol"):
        assert who not in markdown
        assert "@\u200b" + who[1:] in markdown
    assert "@\u200borg/team" in markdown
    assert re.search(r"#\d", markdown) is None
    assert re.search(r"@[A-Za-z0-9]", page.text) is None
    assert re.search(r"#\d", page.text) is None

    # three tables, every row three cells, every message whole on its own row
    assert [table[0] for table in page.tables] == [
        ["Rule", "Where", "What to do"],
        ["Rule", "Where", "Message"],
        ["Rule", "Where", "Waiver"],
    ]
    where = "changes/b.yaml:{} (ChangeRequest CHG-1)"
    assert [table[1:] for table in page.tables] == [
        [
            [
                "hostile/deny",
                shown(f"{HOSTILE_PATH}:3 (ChangeRequest {HOSTILE_NAME})"),
                shown(HOSTILE),
            ],
            ["hostile/error", where.format(4), "error: " + shown(HOSTILE)],
            ["hostile/big", "changes/c.yaml:7 (ChangeRequest CHG-1)", shown(BIG[:999] + "…")],
        ],
        [["hostile/warn", where.format(5), shown(HOSTILE)]],
        [["hostile/waived", where.format(6), shown(HOSTILE)]],
    ]
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table_lines) == 3 * 2 + 5  # header and delimiter rows, one row per finding
    assert all(separators(line) == 4 for line in table_lines), table_lines
    assert len(markdown) < COMMENT_LIMIT


def test_markdown_shows_dollars_and_bidi_controls_as_themselves() -> None:
    """GitHub renders $...$ and $$...$$ as MathJax whatever backslashes stand before them, and
    bidi controls reorder what a reviewer reads: both must arrive as plain, visible text."""
    message = "costs $5 or $$x^2$$ \u202eevil\u2066 done"
    markdown = render(verdict([finding("hostile/math", Severity.DENY, Outcome.FAIL, message)]))
    assert "$" not in markdown
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", markdown)
    page = Page(to_html(markdown))
    assert page.tables[0][1][2] == "costs $5 or $$x^2$$ <U+202E>evil<U+2066> done"


def shown_paths(markdown: str, rule_prefix: str) -> set[str]:
    """The files of the finding rows of a comment (rows are grouped by table, not in order)."""
    rows = re.findall(rf"^\| `{rule_prefix}[^`]*` \| (\S+):\d+ ", markdown, flags=re.MULTILINE)
    return set(rows)


def test_markdown_with_5000_findings_fits_and_says_how_many_did_not() -> None:
    kinds = [(Severity.DENY, Outcome.FAIL), (Severity.WARN, Outcome.FAIL)]
    kinds.append((Severity.DENY, Outcome.WAIVED))
    findings = [
        finding(
            f"bulk/rule-{i % 3}",
            *kinds[i % 3],
            BIG if i % 50 == 0 else f"finding {i}: <b>@alice</b> | #1 [x](y)",
            path=f"changes/CHG-{i:04}.yaml",
            name=f"CHG-{i}",
            line=1,
        )
        for i in range(5_000)
    ]
    markdown = render(verdict(findings, documents=5_000))
    assert len(markdown) < COMMENT_LIMIT
    paths = shown_paths(markdown, "bulk/")
    hidden = 5_000 - len(paths)
    assert 0 < len(paths) < 5_000
    note = f"_{hidden} more finding(s) did not fit in this comment: see the job summary._\n"
    assert note in markdown
    # the first findings in file order are the ones shown
    assert paths == {f"changes/CHG-{i:04}.yaml" for i in range(len(paths))}
    page = Page(to_html(markdown))
    assert page.comments == [" changegate:verdict "]
    assert page.attributes == []
    assert "✗ deny: 1667 failed, 1667 warnings, 1666 waived in 5000 documents" in page.text
    assert f"{hidden} more finding(s) did not fit in this comment" in page.text
    assert all(len(row) == 3 for table in page.tables for row in table)


def test_markdown_overflow_note_links_the_job_summary_and_keeps_the_limit() -> None:
    findings = [
        finding("bulk/rule", Severity.DENY, Outcome.FAIL, BIG, path=f"changes/CHG-{i:03}.yaml")
        for i in range(200)
    ]
    for limit in (8_000, 30_000, 65_536 - 2_048):
        markdown = render(verdict(findings), limit=limit, details_url=URL)
        assert len(markdown) <= limit
        hidden = 200 - len(shown_paths(markdown, "bulk/"))
        assert hidden > 0
        assert (
            f"_{hidden} more finding(s) did not fit in this comment: "
            f"see [the job summary]({URL})._\n"
        ) in markdown


def test_markdown_footer_of_a_real_run_is_not_a_table_row(cli, monkeypatch) -> None:
    page = Page(to_html(real_run(cli, monkeypatch, "markdown")))
    (header, *rows), (reviews, *_) = page.tables  # the findings, then the reviews
    assert header == ["Rule", "Where", "What to do"]
    assert [row[0] for row in rows] == ["change-approvals/required-approvals"]
    assert reviews[0] == "Reviewer"
    assert not [c for table in page.tables for row in table for c in row if "changegate " in c]


@pytest.mark.parametrize("last", [Outcome.FAIL, Outcome.WAIVED], ids=["table", "details"])
def test_markdown_overflow_note_and_footer_are_paragraphs(last: Outcome) -> None:
    findings = [
        finding("bulk/rule", Severity.DENY, last, BIG, path=f"changes/CHG-{i:03}.yaml")
        for i in range(200)
    ]
    html = to_html(render(verdict(findings), details_url=URL))
    page = Page(html)
    cells = [cell for table in page.tables for row in table for cell in row]
    assert not [c for c in cells if "did not fit" in c or c.startswith("changegate ")]
    assert f'<a href="{URL}">the job summary</a>' in html
    assert "<code>pull_request</code>" in html


# --- GitHub workflow commands ----------------------------------------------------------------


def test_github_commands_of_a_real_run(cli, monkeypatch) -> None:
    out = real_run(cli, monkeypatch, "github")
    (denied,) = json_findings(cli)
    assert not re.search(r"[%\r\n]", denied["message"])  # nothing to escape in this one
    annotation, summary, end = out.split("\n")
    assert annotation == (
        "::error file=examples/acme-shop/changes/CHG-2024-0150.yaml,line=9,col=3,"
        f"title=change-approvals/required-approvals::{denied['message']}"
    )
    assert summary.startswith("::notice title=changegate::✗ deny: 1 failed in 1 document")
    assert end == ""


INJECTION = "100% sure\r\nnext line\n::error::injected\n::stop-commands::x\r"


def test_github_commands_escape_as_actions_core_does() -> None:
    path = "changes/a,b:c 100%.yaml"
    findings = [
        finding("hostile/deny", Severity.DENY, Outcome.FAIL, INJECTION, path=path, line=9),
        finding(
            "hostile/warn",
            Severity.WARN,
            Outcome.FAIL,
            "::warning::x\n::endgroup::",
            path=path,
            line=10,
        ),
        finding(
            "hostile/waived", Severity.DENY, Outcome.WAIVED, "ok\n::add-mask::x", path=path, line=11
        ),
        finding(
            "hostile/info", Severity.INFO, Outcome.FAIL, "%0A is not a newline", path=path, line=12
        ),
        finding("hostile/error", Severity.WARN, Outcome.ERROR, "boom\r", path=path, line=13),
    ]
    out = write(github.report, Report(verdict(findings)))
    where = "file=changes/a%2Cb%3Ac 100%25.yaml,line={},col=5,title=hostile/{}"
    assert out.split("\n") == [
        "::error "
        + where.format(9, "deny")
        + "::100%25 sure%0D%0Anext line%0A::error::injected%0A::stop-commands::x%0D",
        "::warning " + where.format(10, "warn") + "::::warning::x%0A::endgroup::",
        "::notice " + where.format(11, "waived") + "::ok%0A::add-mask::x",
        "::notice " + where.format(12, "info") + "::%250A is not a newline",
        "::warning " + where.format(13, "error") + "::boom%0D",
        "::notice title=changegate::✗ deny: 1 failed, 1 errors, 1 warnings, 1 waived"
        " in 2 documents",
        "",
    ]
    # the runner splits on \r as well as \n: one line per finding, one summary, no others
    lines = re.split(r"\r\n|\r|\n", out)[:-1]
    assert len(lines) == len(findings) + 1
    assert all(re.match(r"::(error|warning|notice) [a-z]+=", line) for line in lines)
