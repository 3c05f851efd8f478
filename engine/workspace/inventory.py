"""The pipeline up to policies: repository root and config, discovery, loading, schemas."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from engine import rules
from engine.documents.config import CONFIG_FILE, Config, config_from, defaults, load_config
from engine.documents.loader import LoadedFile, load_bytes, read_file
from engine.documents.model import Document, duplicate_names, file_finding, identify
from engine.documents.schemas import SchemaSet
from engine.errors import ConfigError, UsageError
from engine.findings import Finding
from engine.heap import collector_paused, keep
from engine.paths import display_path, escapes, git_top, real
from engine.workspace import semantics
from engine.workspace.cache import Cache, Loaded, blob_id, shape
from engine.workspace.discovery import Found, discover, resolve_root

# findings that leave a file (or the rest of it) unread: what it holds is unknown
_UNREADABLE_RULES: Final = frozenset({rules.PARSE, rules.ENVELOPE, rules.OUTSIDE})


def inventory_rules(documents: Sequence[Document]) -> set[str]:
    """The rules loading applies: YAML, the envelope, and the schema of each kind seen."""
    return {rules.PARSE, rules.ENVELOPE} | {rules.schema(d.kind) for d in documents}


def _config_at(ref: str, root: Path, config_file: Path | None, check: Any) -> tuple[Config, str]:
    """The config as the git ref ``ref`` has it, and the commit ``ref`` names now."""
    from engine.gitrepo import GitRepo

    repo = GitRepo.find(root)
    if repo is None:
        raise UsageError(f"--policies-from {ref}: {root} is not in a git repository")
    try:
        sha = repo.resolve(ref)
        target = config_file if config_file is not None else root / CONFIG_FILE
        relative = repo.relative(target if target.is_absolute() else Path.cwd() / target)
        data = repo.read(sha, relative) if relative else None
    finally:
        repo.close()
    if data is None:
        return defaults(), sha
    return config_from(load_bytes(data, Path(f"{ref}:{relative}")), check), sha


def _inside(config: Path, root: Path) -> None:
    """A config file that is a symbolic link out of the repository is not read: a pull request
    could otherwise point it at a file off the runner and have its values quoted."""
    if config.is_symlink() and escapes(config, git_top(root) or root):
        raise ConfigError(
            f"{config.name} leads outside the repository (through a symbolic link), so "
            "changegate does not read it: commit the file itself"
        )


@dataclass(frozen=True)
class Inventory:
    """What loading found. ``valid`` are the documents with no schema finding: only they
    reach the policies (the others are already denied)."""

    documents: tuple[Document, ...]
    valid: tuple[Document, ...]
    findings: tuple[Finding, ...]
    files: int
    rules: frozenset[str]
    named: frozenset[Path] = frozenset()  # files given as paths (when the repository is loaded too)

    def unreadable_windows(self) -> list[tuple[Path, str]]:
        """Where a freeze or change window may hide unread: files (or parts of files) that
        could not be read as documents, and window documents that are invalid; each with why.
        A decision about time cannot be made while any of them is unknown."""
        return of_kinds(self.unread(), WINDOW_KINDS)

    def unread(self) -> list[Unread]:
        return unread(self.findings, self.documents, self.valid)


WINDOW_KINDS: Final = frozenset({"FreezeWindow", "ChangeWindow"})
Unread = tuple[Path, str, str]  # path, kind ("" for a file that cannot be read), why
# kinds other documents' verdicts are computed from: unknown ones make those verdicts unknown
READ_ACROSS: Final = WINDOW_KINDS | {"Incident"}


def unread(
    findings: Sequence[Finding], documents: Sequence[Document], valid: Sequence[Document]
) -> list[Unread]:
    """(path, kind, why) of what cross-document questions cannot see: files (or parts of
    files) that could not be read as documents (kind ""), and invalid windows and incidents."""
    found: dict[tuple[Path, str], str] = {}
    for finding in findings:
        if finding.denies and finding.rule in _UNREADABLE_RULES:
            found.setdefault((finding.path, ""), f"{display_path(finding.path)} cannot be read")
    ok = {id(d) for d in valid}
    for document in documents:
        if document.kind in READ_ACROSS and id(document) not in ok:
            found.setdefault(
                (document.path, document.kind), f"{document.kind} {document.name or '?'} is invalid"
            )
    return in_order(found)


def in_order(found: dict[tuple[Path, str], str]) -> list[Unread]:
    """(path, kind): why, as entries in the order of their paths."""
    return sorted(
        ((path, kind, why) for (path, kind), why in found.items()), key=lambda e: (str(e[0]), e[1])
    )


def of_kinds(entries: Sequence[Unread], kinds: Set[str]) -> list[tuple[Path, str]]:
    """(path, why) of the entries that may hide a document of ``kinds``, one per path (a file
    that cannot be read first)."""
    found: dict[Path, str] = {}
    for path, kind, why in entries:
        if kind == "" or kind in kinds:
            found.setdefault(path, why)
    return list(found.items())


@dataclass(frozen=True)
class Workspace:
    """The repository a run reads: its root, its config and the schemas. ``policies_from`` is
    the git ref the config, policies and waivers come from (a pull request's base), if any,
    as given (for messages); ``policies_commit`` the commit it named when the run began, which
    every read of that ref uses (one snapshot, however the ref moves meanwhile)."""

    root: Path
    config: Config
    schemas: SchemaSet
    policies_from: str | None = None
    policies_commit: str | None = None

    @classmethod
    def open(
        cls,
        *,
        repo: Path | None,
        config_file: Path | None,
        paths: Sequence[Path] = (),
        cwd: Path | None = None,
        policies_from: str | None = None,
    ) -> Workspace:
        """The repository, its config and schemas. With ``policies_from``, changegate.yaml is
        read from that git ref instead of the working tree."""
        root = resolve_root(repo, paths, cwd or Path.cwd())
        schemas = SchemaSet()

        def check(document: Document) -> list[Finding]:
            return schemas.check(document) + semantics.check(document, defaults())

        commit = None
        if policies_from is not None:
            config, commit = _config_at(policies_from, root, config_file, check)
        elif config_file is not None:
            if not config_file.is_file():
                raise UsageError(f"--config {config_file}: no such file")
            _inside(config_file, root)
            config = load_config(config_file, check)
        elif (root / CONFIG_FILE).is_file() or (root / CONFIG_FILE).is_symlink():
            _inside(root / CONFIG_FILE, root)
            config = load_config(root / CONFIG_FILE, check)
        else:
            config = defaults()
        return cls(
            root=root,
            config=config,
            schemas=schemas,
            policies_from=policies_from,
            policies_commit=commit,
        )

    def governed(self, relative: str) -> bool:
        """Whether a path from the root is a governed document's (the config's globs)."""
        return self.config.selection.governs(relative)

    def explicit(self, paths: Sequence[Path]) -> tuple[Path, ...]:
        """The paths that name something narrower than the repository: the root itself (as
        in ``changegate check examples/acme-shop``) means the whole repository."""
        return tuple(p for p in paths if not (p.is_dir() and real(p) == self.root))

    def files(self, paths: Sequence[Path] = (), *, repository: bool = False) -> list[Found]:
        """The files to load: the given paths, or the repository's documents, or both."""
        paths = self.explicit(paths)
        found = discover(self.root, self.config.selection, paths)  # each file once
        if repository and paths:
            merged = {f.path: f for f in found}
            for item in discover(self.root, self.config.selection, ()):
                merged.setdefault(item.path, item)
            found = list(merged.values())
        if not found:
            raise UsageError(
                f"no governed documents in {self.root} (looked for "
                f"{', '.join(self.config.include)}); run changegate in the repository root, "
                "pass --repo, or set documents.include in changegate.yaml"
            )
        return sorted(found, key=lambda f: str(f.path))

    def load(self, paths: Sequence[Path] = (), *, repository: bool = False) -> Inventory:
        """Load and check documents. With ``repository``, the whole repository is loaded
        besides the given paths (policies look across documents); ``named`` says which files
        were given."""
        paths = self.explicit(paths)
        with collector_paused():
            files = self.files(paths, repository=repository)
            documents, valid, findings = self.load_files(files)
        doubled = set()
        for document, finding in duplicate_names(documents):
            findings.append(finding)
            doubled.add(id(document))
        inventory = Inventory(
            documents=tuple(documents),
            valid=tuple(d for d in valid if id(d) not in doubled),
            findings=tuple(findings),
            files=len(files),
            rules=frozenset(inventory_rules(documents)),
            named=frozenset(self.named(paths)) if paths else frozenset(),
        )
        keep(inventory)  # freed with the run, not before (heap.py)
        return inventory

    def load_files(
        self, files: Sequence[Found]
    ) -> tuple[list[Document], list[Document], list[Finding]]:
        """Every document of ``files``, the valid ones, and the findings (names are not yet
        compared across files). Files the cache knows by their bytes are not parsed again."""
        documents: list[Document] = []
        valid: list[Document] = []
        findings: list[Finding] = []
        cache = self.cache
        with collector_paused():
            for found in files:
                file_documents, file_valid, file_findings = self._load_one(found, cache)
                documents += file_documents
                valid += file_valid
                findings += file_findings
        if cache is not None:
            cache.save()
        return documents, valid, findings

    def _load_one(self, found: Found, cache: Cache | None) -> Loaded:
        """One file's documents, valid documents and findings (from the cache when it knows
        the bytes)."""
        if found.link and (refused := self.refused(found.path)) is not None:
            return [], [], [refused]
        data = read_file(found.path)
        if isinstance(data, LoadedFile):  # unreadable: the reason is the finding
            return self._check(data)
        blob = blob_id(data)
        loaded = cache.get(blob, found.path, data) if cache is not None else None
        if loaded is None:
            loaded = self._check(load_bytes(data, found.path))
            if cache is not None:
                cache.put(blob, loaded, data)
        return loaded

    def _check(self, loaded: LoadedFile) -> Loaded:
        """The documents of a loaded file, the valid ones, and what is wrong with the rest."""
        documents, findings = identify(loaded)
        valid = []
        for document in documents:
            problems = self.schemas.check(document)
            problems += semantics.check(document, self.config)
            findings += problems
            if not any(p.denies for p in problems):
                valid.append(document)
        return documents, valid, findings

    @cached_property
    def cache(self) -> Cache | None:
        """The document cache of this repository and shape (None when it is off)."""
        digest = shape(self.schemas.all_schemas(), self.config.spec)
        return Cache.open(self.root, digest)

    @cached_property
    def boundary(self) -> Path:
        """What a governed path may lead to: the git working tree, else changegate's root."""
        return git_top(self.root) or self.root

    def refused(self, path: Path) -> Finding | None:
        """A finding for a path changegate will not read: a link to a folder, or a path that
        leads outside the repository (its target is neither read nor named). Only links and
        paths given from outside need asking: a walk from the root never leaves it."""
        if path.is_symlink() and path.is_dir():
            return file_finding(
                path, 1, 1,
                f"{path.name} is a symbolic link to a folder: changegate does not follow links "
                "to folders (the documents behind it would go unjudged); commit the documents "
                "themselves",
                rule=rules.OUTSIDE,
            )  # fmt: skip
        if escapes(path, self.boundary):
            return file_finding(
                path, 1, 1,
                f"{path.name} leads outside the repository (through a symbolic link), so "
                "changegate does not read it: commit the document itself",
                rule=rules.OUTSIDE,
            )  # fmt: skip
        return None

    def named(self, paths: Sequence[Path]) -> list[Path]:
        """The files the given paths name, absolute."""
        return [f.path for f in discover(self.root, self.config.selection, paths)]
