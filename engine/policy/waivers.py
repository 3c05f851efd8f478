"""Waivers: owned, justified, expiring exceptions to rules (SPEC §2).

An active waiver turns a matching failure into ``waived``; an expired waiver fails (rule
``waiver/expired``) and no longer waives anything; a waiver that matched nothing warns
(``waiver/unused``). Errors are never waived: a rule that could not be evaluated is a broken
policy, not an exception to grant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine import rules
from engine.documents.model import Document
from engine.findings import Finding, Outcome, Severity
from engine.globs import match_any
from engine.time.instants import parse_datetime


@dataclass(frozen=True)
class Waiver:
    document: Document
    rule: str
    kinds: tuple[str, ...] | None
    names: tuple[str, ...] | None
    labels: dict[str, str]
    expires: datetime

    @classmethod
    def of(cls, document: Document, zone_name: str) -> Waiver:
        spec = document.spec
        selector = spec["selector"]
        text = spec["expires"]
        expires = parse_datetime(text, zone_name)
        if "T" not in text:
            expires += timedelta(days=1)  # a date means "through that day"
        kinds = selector.get("kinds")
        names = selector.get("names")
        return cls(
            document=document,
            rule=spec["rule"],
            kinds=tuple(kinds) if kinds else None,
            names=tuple(names) if names else None,
            labels=dict(selector.get("labels", {})),
            expires=expires,
        )

    def covers(self, finding: Finding, labels: Mapping[str, str]) -> bool:
        policy, _, rule = self.rule.partition("/")
        if rule == "*":
            if not finding.rule.startswith(policy + "/"):
                return False
        elif finding.rule != self.rule:
            return False
        return self.selects(finding.kind, finding.name, labels)

    def selects(self, kind: str | None, name: str | None, labels: Mapping[str, str]) -> bool:
        """Whether the selector picks a document of this kind, name and labels."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.names is not None and not match_any(self.names, name or ""):
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


def apply(
    findings: Sequence[Finding],
    labels: Mapping[tuple[str, str | None], Mapping[str, str]],
    waiver_documents: Sequence[Document],
    *,
    now: datetime,
    zone_name: str,
    judged_all: bool,
) -> list[Finding]:
    """``findings`` with waivers applied, plus a finding for every expired or unused waiver.
    ``labels`` holds the labels of every judged document, by (kind, name).

    When only some documents were judged (a pull request's), a waiver's own state is reported
    only if the waiver is among them: another document's stale waiver must not block an
    unrelated change, and "unused" cannot be known."""
    judged = set(labels)
    waivers = [Waiver.of(d, zone_name) for d in waiver_documents]
    used: set[int] = set()
    out: list[Finding] = []
    for finding in findings:
        if finding.outcome is not Outcome.FAIL:
            out.append(finding)
            continue
        doc_labels = labels.get((finding.kind or "", finding.name), {})
        matching = [w for w in waivers if w.covers(finding, doc_labels)]
        active = [w for w in matching if now < w.expires]
        used.update(id(w) for w in matching)
        if active:
            waiver = active[0]
            spec = waiver.document.spec
            out.append(
                finding._replace(
                    outcome=Outcome.WAIVED,
                    message=f"{finding.message} (waived by {waiver.document.name}, owner "
                    f"{spec['owner']}, expires {spec['expires']}: {spec['justification']})",
                )
            )
        elif matching:
            names = ", ".join(w.document.name or "?" for w in matching)
            out.append(finding._replace(message=f"{finding.message} (waiver {names} has expired)"))
        else:
            out.append(finding)
    for waiver in waivers:
        document = waiver.document
        if not judged_all and (document.kind, document.name) not in judged:
            continue
        if now >= waiver.expires:
            out.append(
                document.finding(
                    rules.WAIVER_EXPIRED,
                    f"waiver {document.name} expired on {document.spec['expires']}: "
                    "remove it, or renew it with a new expiry and justification",
                    field=("spec", "expires"),
                )
            )
        elif id(waiver) not in used and judged_all:
            out.append(
                document.finding(
                    rules.WAIVER_UNUSED,
                    f"waiver {document.name} matched no failing {waiver.rule} finding: remove "
                    "it if the exception is no longer needed",
                    field=("spec", "selector"),
                    severity=Severity.WARN,
                )
            )
    return out
