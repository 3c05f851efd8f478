"""The wheel carries the package data, and changegate runs from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.files import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # from a copy: setuptools reuses ./build, where a module no longer packaged may linger
    source = tmp_path_factory.mktemp("source") / "changegate"
    ignore = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "out")
    shutil.copytree(ROOT, source, ignore=ignore)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{result.stderr}")
    [built] = out.glob("changegate-*.whl")
    return built


def test_wheel_ships_schemas_templates_and_policies(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").glob("*.json"):
        assert f"engine/bundled/schemas/{schema.name}" in names
    for template in (ROOT / "engine" / "templates" / "new").glob("*.j2"):
        assert f"engine/templates/new/{template.name}" in names
    for policy in (ROOT / "policies").rglob("*.yaml"):
        relative = policy.relative_to(ROOT / "policies").as_posix()
        assert f"engine/bundled/policies/{relative}" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # every module: the editable install of the dev environment would hide a missing one
    for module in (ROOT / "engine").rglob("*.py"):
        relative = module.relative_to(ROOT).as_posix()
        assert relative in names, f"{relative} is not in the wheel (pyproject.toml packages)"


def test_changegate_runs_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    probe = subprocess.run(
        [sys.executable, "-c", "import engine; print(engine.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert probe.stdout.startswith(str(unpacked))
    result = subprocess.run(
        [sys.executable, "-m", "engine", "validate", str(EXAMPLES / "acme-shop")],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "11 documents" in result.stdout
    schema = subprocess.run(
        [sys.executable, "-m", "engine", "schema", "Incident"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert '"title": "changegate Incident"' in schema.stdout
