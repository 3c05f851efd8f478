"""Markdown for pull request comments and job summaries (Jinja2), every user text escaped,
always under GitHub's comment size limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TextIO

from engine import __version__
from engine.escaping import markdown as escape_markdown
from engine.escaping import truncate
from engine.findings import Finding, Outcome
from engine.paths import display_path
from engine.reporters.judged import sections
from engine.reporters.text import summary
from engine.resources import bundled
from engine.time.instants import format_instant
from engine.verdict import Report, Verdict

MARKER: Final = "<!-- changegate:verdict -->"
COMMENT_LIMIT: Final = 65_536  # GitHub rejects longer comment bodies
_BUDGET: Final = COMMENT_LIMIT - 2_048  # room for what the Action adds
_RULE_ID: Final = re.compile(r"[^a-z0-9/_-]")
MESSAGE_LIMIT: Final = 1_000


@dataclass(frozen=True)
class Row:
    rule: str
    where: str
    message: str
    outcome: str


def _row(finding: Finding) -> Row:
    """A finding as table cells, escaped once here (the template only places them)."""
    where = f"{display_path(finding.path)}:{finding.line}"
    if finding.name:
        where += f" ({finding.kind} {finding.name})"
    return Row(
        rule=_RULE_ID.sub("", finding.rule.lower()),  # ids go in code spans: keep them plain
        where=escape_markdown(truncate(where, 300)),
        message=escape_markdown(truncate(finding.message, MESSAGE_LIMIT)),
        outcome=str(finding.outcome),
    )


TITLE_LIMIT: Final = 200


def render(
    verdict: Verdict,
    *,
    limit: int = _BUDGET,
    details_url: str | None = None,
    pull_request: tuple[int, str] | None = None,
    marker: str = MARKER,
) -> str:
    """The verdict as markdown of at most ``limit`` characters: the findings that do not fit
    are counted, with a link to ``details_url`` (a URL changegate built, never user text)."""
    import jinja2  # only this format needs it

    environment = jinja2.Environment(  # noqa: S701 - markdown: user text goes through md
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["md"] = escape_markdown
    source = bundled("templates", "markdown", "verdict.md.j2").read_text(encoding="utf-8")
    template = environment.from_string(source)
    findings = list(verdict.findings)
    rows = [_row(f) for f in findings]
    head = escape_markdown(summary(verdict, color=False))
    judged = verdict.extra.get("judged")
    described = len(judged.get("documents") or ()) if isinstance(judged, dict) else 0

    def page(shown: int, documents: int | None = None) -> str:
        documents = described if documents is None else documents
        kept = list(zip(findings[:shown], rows[:shown], strict=True))
        return template.render(
            marker=marker,
            verdict=verdict,
            summary=head,
            failures=[row for f, row in kept if f.denies],
            warnings=[row for f, row in kept if not f.denies and f.outcome is Outcome.FAIL],
            waived=[row for f, row in kept if f.outcome is Outcome.WAIVED],
            hidden=len(findings) - shown,
            gate=verdict.extra.get("gate"),
            judged=sections(judged, documents) if isinstance(judged, dict) else None,
            impact=impact_section(verdict),
            reviews=verdict.event in {"pull_request", "merge", "deploy"},
            details_url=details_url,
            pull_request=(
                (int(pull_request[0]), escape_markdown(truncate(pull_request[1], TITLE_LIMIT)))
                if pull_request
                else None
            ),
            version=__version__,
            at=format_instant(verdict.at),
        )

    # The documents first get at most a third of the room (findings say what blocks), then
    # the findings the most that fit; what does not fit is counted.
    if len(page(0)) > limit // 3:
        described = _most(lambda n: len(page(0, n)) <= limit // 3, described)
    text = page(len(findings))
    if len(text) <= limit:
        return text
    return page(_most(lambda n: len(page(n)) <= limit, len(findings)))


IMPACT_ROWS: Final = 30
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def impact_section(verdict: Verdict) -> dict[str, object] | None:
    """The impact preview as the template shows it, escaped here; at most IMPACT_ROWS rows."""
    from engine.reporters import impact

    found = impact.of(verdict.extra)
    if found is None:
        return None
    listed = list(impact.entries(found))
    rows = [
        Row(
            rule=_RULE_ID.sub("", str(entry["rule"]).lower()),
            where=escape_markdown(truncate(impact.where(entry), 300)),
            message=escape_markdown(truncate(str(entry["message"]), 300)),
            outcome=label,
        )
        for label, entry in listed[:IMPACT_ROWS]
    ]
    text = impact.sentence(found)
    if found.get("error"):
        text += ": " + escape_markdown(truncate(str(found["error"]), MESSAGE_LIMIT))
    return {
        "base": escape_markdown(truncate(str(found["base"]), 100)),
        "sentence": escape_markdown(text[0].upper() + text[1:]) + ".",
        "rows": [
            {"change": r.outcome, "rule": r.rule, "where": r.where, "message": r.message}
            for r in rows
        ],
        "count": len(listed),
        "more": max(0, len(listed) - IMPACT_ROWS),
    }


def impact_markdown(found: dict[str, object]) -> str:
    """``changegate impact --format markdown``: the preview on its own, as the comment has it."""
    section = impact_section(
        Verdict.of(
            event="local", at=_EPOCH, findings=(), documents=0, rules=0, extra={"impact": found}
        )
    )
    assert section is not None  # noqa: S101 - built from an impact just above
    lines = [
        f"### What this change does to the rules (against {section['base']})",
        "",
        str(section["sentence"]),
    ]
    rows = section["rows"]
    if isinstance(rows, list) and rows:
        lines += ["", "| Change | Rule | Document | Message |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {r['change']} | `{r['rule']}` | {r['where']} | {r['message']} |" for r in rows
        ]
    if section["more"]:
        lines += ["", f"_{section['more']} more not listed here: --format json lists every one._"]
    return "\n".join(lines) + "\n"


def _most(fits: Callable[[int], bool], high: int) -> int:
    """The largest n in [0, high] for which ``fits(n)`` holds (0 if none)."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color
    out.write(render(report.verdict))
