"""The pipeline up to policies: repository root and config, discovery, loading, schemas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine import semantics
from engine.config import CONFIG_FILE, Config, defaults, load_config
from engine.discovery import discover, resolve_root
from engine.documents import Document, duplicate_names, identify
from engine.errors import UsageError
from engine.findings import Finding
from engine.loader import load_file
from engine.schemas import SchemaSet


@dataclass(frozen=True)
class Inventory:
    """What loading found. ``valid`` are the documents with no schema finding: only they
    reach the policies (the others are already denied)."""

    documents: tuple[Document, ...]
    valid: tuple[Document, ...]
    findings: tuple[Finding, ...]
    files: int
    rules: frozenset[str]


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Config
    schemas: SchemaSet

    @classmethod
    def open(
        cls,
        *,
        repo: Path | None,
        config_file: Path | None,
        paths: Sequence[Path] = (),
        cwd: Path | None = None,
    ) -> Workspace:
        root = resolve_root(repo, paths, cwd or Path.cwd())
        schemas = SchemaSet()

        def check(document: Document) -> list[Finding]:
            return schemas.check(document) + semantics.check(document, defaults())

        if config_file is not None:
            if not config_file.is_file():
                raise UsageError(f"--config {config_file}: no such file")
            config = load_config(config_file, check)
        elif (root / CONFIG_FILE).is_file():
            config = load_config(root / CONFIG_FILE, check)
        else:
            config = defaults()
        return cls(root=root, config=config, schemas=schemas)

    def files(self, paths: Sequence[Path] = ()) -> list[Path]:
        found = discover(self.root, self.config.include, self.config.exclude, paths)
        if not found:
            raise UsageError(
                f"no governed documents in {self.root} (looked for "
                f"{', '.join(self.config.include)}); run changegate in the repository root, "
                "pass --repo, or set documents.include in changegate.yaml"
            )
        return found

    def load(self, paths: Sequence[Path] = ()) -> Inventory:
        files = self.files(paths)
        documents: list[Document] = []
        valid: list[Document] = []
        findings: list[Finding] = []
        for path in files:
            file_documents, problems = identify(load_file(path))
            findings.extend(problems)
            for document in file_documents:
                documents.append(document)
                problems = self.schemas.check(document)
                problems += semantics.check(document, self.config)
                findings.extend(problems)
                if not problems:
                    valid.append(document)
        doubled = set()
        for document, finding in duplicate_names(documents):
            findings.append(finding)
            doubled.add(id(document))
        rules = {"yaml/parse", "schema/envelope"} | {f"schema/{d.kind}" for d in documents}
        return Inventory(
            documents=tuple(documents),
            valid=tuple(d for d in valid if id(d) not in doubled),
            findings=tuple(findings),
            files=len(files),
            rules=frozenset(rules),
        )
