"""The command line end to end through main([...]), plus the installed entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli as cli_module
from engine.commands import validate
from engine.time.instants import parse_instant
from tests.support.files import EXAMPLES, ROOT, write

GOOD = """\
apiVersion: changegate/v1
kind: Incident
metadata: {name: INC-1}
spec: {title: t, severity: SEV-3, services: [web], detectedAt: "2024-01-11T10:15:00Z"}
"""


def test_json_verdict_has_the_spec_shape(cli, in_tmp: Path) -> None:
    write(in_tmp / "incidents" / "a.yaml", GOOD)
    write(in_tmp / "incidents" / "b.yaml", GOOD.replace("SEV-3", "SEV-9").replace("INC-1", "INC-2"))
    result = cli("validate", "--format", "json")
    assert result.code == 1
    verdict = json.loads(result.out)
    assert parse_instant(verdict.pop("at"))  # when it ran
    assert verdict.pop("engine")["version"]
    assert verdict == {
        "apiVersion": "changegate/v1",
        "kind": "Verdict",
        "decision": "deny",
        "event": "local",
        "summary": {
            "documents": 2, "rules": 3, "failed": 1, "warnings": 0, "errors": 0, "waived": 0,
        },
        "findings": [
            {
                "rule": "schema/Incident",
                "severity": "deny",
                "outcome": "fail",
                "message": "spec.severity must be one of SEV-1, SEV-2, SEV-3, SEV-4, not 'SEV-9'",
                "document": {
                    "kind": "Incident",
                    "name": "INC-2",
                    "path": "incidents/b.yaml",
                    "line": 4,
                    "column": 18,
                    "field": "spec.severity",
                },
            }
        ],
    }  # fmt: skip


def test_text_output_is_linter_style(cli, in_tmp: Path) -> None:
    write(in_tmp / "incidents" / "b.yaml", GOOD.replace("SEV-3", "SEV-9"))
    result = cli("validate")
    assert result.code == 1
    assert result.out.splitlines() == [
        "incidents/b.yaml:4:18: schema/Incident: spec.severity must be one of SEV-1, SEV-2, "
        "SEV-3, SEV-4, not 'SEV-9'",
        "✗ deny: 1 failed in 1 document from 1 file",
    ]


def test_color_only_when_asked_or_on_a_terminal(cli, in_tmp: Path, monkeypatch) -> None:
    write(in_tmp / "incidents" / "a.yaml", GOOD)
    assert "\033[" not in cli("validate").out  # captured output is not a TTY
    assert "\033[32m✓ allow" in cli("--color", "always", "validate").out
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\033[" in cli("validate").out
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in cli("validate").out


def test_output_file(cli, in_tmp: Path) -> None:
    write(in_tmp / "incidents" / "a.yaml", GOOD)
    result = cli("validate", "--format", "json", "--output", "out/verdict.json")
    assert result.code == 2
    assert "--output out/verdict.json: No such file or directory" in result.err
    result = cli("validate", "--format", "json", "--output", "verdict.json")
    assert result.code == 0
    assert result.out == ""
    assert json.loads((in_tmp / "verdict.json").read_text())["decision"] == "allow"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "--format", "xml"], "invalid choice: 'xml'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["validate", "missing.yaml"], "missing.yaml: no such file or directory"),
        (["--repo", "nowhere", "validate"], "--repo nowhere: no such directory"),
        (["--config", "nope.yaml", "validate"], "--config nope.yaml: no such file"),
        (["validate", "--at", "2024-01-01T00:00:00Z"], "unrecognized arguments: --at"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(cli, in_tmp: Path, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_no_documents_is_not_a_silent_pass(cli, in_tmp: Path) -> None:
    result = cli("validate")
    assert result.code == 2
    assert "no governed documents in" in result.err
    (in_tmp / "changes").mkdir()
    result = cli("validate", "changes")
    assert result.code == 2
    assert "changes: no YAML files" in result.err


def test_invalid_config_exits_2_with_every_problem(cli, in_tmp: Path) -> None:
    write(
        in_tmp / "changegate.yaml",
        "apiVersion: changegate/v1\nkind: Config\n"
        "metadata: {name: c}\nspec:\n  timezone: Mars/Olympus\n  enviroments: []\n",
    )
    write(in_tmp / "incidents" / "a.yaml", GOOD)
    result = cli("validate")
    assert result.code == 2
    assert "invalid configuration" in result.err
    assert "changegate.yaml:6:3: unknown field 'enviroments' in spec: did you mean" in result.err
    assert "changegate.yaml:5:3: spec.timezone: unknown time zone 'Mars/Olympus'" in result.err


def test_internal_errors_exit_3_with_a_report(cli, in_tmp: Path, monkeypatch) -> None:
    write(in_tmp / "incidents" / "a.yaml", GOOD)

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(validate.Verdict, "of", broken)
    result = cli("validate")
    assert result.code == 3
    assert "internal error (this is a bug" in result.err
    assert "ZeroDivisionError: simulated bug" in result.err


def test_interrupt_exits_130(cli, in_tmp: Path, monkeypatch) -> None:
    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module.command("validate"), "run", interrupted)
    assert cli("validate").code == 130


def test_each_command_says_what_it_does_in_one_place() -> None:
    for name, summary in cli_module.COMMANDS.items():
        assert summary == cli_module.command(name).HELP, name


@pytest.mark.parametrize(
    ("selected", "imported"),
    [
        ("'check'", ["engine.commands.check", "engine.commands.common"]),
        ("''", []),  # changegate --help
        ("'serve'", ["engine.commands.serve"]),  # not the server libraries yet
    ],
)
def test_starting_imports_only_the_command_that_runs(selected: str, imported: list[str]) -> None:
    code = (
        f"import sys, engine.cli; engine.cli.build_parser({selected}); "
        "print(sorted(m for m in sys.modules if m.startswith('engine.commands.') "
        "or m.split('.')[0] in {'starlette', 'uvicorn'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(imported)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "x"], "check"),
        (["--repo", "check", "gate", "--env", "x"], "gate"),
        (["--repo=check", "validate"], "validate"),
        (["--color", "never", "--", "new"], "new"),
        (["--help"], None),
        (["chek"], "chek"),
    ],
)
def test_the_command_is_found_before_parsing(argv: list[str], expected: str | None) -> None:
    assert cli_module.chosen(argv) == expected


def test_a_misspelled_command_is_refused_with_the_choices(cli) -> None:
    result = cli("chek")
    assert result.code == 2
    assert "invalid choice: 'chek'" in result.err


def test_version_and_help(cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.startswith("changegate ")
    result = cli("--help")
    assert result.code == 0
    assert "validate" in result.out
    assert "schema" in result.out


def test_paths_from_another_repository_need_separate_runs(cli, tmp_path: Path) -> None:
    write(
        tmp_path / "one" / "changegate.yaml",
        "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: one}\n",
    )
    write(
        tmp_path / "two" / "changegate.yaml",
        "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: two}\n",
    )
    result = cli("validate", tmp_path / "one", tmp_path / "two")
    assert result.code == 2
    assert "belong to different repositories" in result.err


@pytest.mark.parametrize(
    "entry", [["-m", "engine"], ["-c", "from engine.cli import main; raise SystemExit(main())"]]
)
def test_python_dash_m_engine(entry: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *entry, "validate", str(EXAMPLES / "acme-shop")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "✓ allow: 11 documents" in result.stdout


_ENTRY = (
    "import atexit, sys, threading, time; from engine.cli import entry; "
    "atexit.register(lambda: print('atexit ran', flush=True)); {setup}"
    "sys.argv = ['changegate', *sys.argv[1:]]; entry()"
)


@pytest.mark.parametrize(
    ("setup", "tail"),
    [
        ("", ["atexit ran"]),
        # another thread still running: the process waits for it, as any Python exit does
        (
            "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', "
            "flush=True))).start(); ",
            ["thread done", "atexit ran"],
        ),
    ],
)
def test_the_command_ends_its_process_without_losing_anything(
    setup: str, tail: list[str], tmp_path: Path
) -> None:
    """entry() ends the process at once (no freeing object by object), but only after the
    output is flushed, the atexit handlers ran and no other thread is left."""
    report = tmp_path / "verdict.json"
    result = subprocess.run(
        [sys.executable, "-c", _ENTRY.format(setup=setup), "check", str(EXAMPLES / "acme-shop"),
         "--at", "2024-01-20T12:00:00Z", "--format", "json", "--output", str(report)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(report.read_text())["decision"] == "allow"
    assert result.stdout.splitlines() == tail
    unbuffered = subprocess.run(  # a pipe is block-buffered: what is left must be flushed
        [sys.executable, "-c", _ENTRY.format(setup=""), "validate", str(EXAMPLES / "acme-shop")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert unbuffered.returncode == 0
    assert unbuffered.stdout.splitlines()[-2:] == [
        "✓ allow: 11 documents from 11 files checked, no problems",
        "atexit ran",
    ]


@pytest.mark.parametrize(
    ("context", "code"), [("pr-42-approved.yaml", 0), ("pr-42-self-approved.yaml", 1)]
)
def test_a_reader_that_goes_away_ends_the_command_quietly(context: str, code: int) -> None:
    """``changegate check | head``: the pipe closes before the report is written. The exit
    code is still the verdict's: under ``set -o pipefail`` a deny must not pass."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "check", str(EXAMPLES / "acme-shop"),
         "--context", str(EXAMPLES / "acme-shop" / "contexts" / context),
         "--at", "2024-01-20T12:00:00Z", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    with process.stderr:
        process.stdout.close()
        error = process.stderr.read()
    assert process.wait(timeout=60) == code
    assert error == b""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_standard_output_on_a_full_disk_is_a_clear_error() -> None:
    with Path("/dev/full").open("w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "engine", "validate", str(EXAMPLES / "acme-shop")],
            stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "changegate: error: cannot write the report to standard output: No space left on device\n"
    )


def test_a_run_in_process_gives_back_what_it_held(cli, in_tmp: Path) -> None:
    """main() without last (tests, a caller's own process) frees the run's objects after."""
    import gc

    from engine import heap

    assert cli("check", EXAMPLES / "acme-shop", "--at", "2024-01-20T12:00:00Z").code == 0
    assert heap._kept == []
    assert gc.get_freeze_count() == 0


def test_installed_command() -> None:
    command = Path(sys.executable).parent / "changegate"
    if not command.exists():
        pytest.skip("changegate is not installed in this environment's bin/ (run make test)")
    result = subprocess.run(
        [str(command), "validate", str(EXAMPLES / "invalid" / "bad-enum.yaml")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "examples/invalid/bad-enum.yaml:8:3: schema/ChangeRequest" in result.stdout
