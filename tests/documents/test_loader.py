from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import yaml

from engine.documents.loader import (
    DEFAULT_LIMITS,
    Limits,
    load_bytes,
    load_file,
    load_text,
    resolve_plain,
)
from engine.documents.sourcemap import Position, SourceMap, format_field, parse_field

HERE = Path("x.yaml")


def one(text: str):
    loaded = load_text(text, HERE)
    assert loaded.problems == ()
    assert len(loaded.documents) == 1
    return loaded.documents[0]


def problems(text: str, limits: Limits = DEFAULT_LIMITS) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.message) for p in load_text(text, HERE, limits).problems]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"),
        ("on", "on"),
        ("yes", "yes"),
        ("off", "off"),
        ("y", "y"),
        ("10:00", "10:00"),
        ("1:30:00", "1:30:00"),
        ("2024-01-25", "2024-01-25"),
        ("2024-01-25T10:00:00Z", "2024-01-25T10:00:00Z"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("null", None),
        ("~", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("010", 10),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2.5.0", "2.5.0"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("+.inf", math.inf),
        ("-.Inf", -math.inf),
        ("1%", "1%"),
        ("500ms", "500ms"),
    ],
)
def test_plain_scalars_resolve_as_yaml_1_2_core(text: str, value: object) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


def test_nan_is_a_float() -> None:
    assert math.isnan(resolve_plain(".nan"))


def test_uses_libyaml_when_pyyaml_has_it() -> None:
    from engine.documents import loader

    assert yaml.__with_libyaml__, "this machine's PyYAML should be built with libyaml"
    assert loader.PARSER.__name__ == "CParser"


def test_quoted_and_block_scalars_stay_strings() -> None:
    doc = one("a: '42'\nb: \"true\"\nc: |\n  10:00\nd: >-\n  no\n")
    assert doc.data == {"a": "42", "b": "true", "c": "10:00\n", "d": "no"}


def test_explicit_core_tags() -> None:
    doc = one("a: !!str 42\nb: !!int '7'\nc: !!float 3\nd: !!bool 'true'\ne: !!null ''\n")
    assert doc.data == {"a": "42", "b": 7, "c": 3.0, "d": True, "e": None}
    assert isinstance(doc.data["c"], float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!int x\n", "'x' is not a valid !!int"),
        ("a: !!bool 1\n", "'1' is not a valid !!bool"),
        ("a: !!python/object:os.system {}\n", "unsupported YAML tag !!python/object:os.system"),
        ("a: !!binary aGVsbG8=\n", "unsupported YAML tag !!binary"),
        ("a: !!timestamp 2024-01-01\n", "unsupported YAML tag !!timestamp"),
        ("a: !custom x\n", "unsupported YAML tag !custom"),
        ("a: !!set {x, y}\n", "unsupported YAML tag !!set"),
    ],
)
def test_other_tags_are_problems(text: str, message: str) -> None:
    [(line, column, found)] = problems(text)
    assert (line, column) == (1, 4)
    assert message in found


def test_duplicate_keys_are_errors_and_the_first_value_stays() -> None:
    loaded = load_text("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n", HERE)
    assert loaded.documents[0].data == {"a": 1, "b": {"c": 2}}
    assert [(p.line, p.column) for p in loaded.problems] == [(4, 3), (5, 1)]
    assert "duplicate key 'c' (first at line 3)" in loaded.problems[0].message
    assert "duplicate key 'a' (first at line 1)" in loaded.problems[1].message


def test_source_map_points_at_every_key_and_item() -> None:
    doc = one(
        "apiVersion: changegate/v1\n"
        "spec:\n"
        "  rollback:\n"
        "    - first\n"
        "    - step: second\n"
        "      why: [a, b]\n"
        "  schedule: {start: x, duration: 2h}\n"
    )
    locate = doc.source.locate
    assert locate(("apiVersion",)) == Position(1, 1)
    assert locate(("spec", "rollback")) == Position(3, 3)
    assert locate(("spec", "rollback", 0)) == Position(4, 7)
    assert locate(("spec", "rollback", 1, "why")) == Position(6, 7)
    assert locate(("spec", "rollback", 1, "why", 1)) == Position(6, 16)
    assert locate(("spec", "schedule", "duration")) == Position(7, 24)
    # a missing field resolves to its nearest present ancestor
    assert locate(("spec", "schedule", "end")) == Position(7, 3)
    assert locate(("nope",)) == doc.source.root == Position(1, 1)


def test_field_paths_round_trip() -> None:
    path = ("spec", "rollback", 2, "step")
    assert format_field(path) == "spec.rollback[2].step"
    assert parse_field("spec.rollback[2].step") == path
    assert parse_field("spec.type") == ("spec", "type")


def test_multi_document_files_keep_their_own_lines() -> None:
    loaded = load_text("a: 1\n---\nb: 2\n---\n---\nc:\n  d: 3\n", HERE)
    assert [d.data for d in loaded.documents] == [{"a": 1}, {"b": 2}, None, {"c": {"d": 3}}]
    assert [d.index for d in loaded.documents] == [0, 1, 2, 3]
    assert loaded.documents[3].source.locate(("c", "d")) == Position(7, 3)


def test_empty_and_comment_only_files_hold_no_document() -> None:
    assert load_text("", HERE).documents == ()
    assert load_text("# nothing\n\n", HERE).documents == ()


def test_aliases_are_followed_within_bounds() -> None:
    doc = one("base: &b {x: 1}\ncopy: *b\nlist: [*b, *b]\n")
    assert doc.data["copy"] == {"x": 1}
    assert doc.data["list"] == [{"x": 1}, {"x": 1}]


def test_billion_laughs_is_rejected_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(8):
        prev, this = chr(97 + i), chr(98 + i)
        lines.append(f"{this}: &{this} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    found = problems("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 1.0
    assert len(found) == 1
    assert "alias bomb" in found[0][2]


def test_too_many_aliases() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    [(line, _, message)] = problems(text)
    assert line == 2
    assert "more than 100 aliases" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [("a: &a [*a]\n", "alias *a refers to itself"), ("a: *nope\n", "alias *nope has no anchor")],
)
def test_bad_aliases(text: str, message: str) -> None:
    [(_, _, found)] = problems(text)
    assert message in found


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_nesting_is_rejected_without_recursion(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth + "\n"
    [(line, _, message)] = problems(text)
    assert line == 1
    assert "nesting deeper than 64 levels" in message


def test_block_nesting_limit_counts_levels() -> None:
    text = "".join("  " * i + "k:\n" for i in range(70))
    [(line, _, message)] = problems(text)
    assert line == 65
    assert "nesting deeper" in message


def test_merge_keys_are_reported_not_expanded() -> None:
    loaded = load_text("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", HERE)
    assert loaded.documents[0].data["child"] == {"y": 2}
    assert "merge keys" in loaded.problems[0].message
    assert (loaded.problems[0].line, loaded.problems[0].column) == (3, 3)


def test_complex_keys_are_problems() -> None:
    found = problems("? [a, b]\n: c\n")
    assert "used as a key" in found[0][2]


def test_syntax_errors_name_the_line_and_keep_earlier_documents() -> None:
    loaded = load_text("a: 1\n---\nb: [1, 2\nc: 3\n", HERE)
    assert [d.data for d in loaded.documents] == [{"a": 1}]
    [problem] = loaded.problems
    assert problem.line == 4
    assert "started at line 3" in problem.message
    assert "close the list" in problem.message


def test_tabs_get_a_hint() -> None:
    [(line, column, message)] = problems("a:\n\tb: 1\n")
    assert (line, column) == (2, 1)
    assert "indent with spaces" in message


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (b"a: 1\nb: \x00\n", 2, 4, "NUL byte"),
        (b"a: 1\nb: caf\xe9\n", 2, 7, "not UTF-8 (byte 0xe9"),
        ("a: 1\n".encode("utf-16"), 1, 4, "NUL byte"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 3, 1, "NUL byte"),
    ],
)
def test_undecodable_bytes_are_problems(data: bytes, line: int, column: int, message: str) -> None:
    loaded = load_bytes(data, HERE)
    assert loaded.documents == ()
    [problem] = loaded.problems
    assert (problem.line, problem.column) == (line, column)
    assert message in problem.message


def test_utf8_bom_is_accepted() -> None:
    loaded = load_bytes("\ufeffa: é\n".encode(), HERE)
    assert loaded.documents[0].data == {"a": "é"}


def test_control_characters_are_reported() -> None:
    [(line, _, message)] = problems("a: 1\nb: \x07\n")
    assert line == 2
    assert "not valid YAML" in message


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * 2000 + b"\n")
    [problem] = load_file(big, Limits(max_file_bytes=1000)).problems
    assert "over the 1,000-byte limit" in problem.message


def test_values_limit_counts_plain_documents_too() -> None:
    text = "a: [" + ", ".join("1" for _ in range(50)) + "]\n"
    [(_, _, message)] = problems(text, Limits(max_values=20))
    assert "more than 20 values" in message


def test_unreadable_paths_are_problems(tmp_path: Path) -> None:
    folder = tmp_path / "x.yaml"
    folder.mkdir()
    assert "it is a directory" in load_file(folder).problems[0].message
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    assert "cannot read gone.yaml: no such file" in load_file(dangling).problems[0].message


def test_agrees_with_pyyaml_on_ordinary_documents() -> None:
    text = (
        "apiVersion: changegate/v1\nkind: ChangeRequest\nmetadata: {name: CHG-1, labels: {a: b}}\n"
        "spec:\n  title: Migration\n  services: [a, b]\n  impact: {users: 12000, downtime: 0m}\n"
        "  testing: {unit: true, uat: false}\n  rollback:\n    - one\n    - two\n"
        "  description: |\n    line one\n    line two\n"
    )
    assert one(text).data == yaml.safe_load(text)


NEAR_SHAPES = [
    "a: 1\nb: [x, {c: 2}]\nd:\n  e: |\n    text\n  f: >-\n    folded\n  g:\n    - h\n    - i: 3\n",
    "# a comment\n---\n- 1\n- [2, 3]\n- {k: v}\n---\nx: {y: [1, 2], z: {w: 1}}\n",
    "spec:\n  'quoted': \"x\"\n  ? explicit\n  : value\n  list:\n  - a\n  -   b\n",
    "{flow: {deep: {deeper: 1}}, other: [1, [2, [3]]]}\n",
    "top: value\n",
]


@pytest.mark.parametrize("text", [*NEAR_SHAPES, "examples"])
def test_positions_near_the_top_come_from_the_first_read_as_the_careful_builder_places_them(
    text: str,
) -> None:
    """The fast builder keeps the positions of fields two levels deep: exactly the careful
    builder's, so every path that deep resolves to the same line and column without the
    file being read again."""
    from engine.documents.builder import Abort, Builder
    from engine.documents.fast import NEAR, fast, near_positions
    from tests.support.files import EXAMPLES

    if text == "examples":
        texts = [p.read_text() for p in sorted(EXAMPLES.rglob("*.yaml"))]
    else:
        texts = [text]
    compared = 0
    for source in texts:
        quick = fast(source, DEFAULT_LIMITS)
        careful = Builder(DEFAULT_LIMITS)
        try:
            careful.run(source)
        except (Abort, yaml.YAMLError):
            assert quick is None
            continue
        if quick is None:
            continue  # unusual YAML: the careful builder's map is used whole
        assert len(quick) == len(careful.documents)
        for (_, _, marks), full in zip(quick, careful.documents, strict=True):
            table = dict(full.source._table())
            assert near_positions(marks) == {p: at for p, at in table.items() if len(p) <= NEAR}
            near = SourceMap(full.source.root, near=(NEAR, lambda m=marks: near_positions(m)))
            for path in [*table, *[(*p, "missing") for p in table], ("missing",), ()]:
                if len(path) <= NEAR:
                    assert near.locate(path) == full.source.locate(path), path
                    assert near.has(path) == full.source.has(path), path
            compared += 1
    assert compared


def test_plain_scalars_resolve_as_the_core_schema_regular_expressions_say() -> None:
    """The YAML 1.2 core schema's tag resolution, written out as its table of regular
    expressions, agrees with the resolver on 100,000 scalars made of the characters that
    matter."""
    import random
    import re

    from engine.documents.scalars import resolve_plain

    table = [
        (r"null|Null|NULL|~", lambda t: None),
        (r"true|True|TRUE", lambda t: True),
        (r"false|False|FALSE", lambda t: False),
        (r"[-+]?[0-9]+", lambda t: int(t, 10)),
        (r"0o[0-7]+", lambda t: int(t[2:], 8)),
        (r"0x[0-9a-fA-F]+", lambda t: int(t[2:], 16)),
        (r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", float),
        (r"[-+]?\.(inf|Inf|INF)", lambda t: -math.inf if t[0] == "-" else math.inf),
        (r"\.(nan|NaN|NAN)", lambda t: math.nan),
    ]

    def reference(text: str) -> object:
        for pattern, value in table:
            if re.fullmatch(pattern, text):
                return value(text)
        return text

    rng = random.Random(8)  # noqa: S311 - test data
    alphabet = "0123456789+-.eExoabfinINFNaAtTrRuUlLsS~ _:"
    for _ in range(100_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 7)))
        expected, found = reference(text), resolve_plain(text)
        if isinstance(expected, float) and math.isnan(expected):
            assert isinstance(found, float), text
            assert math.isnan(found), text
        else:
            assert (found, type(found)) == (expected, type(expected)), text
