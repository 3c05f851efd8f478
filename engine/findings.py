"""What a check found: one :class:`Finding` per rule outcome worth reporting.

Records are NamedTuples: a run makes tens of thousands, and on Python 3.11 they are much
cheaper to define, create and send between processes than dataclasses."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import NamedTuple


class Severity(StrEnum):
    DENY = "deny"
    WARN = "warn"
    INFO = "info"


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    SKIP = "skip"
    WAIVED = "waived"
    ERROR = "error"


class Finding(NamedTuple):
    """A rule's outcome on one document (or one file, for problems found before documents).

    ``kind`` and ``name`` are None when the document could not be identified (a YAML error,
    a document without ``kind``). ``field`` is the dotted field path the finding points at.
    """

    rule: str
    severity: Severity
    outcome: Outcome
    message: str
    path: Path
    line: int
    column: int
    kind: str | None = None
    name: str | None = None
    field: str | None = None

    @property
    def denies(self) -> bool:
        """Does this finding make the decision ``deny``?"""
        return self.severity is Severity.DENY and self.outcome in {Outcome.FAIL, Outcome.ERROR}

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.path), self.line, self.column, self.rule)


class Evaluation(NamedTuple):
    """One rule's outcome on one document, passes included: the full record of a run."""

    rule: str
    outcome: Outcome
    severity: Severity
    kind: str
    name: str | None
    path: Path | None = None  # the document's file (None where a report lost it)
