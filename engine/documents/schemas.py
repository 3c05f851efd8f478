"""JSON Schemas of the document kinds, and schema findings a person can act on.

Validity is decided by jsonschema-rs when it is installed (about 80x faster); the findings for
an invalid document come from jsonschema, whose errors carry the schema context needed to say
what to change.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from engine.documents.explain import required_alternatives, translate
from engine.documents.model import KINDS, Document, schema_rule
from engine.findings import Finding
from engine.resources import bundled

if TYPE_CHECKING:  # jsonschema is imported only to explain failures (~90 ms at start-up)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the platform's wheels
        return None


jsonschema_rs = _optional("jsonschema_rs")

COMMON: Final = "common.json"
MAX_FINDINGS: Final = 50  # schema findings listed per document
CONTEXT: Final = "context.json"
VERDICT: Final = "verdict.json"


class SchemaSet:
    """All kind schemas, loaded once, with a validator per kind."""

    def __init__(self) -> None:
        self._raw: dict[str, dict[str, Any]] = {}
        for file in (*KINDS.values(), COMMON, CONTEXT, VERDICT):
            self._raw[file] = json.loads(bundled("schemas", file).read_text(encoding="utf-8"))

    def schema(self, kind: str) -> dict[str, Any]:
        return self._raw[KINDS[kind]]

    @property
    def common(self) -> dict[str, Any]:
        return self._raw[COMMON]

    def all_schemas(self) -> dict[str, dict[str, Any]]:
        return dict(self._raw)

    @cached_property
    def _registry(self) -> Registry[Any]:
        from referencing import Registry, Resource

        return Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema)) for schema in self._raw.values()
        )

    @cached_property
    def _detailed(self) -> dict[str, Draft202012Validator]:
        from jsonschema import Draft202012Validator

        return {
            kind: Draft202012Validator(self.schema(kind), registry=self._registry) for kind in KINDS
        }

    @cached_property
    def _fast(self) -> dict[str, Any]:
        if jsonschema_rs is None:  # pragma: no cover
            return {}
        registry = jsonschema_rs.Registry([(s["$id"], s) for s in self._raw.values()])
        return {
            kind: jsonschema_rs.Draft202012Validator(self.schema(kind), registry=registry)
            for kind in KINDS
        }

    @cached_property
    def _context_fast(self) -> Any:
        if jsonschema_rs is None:  # pragma: no cover
            return None
        registry = jsonschema_rs.Registry([(s["$id"], s) for s in self._raw.values()])
        return jsonschema_rs.Draft202012Validator(self._raw[CONTEXT], registry=registry)

    def context_errors(self, data: Any) -> list[ValidationError]:
        """Problems of a request context file (SPEC §5) against its schema."""
        fast = self._context_fast
        if fast is not None and fast.is_valid(data):
            return []
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(self._raw[CONTEXT], registry=self._registry)
        return list(validator.iter_errors(data))

    def verdict_errors(self, data: Any) -> list[ValidationError]:
        """Problems of a JSON verdict (read back from an artifact) against its schema."""
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(self._raw[VERDICT], registry=self._registry)
        return list(validator.iter_errors(data))

    def is_valid(self, kind: str, instance: Any) -> bool:
        fast = self._fast.get(kind)
        if fast is not None:
            try:
                return bool(fast.is_valid(instance))
            except (ValueError, TypeError, OverflowError):
                pass  # a value Rust cannot take (e.g. a huge int): let jsonschema decide
        return bool(self._detailed[kind].is_valid(instance))

    def check(self, document: Document) -> list[Finding]:
        """Schema findings of one document, in file order: from jsonschema-rs's errors where
        they say all the findings need, else from jsonschema's."""
        if self.is_valid(document.kind, document.body):
            return []
        found = self._fast_findings(document)
        if found is None:
            errors = self._detailed[document.kind].iter_errors(document.body)
            detailed = (f for error in errors for f in translate(document, error, _best_match))
            found = list(itertools.islice(_once(detailed), MAX_FINDINGS + 1))
        findings = found[:MAX_FINDINGS]
        findings.sort(key=lambda f: (f.line, f.column, f.message))
        if len(found) > MAX_FINDINGS:  # a flood: the first ones say what is wrong
            findings.append(
                document.finding(
                    schema_rule(document.kind),
                    f"more than {MAX_FINDINGS} schema problems in this document; the rest are "
                    "not listed: fix these and validate again",
                )
            )
        return findings

    def _fast_findings(self, document: Document) -> list[Finding] | None:
        """The findings from jsonschema-rs's errors; None where they would not be word for word
        what jsonschema's give (a keyword whose message is the library's own, a failed oneOf
        needing its best alternative, a flood whose first fifty jsonschema would choose)."""
        fast = self._fast.get(document.kind)
        if fast is None:  # pragma: no cover - depends on the platform's wheels
            return None
        try:
            errors = list(itertools.islice(fast.iter_errors(document.body), MAX_FINDINGS + 1))
        except (ValueError, TypeError, OverflowError):
            return None
        adapted = [self._adapted(error) for error in errors]
        readable = [error for error in adapted if error is not None]
        if len(errors) > MAX_FINDINGS or len(readable) < len(adapted):
            return None
        found = list(_once(f for e in readable for f in translate(document, e, _best_match)))
        return found if len(found) <= MAX_FINDINGS else None

    def _adapted(self, error: Any) -> _FastError | None:
        keyword = error.schema_path[-1] if error.schema_path else None
        if keyword not in _OWN_WORDS or error.kind.name != keyword:
            return None  # (a key failing propertyNames names the key's keyword, not its own)
        located = _pointer(self._by_id, error.absolute_keyword_location)
        if located is None:
            return None
        schema, value = located
        if keyword in {"oneOf", "anyOf"}:
            exclusive = keyword == "oneOf"
            if (
                not isinstance(value, list)
                or required_alternatives(value, exclusive=exclusive) is None
            ):
                return None
        return _FastError(error, keyword, value, schema)

    @cached_property
    def _by_id(self) -> dict[str, dict[str, Any]]:
        return {schema["$id"]: schema for schema in self._raw.values() if "$id" in schema}

    def bundle(self, kind: str | None) -> dict[str, Any]:
        """One self-contained schema for editors: everything it references inlined under
        ``$defs`` and every ``$ref`` a pointer into it (see ``bundle.py``). Without a kind,
        a schema that accepts any document and dispatches on ``kind``."""
        from engine.documents.bundle import flatten

        if kind is not None:
            return flatten(self._raw, KINDS[kind])
        common = self.common
        return flatten(
            self._raw,
            None,
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": common["$id"].replace(COMMON, "document.json"),
                "title": "changegate document",
                "description": "Any changegate document; the kind field selects the schema.",
                "type": "object",
                "required": ["apiVersion", "kind"],
                "properties": {"kind": {"enum": list(KINDS), "description": "The document kind."}},
                "allOf": [
                    {
                        "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                        "then": {"$ref": self.schema(name)["$id"]},
                    }
                    for name in KINDS
                ],
            },
        )


# keywords whose findings are in changegate's own words (engine/documents/explain.py): an
# error of any other keyword is explained from jsonschema's error, whose message it quotes
_OWN_WORDS: Final = frozenset(
    {
        "required", "additionalProperties", "type", "enum", "const", "pattern", "minItems",
        "minLength", "maxLength", "maxItems", "uniqueItems", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "oneOf", "anyOf",
    }
)  # fmt: skip


class _FastError:
    """A jsonschema-rs error read as jsonschema's ``ValidationError`` (the parts findings
    read): the failing keyword's value and the schema holding it come from the schema
    location the error names."""

    __slots__ = (
        "absolute_path", "context", "instance", "message", "relative_schema_path", "schema",
        "validator", "validator_value",
    )  # fmt: skip

    def __init__(self, error: Any, keyword: str, value: Any, schema: dict[str, Any]) -> None:
        self.absolute_path = tuple(error.instance_path)
        self.relative_schema_path = tuple(error.schema_path)
        self.validator = keyword
        self.validator_value = value
        self.instance = error.instance
        self.schema = schema
        self.message = str(error.message)
        self.context = None


def _pointer(
    resources: dict[str, dict[str, Any]], location: str | None
) -> tuple[dict[str, Any], Any] | None:
    """The schema holding the keyword at ``location`` (``$id#/json/pointer``), and its value."""
    if not location or "#" not in location:
        return None
    uri, pointer = location.split("#", 1)
    node: Any = resources.get(uri)
    parent: Any = None
    for token in unquote(pointer).split("/")[1:]:
        key: Any = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit():
            key = int(key)
        elif not isinstance(node, dict):
            return None
        parent = node
        try:
            node = node[key]
        except (KeyError, IndexError):
            return None
    return (parent, node) if isinstance(parent, dict) else None


def _once(findings: Iterable[Finding]) -> Iterator[Finding]:
    """Each finding said once (every missing field's error names all the missing fields)."""
    seen: set[Finding] = set()
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            yield finding


def _best_match(errors: Any) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(errors)


def metaschema_errors(schema: dict[str, Any]) -> list[str]:
    """Problems of a schema against the 2020-12 metaschema (used by the tests and `schema`)."""
    from jsonschema import Draft202012Validator

    return [
        e.message
        for e in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema)
    ]
