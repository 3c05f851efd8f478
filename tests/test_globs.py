from __future__ import annotations

import pytest

from engine.globs import literal_prefix, match_any, match_name, match_path


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("releases/**.yaml", "releases/a.yaml", True),
        ("releases/**.yaml", "releases/x/y/a.yaml", True),
        ("releases/**/*.yaml", "releases/a.yaml", True),
        ("releases/**/*.yaml", "releases/x/a.yaml", True),
        ("releases/*.yaml", "releases/x/a.yaml", False),
        ("releases/**.{yaml,yml}", "releases/a.yml", True),
        ("releases/**.{yaml,yml}", "releases/a.json", False),
        ("changegate.yaml", "changegate.yaml", True),
        ("changegate.yaml", "x/changegate.yaml", False),
        ("**/drafts/**", "changes/drafts/a.yaml", True),
        ("**/drafts/**", "drafts/a.yaml", True),
        ("changes/?.yaml", "changes/a.yaml", True),
        ("changes/[ab].yaml", "changes/c.yaml", False),
        ("changes/[!ab].yaml", "changes/c.yaml", True),
    ],
)
def test_path_globs(pattern: str, path: str, expected: bool) -> None:
    assert match_path(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("prod*", "production", True),
        ("prod*", "staging", False),
        ("*", "anything/at-all", True),
        ("pay{ments,outs}", "payouts", True),
        ("eu-?", "eu-1", True),
        ("checkout", "checkout-v2", False),
        ("a.b", "axb", False),
    ],
)
def test_name_globs(pattern: str, name: str, expected: bool) -> None:
    assert match_name(pattern, name) is expected


def test_match_any_treats_an_omitted_list_as_everything() -> None:
    assert match_any(None, "x")
    assert not match_any([], "x")
    assert match_any(["a", "x*"], "xyz")


def test_literal_prefix() -> None:
    assert literal_prefix("releases/**.yaml") == "releases/"
    assert literal_prefix("a/b/*.yaml") == "a/b/"
    assert literal_prefix("changegate.yaml") == "changegate.yaml"
    assert literal_prefix("**/x.yaml") == ""
