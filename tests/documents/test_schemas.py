"""The schemas: valid 2020-12, documented, strict, and their examples agree with them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine.documents.loader import load_file, load_text
from engine.documents.model import KINDS, Document, identify
from engine.documents.schemas import SchemaSet, metaschema_errors
from tests.support.files import EXAMPLES, ROOT

SCHEMAS = sorted((ROOT / "schemas").glob("*.json"))


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture(scope="module")
def registry() -> Registry[Any]:
    loaded = [json.loads(p.read_text()) for p in SCHEMAS]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in loaded)


def subschemas(schema: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in {"examples", "enum", "const", "default"}:
                continue
            yield from subschemas(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from subschemas(item, f"{path}/{i}")


def test_every_kind_has_a_schema_file() -> None:
    names = {p.name for p in SCHEMAS}
    assert set(KINDS.values()) | {"common.json", "context.json", "verdict.json"} == names


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(path.name)
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_property_is_described_and_objects_are_closed(path: Path) -> None:
    schema = json.loads(path.read_text())
    for where, sub in subschemas(schema):
        for name, prop in sub.get("properties", {}).items():
            assert prop.get("description"), f"{where}/properties/{name} has no description"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{where} accepts unknown fields"


def test_most_properties_carry_examples() -> None:
    total = with_examples = 0
    for path in SCHEMAS:
        for _, sub in subschemas(json.loads(path.read_text())):
            for prop in sub.get("properties", {}).values():
                total += 1
                with_examples += bool(prop.get("examples") or "$ref" in prop or "enum" in prop)
    assert with_examples / total > 0.95


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_examples_validate_against_their_schema(path: Path, registry: Registry[Any]) -> None:
    root = json.loads(path.read_text())
    checked = 0
    for where, sub in subschemas(root):
        for example in sub.get("examples", []):
            validator = Draft202012Validator({"$ref": root["$id"] + where}, registry=registry)
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, f"{path.name} {where} example {example!r}: {errors}"
            checked += 1
    assert checked > 3


CONTEXTS = sorted((EXAMPLES / "acme-shop" / "contexts").glob("*.yaml"))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (EXAMPLES / "acme-shop").rglob("*.yaml") if p not in CONTEXTS),
    ids=lambda p: p.name,
)
def test_acme_shop_documents_validate(path: Path, schemas: SchemaSet) -> None:
    documents, problems = identify(load_file(path))
    assert problems == []
    for document in documents:
        assert schemas.check(document) == []


@pytest.mark.parametrize("path", CONTEXTS, ids=lambda p: p.name)
def test_shipped_contexts_validate(path: Path, schemas: SchemaSet) -> None:
    [document] = load_file(path).documents
    assert [e.message for e in schemas.context_errors(document.data)] == []


def test_bundled_schema_is_self_contained(schemas: SchemaSet) -> None:
    for kind in KINDS:
        bundle = schemas.bundle(kind)
        Draft202012Validator.check_schema(bundle)
        # no registry: every reference must resolve inside the bundle
        validator = Draft202012Validator(bundle)
        example = bundle["examples"][0]
        assert list(validator.iter_errors(example)) == []
        assert not validator.is_valid({**example, "bogus": 1})


def test_document_schema_dispatches_on_kind(schemas: SchemaSet) -> None:
    bundle = schemas.bundle(None)
    validator = Draft202012Validator(bundle)
    for kind in KINDS:
        assert validator.is_valid(schemas.schema(kind)["examples"][0])
    broken = dict(schemas.schema("Incident")["examples"][0], spec={"title": "no severity"})
    assert not validator.is_valid(broken)


def _document(text: str) -> Document:
    documents, problems = identify(load_text(text, Path("x.yaml")))
    assert problems == []
    return documents[0]


def test_fast_and_detailed_validators_agree(schemas: SchemaSet) -> None:
    good = _document(
        "apiVersion: changegate/v1\nkind: Incident\nmetadata: {name: INC-1}\n"
        "spec: {title: t, severity: SEV-1, services: [a], detectedAt: '2024-01-01T00:00:00Z'}\n"
    )
    bad = _document(
        "apiVersion: changegate/v1\nkind: Incident\nmetadata: {name: INC-1}\n"
        "spec: {title: t, severity: SEV-5, services: [a], detectedAt: '2024-01-01T00:00:00Z'}\n"
    )
    assert schemas.is_valid("Incident", good.body)
    assert not schemas.is_valid("Incident", bad.body)
    assert schemas.check(good) == []
    [finding] = schemas.check(bad)
    assert "must be one of SEV-1, SEV-2, SEV-3, SEV-4, not 'SEV-5'" in finding.message


def test_huge_integers_do_not_break_validation(schemas: SchemaSet) -> None:
    doc = _document(
        "apiVersion: changegate/v1\nkind: Incident\nmetadata: {name: INC-1}\n"
        "spec: {title: t, severity: SEV-1, services: [a], detectedAt: '2024-01-01T00:00:00Z',\n"
        "       impact: {downtime: 99999999999999999999999999999999999999999}}\n"
    )
    [finding] = schemas.check(doc)
    assert "spec.impact.downtime must be a string" in finding.message


def test_cli_prints_bundled_schema(cli) -> None:
    result = cli("schema", "change-request")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["title"] == "changegate ChangeRequest"
    assert "duration" in schema["$defs"]  # common.json's definitions, inlined
    result = cli("schema", "ChangeRequst")
    assert result.code == 2
    assert "did you mean ChangeRequest?" in result.err
    assert json.loads(cli("schema").out)["title"] == "changegate document"


@pytest.mark.parametrize(
    "args",
    [
        ("validate", str(EXAMPLES / "invalid")),
        ("check", str(EXAMPLES / "acme-shop"), "--at", "2024-01-20T12:00:00Z"),
        ("--repo", str(EXAMPLES / "acme-shop"), "gate", "--env", "production",
         "--service", "checkout", "--at", "2024-12-23T10:00:00Z"),
    ],
    ids=["validate", "check", "gate"],
)  # fmt: skip
def test_every_json_verdict_matches_the_verdict_schema(
    cli, schemas: SchemaSet, args: tuple[str, ...]
) -> None:
    result = cli(*args, "--format", "json")
    assert [e.message for e in schemas.verdict_errors(json.loads(result.out))] == []


# --- what editors load ------------------------------------------------------------------------

EDITOR_URL = "file:///project/.vscode/changegate.schema.json"


def _all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [
            r
            for k, v in node.items()
            if k not in {"examples", "enum", "const"}
            for r in _all_refs(v)
        ]
    if isinstance(node, list):
        return [r for item in node for r in _all_refs(item)]
    return []


def _editor_registry(schema: dict[str, Any]) -> Any:
    """A registry that, like an editor given a schema file, can fetch that one URL and nothing
    else: a $ref into any other document fails to resolve."""
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource

    def retrieve(uri: str) -> Resource[Any]:
        if uri != EDITOR_URL:
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(schema)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def _resolve_every_ref(schema: dict[str, Any]) -> list[str]:
    from referencing.exceptions import Unresolvable

    registry = _editor_registry(schema)
    resolver = registry.resolver(base_uri=EDITOR_URL)
    root = resolver.lookup(EDITOR_URL)
    problems = []
    for ref in sorted(set(_all_refs(schema))):
        try:
            root.resolver.lookup(ref)
        except Unresolvable as error:
            problems.append(f"{ref}: {error!r}")
    return problems


@pytest.mark.parametrize("kind", [*KINDS, None])
def test_schema_output_resolves_every_ref_from_that_one_document(cli, kind: str | None) -> None:
    schema = json.loads(cli("schema", *([kind] if kind else [])).out)
    refs = _all_refs(schema)
    assert refs
    assert all(ref.startswith("#/$defs/") for ref in refs), refs  # pointers into itself
    assert _resolve_every_ref(schema) == []
    assert metaschema_errors(schema) == []


def test_the_raw_schema_files_would_not_resolve_in_an_editor(schemas: SchemaSet) -> None:
    """The control: a kind's file on its own points into common.json, which an editor given
    one schema file cannot fetch."""
    problems = _resolve_every_ref(schemas.schema("ChangeRequest"))
    assert problems
    assert all("common.json" in p for p in problems)


def test_editors_validate_the_examples_with_the_schema_output(cli, tmp_path: Path) -> None:
    """check-jsonschema, loading the schema from a file as an editor does, accepts every
    example document with `changegate schema KIND`, and with `changegate schema` for all."""
    import subprocess
    import sys

    from engine.documents.loader import load_file
    from engine.documents.model import identify

    bin_dir = Path(sys.executable).parent
    tool = bin_dir / "check-jsonschema"
    if not tool.exists():
        pytest.skip("check-jsonschema is not installed next to this Python")
    by_kind: dict[str, list[Path]] = {}
    for path in sorted((EXAMPLES / "acme-shop").rglob("*.yaml")):
        documents, _ = identify(load_file(path))
        if len(documents) == 1:
            by_kind.setdefault(documents[0].kind, []).append(path)
    assert {"ChangeRequest", "ReleasePlan", "FreezeWindow", "Incident", "Config"} <= set(by_kind)
    everything = tmp_path / "changegate.schema.json"
    everything.write_text(cli("schema").out, encoding="utf-8")
    for kind, paths in by_kind.items():
        schema = tmp_path / f"{kind}.json"
        schema.write_text(cli("schema", kind).out, encoding="utf-8")
        for schema_file in (schema, everything):
            result = subprocess.run(
                [str(tool), "--schemafile", str(schema_file), *map(str, paths)],
                capture_output=True, text=True, check=False, timeout=120,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr
