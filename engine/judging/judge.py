"""One run: the inputs are built first (the workspace, the request context, the instant), then
a :class:`Judge` that nobody changes afterwards judges documents, then reporters report.

``check``, ``test``, ``gate`` and ``record`` all judge through it. What the judge derives (the
inventory, the policies, the approvals, the CEL function library) is computed once, on first
use, from inputs that cannot change under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine import heap, rules
from engine.documents.config import Config
from engine.documents.loader import LoadedFile
from engine.documents.model import KINDS, Document
from engine.findings import Finding, Outcome, Severity
from engine.gitrepo import GitRepo
from engine.judging.targets import Targets
from engine.paths import display_path
from engine.policy.evaluation import Evaluator, evaluator_for
from engine.policy.library import Library
from engine.policy.packs import reader_for
from engine.policy.sources import Sources, folder_reader, load_sources, ref_reader
from engine.policy.waivers import apply as apply_waivers
from engine.request.approvals import ApprovalSet, derive
from engine.request.binding import binding
from engine.request.context import RequestContext
from engine.verdict import Report, Verdict
from engine.workspace.inventory import Inventory, Unread, Workspace

if TYPE_CHECKING:
    from engine.judging.parallel import Shares

CONTEXT_NAME: Final = Path("changegate-context")  # where findings about a built context point


@dataclass(frozen=True)
class Options:
    """What a run was asked to judge and how (the judging flags, in a value)."""

    paths: tuple[Path, ...] = ()
    backend: str | None = None  # CEL runtime (None: $CHANGEGATE_CEL_BACKEND, else the fastest)
    jobs: int | None = None  # worker processes (None: as many as pay off)


@dataclass
class Outcomes(Report):
    """Everything a run decided: the report, and what decision records need besides."""

    targets: list[Document] = field(default_factory=list)
    approvals: ApprovalSet | None = None
    sources: Sources | None = None


class Judge:
    """One run over fixed inputs. Assigning to it is an error: a value that flows through a
    run is passed in, never hung on the judge later."""

    def __init__(
        self,
        workspace: Workspace,
        context: RequestContext,
        now: datetime,
        options: Options = Options(),
        *,
        inventory: Inventory | None = None,
    ) -> None:
        """``inventory``: the workspace already loaded for ``options.paths``, if the caller
        needed it before (it is loaded on first use otherwise)."""
        git = GitRepo.find(workspace.root)
        self.__dict__.update(
            workspace=workspace,
            context=context,
            now=now,
            options=options,
            git=git,
            targets=Targets(workspace, context, options.paths, git),
        )
        if inventory is not None:
            self.__dict__["inventory"] = inventory
        heap.keep(self)  # what it loads and derives is freed with the run, not before

    workspace: Workspace
    context: RequestContext
    now: datetime
    options: Options
    git: GitRepo | None
    targets: Targets

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Judge is fixed once built: pass {name} when building it")

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.git is not None:
            self.git.close()

    @property
    def config(self) -> Config:
        return self.workspace.config

    @cached_property
    def inventory(self) -> Inventory:
        return self.workspace.load(self.options.paths, repository=True)

    @cached_property
    def approvals(self) -> ApprovalSet:
        check = binding(self.context, self.workspace.governed, self.git)
        return derive(self.context, self.config.spec, check)

    # --- policies ---------------------------------------------------------------------------

    def _read_policy_folder(self, origin: str) -> list[LoadedFile]:
        ref = self.workspace.policies_from
        if ref is None:
            return folder_reader(self.workspace.root, self.workspace.boundary)(origin)
        if self.git is None:
            return []
        commit = self.workspace.policies_commit
        return ref_reader(self.git, ref, self.targets.root_prefix, commit)(origin)

    @cached_property
    def sources(self) -> Sources:
        return load_sources(
            self.config.policy_sources,
            read_folder=self._read_policy_folder,
            check=self.workspace.schemas.check,
            zone_name=self.config.timezone,
            read_pack=reader_for(  # shared packs, as the lock of the config's revision pins them
                self.config.policy_sources,
                root=self.workspace.root,
                boundary=self.workspace.boundary,
                ref=self.workspace.policies_from,
                commit=self.workspace.policies_commit,
                git=self.git,
                prefix=self.targets.root_prefix,
            ),
        )

    @cached_property
    def library(self) -> Library:
        """The CEL functions' view of this run: every valid document, the calendar."""
        changed = self.targets.changed_names(self.inventory.documents)
        return Library(
            now=self.now,
            config=self.config,
            documents=self.inventory.valid,
            context=self.context,
            approvals=self.approvals,
            changed=changed,
            unread=self.inventory.unread(),
        )

    @cached_property
    def evaluator(self) -> Evaluator:
        return evaluator_for(
            policies=self.sources.policies,
            config=self.config,
            documents=self.inventory.valid,
            context=self.context,
            approvals=self.approvals,
            now=self.now,
            backend=self.options.backend,
            old_object=self.targets.old_object,
            operation=self.targets.operation,
            library=self.library,
        )

    def rule_docs(self) -> dict[str, str]:
        return rule_docs(self.sources)

    # --- the run ----------------------------------------------------------------------------

    def judge(self, documents: Sequence[Document] | None = None) -> Outcomes:
        """Judge the target documents (or the given ones) and build the verdict."""
        if documents is None:
            shares = self._in_parallel()
            if shares is not None:
                return shares
        targets = self.targets
        inventory = self.inventory
        unjudged: list[Finding] = []
        if documents is None:
            chosen = [d for d in inventory.valid if targets.is_target(d.path)]
            deleted, unjudged = targets.deleted(inventory)
            chosen += deleted + targets.lock_changes()
            findings = [f for f in inventory.findings if targets.is_target(f.path)]
            findings += _elsewhere(inventory.findings, findings)
        else:
            chosen = list(documents)
            judged_paths = {d.path for d in chosen}
            findings = [f for f in inventory.findings if f.path in judged_paths]
        findings += self._context_findings() + unjudged
        evaluated, records = self.evaluator.evaluate(chosen, changed=targets.changed)
        findings += evaluated
        findings = self._waived(
            findings,
            {(d.kind, d.name): d.labels for d in chosen},
            judged_all=targets.judged_all and documents is None,
        )
        verdict = self._verdict(
            findings,
            {r.rule for r in records if r.outcome is not Outcome.SKIP},
            documents=self._judged_count(chosen, given=documents is not None),
            backend=self.evaluator.backend.name,
            files=inventory.files,
        )
        return Outcomes(
            verdict,
            records,
            self.rule_docs(),
            targets=chosen,
            approvals=self.approvals,
            sources=self.sources,
        )

    def _waived(
        self,
        findings: list[Finding],
        labels: dict[tuple[str, str | None], dict[str, str]],
        *,
        judged_all: bool,
    ) -> list[Finding]:
        return apply_waivers(
            findings,
            labels,
            self.sources.waivers,
            now=self.now,
            zone_name=self.config.timezone,
            judged_all=judged_all,
        )

    def _verdict(
        self, findings: list[Finding], ran: set[str], *, documents: int, backend: str, files: int
    ) -> Verdict:
        return Verdict.of(
            event=self.context.event,
            at=self.now,
            findings=findings,
            documents=documents,
            rules=len(ran | {f.rule for f in findings}),
            backend=backend,
            files=files,
        )

    def _in_parallel(self) -> Outcomes | None:
        """The outcome of judging every document on several cores, or None where one process
        is the better choice (a pull request, named documents: the verdict describes them, a
        small repository, policies reading docs)."""
        jobs = self.options.jobs
        if jobs == 1 or not self.targets.judged_all or self.targets.changed_governed:
            return None  # deletions are found and judged in one process
        files = self.workspace.files(repository=True)
        from engine.judging import parallel  # multiprocessing costs ~20 ms to import

        if not parallel.pays(jobs, len(files)):
            return None
        if any(p.uses("docs") for p in self.sources.policies):
            return None  # docs needs every document at hand
        count = parallel.workers(jobs, len(files))
        if count < 2:
            return None
        plan = parallel.Plan(
            workspace=self.workspace,
            is_target=self.targets.is_target,
            evaluator=self._evaluator_over,
        )
        return self._outcome_of_shares(parallel.judge_in_parallel(plan, files, count), len(files))

    def _evaluator_over(self, documents: Sequence[Document], unread: Sequence[Unread]) -> Evaluator:
        """An evaluator over a worker's share and the others' index, told what none read."""
        return evaluator_for(
            policies=self.sources.policies,
            config=self.config,
            documents=documents,
            context=self.context,
            approvals=self.approvals,
            now=self.now,
            backend=self.options.backend,
            old_object=self.targets.old_object,
            unread=unread,
        )

    def _outcome_of_shares(self, shares: Shares, files: int) -> Outcomes:
        is_target = self.targets.is_target
        findings = [f for f in shares.load_findings if is_target(f.path)]
        findings += _elsewhere(shares.load_findings, findings)
        findings += self._context_findings() + shares.findings
        findings = self._waived(findings, shares.labels, judged_all=self.targets.judged_all)
        verdict = self._verdict(
            findings,
            shares.ran,
            documents=shares.judged,
            backend=shares.backend,
            files=files,
        )
        return Outcomes(
            verdict, shares.evaluations, self.rule_docs(), approvals=self.approvals,
            sources=self.sources,
        )  # fmt: skip

    def _judged_count(self, targets: Sequence[Document], *, given: bool) -> int:
        """The documents judged: the targets, and the invalid documents among the target
        files (they were judged by their schema)."""
        if given:
            return len(targets)
        valid = {id(d) for d in self.inventory.valid}
        invalid = sum(
            1
            for d in self.inventory.documents
            if id(d) not in valid and self.targets.is_target(d.path)
        )
        return len(targets) + invalid

    def _context_findings(self) -> list[Finding]:
        pr = self.context.pull_request
        if self.context.event not in {"pull_request", "merge"} or pr is None:
            return []
        where = self.context.source or CONTEXT_NAME
        findings = []
        if pr.changed_files_incomplete:
            findings.append(
                _context_finding(
                    where,
                    "GitHub listed only part of the pull request's changed files (it stops at "
                    "3,000), so changegate cannot know every governed document it changes: "
                    "split the pull request",
                )
            )
        if pr.committers_incomplete:
            findings.append(
                _context_finding(
                    where,
                    "GitHub listed only part of the pull request's commits (it stops at 250), "
                    "so changegate cannot know everyone who may not approve it: split the pull "
                    "request or squash its commits",
                )
            )
        return findings


def _context_finding(path: Path, message: str) -> Finding:
    return Finding(
        rule=rules.INCOMPLETE,
        severity=Severity.DENY,
        outcome=Outcome.FAIL,
        message=message,
        path=path,
        line=1,
        column=1,
    )


def _elsewhere(loaded: Sequence[Finding], kept: Sequence[Finding]) -> list[Finding]:
    """One warning for the problems of files this run does not judge (left out of
    cross-document checks), instead of blocking an unrelated pull request."""
    paths = sorted({f.path for f in loaded} - {f.path for f in kept})
    if not paths:
        return []
    shown = ", ".join(display_path(p) for p in paths[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return [
        Finding(
            rule=rules.ELSEWHERE,
            severity=Severity.WARN,
            outcome=Outcome.FAIL,
            message=f"{len(paths)} other file(s) not judged here have problems and were left "
            f"out of cross-document checks: {shown}{more}; run changegate validate",
            path=paths[0],
            line=1,
            column=1,
        )
    ]


def rule_docs(sources: Sources | None) -> dict[str, str]:
    """What each rule checks, for SARIF help and docs."""
    docs: dict[str, Any] = rules.engine_rules(list(KINDS))
    if sources is not None:
        for policy in sources.policies:
            for rule in policy.rules:
                docs[rule.id] = (rule.description or rule.message or rule.id).strip()
    return docs
