"""What an audit flags: one :class:`Flag` per thing an auditor must see, with its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.time.instants import format_instant
from engine.trail.history import within

if TYPE_CHECKING:
    from engine.documents.model import Document
    from engine.judging.judge import Judge


@dataclass(frozen=True)
class Flag:
    """``document`` is "ChangeRequest CHG-1" (or a path); ``at`` dates the flag for periods."""

    rule: str
    commit: str | None
    document: str  # "ChangeRequest CHG-1" or a path
    path: str | None
    message: str
    at: datetime | None = None
    ongoing: bool = False  # still true after ``at``: in every period that ends after it

    def in_period(self, since: datetime | None, until: datetime | None) -> bool:
        if self.at is None:
            return True
        if self.ongoing:
            return until is None or self.at < until
        return within(self.at, since, until)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "commit": self.commit,
            "document": self.document,
            "path": self.path,
            "message": self.message,
            "at": format_instant(self.at) if self.at else None,
        }


def git_path(judge: Judge, document: Document) -> str | None:
    """A document's path from the git root, as the history names it."""
    return judge.git.relative(document.path) if judge.git is not None else None
