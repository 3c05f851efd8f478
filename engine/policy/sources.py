"""Policies (kind Policy): where they come from, what they hold, and compiling them once.

Sources are ``builtin:<pack>`` (shipped in ``policies/``) and folders of the repository, read
from the working tree or, with ``--policies-from REF``, from a git ref so that a pull request
cannot weaken its own gate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from engine.cel import Backend, CompileError
from engine.documents.loader import LoadedFile, load_bytes, load_file
from engine.documents.model import Document, identify
from engine.documents.sourcemap import FieldPath, parse_field
from engine.errors import ConfigError
from engine.findings import Finding, Severity
from engine.gitrepo import GitRepo
from engine.paths import display_path, escapes, inner_folder
from engine.policy.packsource import redact
from engine.policy.references import BEFORE_MATCH, unknown_variable
from engine.resources import bundled
from engine.time.instants import parse_datetime

BUILTIN: Final = "builtin:"
PACK: Final = "git+"
SOURCE_KINDS: Final = frozenset({"Policy", "Waiver"})
# What a pull request does to a document. A policy that names no operations judges documents
# that exist (created or updated); one that judges deletions says so (match.operations).
OPERATIONS: Final = ("create", "update", "delete")
DEFAULT_OPERATIONS: Final = frozenset({"create", "update"})


@dataclass(frozen=True)
class Rule:
    policy: str
    name: str
    expression: str
    message: str  # "" when the rule gives only a messageExpression
    severity: Severity = Severity.DENY
    severity_expression: str | None = None
    message_expression: str | None = None
    when: str | None = None
    field: FieldPath = ()
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    description: str = ""
    index: int = 0  # position in spec.rules, for locating it in the file

    @cached_property
    def id(self) -> str:
        """``policy/rule``: one string per rule, so the records of a run share it."""
        return f"{self.policy}/{self.name}"


@dataclass(frozen=True)
class Policy:
    name: str
    kinds: frozenset[str]
    events: frozenset[str] | None  # None: every event
    rules: tuple[Rule, ...]
    document: Document
    source: str
    description: str = ""
    when: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    operations: frozenset[str] = DEFAULT_OPERATIONS

    def judges(self, operation: str) -> bool:
        """Whether the policy judges a document under ``operation``; ``unknown`` (no base
        revision to compare with) is a create or an update, so it is judged by either."""
        if operation == "unknown":
            return bool(self.operations & DEFAULT_OPERATIONS)
        return operation in self.operations

    def expressions(self) -> Iterable[tuple[FieldPath, str]]:
        """Every CEL expression with the field that holds it."""
        if self.when:
            yield ("spec", "match", "when"), self.when
        for i, (_, expression) in enumerate(self.variables):
            yield ("spec", "variables", i, "expression"), expression
        for rule in self.rules:
            base: FieldPath = ("spec", "rules", rule.index)
            yield (*base, "expression"), rule.expression
            for key, text in (
                ("when", rule.when),
                ("severityExpression", rule.severity_expression),
                ("messageExpression", rule.message_expression),
            ):
                if text:
                    yield (*base, key), text

    def uses(self, identifier: str) -> bool:
        pattern = re.compile(rf"\b{re.escape(identifier)}\b")
        return any(pattern.search(text) for _, text in self.expressions())


@dataclass
class Sources:
    """Policies and waivers, with where they came from (for messages and the audit trail)."""

    policies: list[Policy] = field(default_factory=list)
    waivers: list[Document] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)


def policy_from(document: Document, source: str, zone_name: str) -> Policy:
    """A schema-valid Policy document as a value."""
    spec = document.spec
    name = document.name or ""
    match = spec["match"]
    rules = []
    for index, raw in enumerate(spec["rules"]):
        effective = raw.get("effective", {})
        rules.append(
            Rule(
                policy=name,
                name=raw["name"],
                expression=raw["expression"],
                message=raw.get("message", ""),
                severity=Severity(raw.get("severity", "deny")),
                severity_expression=raw.get("severityExpression"),
                message_expression=raw.get("messageExpression"),
                when=raw.get("when"),
                field=parse_field(raw["field"]) if raw.get("field") else (),
                effective_from=_when(effective.get("from"), zone_name),
                effective_until=_when(effective.get("until"), zone_name),
                description=raw.get("description", ""),
                index=index,
            )
        )
    events = match.get("events")
    return Policy(
        name=name,
        kinds=frozenset(match["kinds"]),
        events=frozenset(events) if events else None,
        rules=tuple(rules),
        document=document,
        source=source,
        description=spec.get("description") or document.body["metadata"].get("description", ""),
        when=match.get("when"),
        variables=tuple((v["name"], v["expression"]) for v in spec.get("variables", ())),
        operations=frozenset(match.get("operations", DEFAULT_OPERATIONS)),
    )


def _when(text: str | None, zone_name: str) -> datetime | None:
    return parse_datetime(text, zone_name) if text else None


def builtin_files(pack: str) -> list[LoadedFile]:
    """The policy files of a built-in pack (its tests/ folder holds test cases, not policies)."""
    folder = bundled("policies", pack)
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")):
            data = entry.read_bytes()
            files.append(load_bytes(data, Path(f"{BUILTIN}{pack}/{entry.name}")))
    return files


def builtin_packs() -> list[str]:
    folder = bundled("policies")
    return sorted(e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith("_"))


def load_sources(
    origins: Sequence[str],
    *,
    read_folder: Callable[[str], list[LoadedFile]],
    check: Callable[[Document], list[Finding]],
    zone_name: str,
    read_pack: Callable[[str], list[LoadedFile]] | None = None,
) -> Sources:
    """Policies and waivers from each source; any invalid one is a ConfigError (exit 2).

    ``read_folder`` reads a repository folder (from the working tree or a git ref),
    ``read_pack`` a shared pack (``git+URL@REF#PATH``) as changegate.lock pins it."""
    sources = Sources(origins=list(origins))
    problems: list[Finding] = []
    seen: dict[str, Policy] = {}
    for origin in origins:
        if origin.startswith(BUILTIN):
            pack = origin.removeprefix(BUILTIN)
            if pack not in builtin_packs():
                raise ConfigError(
                    f"unknown policy pack {origin!r} in changegate.yaml policies: built-in packs "
                    f"are {', '.join(BUILTIN + p for p in builtin_packs())}"
                )
            files = builtin_files(pack)
        elif origin.startswith(PACK):
            if read_pack is None:
                raise ConfigError(f"shared packs are not read here: {redact(origin)}")
            files = read_pack(origin)
        else:
            files = read_folder(origin)
        for loaded in files:
            documents, findings = identify(loaded)
            problems.extend(findings)
            for document in documents:
                if document.kind not in SOURCE_KINDS:
                    continue
                found = check(document)
                problems.extend(found)
                if found:
                    continue
                if document.kind == "Waiver":
                    sources.waivers.append(document)
                    continue
                policy = policy_from(document, origin, zone_name)
                key = policy.name.casefold()  # one policy per name, whatever its case
                if key in seen:
                    first = seen[key]
                    spelled = f" and {first.name!r}" if first.name != policy.name else ""
                    raise ConfigError(
                        f"two policies are named {policy.name!r}{spelled} (names are compared "
                        "whatever their case): "
                        f"{display_path(first.document.path)} and "
                        f"{display_path(document.path)}; rename one"
                    )
                seen[key] = policy
                sources.policies.append(policy)
    if problems:
        lines = [
            f"  {display_path(f.path)}:{f.line}:{f.column}: {f.rule}: {f.message}"
            for f in sorted(problems, key=lambda f: f.sort_key)
        ]
        raise ConfigError("invalid policies or waivers:\n" + "\n".join(lines))
    return sources


def _inner(origin: str) -> str:
    """A policy folder as a path from the root ('' for the root itself)."""
    relative = inner_folder(origin)
    if relative is None:
        raise ConfigError(
            f"policy source {origin!r} in changegate.yaml is not a folder inside the "
            "repository: write a path from the repository's root, such as ./policies"
        )
    return relative


def folder_reader(root: Path, boundary: Path) -> Callable[[str], list[LoadedFile]]:
    """Reads a policy folder of the working tree: a folder inside the repository, whose files
    (links followed) stay inside ``boundary``; anything else is a ConfigError."""

    def read(origin: str) -> list[LoadedFile]:
        relative = _inner(origin)
        folder = root / relative
        if not folder.is_dir():
            return []  # the default ./policies may simply not exist
        if escapes(folder, boundary):
            raise ConfigError(f"policy folder {origin!r} leads outside the repository")
        files = []
        for current, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in dirs:
                if Path(current, name).is_symlink():
                    raise ConfigError(
                        f"{display_path(Path(current, name))} is a symbolic link to a folder: "
                        "changegate reads no policy through it (the policies behind it would "
                        "silently not apply); commit the files themselves"
                    )
            for name in sorted(names):
                path = Path(current, name)
                if not name.endswith((".yaml", ".yml")):
                    continue
                if escapes(path, boundary):
                    raise ConfigError(
                        f"{display_path(path)} leads outside the repository (through a "
                        "symbolic link): changegate reads no policy from there; commit the file"
                    )
                files.append(load_file(path))
        return files

    return read


def ref_reader(
    git: GitRepo, ref: str, prefix: str, commit: str | None = None
) -> Callable[[str], list[LoadedFile]]:
    """Reads a policy folder as the git ref ``ref`` has it (``--policies-from``), at
    ``commit`` when the run already resolved it; ``prefix`` is changegate's root from the git
    root."""

    def read(origin: str) -> list[LoadedFile]:
        relative = _inner(origin)
        sha = commit or git.resolve(ref)
        folder = (prefix + relative).rstrip("/")
        return [
            load_bytes(data, Path(f"{ref}:{path}"))
            for path in sorted(git.files(sha, folder))
            if path.endswith((".yaml", ".yml")) and (data := git.read(sha, path)) is not None
        ]

    return read


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    programs: dict[FieldPath, Any]  # field of the expression -> compiled program
    uses_docs: bool
    uses_old: bool
    uses_operation: bool = False
    # per variable, whether its expression may read earlier variables (names ``variables``)
    reads_variables: tuple[bool, ...] = ()


def compile_policies(policies: Sequence[Policy], backend: Backend) -> list[CompiledPolicy]:
    """Compile every expression once; all compile errors at once as a ConfigError."""
    compiled = []
    errors: list[str] = []
    for policy in policies:
        programs: dict[FieldPath, Any] = {}
        names = [name for name, _ in policy.variables]
        for path, expression in policy.expressions():
            program = backend.compile(expression)
            if not isinstance(program, CompileError):
                program = _unknown_variable(path, expression, names) or program
            if isinstance(program, CompileError):
                errors.append(_compile_error(policy, path, expression, program))
            else:
                programs[path] = program
        compiled.append(
            CompiledPolicy(
                policy,
                programs,
                policy.uses("docs"),
                policy.uses("oldObject"),
                policy.uses("operation"),
                tuple(bool(_NAMES_VARIABLES.search(e)) for _, e in policy.variables),
            )
        )
    if errors:
        raise ConfigError("CEL that does not compile:\n" + "\n".join(errors))
    return compiled


# an expression that can see ``variables`` names it (CEL cannot reach a variable otherwise);
# read from the raw text, string literals included: a mention too many only costs a binding
_NAMES_VARIABLES: Final = re.compile(r"\bvariables\b")


def _unknown_variable(path: FieldPath, expression: str, names: list[str]) -> CompileError | None:
    """A variable the expression cannot see: match.when runs before every variable, and a
    variable's own expression sees only the ones before it."""
    if path[1] == "match":
        return unknown_variable(expression, [], names, early=BEFORE_MATCH)
    index = int(path[2]) if path[1] == "variables" else len(names)
    return unknown_variable(expression, names[:index], names[index:])


def _compile_error(policy: Policy, path: FieldPath, expression: str, error: CompileError) -> str:
    document = policy.document
    line, column = document.position(path)
    where = f"{display_path(document.path)}:{line}:{column}"
    rule = ""
    if len(path) > 2 and path[1] == "rules":
        rule = f" rule {policy.rules[int(path[2])].name}"
    caret = "\n".join("      " + part for part in error.caret(expression).splitlines())
    return (
        f"  {where}: policy {policy.name}{rule}, {path[-1]} (line {error.line}, column "
        f"{error.column} of the expression): {error.message}\n{caret}"
    )
