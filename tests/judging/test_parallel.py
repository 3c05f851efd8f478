"""Judging on several processes gives exactly the verdict of one process."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from engine.judging import parallel
from engine.workspace.inventory import Workspace
from tests.support.files import ROOT, copy_example, write

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "bench" / "generate.py")
    assert spec
    assert spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return generate.generate(600, tmp_path_factory.mktemp("synthetic") / "repo", seed=3)


def verdict(cli, repo: Path, *args: str) -> dict[str, object]:
    result = cli("check", repo, "--at", "2024-06-01T00:00:00Z", "--format", "json", *args)
    assert result.code in {0, 1}, result.err
    data = json.loads(result.out)
    data.pop("engine")
    return data


def test_two_processes_agree_with_one(cli, synthetic: Path) -> None:
    one = verdict(cli, synthetic, "--jobs", "1")
    two = verdict(cli, synthetic, "--jobs", "2")
    three = verdict(cli, synthetic, "--jobs", "3")
    assert one["summary"]["documents"] == 600
    assert one["findings"]  # the synthetic repository has problems to find
    assert one == two == three


def test_duplicate_names_across_shares_are_found(cli, synthetic: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    import shutil

    shutil.copytree(synthetic, repo)
    copy = repo / "changes" / "ZZZ-copy.yaml"
    write(copy, "")
    files = [f.path for f in Workspace.open(repo=repo, config_file=None).files()]
    first = next(  # a change request of the other share than the copy's
        p
        for i, p in enumerate(files)
        if p.parent.name == "changes" and i % 2 != files.index(copy) % 2
    )
    write(copy, first.read_text())
    for jobs in ("1", "2"):
        data = verdict(cli, repo, "--jobs", jobs)
        duplicates = [f for f in data["findings"] if "already defined" in f["message"]]
        assert [(f["document"]["path"], f["document"]["line"]) for f in duplicates] == [
            (str(repo / "changes" / "ZZZ-copy.yaml"), 4)
        ]


def test_error_budgets_see_the_incidents_of_every_share(
    cli, synthetic: Path, tmp_path: Path
) -> None:
    import re
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(synthetic, repo)
    config = repo / "changegate.yaml"
    slo = "slo: {availability: 99.99, period: 365d}"  # one incident hour spends it
    config.write_text(  # every service gets an SLO: budgets come from incidents everywhere
        re.sub(r"- \{name: (service-\d+)\}", rf"- {{name: \1, {slo}}}", config.read_text())
    )
    one = verdict(cli, repo, "--jobs", "1")
    two = verdict(cli, repo, "--jobs", "2")
    assert one == two
    held = [f for f in one["findings"] if f["rule"] == "release-readiness/error-budget"]
    assert held  # some services' budgets are spent by incidents in files of another share


def test_a_failing_worker_is_an_internal_error(cli, synthetic: Path, monkeypatch) -> None:
    def broken(self: Workspace, files: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Workspace, "load_files", broken)  # the forked workers inherit it
    result = cli("check", synthetic, "--jobs", "2")
    assert result.code == 3
    assert "a worker failed" in result.err
    assert "RuntimeError: disk on fire" in result.err


def test_work_in_processes_comes_back_in_the_shares_order_or_fails_loudly() -> None:
    assert parallel.in_processes(lambda share: [n * n for n in share], range(7), 3) == [
        [0, 9, 36],
        [1, 16],
        [4, 25],
    ]

    def broken(share: list[int]) -> int:
        if 2 in share:
            raise RuntimeError("disk on fire")
        return len(share)

    with pytest.raises(parallel.WorkerError, match="RuntimeError: disk on fire"):
        parallel.in_processes(broken, range(6), 2)


def test_shares_take_every_nth_file() -> None:
    """Each share gets its part of every folder: a folder of costly kinds is not one share's."""
    assert parallel.split([Path(str(i)) for i in range(5)], 2) == [
        [Path("0"), Path("2"), Path("4")],
        [Path("1"), Path("3")],
    ]


@pytest.mark.parametrize("format_", ["junit", "sarif"])
def test_reports_of_every_evaluation_agree_across_processes(
    cli, synthetic: Path, format_: str
) -> None:
    """The workers send their evaluations packed; reports that list them all read the same."""
    outputs = []
    for jobs in ("1", "2"):
        result = cli("check", synthetic, "--at", "2024-06-01T00:00:00Z", "--format", format_,
                     "--jobs", jobs)  # fmt: skip
        assert result.code in {0, 1}, result.err
        outputs.append(result.out)
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 50_000  # every evaluation (JUnit) or rule (SARIF) is in it


def test_freezes_of_the_same_hours_in_two_shares_are_named_in_file_order(
    cli, synthetic: Path, tmp_path: Path
) -> None:
    """Two freezes of the same day in neighbouring files (so in different shares): every
    worker names them in file order, as one process does, whichever share owns which."""
    import shutil

    import yaml

    repo = tmp_path / "repo"
    shutil.copytree(synthetic, repo)
    change = next(
        data
        for path in sorted((repo / "changes").glob("CHG-*.yaml"))
        if (data := yaml.safe_load(path.read_text()))["spec"]["environment"] == "production"
    )
    day = str(change["spec"]["schedule"]["start"])[:10]
    for name in ("tie-0", "tie-1"):  # neighbours in file order: never in the same share
        write(
            repo / "freezes" / f"{name}.yaml",
            f"apiVersion: changegate/v1\nkind: FreezeWindow\nmetadata: {{name: {name}}}\n"
            f"spec: {{level: hard, timezone: UTC, start: '{day}T00:00', end: '{day}T23:59',\n"
            "       scope: {environments: [production]}}\n",
        )
    outputs = [verdict(cli, repo, "--jobs", jobs) for jobs in ("1", "2", "3")]
    assert outputs[0] == outputs[1] == outputs[2]
    both = [
        f["message"]
        for f in outputs[0]["findings"]  # type: ignore[attr-defined]
        if f["document"]["name"] == change["metadata"]["name"] and "tie-0" in f["message"]
    ]
    assert len(both) == 1
    assert both[0].index("tie-0") < both[0].index("tie-1")


@pytest.mark.parametrize("how", ["invalid", "named twice"])
def test_what_no_share_could_read_leaves_every_share_closed(cli, tmp_path: Path, how: str) -> None:
    """An invalid freeze or incident in one share (or two of one name): the change and the
    release another share judges fail as in one process (they cannot be checked, the budget
    cannot be counted), not pass for want of the document or with one of the two."""
    copy_example(tmp_path)
    for relative, old, new in [
        ("freezes/weekend-freeze.yaml", "level: soft", "level: mushy"),
        ("incidents/INC-2024-0125.yaml", "severity: SEV-2", "severity: SEV-9"),
    ]:
        path = tmp_path / relative
        if how == "invalid":
            path.write_text(path.read_text().replace(old, new))
        else:  # a second copy, sorted after the first, in the share that does not judge them
            write(tmp_path / "releases" / f"zz-{path.name}", path.read_text())
    outputs = []
    for jobs in ("1", "2"):
        result = cli(
            "check", tmp_path, "--at", "2024-01-20T12:00:00Z", "--format", "json", "--jobs", jobs
        )
        assert result.code == 1, result.err
        data = json.loads(result.out)
        data.pop("engine")
        outputs.append(data)
    assert outputs[0] == outputs[1]
    failed = {
        (f["rule"], f["document"]["name"]): f["message"]
        for f in outputs[0]["findings"]
        if f["outcome"] == "fail"
    }
    assert (
        "FreezeWindow weekend-freeze is invalid"
        in (failed["change-freeze/no-freeze-conflict", "CHG-2024-0160"])
    )
    assert failed["release-readiness/error-budget", "checkout-v2.5.0"].startswith(
        "checkout's error budget for 2024-01 cannot be counted, so it is taken as spent: "
        "Incident INC-2024-0125 is invalid"
    )


def test_documents_named_on_the_command_line_are_described_with_any_jobs(
    cli, tmp_path: Path
) -> None:
    copy_example(tmp_path)
    outputs = []
    for jobs in ("1", "2"):
        result = cli(
            "check", tmp_path / "changes" / "CHG-2024-0160.yaml", "--at", "2024-01-20T12:00:00Z",
            "--format", "json", "--jobs", jobs,
        )  # fmt: skip
        assert result.code in {0, 1}, result.err
        data = json.loads(result.out)
        data.pop("engine")
        outputs.append(data)
    assert outputs[0] == outputs[1]
    assert [d["name"] for d in outputs[0]["judged"]["documents"]] == ["CHG-2024-0160"]
