"""Which documents a run judges, and what a pull request did to each of them.

A run judges the files given as paths; else, on a pull request or merge whose context lists
its changed files, the governed documents among them and those it deletes; else every
document. What a pull request did to a document (create, update, delete) is found by reading
the base revision (``--policies-from``, else the context's base commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from engine import rules
from engine.documents.loader import load_bytes
from engine.documents.model import Document, identify
from engine.findings import Finding, Outcome, Severity
from engine.gitrepo import GitRepo
from engine.paths import absolute, display_path, git_top
from engine.policy.lock import LOCK_FILE, LOCK_KIND, Lock, lock_document
from engine.policy.packs import read_lock, read_lock_at
from engine.request.context import RequestContext
from engine.workspace.inventory import Inventory, Workspace

PULL_EVENTS: Final = frozenset({"pull_request", "merge"})


def identity(document: Document) -> tuple[str, str]:
    """A document's identity: names are unique per kind, whatever their case."""
    return (document.kind, (document.name or "").casefold())


class Targets:
    def __init__(
        self,
        workspace: Workspace,
        context: RequestContext,
        paths: tuple[Path, ...],
        git: GitRepo | None,
    ) -> None:
        self.workspace = workspace
        self.context = context
        self.paths = paths
        self.git = git

    # --- paths ------------------------------------------------------------------------------

    @cached_property
    def git_root(self) -> Path | None:
        return git_top(self.workspace.root)

    @cached_property
    def root_prefix(self) -> str:
        """changegate's root from the git root, with a trailing slash ('' when they are one)."""
        if self.git_root is None:
            return ""
        inner = self.workspace.root.relative_to(self.git_root).as_posix()
        return "" if inner == "." else inner + "/"

    @cached_property
    def changed_files(self) -> frozenset[Path]:
        """The files the pull request changes, as the paths discovery gives: its paths are
        relative to the git root; relative to changegate's root is accepted too (the same
        when they coincide), so a context written for a repository in a subfolder matches."""
        root = self.workspace.root
        found = {root / p for p in self.changed_paths or ()}
        if self.git_root is not None:
            found.update(self.git_root / p for p in self.changed_paths or ())
        return frozenset(found)

    def in_pull_request(self, path: Path) -> bool:
        """Whether the pull request changes ``path`` (an absolute path, as discovery gives)."""
        return path in self.changed_files

    # --- which documents are judged ---------------------------------------------------------

    @cached_property
    def changed_paths(self) -> frozenset[str] | None:
        pr = self.context.pull_request
        if self.context.event not in PULL_EVENTS or pr is None or pr.changed_files is None:
            return None
        return frozenset(pr.changed_files)

    @cached_property
    def explicit(self) -> tuple[Path, ...]:
        return self.workspace.explicit(self.paths)

    @cached_property
    def named(self) -> frozenset[Path]:
        """The files the paths name (when they name less than the repository)."""
        if not self.explicit:
            return frozenset()
        return frozenset(self.workspace.named(self.explicit))

    def is_target(self, path: Path) -> bool:
        if self.explicit:
            return path in self.named
        if self.changed_paths is not None:
            return path in self.changed_files
        return True

    @property
    def judged_all(self) -> bool:
        return not self.explicit and self.changed_paths is None

    def changed(self, document: Document) -> bool:
        """Whether the pull request changes the document (an unjudged one is then reported)."""
        return document.deleted or (
            self.changed_paths is not None and self.in_pull_request(document.path)
        )

    # --- the base revision ------------------------------------------------------------------

    @cached_property
    def base_revision(self) -> str | None:
        """The commit a pull request is compared with (``--policies-from``, else the context's
        base), when the clone has it."""
        if self.workspace.policies_commit is not None:
            return self.workspace.policies_commit  # resolved when the run began
        pr = self.context.pull_request
        base = self.workspace.policies_from or (pr.base_sha if pr else None)
        if base is None or self.git is None or not self.git.has_commit(base):
            return None
        return self.git.resolve(base)

    def base_documents(self, relative: str) -> list[Document]:
        """The documents of ``relative`` (from the git root) at the base revision."""
        if self.base_revision is None or self.git is None:
            return []
        data = self.git.read(self.base_revision, relative)
        if data is None:
            return []
        return identify(load_bytes(data, Path(relative)))[0]

    @cached_property
    def _base_index(self) -> dict[tuple[str, str], Document]:
        """(kind, folded name) -> the base version of each document the pull request changes,
        so that a moved document is an update, not a deletion and a creation."""
        index: dict[tuple[str, str], Document] = {}
        for git_path, _ in self.changed_governed:
            for document in self.base_documents(git_path):
                if document.name is not None:
                    index.setdefault(identity(document), document)
        return index

    @cached_property
    def _same_as_base(self) -> frozenset[str]:
        """Paths (from the git root) whose file the base revision has as the working tree
        does: their documents' oldObject is themselves, read from neither git nor disk."""
        if self.base_revision is None or self.git is None:
            return frozenset()
        changed = self.git.changed_since(self.base_revision)
        return frozenset(p for p in self.git.files(self.base_revision) if p not in changed)

    def changed_names(self, documents: Sequence[Document]) -> frozenset[tuple[str, str]] | None:
        """(kind, name) of the documents the pull request changes; None outside one."""
        if self.changed_paths is None:
            return None
        return frozenset((d.kind, d.name or "") for d in documents if self.in_pull_request(d.path))

    def old_object(self, document: Document) -> Any:
        """The document as it is at the base revision (``oldObject``), or None."""
        if document.deleted:
            return document.body
        if document.kind == LOCK_KIND:
            base = self._base_lock
            return lock_document(base, document.path).body if base is not None else None
        if self.changed_paths is not None and self.in_pull_request(document.path):
            found = self._base_index.get(identity(document))
            return found.body if found is not None else None
        if self.base_revision is None:
            return None  # nothing to compare with: no path need be worked out
        relative = self.git.relative(document.path) if self.git is not None else None
        if relative is None:
            return None
        if relative in self._same_as_base:
            return document.body  # the base has the same file: the same document
        for old in self.base_documents(relative):
            if identity(old) == identity(document):
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

    # --- changegate.lock ----------------------------------------------------------------------

    @cached_property
    def _base_lock(self) -> Lock | None:
        if self.base_revision is None or self.git is None:
            return None
        return read_lock_at(self.git, self.base_revision, self.root_prefix)

    def lock_changes(self) -> list[Document]:
        """changegate.lock as a document of kind PolicyLock, when the pull request changes it
        (or deletes it): it pins shared policy packs, so governance judges it like a policy."""
        if self.changed_paths is None or not {self.root_prefix + LOCK_FILE, LOCK_FILE} & (
            self.changed_paths
        ):
            return []
        path = self.workspace.root / LOCK_FILE
        current = read_lock(self.workspace.root, self.workspace.boundary)
        if current is not None:
            return [lock_document(current, path)]
        base = self._base_lock
        return [] if base is None else [lock_document(base, path, deleted=True)]

    def leaves_rules_alone(self, inventory: Inventory) -> bool:
        """Whether the pull request's listed changed files (a complete list) touch no Policy,
        Waiver, Config, window or changegate.lock, as they are now or at the base: then
        nothing can have changed what the rules decide (False: it does, or it cannot tell)."""
        pr = self.context.pull_request
        if self.changed_paths is None or pr is None or pr.changed_files_incomplete:
            return False
        if self.lock_changes() or self.base_revision is None:
            return False
        for git_path, local in self.changed_governed:
            path = self.workspace.root / local
            now = [d for d in inventory.documents if d.path == path]
            if any(d.kind in GOVERNING for d in (*now, *self.base_documents(git_path))):
                return False
            if any(f.path == path for f in inventory.findings):
                return False  # what the file holds cannot be told
        return True

    # --- deletions --------------------------------------------------------------------------

    @cached_property
    def changed_governed(self) -> list[tuple[str, str]]:
        """(path from the git root, path from changegate's root) of every governed file the
        pull request changes."""
        found = []
        prefix = self.root_prefix
        governed = self.workspace.governed
        changed = self.changed_paths
        for path in sorted(changed if changed is not None else self._changed_by_git()):
            if prefix and path.startswith(prefix):
                local = path[len(prefix) :]
            elif prefix and governed(path):
                local, path = path, prefix + path  # written relative to changegate's root
            else:
                local = path
            if governed(local):
                found.append((path, local))
        return found

    def _changed_by_git(self) -> frozenset[str]:
        """A pull request whose context lists no changed files: what git says the working tree
        changes against the base revision, so that a document it deletes is still judged as
        deleted (a hand-written context outside GitHub often lists none). Nothing outside a
        pull request, or without a base to compare with."""
        if self.context.event not in PULL_EVENTS or self.base_revision is None or not self.git:
            return frozenset()
        return self.git.changed_since(self.base_revision)

    def deleted(self, inventory: Inventory) -> tuple[list[Document], list[Finding]]:
        """The documents the pull request deletes (judged with ``object`` null), and a finding
        for each changed governed file that is gone when there is no base to read it from."""
        present = {identity(d) for d in inventory.documents if d.name is not None}
        documents: list[Document] = []
        findings: list[Finding] = []
        for git_path, local in self.changed_governed:
            path = self.workspace.root / local
            if self.base_revision is None:
                if not path.exists() and not path.is_symlink():
                    findings.append(_unknown_base(path))
                elif _may_hide(inventory, path) and not any(
                    f.rule == rules.UNKNOWN_BASE for f in findings
                ):
                    findings.append(_no_base(path))
                continue
            for old in self.base_documents(git_path):
                if old.name is not None and identity(old) not in present:
                    documents.append(old.moved(path, deleted=True))
        return documents, findings


# kinds whose removal, or whose addition told from a change, the rules judge
GOVERNING: Final = frozenset({"Policy", "Waiver", "Config", "FreezeWindow", "ChangeWindow"})


def _may_hide(inventory: Inventory, path: Path) -> bool:
    """Whether a changed file, as it is now, may hide what a base would show: it holds rules
    or windows, or several documents (one of them may have been removed)."""
    held = [d for d in inventory.documents if absolute(d.path) == absolute(path)]
    return len(held) != 1 or any(d.kind in GOVERNING for d in held)


def _no_base(path: Path) -> Finding:
    return Finding(
        rule=rules.UNKNOWN_BASE,
        severity=Severity.WARN,
        outcome=Outcome.FAIL,
        message="there is no base revision to compare the pull request with (its "
        "pullRequest.baseSha is missing or not in this clone): documents it removed from files "
        "it still has cannot be seen, and what it adds is judged as a change; pass "
        "--policies-from BASE in a clone that holds it",
        path=path,
        line=1,
        column=1,
    )


def _unknown_base(path: Path) -> Finding:
    return Finding(
        rule=rules.UNJUDGED_DELETION,
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
