"""The check pipeline: workspace -> documents -> context and approvals -> policies -> verdict.

``check``, ``test``, ``gate`` and ``record`` all judge through :class:`Judge`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from engine import cel
from engine.documents.config import Config
from engine.documents.loader import LoadedFile, load_bytes
from engine.documents.model import KINDS, Document, identify
from engine.errors import ConfigError
from engine.findings import Finding, Outcome, Severity
from engine.globs import match_path
from engine.paths import absolute, display_path, inner_folder
from engine.policy.evaluation import UNMATCHED_RULE, Constants, Evaluator
from engine.policy.library import Library
from engine.policy.sources import Policy, Sources, compile_policies, folder_reader, load_sources
from engine.policy.waivers import apply as apply_waivers
from engine.request import approvals as approvals_module
from engine.request.approvals import ApprovalSet
from engine.request.context import RequestContext, load_context
from engine.verdict import Report, Verdict
from engine.workspace.inventory import Inventory, Workspace

if TYPE_CHECKING:
    from engine.judging.parallel import Shares

INCOMPLETE_RULE: Final = "changegate/incomplete-context"
PARALLEL_FROM: Final = 2_000  # files; below this, starting processes costs more than it saves
OTHERS_RULE: Final = "changegate/invalid-elsewhere"
DELETED_RULE: Final = "changegate/unjudged-deletion"

# Rules the engine itself reports, with what they mean (SARIF help, docs).
STANDARD_RULES: Final = {
    "yaml/parse": "The file can be read as YAML: UTF-8, well formed, within limits, no "
    "duplicate keys, merge keys or custom tags.",
    "schema/envelope": "The document is a changegate document: a mapping with apiVersion "
    "changegate/v1, a known kind, metadata.name and spec.",
    UNMATCHED_RULE: "Every changed governed document is judged by at least one policy rule.",
    INCOMPLETE_RULE: "The request context is complete enough to decide.",
    OTHERS_RULE: "Documents outside this run are valid, so cross-document checks see them.",
    DELETED_RULE: "A governed file a pull request deletes can be read at the base revision, "
    "so that its deletion is judged.",
    "waiver/expired": "Waivers are removed or renewed when they expire.",
    "waiver/unused": "Waivers still match a failing finding.",
}

CEL_VARIABLES: Final = {
    "object": cel.CelType.DYN,  # null for a document the pull request deletes
    "oldObject": cel.CelType.DYN,
    "docs": cel.CelType.MAP,
    "request": cel.CelType.MAP,
    "approvals": cel.CelType.LIST,
    "checks": cel.CelType.MAP,
    "config": cel.CelType.MAP,
    "variables": cel.CelType.MAP,
}


@dataclass(frozen=True)
class Options:
    """What a run was asked to do (the command-line flags, in a value)."""

    now: datetime
    repo: Path | None = None
    config_file: Path | None = None
    paths: tuple[Path, ...] = ()
    event: str | None = None
    context_file: Path | None = None
    policies_from: str | None = None
    backend: str | None = None
    jobs: int | None = None  # worker processes (None: as many as pay off)


@dataclass
class Outcomes(Report):
    """Everything a run decided: the report, and what decision records need besides."""

    targets: list[Document] = field(default_factory=list)
    approvals: ApprovalSet | None = None
    sources: Sources | None = None


class Judge:
    """One run: reads the clock-free inputs once, then judges documents."""

    def __init__(self, options: Options, context: RequestContext | None = None) -> None:
        self.options = options
        self.workspace = Workspace.open(
            repo=options.repo,
            config_file=options.config_file,
            paths=options.paths,
            config_ref=options.policies_from,
        )
        schemas = self.workspace.schemas
        if context is None:
            if options.context_file is not None:
                context = load_context(options.context_file, schemas.context_errors)
            else:
                context = RequestContext()
        self.context = context.with_event(options.event)

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if "git" in self.__dict__ and self.git is not None:
            self.git.close()

    @property
    def config(self) -> Config:
        return self.workspace.config

    @property
    def now(self) -> datetime:
        return self.options.now

    @cached_property
    def git(self) -> Any:
        from engine.gitrepo import GitRepo

        return GitRepo.find(self.workspace.root)

    @cached_property
    def inventory(self) -> Inventory:
        return self.workspace.load(self.options.paths, repository=True)

    @cached_property
    def git_root(self) -> Path | None:
        """The top of the git working tree, found without starting git."""
        for folder in (self.workspace.root, *self.workspace.root.parents):
            if (folder / ".git").exists():
                return folder
        return None

    def relative(self, path: Path) -> str:
        """A path relative to the git root (what pull requests list), else to the repo root."""
        if self.git_root is not None:
            try:
                return absolute(path).relative_to(self.git_root).as_posix()
            except ValueError:
                pass
        return self.root_relative(path)

    def root_relative(self, path: Path) -> str:
        try:
            return absolute(path).relative_to(self.workspace.root).as_posix()
        except ValueError:
            return path.as_posix()

    def in_pull_request(self, path: Path) -> bool:
        """Whether the pull request changes ``path``. Its paths are relative to the git root;
        relative to the changegate root is accepted too (the same when they coincide), so a
        context written for a repository in a subfolder still matches."""
        changed = self.changed_paths or frozenset()
        return self.relative(path) in changed or self.root_relative(path) in changed

    # --- which documents are judged ----------------------------------------------------------

    @cached_property
    def changed_paths(self) -> frozenset[str] | None:
        pr = self.context.pull_request
        if self.context.event not in {"pull_request", "merge"} or pr is None:
            return None
        if pr.changed_files is None:
            return None
        return frozenset(pr.changed_files)

    @cached_property
    def explicit_paths(self) -> tuple[Path, ...]:
        return self.workspace.explicit(self.options.paths)

    @cached_property
    def named(self) -> frozenset[Path]:
        """The files the paths name (when they name less than the repository)."""
        if not self.explicit_paths:
            return frozenset()
        return frozenset(self.workspace.named(self.explicit_paths))

    def is_target_path(self, path: Path) -> bool:
        if self.explicit_paths:
            return absolute(path) in self.named
        if self.changed_paths is not None:
            return self.in_pull_request(path)
        return True

    @cached_property
    def judged_all(self) -> bool:
        return not self.explicit_paths and self.changed_paths is None

    # --- approvals ---------------------------------------------------------------------------

    def governed(self, relative: str) -> bool:
        config = self.config
        return any(match_path(p, relative) for p in config.include) and not any(
            match_path(p, relative) for p in config.exclude
        )

    def _binding(self, commit: str) -> str | None:
        pr = self.context.pull_request
        head = pr.head_sha if pr else None
        if head is None:
            return "the request context names no head commit to bind the review to"
        if head.startswith(commit) or commit.startswith(head):
            return None
        short = commit[:7]
        if pr is None or pr.changed_files is None:
            return f"it is on {short}, not the head, and the changed files are unknown"
        if self.git is None:
            return f"it is on {short}, not the head, and there is no git history to compare"
        for sha in (commit, head):
            if not self.git.has_commit(sha):
                return (
                    f"commit {sha[:7]} is not in this clone, so changes since the review cannot "
                    "be ruled out (check out the full history: fetch-depth: 0)"
                )
        for path in sorted(pr.changed_files):
            if not self.governed(path):
                continue
            if _normalised(self.git.read(commit, path), path) != _normalised(
                self.git.read(head, path), path
            ):
                return f"{path} changed after the review (on {short})"
        return None

    @cached_property
    def approvals(self) -> ApprovalSet:
        return approvals_module.derive(self.context, self.config.spec, self._binding)

    # --- policies ----------------------------------------------------------------------------

    def _read_policy_folder(self, origin: str) -> list[LoadedFile]:
        ref = self.options.policies_from
        if ref is None:
            return folder_reader(self.workspace.root, self.workspace.boundary)(origin)
        if self.git is None:
            return []
        sha = self.git.resolve(ref)
        relative = inner_folder(origin)
        if relative is None:
            raise ConfigError(
                f"policy source {origin!r} in changegate.yaml is not a folder inside the "
                "repository: write a path from the repository's root, such as ./policies"
            )
        folder = (self._root_prefix + relative).rstrip("/")
        return [
            load_bytes(data, Path(f"{ref}:{path}"))
            for path in sorted(self.git.files(sha, folder))
            if path.endswith((".yaml", ".yml")) and (data := self.git.read(sha, path)) is not None
        ]

    @cached_property
    def sources(self) -> Sources:
        schemas = self.workspace.schemas
        return load_sources(
            self.config.policy_sources,
            read_folder=self._read_policy_folder,
            check=schemas.check,
            zone_name=self.config.timezone,
        )

    @cached_property
    def library(self) -> Library:
        """The CEL functions' view of this run: every valid document, the calendar."""
        changed = None
        if self.changed_paths is not None:
            changed = frozenset(
                (d.kind, d.name or "")
                for d in self.inventory.documents
                if self.in_pull_request(d.path)
            )
        return Library(
            now=self.now,
            config=self.config,
            documents=self.inventory.valid,
            context=self.context,
            approvals=self.approvals,
            changed=changed,
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
            old_object=self.old_object,
            operation=self.operation,
            library=self.library,
        )

    @cached_property
    def base_revision(self) -> str | None:
        """The commit a pull request is compared with (``--policies-from``, else the context's
        base), when the clone has it."""
        pr = self.context.pull_request
        base = self.options.policies_from or (pr.base_sha if pr else None)
        if base is None or self.git is None or not self.git.has_commit(base):
            return None
        return str(self.git.resolve(base))

    def _base_documents(self, relative: str) -> list[Document]:
        """The documents of ``relative`` (from the git root) at the base revision."""
        base = self.base_revision
        if base is None or self.git is None:
            return []
        data = self.git.read(base, relative)
        if data is None:
            return []
        documents, _ = identify(load_bytes(data, Path(relative)))
        return documents

    @cached_property
    def _base_index(self) -> dict[tuple[str, str], Document]:
        """(kind, folded name) -> the base version of each document the pull request changes,
        so that a moved document is an update, not a deletion and a creation."""
        index: dict[tuple[str, str], Document] = {}
        for git_path, _ in self._changed_governed:
            for document in self._base_documents(git_path):
                if document.name is not None:
                    index.setdefault(_key(document), document)
        return index

    def old_object(self, document: Document) -> Any:
        """The document as it is at the base revision (``oldObject``), or None."""
        if document.deleted:
            return document.body
        if self.changed_paths is not None and self.in_pull_request(document.path):
            found = self._base_index.get(_key(document))
            return found.body if found is not None else None
        relative = self.git.relative(document.path) if self.git is not None else None
        if relative is None:
            return None
        for old in self._base_documents(relative):
            if _key(old) == _key(document):
                return old.body
        return None

    def operation(self, document: Document) -> str:
        """What the pull request does to ``document``: create, update or delete; unknown
        without a base revision to compare with."""
        if document.deleted:
            return "delete"
        if self.base_revision is None:
            return "unknown"
        return "create" if self.old_object(document) is None else "update"

    @cached_property
    def _changed_governed(self) -> list[tuple[str, str]]:
        """(path from the git root, path from changegate's root) of every governed file the
        pull request changes."""
        found = []
        prefix = self._root_prefix
        for path in sorted(self.changed_paths or ()):
            if prefix and path.startswith(prefix):
                local = path[len(prefix) :]
            elif prefix and self.governed(path):
                local, path = path, prefix + path  # written relative to changegate's root
            else:
                local = path
            if self.governed(local):
                found.append((path, local))
        return found

    @cached_property
    def _root_prefix(self) -> str:
        """changegate's root from the git root, with a trailing slash ('' when they are one)."""
        if self.git_root is None:
            return ""
        try:
            inner = self.workspace.root.relative_to(self.git_root).as_posix()
        except ValueError:
            return ""
        return "" if inner == "." else inner + "/"

    @cached_property
    def deleted(self) -> tuple[list[Document], list[Finding]]:
        """The documents the pull request deletes (judged with ``object`` null), and a finding
        for each changed governed file that is gone when there is no base to read it from."""
        if not self._changed_governed:
            return [], []
        present = {_key(d) for d in self.inventory.documents if d.name is not None}
        documents: list[Document] = []
        findings: list[Finding] = []
        for git_path, local in self._changed_governed:
            path = self.workspace.root / local
            if self.base_revision is None:
                if not path.exists() and not path.is_symlink():
                    findings.append(_unknown_base(path))
                continue
            for old in self._base_documents(git_path):
                if old.name is not None and _key(old) not in present:
                    documents.append(replace(old, path=path, deleted=True))
        return documents, findings

    # --- the run -----------------------------------------------------------------------------

    def judge(self, documents: Sequence[Document] | None = None) -> Outcomes:
        """Judge the target documents (or the given ones) and build the verdict."""
        if documents is None:
            files = self.workspace.files(self.explicit_paths, repository=True)
            if self.options.jobs not in {None, 1} or len(files) >= PARALLEL_FROM:
                from engine.judging import parallel  # multiprocessing costs ~20 ms to import

                count = parallel.workers(self, len(files))
                if count > 1:
                    shares = parallel.judge_in_parallel(self, files, count)
                    return self._outcome_of_shares(shares, len(files))
        inventory = self.inventory
        if documents is None:
            targets = [d for d in inventory.valid if self.is_target_path(d.path)]
            deleted, unjudged = self.deleted
            targets += deleted
        else:
            targets, unjudged = list(documents), []
        target_paths = {d.path for d in targets}
        findings: list[Finding] = [
            f
            for f in inventory.findings
            if f.path in target_paths or (documents is None and self.is_target_path(f.path))
        ]
        elsewhere = {f.path for f in inventory.findings} - {f.path for f in findings}
        if elsewhere and documents is None:
            findings.append(_elsewhere(sorted(elsewhere)))
        findings.extend(self._context_findings())
        findings.extend(unjudged)
        evaluated, records = self.evaluator.evaluate(targets, changed=self._changed)
        findings.extend(evaluated)
        findings = apply_waivers(
            findings,
            {(d.kind, d.name): d.labels for d in targets},
            self.sources.waivers,
            now=self.now,
            zone_name=self.config.timezone,
            judged_all=self.judged_all and documents is None,
        )
        rules = {r.rule for r in records if r.outcome is not Outcome.SKIP}
        rules |= {f.rule for f in findings}
        verdict = Verdict.of(
            event=self.context.event,
            at=self.now,
            findings=findings,
            documents=self._judged_count(targets, given=documents is not None),
            rules=len(rules),
            backend=self.evaluator.backend.name,
            files=inventory.files,
        )
        return Outcomes(
            verdict,
            records,
            self.rule_docs(),
            targets=targets,
            approvals=self.approvals,
            sources=self.sources,
        )

    def rule_docs(self) -> dict[str, str]:
        return rule_docs(self.sources)

    def _outcome_of_shares(self, shares: Shares, files: int) -> Outcomes:
        findings = [f for f in shares.load_findings if self.is_target_path(f.path)]
        elsewhere = {f.path for f in shares.load_findings} - {f.path for f in findings}
        if elsewhere:
            findings.append(_elsewhere(sorted(elsewhere)))
        findings.extend(self._context_findings())
        findings.extend(shares.findings)
        findings = apply_waivers(
            findings,
            shares.labels,
            self.sources.waivers,
            now=self.now,
            zone_name=self.config.timezone,
            judged_all=self.judged_all,
        )
        rules = {e.rule for e in shares.evaluations if e.outcome is not Outcome.SKIP}
        rules |= {f.rule for f in findings}
        verdict = Verdict.of(
            event=self.context.event,
            at=self.now,
            findings=findings,
            documents=shares.judged,
            rules=len(rules),
            backend=shares.backend,
            files=files,
        )
        return Outcomes(
            verdict,
            shares.evaluations,
            self.rule_docs(),
            approvals=self.approvals,
            sources=self.sources,
        )

    def _judged_count(self, targets: Sequence[Document], *, given: bool) -> int:
        """The documents judged: the targets, and the invalid documents among the target
        files (they were judged by their schema)."""
        if given:
            return len(targets)
        valid = {id(d) for d in self.inventory.valid}
        invalid = sum(
            1
            for d in self.inventory.documents
            if id(d) not in valid and self.is_target_path(d.path)
        )
        return len(targets) + invalid

    def _changed(self, document: Document) -> bool:
        return document.deleted or (
            self.changed_paths is not None and self.in_pull_request(document.path)
        )

    def _context_findings(self) -> list[Finding]:
        pr = self.context.pull_request
        if self.context.event not in {"pull_request", "merge"} or pr is None:
            return []
        where = self.options.context_file or Path("changegate-context")
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


def evaluator_for(
    *,
    policies: Sequence[Policy],
    config: Config,
    documents: Sequence[Document],
    context: RequestContext,
    approvals: ApprovalSet,
    now: datetime,
    backend: str | None,
    changed: frozenset[tuple[str, str]] | None = None,
    old_object: Callable[[Document], Any] = lambda document: None,
    operation: Callable[[Document], str] | None = None,
    library: Library | None = None,
) -> Evaluator:
    """An evaluator over these documents: the CEL functions see exactly them."""
    if library is None:
        library = Library(
            now=now,
            config=config,
            documents=documents,
            context=context,
            approvals=approvals,
            changed=changed,
        )
    runtime = cel.create(backend, CEL_VARIABLES, library.functions())

    def docs() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for document in documents:
            out.setdefault(document.kind, {})[document.name or ""] = document.body
        return out

    constants = Constants(
        request=context.request(now),
        approvals=[a.as_cel() for a in approvals.approvals],
        checks=dict(context.checks),
        config=config.spec,
    )
    return Evaluator(
        compile_policies(policies, runtime),
        runtime,
        constants,
        now=now,
        docs=docs,
        old_object=old_object,
        operation=operation,
    )


def _context_finding(path: Path, message: str) -> Finding:
    return Finding(
        rule=INCOMPLETE_RULE,
        severity=Severity.DENY,
        outcome=Outcome.FAIL,
        message=message,
        path=path,
        line=1,
        column=1,
    )


def _elsewhere(paths: list[Path]) -> Finding:
    shown = ", ".join(display_path(p) for p in paths[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return Finding(
        rule=OTHERS_RULE,
        severity=Severity.WARN,
        outcome=Outcome.FAIL,
        message=f"{len(paths)} other file(s) not judged here have problems and were left out "
        f"of cross-document checks: {shown}{more}; run changegate validate",
        path=paths[0],
        line=1,
        column=1,
    )


def _key(document: Document) -> tuple[str, str]:
    """A document's identity: names are unique per kind, whatever their case."""
    return (document.kind, (document.name or "").casefold())


def _unknown_base(path: Path) -> Finding:
    return Finding(
        rule=DELETED_RULE,
        severity=Severity.DENY,
        outcome=Outcome.FAIL,
        message=f"the pull request changes {display_path(path)}, which is not in the working "
        "tree, and there is no base revision to read it from, so its deletion cannot be "
        "judged: pass --policies-from BASE (or a context with pullRequest.baseSha) in a clone "
        "that holds the base commit",
        path=path,
        line=1,
        column=1,
    )


def _normalised(data: bytes | None, path: str) -> str | None:
    """A file's governed content, ignoring formatting and comments: its documents as canonical
    JSON. Unparsable files compare by their bytes."""
    if data is None:
        return None
    loaded = load_bytes(data, Path(path))
    if loaded.problems:
        return data.hex()
    return json.dumps([d.data for d in loaded.documents], sort_keys=True, default=str)


def rule_docs(sources: Sources | None) -> dict[str, str]:
    """What each rule checks, for SARIF help and docs."""
    docs = dict(STANDARD_RULES)
    for kind in KINDS:
        docs[f"schema/{kind}"] = f"The {kind} matches its JSON Schema and is consistent."
    if sources is not None:
        for policy in sources.policies:
            for rule in policy.rules:
                docs[rule.id] = (rule.description or rule.message).strip()
    return docs
