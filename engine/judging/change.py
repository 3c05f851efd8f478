"""What the working tree changes against a base revision (``--policies-from``): the paths
that differ, the documents the base has in them, the inventory with the base's windows, and
what the change did to each document (``oldObject``, the operation) without reading git for
the files it leaves alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from engine.documents.config import CONFIG_FILE
from engine.documents.loader import load_bytes
from engine.documents.model import Document, identify
from engine.gitrepo import GitRepo
from engine.judging.targets import GOVERNING, Targets
from engine.policy.lock import LOCK_FILE, LOCK_KIND
from engine.workspace import semantics
from engine.workspace.inventory import Inventory, Workspace

WINDOWS: Final = frozenset({"FreezeWindow", "ChangeWindow"})


@dataclass(frozen=True)
class Change:
    """What differs between the base revision and the working tree: paths from changegate's
    root, and the documents the base has in them."""

    ref: str
    paths: frozenset[str]
    base_documents: tuple[Document, ...]

    def touches_rules(self, inventory: Inventory, root: Path) -> bool:
        """Whether a Policy, Waiver, Config, window or changegate.lock is added, edited or
        deleted."""
        if {CONFIG_FILE, LOCK_FILE} & self.paths:
            return True
        changed = {root / p for p in self.paths}
        now = (d for d in inventory.documents if d.path in changed)
        return any(d.kind in GOVERNING for d in (*now, *self.base_documents))


def change_since(base: Workspace, git: GitRepo, prefix: str) -> Change:
    """The paths the working tree changes against ``base.policies_from`` and the governed
    documents the base revision has in them."""
    ref = base.policies_from or "HEAD"
    sha = base.policies_commit or git.resolve(ref)
    paths = frozenset(
        p.removeprefix(prefix) for p in git.changed_since(sha) if p.startswith(prefix)
    )
    documents: list[Document] = []
    for local in sorted(paths):
        if not base.governed(local):
            continue
        data = git.read(sha, prefix + local)
        if data is not None:
            found = identify(load_bytes(data, Path(f"{ref}:{prefix}{local}")))[0]
            documents += [relocated(d, path=base.root / local) for d in found]
    return Change(ref, paths, tuple(documents))


def base_inventory(inventory: Inventory, change: Change, base: Workspace) -> Inventory:
    """The shared inventory with the windows of changed files as the base revision has them."""
    changed = {base.root / p for p in change.paths}

    def kept(documents: Iterable[Document]) -> list[Document]:
        return [d for d in documents if not (d.kind in WINDOWS and d.path in changed)]

    windows = [d for d in change.base_documents if d.kind in WINDOWS]
    valid = [
        d
        for d in windows
        if not any(f.denies for f in base.schemas.check(d) + semantics.check(d, base.config))
    ]
    return replace(
        inventory,
        documents=(*kept(inventory.documents), *windows),
        valid=(*kept(inventory.valid), *valid),
    )


@dataclass(frozen=True)
class Facts:
    """What the change did to each document, for both sides of an impact: a file the change
    leaves alone is at the base revision as it is now (its ``oldObject`` is itself, an
    update), so git is read only for the files the change touches."""

    targets: Targets
    changed: frozenset[Path]

    def old_object(self, document: Document) -> Any:
        if document.deleted or document.path in self.changed or document.kind == LOCK_KIND:
            return self.targets.old_object(document)
        return document.body if self.targets.base_revision is not None else None

    def operation(self, document: Document) -> str:
        if document.deleted:
            return "delete"
        if self.targets.base_revision is None:
            return "unknown"
        return "create" if self.old_object(document) is None else "update"


def relocated(document: Document, *, path: Path | None = None, source: Any = None) -> Document:
    """The same document at another path, or without the positions of its fields."""
    return Document(
        document.kind,
        document.name,
        document.body,
        path or document.path,
        document.index,
        source or document.source,
        document.deleted,
    )
