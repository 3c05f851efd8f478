"""action.yml and the workflows: valid for GitHub (the schemas check-jsonschema ships), and
written so that no input can be injected into a script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.github.action.inputs import Inputs
from tests.support.files import ROOT

WORKFLOWS = sorted(
    [
        *(ROOT / ".github" / "workflows").glob("*.yml"),
        *(ROOT / "examples" / "workflows").glob("*.yml"),
    ]
)


def validate(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_action_yml_is_a_valid_action() -> None:
    result = validate("vendor.github-actions", ROOT / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflows_are_valid_workflows() -> None:
    assert len(WORKFLOWS) >= 5
    result = validate("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - nope: 1\n"
    )
    assert validate("vendor.github-workflows", broken).returncode == 1


def action() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_inputs_reach_the_scripts_only_through_env() -> None:
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), f"{step['name']}: an expression in a script"


def test_every_input_is_handed_to_changegate_and_read_by_it(tmp_path: Path) -> None:
    spec = action()
    [run] = [s for s in spec["runs"]["steps"] if s.get("id") == "run"]
    given = {
        "mode": "gate", "github-token": "t0ken", "environment": "production",
        "service": "checkout", "version": "2.5.0", "change": "CHG-1", "comment": "false",
        "status": "true", "config": "ops/changegate.yaml", "fail-on": "warn",
        "working-directory": "ops", "verdict": "artifact", "since": "2024-01-01",
        "until": "2024-04-01", "request-reviewers": "true",
    }  # fmt: skip
    assert set(given) | {"cache"} == set(spec["inputs"])  # cache: the action's own steps
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    for name, value in given.items():
        variable = "CHANGEGATE_" + name.upper().replace("-", "_")
        assert run["env"][variable] == f"${{{{ inputs.{name} }}}}"
        env[variable] = value
    assert Inputs.read(env) == Inputs(
        mode="gate", token="t0ken", environment="production", service="checkout",
        version="2.5.0", change="CHG-1", comment=False, status=True,
        config=tmp_path / "ops/changegate.yaml", fail_on="warn", directory=tmp_path / "ops",
        verdict=tmp_path / "artifact", workspace=tmp_path, since="2024-01-01", until="2024-04-01",
        request_reviewers=True,
    )  # fmt: skip


def test_the_action_installs_exactly_the_hashed_requirements() -> None:
    [install] = [s for s in action()["runs"]["steps"] if s.get("id") == "install"]
    assert "--require-hashes --no-deps --only-binary=:all:" in install["run"]
    lines = (ROOT / "requirements" / "action.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.split(" ")[0] for line in lines if "==" in line]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[\w.]+", pin) for pin in pins)
    blocks = (ROOT / "requirements" / "action.txt").read_text(encoding="utf-8").split("==")[1:]
    assert all("--hash=sha256:" in block for block in blocks)


def _pins(path: Path) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    found = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", path.read_text(encoding="utf-8"), re.M)
    return {canonicalize_name(name): version for name, version in found}


def test_the_action_runs_the_versions_the_tests_ran() -> None:
    """requirements/action.txt is written by lock.py from constraints.txt: when the
    constraints move and the lock does not, the action would run untested versions."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    action_pins = _pins(ROOT / "requirements" / "action.txt")
    tested = _pins(ROOT / "requirements" / "constraints.txt")
    drifted = {n: (v, tested.get(n)) for n, v in action_pins.items() if tested.get(n) != v}
    assert drifted == {}, "run python requirements/lock.py"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for dependency in map(Requirement, project["dependencies"]):
        if dependency.marker is None or dependency.marker.evaluate({"python_version": "3.12"}):
            assert canonicalize_name(dependency.name) in action_pins, dependency


@pytest.mark.parametrize("path", [ROOT / "action.yml", *WORKFLOWS], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_to_commits(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for used in re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)", text, re.MULTILINE):
        if used.startswith(("./", "changegate/changegate@")):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", used), used


def test_the_action_never_imports_from_the_workspace() -> None:
    """python -m puts the working directory first on sys.path: a pull request that adds
    engine/__init__.py or pip/__main__.py would run its own code with the token."""
    for step in action()["runs"]["steps"]:
        lines = re.findall(r"[^\n]*PYTHON\"?[^\n]*-m [^\n]*|[^\n]*python\"?[^\n]*-m [^\n]*",
                           step.get("run", ""))  # fmt: skip
        for line in lines:
            assert " -I -m " in line, line
    assert 'cd "$RUNNER_TEMP"' in action()["runs"]["steps"][1]["run"]


@pytest.mark.parametrize(
    ("setting", "event", "use"),
    [
        ("trusted", "push", "true"),
        ("trusted", "deployment", "true"),
        ("trusted", "workflow_dispatch", "true"),
        ("trusted", "pull_request", "false"),
        ("trusted", "pull_request_target", "false"),
        ("trusted", "merge_group", "false"),
        ("trusted", "workflow_run", "false"),
        ("always", "pull_request", "true"),
        ("off", "push", "false"),
    ],
)
def test_the_document_cache_is_used_only_where_trusted_code_writes_it(
    tmp_path: Path, setting: str, event: str, use: str
) -> None:
    """Pull requests run workflows their authors may change: an entry they planted would be
    read as the content of a file; so only runs on trusted events restore and save it."""
    [step] = [s for s in action()["runs"]["steps"] if s.get("id") == "cache"]
    output = tmp_path / "output"
    env = {"SETTING": setting, "EVENT": event, "GITHUB_OUTPUT": str(output),
           "RUNNER_TEMP": str(tmp_path), "PATH": os.environ["PATH"]}  # fmt: skip
    subprocess.run(["bash", "-c", step["run"]], env=env, check=True)
    found = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert found["use"] == use
    assert found["setting"] == (f"{tmp_path}/changegate-cache" if use == "true" else "off")
    uses = [s for s in action()["runs"]["steps"] if "actions/cache/" in s.get("uses", "")]
    assert [s["if"] for s in uses] == [
        "steps.cache.outputs.use == 'true'",
        "always() && steps.cache.outputs.use == 'true'",
    ]


def test_a_cache_setting_that_is_not_one_of_the_three_stops_the_job(tmp_path: Path) -> None:
    [step] = [s for s in action()["runs"]["steps"] if s.get("id") == "cache"]
    env = {"SETTING": "sometimes", "EVENT": "push", "GITHUB_OUTPUT": str(tmp_path / "o"),
           "RUNNER_TEMP": str(tmp_path), "PATH": os.environ["PATH"]}  # fmt: skip
    result = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "cache: 'sometimes' is not trusted, always or off" in result.stdout
