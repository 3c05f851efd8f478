"""JSON Schemas of the document kinds, and schema findings a person can act on.

Validity is decided by jsonschema-rs when it is installed (about 80x faster); the findings for
an invalid document come from jsonschema, whose errors carry the schema context needed to say
what to change.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from engine.documents.model import KINDS, Document, schema_rule
from engine.documents.sourcemap import FieldPath, format_field
from engine.findings import Finding
from engine.resources import bundled
from engine.suggest import did_you_mean

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

# Fields that exist in the domain templates but that changegate derives instead of reading.
_DERIVED: Final = {
    "approvals": (
        "approvals are never declared in YAML: changegate derives them from the pull "
        "request's reviews; remove this field"
    ),
}


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
        """Schema findings of one document, in file order."""
        if self.is_valid(document.kind, document.body):
            return []
        errors = self._detailed[document.kind].iter_errors(document.body)
        found = (finding for error in errors for finding in _translate(document, error))
        findings = list(itertools.islice(found, MAX_FINDINGS))
        findings.sort(key=lambda f: (f.line, f.column, f.message))
        if next(found, None) is not None:  # a flood: the first ones say what is wrong
            findings.append(
                document.finding(
                    schema_rule(document.kind),
                    f"more than {MAX_FINDINGS} schema problems in this document; the rest are "
                    "not listed: fix these and validate again",
                )
            )
        return findings

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


def _translate(document: Document, error: ValidationError) -> Iterator[Finding]:
    """One jsonschema error -> findings that name the field and say what to change."""
    rule = schema_rule(document.kind)
    path: FieldPath = tuple(error.absolute_path)
    field = format_field(path) or "the document"
    validator, expected, value, schema = _parts(error)

    if validator == "additionalProperties" and isinstance(value, dict):
        known = schema.get("properties", {})
        for key in value:
            if key in known or not isinstance(key, str):
                continue
            where = f" in {field}" if path else ""
            message = _DERIVED.get(key) if path == ("spec",) else None
            if message is None:
                message = f"unknown field {key!r}{where}" + (
                    did_you_mean(key, known)
                    or (f": allowed are {', '.join(known)}" if len(known) <= 12 else "")
                )
            yield document.finding(rule, message, field=(*path, key))
        return
    if validator == "required" and isinstance(value, dict):
        for key in expected:
            if key not in value:
                hint = _hint_for(schema.get("properties", {}).get(key, {}))
                where = f" in {field}" if path else ""
                yield document.finding(
                    rule, f"missing required field {key!r}{where}{hint}", field=path
                )
        return
    if "propertyNames" in error.relative_schema_path and isinstance(value, str):
        # the error sits on the mapping; the culprit is one of its keys
        yield document.finding(rule, _describe(f"{field} key", error), field=(*path, value))
        return
    if validator in {"oneOf", "anyOf"}:
        alternatives = _required_alternatives(expected, exclusive=validator == "oneOf")
        if alternatives is not None:
            yield document.finding(rule, f"{field}: give {alternatives}", field=path)
            return
        if error.context:
            from jsonschema.exceptions import best_match

            best = best_match(error.context)
            others = len({tuple(e.relative_schema_path)[:1] for e in error.context}) - 1
            for finding in _translate(document, best):
                suffix = f" (and {others} other way(s) it does not fit)" if others > 0 else ""
                yield _with_message(finding, finding.message + suffix)
            return
    yield document.finding(rule, _describe(field, error), field=path)


def _with_message(finding: Finding, message: str) -> Finding:
    return finding._replace(message=message)


def _parts(error: ValidationError) -> tuple[str, Any, Any, dict[str, Any]]:
    """validator, its value in the schema, the instance, and the (sub)schema that failed."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    expected: Any = error.validator_value
    return str(error.validator), expected, error.instance, schema


def _describe(field: str, error: ValidationError) -> str:
    validator, expected, value, schema = _parts(error)
    if validator == "enum":
        options = ", ".join(str(option) for option in expected)
        hint = did_you_mean(value, [str(o) for o in expected]) if isinstance(value, str) else ""
        return f"{field} must be one of {options}, not {_show(value)}{hint}"
    if validator == "const":
        return f"{field} must be {expected!r}, not {_show(value)}"
    if validator == "type":
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in _as_list(expected))
        return f"{field} must be {wanted}, not {_type_of(value)}{_type_hint(expected, value)}"
    if validator == "pattern":
        examples = [e for e in schema.get("examples", []) if isinstance(e, str)]
        if examples:
            advice = "write it like " + ", ".join(examples[:3])
        else:
            advice = schema.get("description", f"it must match {expected}").rstrip(".")
        return f"{field}: {_show(value)} is not a valid {schema.get('title', 'value')}: {advice}"
    if validator in {"minItems", "minLength"}:
        if expected == 1:
            return f"{field} must not be empty"
        unit = "items" if validator == "minItems" else "characters"
        return f"{field} needs at least {expected} {unit}"
    if validator == "maxLength":
        return f"{field} is longer than {expected} characters"
    if validator == "maxItems":
        return f"{field} has more than {expected} items"
    if validator == "uniqueItems":
        return f"{field} lists the same item twice: remove the duplicate"
    if validator in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        relation = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[validator]
        return f"{field} must be {relation} {expected}, not {_show(value)}"
    if validator == "propertyNames":
        return f"{field}: key {_show(value)} is not allowed: {error.message}"
    return f"{field}: {error.message}"


def _hint_for(schema: dict[str, Any]) -> str:
    description = schema.get("description")
    examples = schema.get("examples")
    shown = ""
    if isinstance(examples, list) and examples and all(isinstance(e, str) for e in examples):
        shown = " (e.g. " + ", ".join(examples[:3]) + ")"
    if "enum" in schema:
        return ": one of " + ", ".join(str(v) for v in schema["enum"])
    if description:
        return f": {description[0].lower()}{description[1:].rstrip('.')}{shown}"
    return shown


def _required_alternatives(branches: Sequence[Any], *, exclusive: bool) -> str | None:
    """For oneOf/anyOf branches that only demand fields, a sentence such as "either start and
    end, or recurrence (not both)" (anyOf: "message, or messageExpression, or both")."""
    groups = []
    for branch in branches:
        if not isinstance(branch, dict) or not set(branch) <= {"required", "not"}:
            return None
        groups.append(" and ".join(branch.get("required", [])))
    if exclusive:
        return "either " + ", or ".join(groups) + " (not both)"
    return ", or ".join(groups) + ", or both" if len(groups) == 2 else ", or ".join(groups)


_TYPE_NAMES: Final = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def _type_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _type_hint(expected: Any, value: Any) -> str:
    wanted = _as_list(expected)
    if "string" in wanted and isinstance(value, (bool, int, float)):
        return ": put the value in quotes to keep it as text"
    if "boolean" in wanted and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
        return f": YAML 1.2 reads {value} as text; write true or false"
    if "array" in wanted and isinstance(value, (str, int, float)):
        return ": write it as a list, one '- item' per line"
    if value is None:
        return ": give a value or remove the key"
    return ""


_YAML11_BOOLS: Final = frozenset({"yes", "no", "on", "off", "y", "n"})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def metaschema_errors(schema: dict[str, Any]) -> list[str]:
    """Problems of a schema against the 2020-12 metaschema (used by the tests and `schema`)."""
    from jsonschema import Draft202012Validator

    return [
        e.message
        for e in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema)
    ]
