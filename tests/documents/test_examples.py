"""The shipped examples: acme-shop validates cleanly; every file in invalid/ gives exactly the
findings a user should see, at the exact line and column, with a message that says what to do."""

from __future__ import annotations

import json

import pytest

from tests.support.files import EXAMPLES, ROOT


@pytest.fixture(autouse=True)
def _from_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths are shown relative to the working directory


# file -> [(rule, line, column, words the message must contain)]
INVALID = {
    "duplicate-key.yaml": [("yaml/parse", 11, 3, "duplicate key 'type' (first at line 8)")],
    "syntax-error.yaml": [("yaml/parse", 8, 8, "started at line 7): close the list with ]")],
    "tab-indent.yaml": [("yaml/parse", 5, 1, "indent with spaces, not tabs")],
    "unknown-kind.yaml": [
        ("schema/envelope", 3, 1, "unknown kind 'ChangeRequets': did you mean 'ChangeRequest'?")
    ],
    "wrong-api-version.yaml": [("schema/envelope", 2, 1, "unsupported apiVersion 'changegate/v2'")],
    "missing-field.yaml": [
        ("schema/ChangeRequest", 6, 1, "missing required field 'risk' in spec: one of low")
    ],
    "unknown-field.yaml": [
        ("schema/ChangeRequest", 14, 3, "unknown field 'rollbak' in spec: did you mean 'rollback'?")
    ],
    "bad-enum.yaml": [("schema/ChangeRequest", 8, 3, "not 'norml': did you mean 'normal'?")],
    "wrong-type.yaml": [("schema/Incident", 9, 3, "spec.services must be a list, not the string")],
    "unquoted-version.yaml": [
        ("schema/ReleasePlan", 8, 3, "spec.version must be a string, not the number 2.5: put")
    ],
    "bad-timezone.yaml": [("schema/FreezeWindow", 9, 3, "'CET' is an abbreviation")],
    "impossible-date.yaml": [("schema/Waiver", 11, 3, "2024-02-30 is not a real calendar date")],
    "end-before-start.yaml": [
        ("schema/FreezeWindow", 11, 3, "spec.end (2024-11-29T00:00) must be after spec.start")
    ],
    "bad-duration.yaml": [
        ("schema/ChangeRequest", 17, 5, "'2 hours' is not a valid duration: write it like 2h")
    ],
    "approvals-in-yaml.yaml": [
        ("schema/ChangeRequest", 16, 3, "approvals are never declared in YAML")
    ],
    "duplicate-name.yaml": [
        ("schema/Incident", 5, 3, "'INC-INVALID-16' is also defined at"),
        ("schema/Incident", 15, 3, "'INC-INVALID-16' is already defined at"),
    ],
    "not-a-mapping.yaml": [("schema/envelope", 2, 1, "the document is a list, not a mapping")],
    "empty.yaml": [("schema/envelope", 1, 1, "file holds no YAML document")],
    "yaml11-boolean.yaml": [
        ("schema/ChangeRequest", 16, 5, "YAML 1.2 reads yes as text; write true or false"),
        ("schema/ChangeRequest", 17, 5, "YAML 1.2 reads no as text; write true or false"),
    ],
    "missing-name.yaml": [("schema/Policy", 4, 1, "missing required field 'name' in metadata")],
    "duration-and-end.yaml": [
        ("schema/ChangeRequest", 15, 3, "give either duration, or end (not both)")
    ],
    "merge-key.yaml": [
        ("schema/Incident", 6, 1, "missing required field 'severity'"),
        ("yaml/parse", 7, 3, "merge keys (<<) are not part of YAML 1.2"),
    ],
    "fixed-offset-zone.yaml": [("schema/ChangeWindow", 8, 3, "'+01:00' is a fixed offset")],
}


def test_every_invalid_example_is_listed() -> None:
    assert sorted(p.name for p in (EXAMPLES / "invalid").glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example(cli, name: str) -> None:
    result = cli("validate", "--format", "json", EXAMPLES / "invalid" / name)
    assert result.code == 1, result.err
    verdict = json.loads(result.out)
    assert verdict["decision"] == "deny"
    found = [
        (f["rule"], f["document"]["line"], f["document"]["column"], f["message"])
        for f in verdict["findings"]
    ]
    assert len(found) == len(INVALID[name]), found
    for (rule, line, column, message), expected in zip(found, INVALID[name], strict=True):
        assert (rule, line, column) == expected[:3]
        assert expected[3] in message


def test_invalid_folder_as_a_whole(cli) -> None:
    result = cli("validate", EXAMPLES / "invalid")
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == sum(len(v) for v in INVALID.values()) + 1
    assert lines[-1].startswith("✗ deny: 26 failed in 18 documents from 23 files")
    assert "examples/invalid/bad-enum.yaml:8:3: schema/ChangeRequest: " in result.out


def test_acme_shop_validates_cleanly(cli) -> None:
    result = cli("--repo", EXAMPLES / "acme-shop", "validate")
    assert result.code == 0, result.out
    assert result.out.startswith("✓ allow: 11 documents from 11 files checked, no problems")


def test_acme_shop_by_path_uses_its_own_root(cli) -> None:
    result = cli("validate", "--format", "json", EXAMPLES / "acme-shop")
    assert result.code == 0
    assert json.loads(result.out)["summary"]["documents"] == 11
