"""The pre-commit hook: its file selects governed documents, and its entry runs validate."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from tests.support.files import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def hook() -> dict[str, object]:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return hook


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("changegate.yaml", True),
        ("changes/CHG-1.yaml", True),
        ("releases/2024/checkout-v2.5.0.yml", True),
        ("freezes/holiday.yaml", True),
        ("incidents/INC-1.yaml", True),
        ("policies/tests/case.yaml", True),
        ("deploy/shop/changes/CHG-1.yaml", True),
        (".github/workflows/ci.yml", False),
        ("docker-compose.yaml", False),
        ("changes/README.md", False),
    ],
)
def test_hook_selects_governed_documents(
    hook: dict[str, object], path: str, selected: bool
) -> None:
    assert bool(re.search(str(hook["files"]), path)) is selected


def test_hook_entry_runs_validate_on_the_files_pre_commit_passes(
    hook: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    command, *args = shlex.split(str(hook["entry"]))
    assert command == "changegate"
    good = EXAMPLES / "acme-shop" / "changes" / "CHG-2024-0150.yaml"
    bad = EXAMPLES / "invalid" / "bad-enum.yaml"
    assert main([*args, str(good.relative_to(ROOT))]) == 0
    assert main([*args, str(bad.relative_to(ROOT))]) == 1
    assert "bad-enum.yaml:8:3" in capsys.readouterr().out
    assert hook["language"] == "python"
    # the installed command runs main (through entry, which ends the process after it)
    assert Path(ROOT / "pyproject.toml").read_text().count('changegate = "engine.cli:entry"') == 1
