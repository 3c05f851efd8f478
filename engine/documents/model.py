"""The document model: the Kubernetes-style envelope and the kinds changegate governs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from engine import rules
from engine.documents.loader import LoadedFile
from engine.documents.sourcemap import FieldPath, Position, SourceMap, format_field
from engine.errors import UsageError
from engine.findings import Finding, Outcome, Severity
from engine.paths import display_path
from engine.suggest import closest, did_you_mean

API_VERSION: Final = "changegate/v1"

# kind -> schema file; the order is the order of the SPEC.
KINDS: Final = {
    "ReleasePlan": "release-plan.json",
    "ChangeRequest": "change-request.json",
    "FreezeWindow": "freeze-window.json",
    "ChangeWindow": "change-window.json",
    "Incident": "incident.json",
    "Config": "config.json",
    "Policy": "policy.json",
    "Waiver": "waiver.json",
    "PolicyTest": "policy-test.json",
}

ENVELOPE_RULE: Final = rules.ENVELOPE
PARSE_RULE: Final = rules.PARSE
schema_rule = rules.schema


class Document:
    """One governed document. ``name`` is None only when the document lacks a valid one
    (its schema check reports that). A ``deleted`` document is one a pull request removes:
    ``body`` is the document as the base revision has it (CEL sees it as ``oldObject``, with
    ``object`` null).

    ``body`` may be given as a function that builds it (a document from the cache is decoded
    only if something reads it); ``fields`` is then the part of its ``spec`` the engine's
    cross-document views read (:data:`engine.documents.fields.INDEXED`). A document is fixed
    once made."""

    __slots__ = ("_body", "_fields", "deleted", "index", "kind", "name", "path", "source")

    kind: str
    name: str | None
    path: Path
    index: int
    source: SourceMap
    deleted: bool
    _body: dict[str, Any] | Callable[[], dict[str, Any]]
    _fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None

    def __init__(
        self,
        kind: str,
        name: str | None,
        body: dict[str, Any] | Callable[[], dict[str, Any]],
        path: Path,
        index: int,
        source: SourceMap,
        deleted: bool = False,
        *,
        fields: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "kind", kind)
        put(self, "name", name)
        put(self, "_body", body)
        put(self, "path", path)
        put(self, "index", index)
        put(self, "source", source)
        put(self, "deleted", deleted)
        put(self, "_fields", fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Document is fixed once made: make another (not {name})")

    @property
    def body(self) -> dict[str, Any]:
        body = self._body
        if not callable(body):
            return body
        built = body()
        object.__setattr__(self, "_body", built)
        return built

    def moved(self, path: Path, *, deleted: bool) -> Document:
        """The same document at another path (a base revision's, as a pull request saw it)."""
        return Document(
            self.kind, self.name, self._body, path, self.index, self.source, deleted,
            fields=self._fields,
        )  # fmt: skip

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def fields(self) -> Mapping[str, Any]:
        """What the engine's views (:mod:`engine.documents.fields`) read of ``spec``, without
        decoding a cached document: the same answers as ``spec`` for every key they read."""
        fields = self._fields
        if fields is None:
            return self.spec
        if callable(fields):
            fields = fields()
            object.__setattr__(self, "_fields", fields)
        return fields

    @property
    def labels(self) -> dict[str, str]:
        metadata = self.body.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, dict) else None
        return labels if isinstance(labels, dict) else {}

    @property
    def line(self) -> int:
        return self.source.root.line

    def position(self, field: FieldPath = ()) -> Position:
        return self.source.locate(field)

    def finding(
        self,
        rule: str,
        message: str,
        *,
        field: FieldPath = (),
        severity: Severity = Severity.DENY,
        outcome: Outcome = Outcome.FAIL,
    ) -> Finding:
        line, column = self.position(field)
        return Finding(
            rule=rule,
            severity=severity,
            outcome=outcome,
            message=message,
            path=self.path,
            line=line,
            column=column,
            kind=self.kind,
            name=self.name,
            field=format_field(field) or None,
        )

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} at {self.path}:{self.line}>"


def file_finding(
    path: Path,
    line: int,
    column: int,
    message: str,
    *,
    rule: str = PARSE_RULE,
    severity: Severity = Severity.DENY,
) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        outcome=Outcome.FAIL,
        message=message,
        path=path,
        line=line,
        column=column,
    )


def identify(loaded: LoadedFile) -> tuple[list[Document], list[Finding]]:
    """Turn a loaded file into documents, with findings for whatever is not a document."""
    findings = [file_finding(loaded.path, p.line, p.column, p.message) for p in loaded.problems]
    documents: list[Document] = []
    if not loaded.documents and not loaded.problems:
        findings.append(
            file_finding(
                loaded.path,
                1,
                1,
                "file holds no YAML document: add one (changegate new KIND NAME) or delete it",
                rule=ENVELOPE_RULE,
            )
        )
    total = len(loaded.documents)
    for loaded_doc in loaded.documents:
        where = loaded_doc.source.root
        data = loaded_doc.data
        if data is None:
            if total == 1:
                message = "the document is empty: add apiVersion, kind, metadata and spec"
                severity = Severity.DENY
            else:
                message = "empty document (a stray '---'?) ignored"
                severity = Severity.WARN
            findings.append(
                file_finding(loaded.path, *where, message, rule=ENVELOPE_RULE, severity=severity)
            )
            continue
        if not isinstance(data, dict):
            findings.append(
                file_finding(
                    loaded.path,
                    *where,
                    f"the document is {_describe(data, quote=False)}, not a mapping: a "
                    "changegate document is a mapping with apiVersion, kind, metadata and spec",
                    rule=ENVELOPE_RULE,
                )
            )
            continue
        document, problems = _envelope(data, loaded.path, loaded_doc.index, loaded_doc.source)
        findings.extend(problems)
        if document is not None:
            documents.append(document)
    return documents, findings


def _envelope(
    data: dict[str, Any], path: Path, index: int, source: SourceMap
) -> tuple[Document | None, list[Finding]]:
    findings: list[Finding] = []

    def problem(field: FieldPath, message: str) -> None:
        line, column = source.locate(field)
        findings.append(file_finding(path, line, column, message, rule=ENVELOPE_RULE))

    kind = data.get("kind")
    api_version = data.get("apiVersion")
    if "kind" not in data:
        problem((), f"missing kind: one of {', '.join(KINDS)}")
        kind = None
    elif not isinstance(kind, str):
        problem(
            ("kind",), f"kind must be a string, not {_describe(kind)}: one of {', '.join(KINDS)}"
        )
        kind = None
    elif kind not in KINDS:
        hint = did_you_mean(kind, KINDS)
        problem(
            ("kind",),
            f"unknown kind {kind!r}" + (hint or f": changegate knows {', '.join(KINDS)}"),
        )
        kind = None
    if api_version != API_VERSION:
        if "apiVersion" not in data:
            problem((), f"missing apiVersion: add 'apiVersion: {API_VERSION}' at the top")
        else:
            problem(
                ("apiVersion",),
                f"unsupported apiVersion {api_version!r}: this changegate reads {API_VERSION}",
            )
        return None, findings
    if kind is None:
        return None, findings
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return Document(
        kind=kind,
        name=name if isinstance(name, str) and name else None,
        body=data,
        path=path,
        index=index,
        source=source,
    ), findings


def _describe(value: Any, *, quote: bool = True) -> str:
    """What a value is; ``quote`` shows a string's start (a field's value, never a whole
    document's: a file that is not YAML at all must not be echoed into a PR comment)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}" if quote else "a number"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if quote else f"text ({len(value):,} characters)"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def duplicate_names(documents: Iterable[Document]) -> Iterator[tuple[Document, Finding]]:
    """Every document of a kind whose name another one also has, whatever the case (``CHG-1``
    and ``chg-1`` are one file on macOS and Windows checkouts), with a finding saying where
    the other is: the first in file order and each later one."""
    groups: dict[tuple[str, str], list[Document]] = {}
    for document in documents:
        if document.name is not None:
            groups.setdefault((document.kind, document.name.casefold()), []).append(document)
    for members in groups.values():
        if len(members) < 2:
            continue
        first = members[0]
        for document in members:
            other = members[1] if document is first else first
            message = duplicate_message(
                document,
                str(display_path(other.path)),
                other.line,
                other.name,
                first=document is first,
            )
            yield (
                document,
                document.finding(schema_rule(document.kind), message, field=("metadata", "name")),
            )


def duplicate_message(
    document: Document, where: str, line: int, other: str | None, *, first: bool
) -> str:
    """Why a document's name is taken: ``where``:``line`` holds another of the same name."""
    spelled = f" (as {other!r})" if other is not None and other != document.name else ""
    verb = "is also defined" if first else "is already defined"
    return (
        f"{document.kind} {document.name!r} {verb} at {where}:{line}{spelled}: names are unique "
        "per kind, whatever their case; rename one"
    )


def resolve_kind(text: str) -> str:
    """A kind from what a person typed: ChangeRequest, changerequest or change-request."""
    match = closest(text, KINDS)
    folded = text.lower().replace("-", "").replace("_", "")
    if match is not None and match.lower() == folded:
        return match
    hint = f": did you mean {match}?" if match else ""
    raise UsageError(f"unknown kind {text!r}{hint} (kinds: {', '.join(KINDS)})")
