"""What a run judged, said to people: the governed documents a pull request adds, changes or
deletes (kind, name, title, type and risk or version, targets, schedule in its own zone and in
UTC, the approvals that count and those that do not, the windows it meets), and what a run
did not judge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.documents.model import Document
    from engine.judging.judge import Judge


def local_notes(judge: Judge, judged: Sequence[Document]) -> list[str]:
    """One line on a ``local`` run: approvals were not judged (the policies that judge only
    other events did not run) and lead times counted from ``spec.requestor.date``, and how to
    judge them as a pull request would be."""
    if judge.context.event != "local":
        return []
    kinds = {d.kind for d in judged}
    skipped = sorted(
        p.name
        for p in judge.sources.policies
        if p.events is not None and "local" not in p.events and p.kinds & kinds
    )
    parts = []
    if skipped:
        parts.append(f"approvals were not judged (not run: {', '.join(skipped)})")
    if "ChangeRequest" in kinds:
        parts.append(
            "lead times were counted from spec.requestor.date, not from a pull request's creation"
        )
    if not parts:
        return []
    return [
        "event local: "
        + " and ".join(parts)
        + ": judge them with --event pull_request --context FILE (the pull request, its "
        "reviews and the reviewers' teams)"
    ]
