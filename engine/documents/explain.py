"""What a schema error means for the person who wrote the document: findings that name the
field and say what to change. The errors come from jsonschema or, through an adapter, from
jsonschema-rs (:mod:`engine.documents.schemas`); both read the same here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Protocol

from engine.documents.model import Document, schema_rule
from engine.documents.sourcemap import FieldPath, format_field
from engine.findings import Finding
from engine.suggest import did_you_mean

# Fields that exist in the domain templates but that changegate derives instead of reading.
_DERIVED: Final = {
    "approvals": (
        "approvals are never declared in YAML: changegate derives them from the pull "
        "request's reviews; remove this field"
    ),
}


class Error(Protocol):
    """The parts of a schema error (jsonschema's ``ValidationError``) the findings read."""

    @property
    def absolute_path(self) -> Sequence[Any]: ...
    @property
    def relative_schema_path(self) -> Sequence[Any]: ...
    @property
    def validator(self) -> Any: ...
    @property
    def validator_value(self) -> Any: ...
    @property
    def instance(self) -> Any: ...
    @property
    def schema(self) -> Any: ...
    @property
    def message(self) -> str: ...
    @property
    def context(self) -> Sequence[Any] | None: ...


Best = Callable[[Sequence[Any]], Any]


def translate(document: Document, error: Error, best: Best) -> Iterator[Finding]:
    """One schema error -> findings that name the field and say what to change. ``best``
    picks the error that explains a failed oneOf/anyOf best."""
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
        alternatives = required_alternatives(expected, exclusive=validator == "oneOf")
        if alternatives is not None:
            yield document.finding(rule, f"{field}: give {alternatives}", field=path)
            return
        if error.context:
            chosen = best(error.context)
            others = len({tuple(e.relative_schema_path)[:1] for e in error.context}) - 1
            for finding in translate(document, chosen, best):
                suffix = f" (and {others} other way(s) it does not fit)" if others > 0 else ""
                yield _with_message(finding, finding.message + suffix)
            return
    yield document.finding(rule, _describe(field, error), field=path)


def _with_message(finding: Finding, message: str) -> Finding:
    return finding._replace(message=message)


def _parts(error: Error) -> tuple[str, Any, Any, dict[str, Any]]:
    """validator, its value in the schema, the instance, and the (sub)schema that failed."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    expected: Any = error.validator_value
    return str(error.validator), expected, error.instance, schema


def _describe(field: str, error: Error) -> str:
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


def required_alternatives(branches: Sequence[Any], *, exclusive: bool) -> str | None:
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
