from __future__ import annotations

from pathlib import Path

import pytest

from engine.documents.config import DEFAULT_INCLUDE, Selection
from engine.errors import UsageError
from engine.workspace.discovery import Found, discover, find_root, resolve_root
from tests.support.files import write


def touch(root: Path, *names: str) -> None:
    for name in names:
        write(root / name, "x: 1\n")


def relative(root: Path, found: list[Found]) -> list[str]:
    """The paths found, from the root, checked against the relative path discovery gives."""
    shown = [f.path.relative_to(root.resolve()).as_posix() for f in found]
    assert [f.relative for f in found] == shown
    return shown


def test_default_globs_select_the_spec_folders(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "changegate.yaml", "releases/a.yaml", "releases/2024/q1/b.yml", "changes/c.yaml",
        "freezes/d.yaml", "incidents/e.yaml", "policies/f.yaml", "policies/tests/g.yaml",
        "README.yaml", "docs/h.yaml", "changes/notes.txt", ".github/workflows/ci.yml",
        "changes/.hidden/i.yaml",
    )  # fmt: skip
    found = relative(tmp_path, discover(tmp_path, Selection(DEFAULT_INCLUDE, ()), []))
    assert found == [
        "changegate.yaml", "changes/c.yaml", "freezes/d.yaml", "incidents/e.yaml",
        "policies/f.yaml", "policies/tests/g.yaml", "releases/2024/q1/b.yml", "releases/a.yaml",
    ]  # fmt: skip


def test_excludes_apply_to_globs_and_folders(tmp_path: Path) -> None:
    touch(tmp_path, "changes/a.yaml", "changes/drafts/b.yaml")
    exclude = ["**/drafts/**"]
    assert relative(tmp_path, discover(tmp_path, Selection(DEFAULT_INCLUDE, exclude), [])) == [
        "changes/a.yaml"
    ]
    walked = discover(tmp_path, Selection(DEFAULT_INCLUDE, exclude), [tmp_path / "changes"])
    assert relative(tmp_path, walked) == ["changes/a.yaml"]


def test_explicit_files_are_taken_as_given(tmp_path: Path) -> None:
    touch(tmp_path, "anywhere/x.txt")
    found = discover(tmp_path, Selection(DEFAULT_INCLUDE, ()), [tmp_path / "anywhere" / "x.txt"])
    assert relative(tmp_path, found) == ["anywhere/x.txt"]


def test_explicit_folders_walk_yaml_files_skipping_hidden_ones(tmp_path: Path) -> None:
    touch(tmp_path, "ex/a.yaml", "ex/sub/b.yml", "ex/c.json", "ex/.github/w.yml")
    found = discover(tmp_path, Selection(DEFAULT_INCLUDE, ()), [tmp_path / "ex"])
    assert relative(tmp_path, found) == ["ex/a.yaml", "ex/sub/b.yml"]


def test_missing_paths_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        discover(tmp_path, Selection(DEFAULT_INCLUDE, ()), [tmp_path / "nope.yaml"])


def test_root_is_the_nearest_config_within_the_git_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    touch(tmp_path, "shop/changegate.yaml", "shop/changes/a.yaml", "other/b.yaml")
    assert find_root(tmp_path / "shop" / "changes" / "a.yaml") == tmp_path / "shop"
    assert find_root(tmp_path / "other" / "b.yaml") == tmp_path
    # above the repository nothing holds a config or a .git folder
    assert find_root(tmp_path.parent / "unrelated") is None


def test_resolve_root_prefers_repo_then_paths_then_cwd(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    touch(tmp_path, "shop/changegate.yaml", "shop/changes/a.yaml")
    assert resolve_root(tmp_path, [], tmp_path / "shop") == tmp_path
    assert resolve_root(None, [tmp_path / "shop" / "changes"], tmp_path) == tmp_path / "shop"
    assert resolve_root(None, [], tmp_path / "shop" / "changes") == tmp_path / "shop"
