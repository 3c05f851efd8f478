"""Hostile inputs at the edges (issue 10): links out of the repository and '..', calendar edges,
bounds, and reports that cannot be written. Every case ends in a finding or a usage error that
says what is wrong, never in a traceback (exit 3), a silent pass or a quoted secret."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.support.files import copy_example, write
from tests.support.repos import GitRepo

QUIET = "2024-01-24T10:00:00Z"
SECRET = "TOPSECRET-4242"


def sound(result: Result) -> None:
    assert result.code != 3, result.err
    assert "Traceback" not in result.err


def rules_of(result: Result) -> list[str]:
    data = json.loads(result.out)
    return sorted(f["rule"] for f in data["findings"] if f["outcome"] in {"fail", "error"})


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_example(tmp_path / "shop")
    (root / ".git").mkdir()  # the repository's edge, as a clone has it
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the repository, as the runner's home would be."""
    folder = tmp_path / "runner-home"
    write(
        folder / "secret.yaml",
        f"apiVersion: changegate/v1\nkind: ChangeRequest\nmetadata: {{name: {SECRET}}}\n"
        f"spec: {{title: {SECRET}}}\n",
    )
    write(
        folder / "config.yaml",
        f"apiVersion: changegate/v1\nkind: Config\nmetadata: {{name: x}}\n"
        f"spec: {{timezone: {SECRET}/Zone}}\n",
    )
    write(
        folder / "policies" / "p.yaml",
        "apiVersion: changegate/v1\nkind: Policy\nmetadata: {name: outsider}\n"
        "spec: {match: {kinds: [ChangeRequest]}, rules: [{name: x, expression: 'true', "
        "message: m}]}\n",
    )
    return folder


def leaks(result: Result, outside: Path) -> bool:
    shown = result.out + result.err
    return SECRET in shown or str(outside) in shown or outside.name in shown


# --- links out of the repository and '..' -----------------------------------------------------


def _absolute(root: Path, outside: Path) -> Path:
    link = root / "changes" / "x.yaml"
    link.symlink_to(outside / "secret.yaml")
    return link


def _relative(root: Path, outside: Path) -> Path:
    link = root / "changes" / "x.yaml"
    link.symlink_to(Path("..") / ".." / outside.name / "secret.yaml")
    return link


def _chained(root: Path, outside: Path) -> Path:
    (root / "changes" / "hop.txt").symlink_to(outside / "secret.yaml")
    link = root / "changes" / "x.yaml"
    link.symlink_to("hop.txt")
    return link


def _dotdot_in_the_link(root: Path, outside: Path) -> Path:
    link = root / "changes" / "x.yaml"
    link.symlink_to(Path("..") / "releases" / ".." / ".." / outside.name / "secret.yaml")
    return link


LINKS: dict[str, Callable[[Path, Path], Path]] = {
    "absolute link": _absolute,
    "relative link": _relative,
    "link to a link": _chained,
    "'..' inside the link": _dotdot_in_the_link,
}


@pytest.mark.parametrize("command", ["validate", "check"])
@pytest.mark.parametrize("case", sorted(LINKS))
def test_a_link_out_of_the_repository_is_refused_unread(
    cli, shop: Path, outside: Path, case: str, command: str
) -> None:
    LINKS[case](shop, outside)
    result = (
        cli(command, "--format", "json", "--at", QUIET)
        if command == "check"
        else cli(command, "--format", "json")
    )
    sound(result)
    assert result.code == 1
    assert "changegate/outside-repository" in rules_of(result)
    assert "x.yaml leads outside the repository" in result.out
    assert not leaks(result, outside)


@pytest.mark.parametrize("inside", [False, True], ids=["folder outside", "folder inside"])
def test_a_link_to_a_folder_is_refused(cli, shop: Path, outside: Path, inside: bool) -> None:
    (shop / "changes" / "more").symlink_to(Path("..") / "releases" if inside else outside)
    result = cli("validate", "--format", "json")
    sound(result)
    assert (result.code, rules_of(result)) == (1, ["changegate/outside-repository"])
    assert "more is a symbolic link to a folder" in result.out
    assert not leaks(result, outside)


def test_a_link_into_the_git_folder_quotes_nothing_of_it(cli, shop: Path) -> None:
    write(
        shop / ".git" / "config",
        '[core]\n\tbare = false\n[http "https://github.com/"]\n'
        f"\textraheader = AUTHORIZATION: basic {SECRET}\n",
    )
    (shop / "changes" / "x.yaml").symlink_to(Path("..") / ".git" / "config")
    result = cli("validate", "--format", "json", "changes/x.yaml")
    sound(result)
    assert result.code == 1
    assert rules_of(result) in (["yaml/parse"], ["changegate/outside-repository"])
    assert SECRET not in result.out + result.err


@pytest.mark.parametrize("text", [f"{SECRET}\n", f"'{SECRET}: not a key'\n"])
def test_a_document_that_is_not_a_mapping_is_described_not_quoted(
    cli, shop: Path, text: str
) -> None:
    write(shop / "changes" / "x.yaml", text)
    result = cli("validate", "--format", "json", "changes/x.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (1, ["schema/envelope"])
    assert "the document is text (" in result.out
    assert SECRET not in result.out


@pytest.mark.parametrize("folder", [True, False], ids=["policy folder", "policy file"])
def test_a_policy_read_through_a_link_out_of_the_repository_is_a_config_error(
    cli, shop: Path, outside: Path, folder: bool
) -> None:
    if folder:
        (shop / "policies").symlink_to(outside / "policies")
    else:
        (shop / "policies").mkdir()
        (shop / "policies" / "p.yaml").symlink_to(outside / "policies" / "p.yaml")
    for command in (
        ("check", "--at", QUIET),
        ("gate", "--env", "staging", "--service", "checkout", "--at", QUIET),
    ):
        result = cli(*command)
        sound(result)
        assert result.code == 2
        assert (
            "policy folder './policies' leads outside the repository"
            if folder
            else "policies/p.yaml leads outside the repository (through a symbolic link): "
            "changegate reads no policy from there; commit the file"
        ) in result.err
        assert str(outside) not in result.err


@pytest.mark.parametrize(
    "source", ["../elsewhere", "/etc", "./policies/../../x", "policies/../..", "//etc"]
)
def test_a_policy_source_outside_the_repository_is_a_config_error(
    cli, shop: Path, source: str
) -> None:
    config = shop / "changegate.yaml"
    config.write_text(config.read_text().replace("./policies]", f"'{source}']"))
    result = cli("check", "--at", QUIET)
    sound(result)
    assert result.code == 2
    assert (
        f"spec.policies[1]: {source!r} leaves the repository: a policy folder is a path from the "
        "repository's root, such as ./policies"
    ) in result.err


@pytest.mark.parametrize("source", ["file:///etc", "https://example.com/policies"])
def test_a_policy_source_with_a_scheme_is_not_silently_ignored(
    cli, shop: Path, source: str
) -> None:
    config = shop / "changegate.yaml"
    config.write_text(config.read_text().replace("./policies]", f"'{source}']"))
    result = cli("check", "--at", QUIET)
    sound(result)
    assert result.code == 2
    assert source in result.err


@pytest.mark.parametrize("command", ["validate", "check", "gate"])
def test_a_config_linked_out_of_the_repository_is_refused_unread(
    cli, shop: Path, outside: Path, command: str
) -> None:
    (shop / "changegate.yaml").unlink()
    (shop / "changegate.yaml").symlink_to(outside / "config.yaml")
    args = {
        "validate": (),
        "check": ("--at", QUIET),
        "gate": ("--env", "staging", "--service", "checkout", "--at", QUIET),
    }[command]
    result = cli(command, *args)
    sound(result)
    assert result.code == 2
    assert "changegate.yaml leads outside the repository" in result.err
    assert not leaks(result, outside)


def test_a_document_folder_linked_out_of_the_repository_is_refused_unnamed(
    cli, shop: Path, outside: Path
) -> None:
    shutil.rmtree(shop / "freezes")
    (shop / "freezes").symlink_to(outside)
    result = cli("validate", "--format", "json")
    sound(result)
    assert result.code == 1
    assert "changegate/outside-repository" in rules_of(result)
    assert not leaks(result, outside)
    assert "secret.yaml" not in result.out


# --- calendar edges ---------------------------------------------------------------------------

YEARS = "is outside the years changegate computes with (1900 to 2999): write a real date"
RFC3339 = "give an RFC 3339 time with an offset, e.g. 2024-01-25T10:00:00Z"


@pytest.mark.parametrize(
    ("at", "said"),
    [
        ("3000-01-01T00:00:00Z", f"'3000-01-01T00:00:00Z' {YEARS}"),
        ("1899-12-31T23:59:59Z", f"'1899-12-31T23:59:59Z' {YEARS}"),
        ("9999-12-31T23:59:59-01:00", f"'9999-12-31T23:59:59-01:00' {YEARS}"),
        ("0001-01-01T00:00:00+01:00", f"'0001-01-01T00:00:00+01:00' {YEARS}"),
        ("2023-02-29T12:00:00Z", RFC3339),
        ("2100-02-29T12:00:00Z", RFC3339),
        ("2024-01-24T10:00:00", RFC3339),
        ("2024-01-24T24:00:00Z", RFC3339),
        ("\uff12\uff10\uff12\uff14-01-24T10:00:00Z", RFC3339),
    ],
)
def test_an_instant_that_cannot_be_computed_with_is_a_usage_error(
    cli, shop: Path, at: str, said: str
) -> None:
    result = cli("gate", "--env", "staging", "--service", "checkout", "--at", at)
    sound(result)
    assert result.code == 2
    assert result.err.strip().endswith(f"--at {at!r}: {said}")


@pytest.mark.parametrize("at", ["2999-12-31T23:59:59-23:59", "1900-01-01T00:00:00+01:00"])
def test_an_offset_cannot_carry_an_instant_out_of_range(cli, shop: Path, at: str) -> None:
    result = cli("gate", "--env", "staging", "--service", "checkout", "--at", at)
    sound(result)
    assert result.code == 2
    assert "outside the years changegate computes with" in result.err


def test_a_leap_day_is_an_ordinary_instant(cli, shop: Path) -> None:
    result = cli(
        "gate",
        "--env",
        "staging",
        "--service",
        "checkout",
        "--at",
        "2024-02-29T23:59:59+14:00",
        "--format",
        "json",
    )
    sound(result)
    assert (result.code, rules_of(result)) == (0, [])
    assert json.loads(result.out)["at"] == "2024-02-29T09:59:59Z"


def test_a_calendar_past_the_expansion_horizon_is_a_clear_error(cli, shop: Path) -> None:
    result = cli("freeze", "list", "--at", QUIET, "--from", "2999-12-01", "--days", "30")
    sound(result)
    assert result.code == 2
    assert "FreezeWindow holiday-freeze is expanded for 200 years from recurrence.from" in (
        result.err
    )


@pytest.mark.parametrize("flag", ["--from", "--since", "--until"])
def test_a_period_outside_the_years_says_so(cli, git_repo: GitRepo, flag: str) -> None:
    copy_example(git_repo.root)
    git_repo.commit("shop")
    command = ("freeze", "list") if flag == "--from" else ("audit",)
    result = cli("--repo", git_repo.root, *command, "--at", QUIET, flag, "3000-01-01")
    sound(result)
    assert result.code == 2
    assert f"{flag} '3000-01-01'" in result.err
    assert "outside the years changegate computes with" in result.err


ONE_OFF = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: edge}
spec:
  level: hard
  timezone: %s
  start: "%s"
  end: "%s"
  scope: {environments: [staging]}
"""
RECURRING = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: edge}
spec:
  level: hard
  timezone: UTC
  recurrence: {rrule: "%s", start: "00:00", duration: %s%s}
  scope: {environments: [staging]}
"""


def one_off(start: str, end: str, zone: str = "UTC") -> str:
    return ONE_OFF % (zone, start, end)


def recurring(rule: str = "FREQ=DAILY", duration: str = "1h", extra: str = "") -> str:
    return RECURRING % (rule, duration, extra)


DOCUMENT_DATES = {
    "end in 3000": (one_off("2999-12-31T23:00", "3000-01-01T01:00"),
                    f"spec.end: '3000-01-01' {YEARS}"),
    "start in 1899": (one_off("1899-12-31T23:00", "1900-01-01T01:00"),
                      f"spec.start: '1899-12-31' {YEARS}"),
    "exdate in 9999": (recurring(extra=", exdates: ['9999-12-31']"),
                       f"spec.recurrence.exdates[0]: '9999-12-31' {YEARS}"),
    "until in 9999": (recurring(extra=", until: '9999-12-31'"),
                      f"spec.recurrence.until: '9999-12-31' {YEARS}"),
    "from in 0999": (recurring(extra=", from: '0999-01-01'"),
                     f"spec.recurrence.from: '0999-01-01' {YEARS}"),
    "29 February 2023": (one_off("2023-02-29T00:00", "2023-03-01T00:00"),
                         "spec.start: 2023-02-29 is not a real calendar date"),
    "29 February 2100": (one_off("2100-02-28T00:00", "2100-02-29T00:00"),
                         "spec.end: 2100-02-29 is not a real calendar date"),
    "day zero": (one_off("2024-01-00T00:00", "2024-01-02T00:00"), "spec.start"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(DOCUMENT_DATES))
def test_a_date_outside_the_calendar_is_a_schema_finding(cli, shop: Path, case: str) -> None:
    text, said = DOCUMENT_DATES[case]
    write(shop / "freezes" / "edge.yaml", text)
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert result.code == 1
    assert set(rules_of(result)) == {"schema/FreezeWindow"}
    assert said in result.out


@pytest.mark.parametrize(
    "text",
    [
        one_off("2000-02-29T00:00", "2000-03-01T00:00"),
        one_off("2999-12-31T23:00", "2999-12-31T23:59", "Pacific/Kiritimati"),
        one_off("1900-01-01T00:00", "1900-01-02T00:00", "Pacific/Kiritimati"),
        recurring("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "24h"),
        recurring("FREQ=MONTHLY;COUNT=99999999999999999999", "1h"),
    ],
    ids=["leap day 2000", "last hour of 2999 east of UTC", "first day of 1900 east of UTC",
         "leap days only", "huge COUNT"],
)  # fmt: skip
def test_edge_dates_inside_the_calendar_are_valid(cli, shop: Path, text: str) -> None:
    write(shop / "freezes" / "edge.yaml", text)
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (0, [])


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;COUNT=0",
        "FREQ=WEEKLY;COUNT=00",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
    ],
)
def test_a_rule_that_never_occurs_is_a_warning(cli, shop: Path, rule: str) -> None:
    write(shop / "freezes" / "edge.yaml", recurring(rule))
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert result.code == 0
    [finding] = json.loads(result.out)["findings"]
    assert (finding["rule"], finding["severity"]) == ("schema/FreezeWindow", "warn")
    assert "FreezeWindow edge never occurs" in finding["message"]


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("FREQ=DAILY;COUNT=-1", "COUNT=-1 is not a number of occurrences"),
        ("FREQ=DAILY;COUNT=", "recurrence.rrule part 'COUNT=' is not NAME=VALUE"),
        ("FREQ=DAILY;UNTIL=20240231", "recurrence.rrule is not a valid RFC 5545 rule"),
        # a date outside the years changegate computes with is an error, as everywhere
        ("FREQ=DAILY;UNTIL=18991231", "outside the years changegate computes with"),
        ("FREQ=DAILY;UNTIL=20241231T000000Z", "UNTIL is in UTC (ends with Z)"),
        ("FREQ=HOURLY", "FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY"),
        ("DTSTART:20240101T000000\nRRULE:FREQ=DAILY", "holds one RRULE value"),
    ],
)
def test_a_malformed_rule_is_a_schema_finding(cli, shop: Path, rule: str, said: str) -> None:
    write(shop / "freezes" / "edge.yaml", recurring(rule.replace("\n", "\\n")))
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (1, ["schema/FreezeWindow"])
    assert said in result.out


@pytest.mark.parametrize("rule", ["FREQ=DAILY;COUNT", "FREQ=DAILY;UNTIL", "FREQ=DAILY;INTERVAL=0"])
def test_a_rule_part_without_a_value_is_a_schema_finding(cli, shop: Path, rule: str) -> None:
    write(shop / "freezes" / "edge.yaml", recurring(rule))
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (1, ["schema/FreezeWindow"])


def test_an_rrule_until_in_9999_is_a_schema_finding(cli, shop: Path) -> None:
    write(shop / "freezes" / "edge.yaml", recurring("FREQ=DAILY;UNTIL=99991231"))
    result = cli("validate", "--format", "json", "freezes/edge.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (1, ["schema/FreezeWindow"])
    assert "outside the years" in result.out


def _long_freeze(duration: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        write(root / "freezes" / "edge.yaml", recurring(duration=duration))

    return make


def _long_change(root: Path) -> None:
    path = root / "changes" / "CHG-2024-0151.yaml"
    path.write_text(path.read_text().replace("duration: 30m", "duration: 999999999d"))


GATE = ("gate", "--env", "staging", "--service", "checkout", "--at", QUIET, "--format", "json")
# case -> (setup, command, the exit codes a fix may give, rules the verdict must hold)
HUGE_DURATIONS: dict[str, tuple[Callable[[Path], None], tuple[str, ...], set[int], set[str]]] = {
    "freeze lasting PT99999999999999H (validate)": (
        _long_freeze("PT99999999999999H"), ("validate", "--format", "json"), {1},
        {"schema/FreezeWindow"},
    ),
    "freeze lasting 800000d (gate)": (
        _long_freeze("800000d"), GATE, {1}, {"gate/unreadable-window"},
    ),
    "change lasting 999999999d (freeze list)": (
        _long_change, ("freeze", "list", "--at", QUIET, "--format", "json"), {0, 2}, set(),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HUGE_DURATIONS))
def test_a_duration_beyond_the_calendar_is_a_finding_not_a_crash(
    cli, shop: Path, case: str
) -> None:
    setup, command, codes, rules = HUGE_DURATIONS[case]
    setup(shop)
    result = cli(*command)
    sound(result)
    assert result.code in codes
    if rules:
        assert rules <= set(rules_of(result))


# --- bounds -----------------------------------------------------------------------------------

NEVER = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: w%s}
spec:
  level: hard
  timezone: UTC
  recurrence: {rrule: "FREQ=DAILY;COUNT=0", start: "00:00", duration: 1h}
"""


def many_warnings(root: Path, files: int) -> None:
    for index in range(files):
        docs = [NEVER % f"{index}-{i}" for i in range(1000)]
        write(root / "freezes" / f"f{index:02}.yaml", "---\n".join(docs))


@pytest.mark.parametrize("hidden_deny", [True, False], ids=["a deny past the limit", "warnings"])
def test_findings_past_the_limit_are_counted_and_deny_if_one_does(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden_deny: bool
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    many_warnings(root, 10)  # 10,000 warnings, first in path order
    last = (NEVER % "z").replace("level: hard", "level: lukewarm" if hidden_deny else "level: hard")
    write(root / "freezes" / "z.yaml", last)
    monkeypatch.chdir(root)
    result = cli("validate", "--format", "json")
    sound(result)
    verdict = json.loads(result.out)
    assert len(verdict["findings"]) == 10_001
    tail = verdict["findings"][-1]
    assert tail["rule"] == "changegate/too-many-findings"
    assert "changegate lists at most 10,000" in tail["message"]
    if hidden_deny:
        assert (result.code, verdict["decision"], tail["severity"]) == (1, "deny", "deny")
        assert "(1 of them denying)" in tail["message"]
    else:
        assert (result.code, verdict["decision"], tail["severity"]) == (0, "allow", "warn")


def test_schema_findings_stop_at_fifty_per_document(cli, shop: Path) -> None:
    fields = "".join(f"  field{i}: {i}\n" for i in range(120))
    text = (shop / "changes" / "CHG-2024-0151.yaml").read_text()
    write(shop / "changes" / "CHG-2024-0151.yaml", text.replace("spec:\n", "spec:\n" + fields))
    result = cli("validate", "--format", "json", "changes/CHG-2024-0151.yaml")
    sound(result)
    findings = json.loads(result.out)["findings"]
    assert (result.code, len(findings)) == (1, 51)
    assert {f["rule"] for f in findings} == {"schema/ChangeRequest"}
    assert (
        sum("more than 50 schema problems in this document" in f["message"] for f in findings) == 1
    )


@pytest.mark.parametrize(("count", "code"), [(1000, 0), (1001, 1)])
def test_a_file_holds_at_most_a_thousand_documents(cli, shop: Path, count: int, code: int) -> None:
    write(
        shop / "freezes" / "many.yaml",
        "---\n".join((NEVER % i).replace("COUNT=0", "COUNT=1") for i in range(count)),
    )
    result = cli("validate", "--format", "json", "freezes/many.yaml")
    sound(result)
    assert (result.code, rules_of(result)) == (code, ["yaml/parse"] if code else [])
    if code:
        assert "more than 1,000 documents" in result.out


# --- reports that cannot be written -----------------------------------------------------------

COMMANDS: dict[str, tuple[str, ...]] = {
    "validate": ("validate",),
    "check": ("check", "--at", QUIET),
    "gate": ("gate", "--env", "staging", "--service", "checkout", "--at", QUIET),
    "freeze": ("freeze", "list", "--at", QUIET, "--format", "ics"),
}


def unwritable(kind: str, tmp_path: Path) -> tuple[str, str]:
    if kind == "full device":
        if not Path("/dev/full").exists():
            pytest.skip("this system has no /dev/full")
        return "/dev/full", "No space left on device"
    if kind == "missing folder":
        return str(tmp_path / "no" / "such" / "report.txt"), "No such file or directory"
    return str(tmp_path), "Is a directory"


@pytest.mark.parametrize("kind", ["full device", "missing folder", "a folder"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_report_that_cannot_be_written_is_a_usage_error_naming_the_path(
    cli, shop: Path, tmp_path: Path, command: str, kind: str
) -> None:
    target, why = unwritable(kind, tmp_path)
    result = cli(*COMMANDS[command], "--output", target)
    sound(result)
    assert result.code == 2, result.err
    assert result.err.strip() == f"changegate: error: --output {target}: {why}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes files whatever their mode")
def test_a_read_only_report_file_is_a_usage_error(cli, shop: Path, tmp_path: Path) -> None:
    target = write(tmp_path / "report.txt", "old")
    target.chmod(0o444)
    result = cli("validate", "--output", target)
    sound(result)
    assert result.code == 2
    assert f"--output {target}: Permission denied" in result.err


# --- found while fixing the above: links in policy folders, pipes, unreadable freezes ----------


def test_a_folder_link_inside_a_policy_folder_is_a_config_error(
    cli, shop: Path, outside: Path
) -> None:
    (shop / "policies").mkdir()
    (shop / "policies" / "more").symlink_to(outside)
    result = cli("check", "--at", QUIET)
    sound(result)
    assert result.code == 2
    assert "policies/more is a symbolic link to a folder" in result.err
    assert str(outside) not in result.err


def test_output_to_a_pipe_is_refused_instead_of_waiting_for_a_reader(
    cli, shop: Path, tmp_path: Path
) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    result = cli("validate", "--output", pipe)
    sound(result)
    assert result.code == 2
    assert f"--output {pipe}: a pipe would wait for a reader" in result.err


def test_freeze_status_says_a_freeze_file_cannot_be_read(cli, shop: Path) -> None:
    write(shop / "freezes" / "broken.yaml", "kind: FreezeWindow\n\tlevel: hard\n")
    result = cli("freeze", "status", "--at", QUIET)
    sound(result)
    assert result.code == 0
    assert (
        "note: freezes/broken.yaml cannot be read: a freeze or change window it holds is not "
        "shown (and the gate stays closed until it is fixed)"
    ) in result.out
