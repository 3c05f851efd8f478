"""The verdict: every reported finding, the decision, and the stable JSON shape of SPEC §8."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from engine import __version__, rules
from engine.findings import Evaluation, Finding, Outcome, Severity
from engine.time.instants import format_instant, parse_instant

API_VERSION: Final = "changegate/v1"
MAX_FINDINGS: Final = 10_000  # listed per run; the rest are counted in one finding


@dataclass(frozen=True)
class Verdict:
    """``findings`` holds what is worth reporting (every outcome but pass), in file order."""

    event: str
    at: datetime
    findings: tuple[Finding, ...]
    documents: int
    rules: int
    backend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    files: int | None = None
    counts: dict[str, int] | None = None  # the summary of every finding, listed or not

    @classmethod
    def of(
        cls,
        *,
        event: str,
        at: datetime,
        findings: Iterable[Finding],
        documents: int,
        rules: int,
        backend: str | None = None,
        extra: dict[str, Any] | None = None,
        files: int | None = None,
    ) -> Verdict:
        ordered = sorted(findings, key=lambda f: f.sort_key)
        counts = None
        if len(ordered) > MAX_FINDINGS:
            counts = _counts(ordered)
            ordered = [*ordered[:MAX_FINDINGS], _omitted(ordered[MAX_FINDINGS:])]
        return cls(event, at, tuple(ordered), documents, rules, backend, extra or {}, files, counts)

    @property
    def decision(self) -> str:
        return "deny" if any(f.denies for f in self.findings) else "allow"

    @property
    def summary(self) -> dict[str, int]:
        counts = self.counts or _counts(self.findings)
        return {"documents": self.documents, "rules": self.rules, **counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """A verdict read back from its JSON (validated against schemas/verdict.json first:
        it may come from an untrusted workflow's artifact)."""
        findings = []
        for item in data["findings"]:
            document = item["document"]
            findings.append(
                Finding(
                    rule=item["rule"],
                    severity=Severity(item["severity"]),
                    outcome=Outcome(item["outcome"]),
                    message=item["message"],
                    path=Path(document["path"]),
                    line=document["line"],
                    column=document["column"],
                    kind=document["kind"],
                    name=document["name"],
                    field=document.get("field"),
                )
            )
        summary = data["summary"]
        return cls.of(
            event=data["event"],
            at=parse_instant(data["at"]),
            findings=findings,
            documents=summary["documents"],
            rules=summary["rules"],
            backend=data["engine"].get("celBackend"),
            extra={key: data[key] for key in ("gate", "judged", "impact") if key in data} or None,
        )._counted({k: summary[k] for k in ("failed", "warnings", "errors", "waived")})

    def _counted(self, counts: dict[str, int]) -> Verdict:
        from dataclasses import replace

        return replace(self, counts=counts)

    def to_json(self, display: Any = None) -> dict[str, Any]:
        """The verdict as SPEC §8 fixes it; ``display`` turns paths into shown strings."""
        show = display or (lambda p: Path(p).as_posix())
        out: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": "Verdict",
            "decision": self.decision,
            "event": self.event,
            "at": format_instant(self.at),
            "summary": self.summary,
            "findings": [finding_json(f, show) for f in self.findings],
        }
        out["engine"] = {"version": __version__}
        if self.backend:
            out["engine"]["celBackend"] = self.backend
        out.update(self.extra)
        return out


def _counts(findings: Sequence[Finding]) -> dict[str, int]:
    counts = {"failed": 0, "warnings": 0, "errors": 0, "waived": 0}
    for f in findings:
        if f.outcome is Outcome.FAIL and f.severity is Severity.DENY:
            counts["failed"] += 1
        elif f.outcome is Outcome.FAIL and f.severity is Severity.WARN:
            counts["warnings"] += 1
        elif f.outcome is Outcome.ERROR:
            counts["errors"] += 1
        elif f.outcome is Outcome.WAIVED:
            counts["waived"] += 1
    return counts


def _omitted(rest: Sequence[Finding]) -> Finding:
    """One finding standing for the findings past the limit; it denies if any of them does."""
    denying = sum(1 for f in rest if f.denies)
    first = rest[0]
    return Finding(
        rule=rules.TOO_MANY,
        severity=Severity.DENY if denying else Severity.WARN,
        outcome=Outcome.FAIL,
        message=f"{len(rest):,} more findings ({denying:,} of them denying) are not listed: "
        f"changegate lists at most {MAX_FINDINGS:,}; fix the ones above and run again",
        path=first.path,
        line=first.line,
        column=first.column,
    )


def finding_json(finding: Finding, show: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kind": finding.kind,
        "name": finding.name,
        "path": show(finding.path),
        "line": finding.line,
        "column": finding.column,
    }
    if finding.field:
        document["field"] = finding.field
    return {
        "rule": finding.rule,
        "severity": str(finding.severity),
        "outcome": str(finding.outcome),
        "message": finding.message,
        "document": document,
    }


@dataclass
class Report:
    """What reporters receive: the verdict, every evaluation (passes included), per rule id
    its documentation (for SARIF help and JUnit), and notes on what was not judged."""

    verdict: Verdict
    evaluations: Sequence[Evaluation] = ()
    rule_docs: Mapping[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()  # what the run did not judge, said after the summary (text)
