"""The verdict: every reported finding, the decision, and the stable JSON shape of SPEC §8."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from engine import __version__
from engine.findings import Evaluation, Finding, Outcome, Severity
from engine.times import format_instant, parse_instant

API_VERSION: Final = "changegate/v1"


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
        ordered = tuple(sorted(findings, key=lambda f: f.sort_key))
        return cls(event, at, ordered, documents, rules, backend, extra or {}, files)

    @property
    def decision(self) -> str:
        return "deny" if any(f.denies for f in self.findings) else "allow"

    @property
    def summary(self) -> dict[str, int]:
        return {
            "documents": self.documents,
            "rules": self.rules,
            "failed": self._count(Outcome.FAIL, Severity.DENY),
            "warnings": self._count(Outcome.FAIL, Severity.WARN),
            "errors": sum(1 for f in self.findings if f.outcome is Outcome.ERROR),
            "waived": sum(1 for f in self.findings if f.outcome is Outcome.WAIVED),
        }

    def _count(self, outcome: Outcome, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.outcome is outcome and f.severity is severity)

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
            extra={"gate": data["gate"]} if "gate" in data else None,
        )

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
    """What reporters receive: the verdict, every evaluation (passes included) and, per rule
    id, its documentation (for SARIF help and JUnit)."""

    verdict: Verdict
    evaluations: Sequence[Evaluation] = ()
    rule_docs: Mapping[str, str] = field(default_factory=dict)
