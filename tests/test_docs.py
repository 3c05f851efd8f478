"""The generated documentation matches the pack and the functions it describes."""

from __future__ import annotations

import subprocess
import sys

from tests.support.files import ROOT


def test_policy_docs_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
