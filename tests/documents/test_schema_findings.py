"""Schema findings built from jsonschema-rs's errors are word for word those built from
jsonschema's, on thousands of broken documents made from the examples."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from engine.documents.loader import load_file
from engine.documents.model import Document, identify
from engine.documents.schemas import SchemaSet
from tests.support.files import EXAMPLES

WRONG: tuple[Any, ...] = (
    None,
    True,
    12345,
    1.5,
    "not what is wanted",
    "",
    [],
    ["x", 1],
    {},
    {"x": 1},
)


def examples() -> list[Document]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        found += identify(load_file(path))[0]
    return found


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field and list item of a document, to four levels."""
    if len(prefix) >= 4:
        return
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield (*prefix, key)
        yield from paths(inner, (*prefix, key))


def broken(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one field removed, replaced by a value of the wrong kind, or joined
    by a field nobody knows."""
    for path in paths(body):
        for replacement in (*WRONG, "removed", "added"):
            changed = copy.deepcopy(body)
            target = changed
            for key in path[:-1]:
                target = target[key]
            if replacement == "removed":
                target.pop(path[-1])
            elif replacement == "added":
                if not isinstance(target[path[-1]], dict):
                    continue
                target[path[-1]]["unknownField"] = 1
            else:
                target[path[-1]] = replacement
            yield changed


def as_document(original: Document, body: dict[str, Any]) -> Document:
    return Document(
        original.kind, original.name, body, original.path, original.index, original.source
    )


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


def test_findings_from_either_validator_are_the_same(
    schemas: SchemaSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_used = compared = 0
    for original in examples():
        for body in itertools.islice(broken(original.body), 400):
            document = as_document(original, body)
            fast = schemas.check(document)
            if not fast:
                continue
            compared += 1
            fast_used += schemas._fast_findings(document) is not None
            with monkeypatch.context() as patched:
                patched.setattr(SchemaSet, "_fast_findings", lambda self, d: None)
                detailed = schemas.check(document)
            assert fast == detailed, (original.path.name, body)
    print(f"{compared} broken documents, {fast_used} explained from jsonschema-rs")
    assert compared > 2000
    assert fast_used > compared * 0.8  # the fast path answers most of them


def test_a_missing_field_is_said_once(schemas: SchemaSet) -> None:
    (original,) = identify(load_file(EXAMPLES / "acme-shop" / "incidents" / "INC-2024-0125.yaml"))[
        0
    ]
    body = copy.deepcopy(original.body)
    for key in ("title", "services", "detectedAt"):
        body["spec"].pop(key)
    messages = [f.message for f in schemas.check(as_document(original, body))]
    assert len(messages) == 3
    assert len(set(messages)) == 3


def test_many_missing_fields_are_each_said_once_and_are_no_flood(schemas: SchemaSet) -> None:
    (original,) = identify(load_file(EXAMPLES / "acme-shop" / "incidents" / "INC-2024-0125.yaml"))[
        0
    ]
    body = copy.deepcopy(original.body)
    body["spec"] = {}  # every required field missing
    messages = [f.message for f in schemas.check(as_document(original, body))]
    assert len(messages) == len(set(messages))
    assert not any("more than" in m for m in messages)
