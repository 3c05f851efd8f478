from __future__ import annotations

import pytest

from engine.documents.semver import Version, bump, compare


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0.0", "1.0.0", 0),
        ("1.0.0", "2.0.0", -1),
        ("2.5.0", "2.4.9", 1),
        ("1.10.0", "1.9.0", 1),
        ("1.0.0-alpha", "1.0.0", -1),
        ("1.0.0-alpha", "1.0.0-alpha.1", -1),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta", -1),
        ("1.0.0-beta.2", "1.0.0-beta.11", -1),
        ("1.0.0-rc.1", "1.0.0-beta.11", 1),
        ("1.0.0+build.1", "1.0.0+build.2", 0),
        ("v2.0.0", "2.0.0", 0),
    ],
)
def test_compare_follows_semver_precedence(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


@pytest.mark.parametrize(
    ("previous", "current", "kind"),
    [
        ("2.4.0", "2.5.0", "minor"),
        ("2.4.3", "2.5.0", "minor"),
        ("2.4.0", "2.4.1", "patch"),
        ("2.4.0", "3.0.0", "major"),
        ("2.4.0", "2.4.0", "none"),
        ("2.5.0", "2.4.0", "downgrade"),
        ("2.5.0-rc.1", "2.5.0", "patch"),
        ("0.9.0", "1.0.0", "major"),
    ],
)
def test_bump(previous: str, current: str, kind: str) -> None:
    assert bump(previous, current) == kind


@pytest.mark.parametrize("text", ["2.5", "01.2.3", "1.2.3-", "x", "1.2.3.4"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        Version.parse(text)
