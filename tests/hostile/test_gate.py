"""Hostile input for the deploy gate (issue 10): names given on the command line, protected
environments and the freezes a gate must not overlook. Every case ends in a clear verdict or
a usage error, never in a traceback (exit 3) or a silent pass (exit 0 where a deny is right)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Result
from tests.support.files import EXAMPLES, copy_example, write

CONTEXTS = EXAMPLES / "acme-shop" / "contexts"
QUIET = "2024-01-24T10:00:00Z"  # a Wednesday: no freeze applies in acme-shop
HOLIDAYS = "2024-12-23T10:00:00Z"  # inside holiday-freeze (production)
CATALOG_CHANGE_NOW = "2024-01-23T07:10:00Z"  # CHG-2024-0151 (standard, catalog) is running
GREEN = "event: deploy\nchecks: {unit-tests: success}\n"


def sound(result: Result) -> None:
    """Whatever the verdict, changegate did not crash."""
    assert result.code != 3, result.err
    assert "Traceback" not in result.err


def gate(cli, *args: Any) -> tuple[int, dict[str, Any]]:
    result = cli("gate", *args, "--format", "json")
    sound(result)
    assert result.code in {0, 1}, result.err
    return result.code, json.loads(result.out)


def failing(verdict: dict[str, Any]) -> list[str]:
    return sorted(f["rule"] for f in verdict["findings"] if f["outcome"] in {"fail", "error"})


def usage_error(cli, *args: Any) -> str:
    result = cli(*args)
    sound(result)
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    return result.err


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_example(tmp_path / "shop")
    monkeypatch.chdir(root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- names: --env and --service ---------------------------------------------------------------


@pytest.mark.parametrize("spelled", ["Production", "PRODUCTION", "pRoDuCtIoN"])
def test_environment_names_resolve_case_insensitively_and_freezes_still_apply(
    cli, shop: Path, spelled: str
) -> None:
    code, verdict = gate(cli, "--env", spelled, "--service", "checkout", "--at", HOLIDAYS)
    assert code == 1
    assert verdict["gate"]["environment"] == "production"  # the config's spelling
    assert failing(verdict) == ["gate/frozen", "gate/protected-environment"]


BAD_ENVIRONMENTS = {
    "abbreviation": ("prod", "--env 'prod': changegate.yaml lists no such environment: did you "
                     "mean 'production'?"),
    "leading space": (" production", "--env ' production': give the environment's name, "
                      "without surrounding spaces"),
    "trailing space": ("production ", "--env 'production ': give the environment's name, "
                       "without surrounding spaces"),
    "trailing tab": ("production\t", "--env 'production\\t': give the environment's name, "
                     "without surrounding spaces"),
    "empty": ("", "--env '': give the environment's name, without surrounding spaces"),
    "star": ("prod*", "--env 'prod*' is a pattern, not an environment name"),
    "question mark": ("pr?duction", "--env 'pr?duction' is a pattern, not an environment name"),
    "class": ("[p]roduction", "--env '[p]roduction' is a pattern, not an environment name"),
    "braces": ("{production,staging}", "--env '{production,staging}' is a pattern"),
    "lone star": ("*", "--env '*' is a pattern, not an environment name"),
    "cyrillic er": ("\u0440roduction", "--env '\u0440roduction': changegate.yaml lists no such "
                    "environment"),
    "cyrillic dze": ("\u0455taging", "--env '\u0455taging': changegate.yaml lists no such "
                     "environment"),
    "trailing slash": ("production/", "--env 'production/': changegate.yaml lists no such "
                       "environment"),
    "zero-width space": ("production\u200b", "changegate.yaml lists no such environment"),
    "fullwidth": ("\uff50roduction", "changegate.yaml lists no such environment"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_ENVIRONMENTS))
def test_unknown_blank_and_pattern_environments_are_usage_errors(
    cli, shop: Path, case: str
) -> None:
    name, said = BAD_ENVIRONMENTS[case]
    err = usage_error(cli, "gate", "--env", name, "--service", "checkout", "--at", QUIET)
    assert said in err


BAD_SERVICES = {
    "wrong case": ("Checkout", "--service 'Checkout': changegate.yaml lists no such service: did "
                   "you mean 'checkout'?"),
    "typo": ("chekout", "--service 'chekout': changegate.yaml lists no such service"),
    "pattern": ("check*", "--service 'check*' is a pattern, not a service name"),
    "padded": (" checkout", "--service ' checkout': give the service's name, without "
               "surrounding spaces"),
    "zero-width joiner": ("check\u200dout", "changegate.yaml lists no such service"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_SERVICES))
def test_services_are_exact_names(cli, shop: Path, case: str) -> None:
    name, said = BAD_SERVICES[case]
    err = usage_error(cli, "gate", "--env", "production", "--service", name, "--at", QUIET)
    assert said in err


@pytest.mark.parametrize(
    ("action", "flag", "name", "said"),
    [
        ("status", "--env", "prod", "--env 'prod': changegate.yaml lists no such environment"),
        ("list", "--env", "*", "--env '*' is a pattern"),
        ("status", "--service", "Checkout", "--service 'Checkout': changegate.yaml lists no such"),
        ("list", "--service", "check?ut", "--service 'check?ut' is a pattern"),
    ],
)
def test_freeze_refuses_the_names_the_gate_refuses(
    cli, shop: Path, action: str, flag: str, name: str, said: str
) -> None:
    err = usage_error(cli, "freeze", action, flag, name, "--at", HOLIDAYS)
    assert said in err


@pytest.mark.parametrize(("action", "flag"), [("status", "--env"), ("list", "--service")])
def test_freeze_refuses_an_empty_name(cli, shop: Path, action: str, flag: str) -> None:
    err = usage_error(cli, "freeze", action, flag, "", "--at", HOLIDAYS)
    assert f"{flag} '': give the" in err


def test_freeze_status_finds_the_freeze_for_a_differently_cased_environment(
    cli, shop: Path
) -> None:
    result = cli("freeze", "status", "--env", "PRODUCTION", "--at", HOLIDAYS, "--format", "json")
    sound(result)
    assert result.code == 0
    calendar = json.loads(result.out)
    assert [e["name"] for e in calendar["frozenNow"]] == ["holiday-freeze"]
    assert calendar["notes"] == []


def without_catalogs(root: Path) -> None:
    """changegate.yaml without environments and services: names cannot be checked."""
    config = root / "changegate.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        "  environments:\n    - {name: production, protected: true}\n    - {name: staging}\n", ""
    )
    text = text[: text.index("  services:")] + text[text.index("  roles:") :]
    config.write_text(text, encoding="utf-8")


def test_without_catalogs_a_typo_is_said_to_be_unverifiable(cli, shop: Path) -> None:
    without_catalogs(shop)
    code, verdict = gate(cli, "--env", "Produktion", "--service", "chekout", "--at", QUIET)
    assert (code, failing(verdict)) == (0, [])
    assert verdict["gate"]["reasons"][-2:] == [
        "changegate.yaml lists no environments, so 'Produktion' cannot be checked for typos: "
        "list them under environments to have misspelled names refused",
        "changegate.yaml lists no services, so 'chekout' cannot be checked for typos: list them "
        "under services to have misspelled names refused",
    ]


def test_without_catalogs_a_pattern_is_still_refused(cli, shop: Path) -> None:
    without_catalogs(shop)
    err = usage_error(cli, "gate", "--env", "prod*", "--service", "checkout", "--at", QUIET)
    assert "--env 'prod*' is a pattern" in err


# --- protected environments -------------------------------------------------------------------


def requires(root: Path, value: str) -> None:
    edit(
        root / "changegate.yaml",
        "{name: production, protected: true}",
        f"{{name: production, protected: true, requires: {value}}}",
    )


CATALOG = ("--env", "production", "--service", "catalog")
RELEASE = ("--version", "1.8.1", "--at", QUIET)  # catalog-v1.8.1 passes with green checks
CHANGE = ("--at", CATALOG_CHANGE_NOW)  # the approved standard change is running

REQUIREMENTS = {
    "change given only a release": ("change", RELEASE, 1, ["gate/protected-environment"]),
    "release given only a change": ("release", CHANGE, 1, ["gate/protected-environment"]),
    "both given only a change": ("change-and-release", CHANGE, 1, ["gate/protected-environment"]),
    "both given only a release": ("change-and-release", RELEASE, 1, ["gate/protected-environment"]),
    "change given a change": ("change", CHANGE, 0, []),
    "release given a release": ("release", RELEASE, 0, []),
    "either given nothing": ("change-or-release", ("--at", QUIET), 1,
                             ["gate/protected-environment"]),
    "none given nothing": ("none", ("--at", QUIET), 0, []),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REQUIREMENTS))
def test_a_protected_environment_needs_what_it_requires(
    cli, shop: Path, tmp_path: Path, case: str
) -> None:
    value, args, code, rules = REQUIREMENTS[case]
    requires(shop, value)
    context = write(tmp_path / "green.yaml", GREEN)
    found, verdict = gate(cli, *CATALOG, *args, "--context", context)
    assert (found, failing(verdict)) == (code, rules)
    if code:
        assert f"(requires: {value})" in verdict["gate"]["reasons"][-2]
        assert verdict["gate"]["reasons"][-1].startswith("catalog's error budget for ")


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("requires: always", "spec.environments[0].requires must be one of change-or-release"),
        ("protected: 'true'", "spec.environments[0].protected must be true or false, not the "
         "string 'true'"),
        ("protected: yes", "spec.environments[0].protected must be true or false"),
    ],
)  # fmt: skip
def test_a_protection_that_cannot_be_read_is_a_config_error(
    cli, shop: Path, setting: str, said: str
) -> None:
    replacement = f"{{name: production, {setting}}}"
    if setting.startswith("requires"):
        replacement = f"{{name: production, protected: true, {setting}}}"
    edit(shop / "changegate.yaml", "{name: production, protected: true}", replacement)
    err = usage_error(cli, "gate", *CATALOG, "--at", QUIET)
    assert "invalid configuration in changegate.yaml" in err
    assert said in err


def test_an_environment_listed_twice_does_not_lose_its_protection(cli, shop: Path) -> None:
    edit(
        shop / "changegate.yaml",
        "    - {name: production, protected: true}\n",
        "    - {name: production}\n    - {name: production, protected: true}\n",
    )
    result = cli("gate", *CATALOG, "--at", QUIET, "--format", "json")
    sound(result)
    # either the config is refused, or the stricter entry holds
    if result.code == 2:
        assert "production" in result.err
        return
    assert result.code == 1
    assert "gate/protected-environment" in failing(json.loads(result.out))


@pytest.mark.parametrize(
    ("change", "rules"),
    [
        ("chg-2024-0151", []),  # names are unique whatever their case: it is that change
        ("CHG-2024-0151 ", ["gate/change-request", "gate/protected-environment"]),
        ("CHG-2024-015*", ["gate/change-request", "gate/protected-environment"]),
        # checkout's change, judged (unapproved) and refused for catalog
        (
            "CHG-2024-0150",
            [
                "change-approvals/required-approvals",
                "gate/change-request",
                "gate/protected-environment",
            ],
        ),
    ],
)
def test_a_named_change_must_be_that_change_for_this_target(
    cli, shop: Path, change: str, rules: list[str]
) -> None:
    code, verdict = gate(cli, *CATALOG, "--change", change, "--at", CATALOG_CHANGE_NOW)
    assert (code, failing(verdict)) == (1 if rules else 0, rules)


@pytest.mark.parametrize("version", ["v1.8.1", "1.8.1 ", "1.8", "1.8.1+build"])
def test_a_version_is_the_plan_s_version_exactly(
    cli, shop: Path, tmp_path: Path, version: str
) -> None:
    context = write(tmp_path / "green.yaml", GREEN)
    code, verdict = gate(cli, *CATALOG, "--version", version, "--at", QUIET, "--context", context)
    assert (code, failing(verdict)) == (1, ["gate/protected-environment", "gate/release-plan"])


def test_a_cancelled_change_request_is_no_reason_to_deploy(cli, shop: Path) -> None:
    edit(shop / "changes" / "CHG-2024-0151.yaml", "status: planned", "status: cancelled")
    code, verdict = gate(cli, *CATALOG, "--change", "CHG-2024-0151", "--at", CATALOG_CHANGE_NOW)
    assert code == 1
    assert "gate/protected-environment" in failing(verdict) or "gate/change-request" in failing(
        verdict
    )


def test_a_cancelled_release_plan_is_no_reason_to_deploy(cli, shop: Path, tmp_path: Path) -> None:
    edit(shop / "releases" / "catalog-v1.8.1.yaml", "status: planned", "status: cancelled")
    context = write(tmp_path / "green.yaml", GREEN)
    code, verdict = gate(cli, *CATALOG, *RELEASE, "--context", context)
    assert code == 1
    assert {"gate/protected-environment", "gate/release-plan"} & set(failing(verdict))


# --- freezes the gate must not overlook ---------------------------------------------------------

STAGING = ("--env", "staging", "--service", "checkout", "--at", QUIET)
STAGING_FREEZE = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: staging-freeze}
spec:
  level: hard
  timezone: UTC
  start: "2024-01-01T00:00"
  end: "2024-12-31T00:00"
  scope: {environments: [%s]}
"""


def staging_freeze(scope: str = "staging") -> str:
    return STAGING_FREEZE % scope


def test_a_readable_staging_freeze_closes_the_gate(cli, shop: Path) -> None:
    write(shop / "freezes" / "staging.yaml", staging_freeze())
    code, verdict = gate(cli, *STAGING)
    assert (code, failing(verdict)) == (1, ["gate/frozen"])


def test_a_freeze_without_a_name_closes_the_gate(cli, shop: Path) -> None:
    nameless = staging_freeze().replace("{name: staging-freeze}", "{}")
    write(shop / "freezes" / "staging.yaml", nameless)
    code, verdict = gate(cli, *STAGING)
    assert (code, failing(verdict)) == (1, ["gate/unreadable-window"])


def _unparsable(root: Path) -> None:
    write(root / "freezes" / "staging.yaml", "\t" + staging_freeze())


def _past_the_document_limit(root: Path) -> None:
    others = [staging_freeze("production").replace("staging-freeze", f"p{i}") for i in range(1000)]
    write(root / "freezes" / "staging.yaml", "---\n".join([*others, staging_freeze()]))


def _future_api_version(root: Path) -> None:
    write(root / "freezes" / "staging.yaml", staging_freeze().replace("/v1", "/v2"))


def _misspelled_kind(root: Path) -> None:
    misspelled = staging_freeze().replace("FreezeWindow", "Freezewindow")
    write(root / "freezes" / "staging.yaml", misspelled)


def _linked_out(root: Path) -> None:
    target = write(root.parent / "elsewhere" / "staging.yaml", staging_freeze())
    (root / "freezes" / "staging.yaml").symlink_to(target)


def _folder_linked_out(root: Path) -> None:
    import shutil

    outside = root.parent / "elsewhere-freezes"
    shutil.copytree(root / "freezes", outside)
    write(outside / "staging.yaml", staging_freeze())
    shutil.rmtree(root / "freezes")
    (root / "freezes").symlink_to(outside)


UNREADABLE_FREEZES = {
    "unparsable YAML": _unparsable,
    "freeze past the 1,000-document limit": _past_the_document_limit,
    "future apiVersion": _future_api_version,
    "misspelled kind": _misspelled_kind,
    "file linked out of the repository": _linked_out,
    "freezes folder linked out of the repository": _folder_linked_out,
}


@pytest.mark.parametrize("case", sorted(UNREADABLE_FREEZES))
def test_a_freeze_file_that_cannot_be_read_closes_the_gate(cli, shop: Path, case: str) -> None:
    UNREADABLE_FREEZES[case](shop)
    code, verdict = gate(cli, *STAGING)
    assert code == 1
    assert verdict["gate"]["allowed"] is False
    assert set(failing(verdict)) & {
        "gate/unreadable-window",
        "gate/frozen",
        "yaml/parse",
        "schema/envelope",
        "changegate/outside-repository",
    }


def test_a_freeze_scoped_to_a_differently_cased_environment_applies(cli, shop: Path) -> None:
    write(shop / "freezes" / "staging.yaml", staging_freeze("Staging"))
    result = cli("validate", "freezes/staging.yaml")
    sound(result)
    assert result.code == 0, result.out
    code, verdict = gate(cli, *STAGING)
    assert (code, failing(verdict)) == (1, ["gate/frozen"])


def test_a_never_occurring_change_window_closes_its_targets(cli, shop: Path) -> None:
    write(
        shop / "freezes" / "never.yaml",
        """\
apiVersion: changegate/v1
kind: ChangeWindow
metadata: {name: never}
spec:
  timezone: UTC
  recurrence: {rrule: "FREQ=DAILY;COUNT=0", start: "09:00", duration: 8h}
  scope: {environments: [staging]}
""",
    )
    code, verdict = gate(cli, *STAGING)
    assert (code, failing(verdict)) == (1, ["gate/outside-change-window"])


def friday_context(tmp_path: Path, veto: str) -> Path:
    context = yaml.safe_load((CONTEXTS / "deploy-friday-2024-01-26.yaml").read_text())
    context["teams"]["acme-shop/engineering-managers"] = ["dana", "dave"]
    context["reviews"].append(
        {
            "id": 503,
            "user": veto,
            "state": "CHANGES_REQUESTED",
            "commit": context["pullRequest"]["headSha"],
            "submittedAt": "2024-01-19T09:40:00Z",
        }
    )
    return write(tmp_path / "friday.yaml", yaml.safe_dump(context))


FRIDAY = (
    "--env",
    "production",
    "--service",
    "checkout",
    "--change",
    "CHG-2024-0160",
    "--at",
    "2024-01-26T15:45:00Z",
)


@pytest.mark.parametrize("veto", ["dave", "DAVE"])
def test_a_managers_requested_changes_keep_the_soft_freeze_shut(
    cli, shop: Path, tmp_path: Path, veto: str
) -> None:
    code, verdict = gate(cli, *FRIDAY, "--context", friday_context(tmp_path, veto))
    assert (code, failing(verdict)) == (1, ["gate/frozen"])


def test_the_soft_freeze_message_names_who_requested_changes(
    cli, shop: Path, tmp_path: Path
) -> None:
    _, verdict = gate(cli, *FRIDAY, "--context", friday_context(tmp_path, "dave"))
    [frozen] = [f for f in verdict["findings"] if f["rule"] == "gate/frozen"]
    assert "dave" in frozen["message"]


# --- calendar edges at the gate ---------------------------------------------------------------

KIRITIMATI_NEW_YEAR = """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: last-hour}
spec:
  level: hard
  timezone: Pacific/Kiritimati
  start: "2999-12-31T23:00"
  end: "2999-12-31T23:59"
  scope: {environments: [staging]}
"""


@pytest.mark.parametrize(
    ("at", "rules"),
    [
        ("2999-12-31T09:30:00Z", ["gate/frozen"]),  # 23:30 in UTC+14, the last local hour
        ("2999-12-31T08:59:59Z", []),
        ("2999-12-31T09:59:00Z", []),  # the end is exclusive
    ],
)
def test_the_last_hour_of_2999_east_of_utc(cli, shop: Path, at: str, rules: list[str]) -> None:
    write(shop / "freezes" / "last-hour.yaml", KIRITIMATI_NEW_YEAR)
    code, verdict = gate(cli, "--env", "staging", "--service", "checkout", "--at", at)
    assert (code, failing(verdict)) == (1 if rules else 0, rules)


def test_a_leap_day_only_freeze_freezes_on_leap_days(cli, shop: Path) -> None:
    write(
        shop / "freezes" / "leap.yaml",
        """\
apiVersion: changegate/v1
kind: FreezeWindow
metadata: {name: leap-day}
spec:
  level: hard
  timezone: UTC
  recurrence: {rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", start: "00:00", duration: 24h,
               from: "2024-01-01"}
  scope: {environments: [staging]}
""",
    )
    on = ("--env", "staging", "--service", "checkout", "--at", "2028-02-29T12:00:00Z")
    assert failing(gate(cli, *on)[1]) == ["gate/frozen"]
    off = ("--env", "staging", "--service", "checkout", "--at", "2027-03-01T00:30:00Z")
    code, verdict = gate(cli, *off)
    assert (code, failing(verdict)) == (0, [])


# --- the Action's gate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def github_spec():
    from tests.support.fakegithub import Spec
    from tests.support.files import shared_or_skip

    return Spec(shared_or_skip("github", "openapi-subset.json"))


@pytest.fixture
def github(github_spec):
    from tests.support.fakegithub import FakeGitHub
    from tests.support.files import TEAMS

    with FakeGitHub(github_spec) as fake:
        for team, members in TEAMS.items():
            fake.teams[team] = list(members)
        yield fake
    assert fake.problems == [], "\n".join(fake.problems)


@pytest.fixture
def shop_repo(tmp_path: Path):
    from tests.github.test_action import Shop

    repo = Shop(tmp_path / "repo")
    repo.git.checkout("main")
    return repo


@pytest.mark.parametrize("spelled", ["Production", "PRODUCTION"])
def test_the_action_gate_resolves_a_github_environment_case_insensitively(
    github, shop_repo, tmp_path: Path, spelled: str
) -> None:
    from tests.github.test_action import deployment, run_action

    payload = deployment(shop_repo.base, environment=spelled, service="checkout")
    result = run_action(
        github,
        shop_repo,
        tmp_path,
        "deployment",
        payload,
        at=HOLIDAYS,
        sha=shop_repo.base,
        mode="gate",
    )
    assert "Traceback" not in result.out
    assert result.code == 1, result.out
    assert result.outputs["failed-rules"] == '["gate/frozen", "gate/protected-environment"]'
    assert "checkout may not deploy to production" in result.summary


@pytest.mark.parametrize(
    ("environment", "said"),
    [
        ("prod", "--env 'prod': changegate.yaml lists no such environment: did you mean"),
        ("prod*", "--env 'prod*' is a pattern, not an environment name"),
        ("*", "--env '*' is a pattern, not an environment name"),
    ],
)
def test_the_action_gate_refuses_unknown_and_pattern_environments(
    github, shop_repo, tmp_path: Path, environment: str, said: str
) -> None:
    from tests.github.test_action import dispatch, run_action

    result = run_action(
        github,
        shop_repo,
        tmp_path,
        "workflow_dispatch",
        dispatch(),
        at=QUIET,
        sha=shop_repo.base,
        mode="gate",
        environment=environment,
        service="checkout",
    )
    assert "Traceback" not in result.out
    assert result.code == 2, result.out
    assert said in result.out


@pytest.mark.parametrize("spelled", ["ſtaging", "ＳＴＡＧＩＮＧ", "staging\u200b"])
def test_environment_names_fold_only_ascii_letters(cli, shop: Path, spelled: str) -> None:
    # GitHub compares environment names without case; Unicode look-alikes are other names
    err = usage_error(cli, "gate", "--env", spelled, "--service", "checkout", "--at", QUIET)
    assert f"--env {spelled!r}: changegate.yaml lists no such environment" in err
