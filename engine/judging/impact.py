"""What a change to the rules does, before it lands: every governed document judged under the
base revision's policy set and under the working tree's, at one instant with one context,
and the difference per document and rule.

A policy set is the config, the policies, the waivers, the freeze and change windows and the
packs changegate.lock pins. Everything else (change requests, release plans, incidents) is
the working tree's on both sides, loaded once and shared: only what differs is read twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from engine import rules
from engine.documents.config import CONFIG_FILE
from engine.documents.model import Document
from engine.documents.sourcemap import SourceMap
from engine.errors import ConfigError, UsageError
from engine.findings import Finding, Outcome, Severity
from engine.gitrepo import GitRepo
from engine.judging.change import Change, Facts, base_inventory, change_since, relocated
from engine.judging.judge import Judge, Options, Outcomes
from engine.judging.targets import identity
from engine.paths import display_path, git_top
from engine.policy.evaluation import Evaluator, evaluator_for
from engine.policy.waivers import apply as apply_waivers
from engine.request.context import RequestContext
from engine.workspace.inventory import Inventory, Workspace

_RANK: Final = {"ok": 0, "warn": 1, "deny": 2}


@dataclass(frozen=True)
class Entry:
    """A document and a rule whose outcome the change moves; ``message`` is the finding's on
    the side where the rule fails (the working tree's, or the base's for noLongerDenied)."""

    kind: str
    name: str
    path: Path
    rule: str
    severity: str
    message: str

    def as_json(self, show: Callable[[Path], str]) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "document": {"kind": self.kind, "name": self.name, "path": show(self.path)},
        }


@dataclass(frozen=True)
class Impact:
    base: str
    documents: int
    newly_denied: tuple[Entry, ...] = ()
    no_longer_denied: tuple[Entry, ...] = ()
    newly_warned: tuple[Entry, ...] = ()
    blocked: tuple[Document, ...] = ()  # allowed under the base, denied now
    unblocked: tuple[Document, ...] = ()  # denied under the base, allowed now

    def as_json(self, show: Callable[[Path], str] | None = None) -> dict[str, Any]:
        shown = show or display_path

        def documents(found: Iterable[Document]) -> list[dict[str, Any]]:
            return [{"kind": d.kind, "name": d.name, "path": shown(d.path)} for d in found]

        return {
            "base": self.base,
            "newlyDenied": [e.as_json(shown) for e in self.newly_denied],
            "noLongerDenied": [e.as_json(shown) for e in self.no_longer_denied],
            "newlyWarned": [e.as_json(shown) for e in self.newly_warned],
            "documents": self.documents,
            "newlyBlocked": documents(self.blocked),
            "unblocked": documents(self.unblocked),
        }


def compute(
    base: Workspace,
    head: Workspace,
    context: RequestContext,
    now: datetime,
    *,
    inventory: Inventory,
    change: Change,
    options: Options | None = None,
    selected: Callable[[Path], bool] = lambda _: True,
) -> Impact:
    """Judge the documents ``selected`` picks (all by default) under both policy sets."""
    options = replace(options or Options(), paths=())
    before = Judge(base, context, now, options, inventory=base_inventory(inventory, change, base))
    after = Judge(head, context, now, options, inventory=inventory)
    with before, after:
        documents = [d for d in inventory.valid if selected(d.path)]
        present = {identity(d) for d in documents}
        base_documents = [
            d for d in before.inventory.valid if selected(d.path) and identity(d) in present
        ]
        facts = Facts(before.targets, frozenset(base.root / p for p in change.paths))
        from engine.judging import parallel  # multiprocessing costs ~20 ms to import

        count = parallel.workers(options.jobs, len(documents))
        old = _states_of(before, _evaluator(before, before, facts), base_documents, facts, count)
        new = _states_of(after, _evaluator(after, before, facts), documents, facts, count)
    return _difference(change.ref, documents, old, new)


def _states_of(
    judge: Judge, evaluator: Evaluator, documents: Sequence[Document], facts: Facts, count: int
) -> State:
    """:func:`_states`, on ``count`` processes when that pays: the documents are loaded and
    the evaluator built here, so the workers share them and send back only their states (a
    document's states are its own: the shares' never meet)."""
    if count < 2:
        return _states(judge, evaluator, documents, facts)
    from engine.judging import parallel

    merged: State = {}
    for part in parallel.in_processes(
        lambda share: _states(judge, evaluator, share, facts), documents, count
    ):
        merged.update(part)
    return merged


def _evaluator(judge: Judge, base: Judge, facts: Facts) -> Evaluator:
    """The evaluator of ``judge``'s policy set, with what the change did to each document
    (``oldObject``, the operation) from ``facts`` and the approvals of ``base``: one base
    revision and one context for both sides."""
    return evaluator_for(
        policies=judge.sources.policies,
        config=judge.config,
        documents=judge.inventory.valid,
        context=judge.context,
        approvals=base.approvals,
        now=judge.now,
        backend=judge.options.backend,
        old_object=facts.old_object,
        operation=facts.operation,
        library=judge.library,
    )


State = dict[tuple[tuple[str, str], str], tuple[str, Finding]]


def _states(
    judge: Judge, evaluator: Evaluator, documents: Sequence[Document], facts: Facts
) -> State:
    """(document, rule) -> its worst state (deny, warn) and the finding saying so. An entry
    names no line, so findings here skip finding theirs (it would re-read each file)."""
    unplaced = [relocated(d, source=SourceMap(d.source.root, {})) for d in documents]
    findings, _ = evaluator.evaluate(unplaced, changed=facts.targets.changed)
    findings = apply_waivers(
        findings,
        {(d.kind, d.name): d.labels for d in documents},
        judge.sources.waivers,
        now=judge.now,
        zone_name=judge.config.timezone,
        judged_all=False,
    )
    states: State = {}
    for finding in findings:
        state = _state(finding)
        if state == "ok" or finding.kind is None:
            continue
        key = ((finding.kind, (finding.name or "").casefold()), finding.rule)
        if key not in states or _RANK[state] > _RANK[states[key][0]]:
            states[key] = (state, finding)
    return states


def _state(finding: Finding) -> str:
    if finding.denies:
        return "deny"
    if finding.outcome is Outcome.FAIL and finding.severity is Severity.WARN:
        return "warn"
    return "ok"


def _difference(ref: str, documents: Sequence[Document], old: State, new: State) -> Impact:
    by_identity = {identity(d): d for d in documents}
    lists: dict[str, list[Entry]] = {"denied": [], "cleared": [], "warned": []}
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1])):
        document = by_identity.get(key[0])
        if document is None:
            continue
        before = old.get(key, ("ok", None))[0]
        after, finding = new.get(key, ("ok", None))
        if after == "deny" and before != "deny":
            lists["denied"].append(_entry(document, key[1], finding))
        elif before == "deny" and after != "deny":
            lists["cleared"].append(_entry(document, key[1], old[key][1]))
        elif after == "warn" and before == "ok":
            lists["warned"].append(_entry(document, key[1], finding))
    denied_before = {k[0] for k, (s, _) in old.items() if s == "deny"}
    denied_after = {k[0] for k, (s, _) in new.items() if s == "deny"}

    def ordered(found: Iterable[tuple[str, str]]) -> tuple[Document, ...]:
        chosen = [by_identity[i] for i in found if i in by_identity]
        return tuple(sorted(chosen, key=_document_order))

    return Impact(
        base=ref,
        documents=len(documents),
        newly_denied=tuple(sorted(lists["denied"], key=_entry_order)),
        no_longer_denied=tuple(sorted(lists["cleared"], key=_entry_order)),
        newly_warned=tuple(sorted(lists["warned"], key=_entry_order)),
        blocked=ordered(denied_after - denied_before),
        unblocked=ordered(denied_before - denied_after),
    )


def _entry(document: Document, rule: str, finding: Finding | None) -> Entry:
    return Entry(
        kind=document.kind,
        name=document.name or "",
        path=document.path,
        rule=rule,
        severity=str(finding.severity) if finding is not None else "deny",
        message=finding.message if finding is not None else "",
    )


def _entry_order(entry: Entry) -> tuple[str, str, str, str]:
    return (entry.path.as_posix(), entry.kind, entry.name, entry.rule)


def _document_order(document: Document) -> tuple[str, str, str]:
    return (document.path.as_posix(), document.kind, document.name or "")


def preview(judge: Judge, outcomes: Outcomes, *, config_file: Path | None = None) -> Outcomes:
    """``outcomes`` with the impact of the change in its verdict, when the judge reads its
    policy set from a base revision (``--policies-from``) and the change touches the rules.

    A policy set the change leaves unloadable is a deny finding: every run after the merge
    would stop with exit 2."""
    ref = judge.workspace.policies_from
    if ref is None or judge.git is None:
        return outcomes
    if config_file is None and judge.targets.leaves_rules_alone(judge.inventory):
        return outcomes  # a pull request's changed files tell, without asking git
    change = change_since(judge.workspace, judge.git, judge.targets.root_prefix)
    if not change.touches_rules(judge.inventory, judge.workspace.root):
        return outcomes
    extra: list[Finding] = []
    try:
        head = Workspace.open(repo=judge.workspace.root, config_file=config_file)
        found = compute(
            judge.workspace,
            head,
            judge.context,
            judge.now,
            inventory=judge.inventory,
            change=change,
            options=judge.options,
        ).as_json()
    except ConfigError as error:
        found = {**Impact(ref, 0).as_json(), "error": str(error)}
        extra.append(_unloadable(judge.workspace.root / CONFIG_FILE, str(error)))
    verdict = outcomes.verdict
    findings = sorted([*verdict.findings, *extra], key=lambda f: f.sort_key)
    return replace(
        outcomes,
        verdict=replace(
            verdict, findings=tuple(findings), extra={**verdict.extra, "impact": found}
        ),
    )


def _unloadable(path: Path, error: str) -> Finding:
    return Finding(
        rule=rules.INVALID_POLICIES,
        severity=Severity.DENY,
        outcome=Outcome.FAIL,
        message="the config, policies, waivers or pack lock this change leaves cannot be "
        f"loaded, so every run after its merge would stop with exit 2: {error}",
        path=path,
        line=1,
        column=1,
    )


def standalone(
    base: Workspace,
    head: Workspace,
    context: RequestContext,
    now: datetime,
    *,
    paths: Sequence[Path] = (),
    options: Options | None = None,
) -> Impact:
    """``changegate impact``: the impact whether or not the change touches the rules, on the
    documents ``paths`` name (all by default)."""
    git = GitRepo.find(base.root)
    if git is None or base.policies_from is None:
        raise UsageError(f"changegate impact compares with a git ref: {base.root} is not in git")
    try:
        top = git_top(base.root) or base.root
        inner = base.root.relative_to(top).as_posix()
        change = change_since(base, git, "" if inner == "." else inner + "/")
    finally:
        git.close()
    inventory = base.load((), repository=True)
    named = frozenset(base.named(base.explicit(paths))) if base.explicit(paths) else None
    return compute(
        base,
        head,
        context,
        now,
        inventory=inventory,
        change=change,
        options=options,
        selected=lambda path: named is None or path in named,
    )
