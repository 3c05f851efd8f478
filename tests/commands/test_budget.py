"""``changegate budget``: the figures of the domain notes' SLA calculator, per service."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.files import EXAMPLES, copy_example, write

SHOP = EXAMPLES / "acme-shop"


def test_the_shops_budgets_in_january(cli) -> None:
    # checkout: 0.1% of January's 31 days is 44.64 minutes; INC-2024-0125 recorded 15 minutes
    # of downtime, 29.64 left (66%); at 13:00 on the 20th in Berlin 469 of 744 hours are gone,
    # so the budget for the time gone is 28.14 minutes and the burn rate 15 / 28.14 = 0.53
    result = cli("--repo", SHOP, "budget", "--at", "2024-01-20T12:00:00Z")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "error budgets at 2024-01-20T12:00:00Z (calendar months in Europe/Berlin)\n"
        "\n"
        "checkout: SLO 99.9% availability over 2024-01\n"
        "  allowed    44.6 min (0.1% of 31 days)\n"
        "  used       15.0 min\n"
        "    INC-2024-0125: 15.0 min, 2024-01-11T10:15:00Z to 2024-01-11T11:15:00Z\n"
        "  remaining  29.6 min (66%)\n"
        "  burn rate  0.5x (on track)\n"
        "\n"
        "catalog: SLO 99.5% availability over 2024-01\n"
        "  allowed    223.2 min (0.5% of 31 days)\n"
        "  used       0.0 min\n"
        "  remaining  223.2 min (100%)\n"
        "  burn rate  0.0x (on track)\n"
    )
    result = cli("--repo", SHOP, "budget", "--service", "checkout", "--at", "2024-01-20T12:00:00Z",
                 "--format", "json")  # fmt: skip
    data = json.loads(result.out)
    assert (data["kind"], data["withoutSlo"], data["unreadIncidents"]) == ("ErrorBudgets", [], [])
    [checkout] = data["budgets"]
    assert {k: checkout[k] for k in ("allowedMinutes", "usedMinutes", "remainingMinutes",
                                     "remaining", "burnRate", "exhausted")} == {
        "allowedMinutes": 44.64, "usedMinutes": 15.0, "remainingMinutes": 29.64,
        "remaining": 0.664, "burnRate": 0.53, "exhausted": False,
    }  # fmt: skip
    assert (checkout["start"], checkout["end"]) == ("2023-12-31T23:00:00Z", "2024-01-31T23:00:00Z")
    assert checkout["incidents"][0]["name"] == "INC-2024-0125"
    # in February the month starts afresh
    result = cli("--repo", SHOP, "budget", "--service", "checkout", "--at", "2024-02-01T00:00:00Z")
    assert "  used       0.0 min\n" in result.out


def test_an_unknown_service_is_a_usage_error(cli) -> None:
    result = cli("--repo", SHOP, "budget", "--service", "chekout")
    assert result.code == 2
    assert "did you mean 'checkout'?" in result.err


def shop(tmp_path: Path) -> Path:
    root = copy_example(tmp_path / "shop")
    config = root / "changegate.yaml"
    config.write_text(
        config.read_text().replace(
            "      slo: {availability: 99.5}\n",
            "      slo: {availability: 99.5}\n    - name: search\n",
        )
    )
    return root


INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata: {{name: {name}}}
spec:
  title: Checkout errors
  severity: SEV-1
  services: [checkout]
  detectedAt: "{detected}"
{rest}"""


def test_spanning_open_and_uncounted_incidents_and_a_service_without_an_slo(
    cli, tmp_path: Path
) -> None:
    root = shop(tmp_path)
    incidents = root / "incidents"
    # 23:30 to 00:30 Berlin time over the turn of the month: 30 minutes in each
    write(incidents / "INC-A.yaml", INCIDENT.format(
        name="INC-A", detected="2024-01-31T22:30:00Z", rest='  resolvedAt: "2024-01-31T23:30:00Z"\n'
    ))  # fmt: skip
    # not counted by the SLA
    write(incidents / "INC-B.yaml", INCIDENT.format(
        name="INC-B", detected="2024-02-02T10:00:00Z",
        rest='  resolvedAt: "2024-02-02T12:00:00Z"\n  impact: {slaImpact: false}\n',
    ))  # fmt: skip
    # still open at the instant judged: 2024-02-05T09:00 to 10:00, an hour
    write(incidents / "INC-C.yaml", INCIDENT.format(
        name="INC-C", detected="2024-02-05T09:00:00Z", rest="  status: investigating\n"
    ))  # fmt: skip
    result = cli("--repo", root, "budget", "--at", "2024-02-05T10:00:00Z")
    assert (result.code, result.err) == (0, "")
    # February 2024 has 29 days: 41.76 minutes; 30 + 60 used are 90, 48.24 over
    assert (
        "checkout: SLO 99.9% availability over 2024-02\n"
        "  allowed    41.8 min (0.1% of 29 days)\n"
        "  used       90.0 min\n"
        "    INC-A: 30.0 min, 2024-01-31T22:30:00Z to 2024-01-31T23:30:00Z\n"
        "    INC-B: 0.0 min, 2024-02-02T10:00:00Z to 2024-02-02T12:00:00Z (slaImpact: false, so "
        "none of its 120.0 minutes count)\n"
        "    INC-C: 60.0 min, 2024-02-05T09:00:00Z to still open\n"
        "  remaining  -48.2 min (-116%)\n"
        "  burn rate  " in result.out
    )
    assert "x (spent: releases and changes are held until it recovers)\n" in result.out
    assert result.out.endswith(
        "\nsearch: no SLO (set services[].slo.availability in changegate.yaml)\n"
    )
    # at 23:59 Berlin time on 31 January: 15 (INC-2024-0125) and the 29 minutes of INC-A so far
    january = cli("--repo", root, "budget", "--service", "checkout", "--at", "2024-01-31T22:59:00Z")
    assert "  used       44.0 min\n" in january.out
    search = cli("--repo", root, "budget", "--service", "search", "--format", "json")
    assert json.loads(search.out)["withoutSlo"] == ["search"]


def test_an_invalid_incident_is_named_not_silently_dropped(cli, tmp_path: Path) -> None:
    root = shop(tmp_path)
    write(root / "incidents" / "INC-X.yaml", INCIDENT.format(
        name="INC-X", detected="2024-01-12T10:00:00Z", rest='  resolvedAt: "2024-01-12T09:00:00Z"\n'
    ))  # fmt: skip
    result = cli("--repo", root, "budget", "--service", "checkout", "--at", "2024-01-20T12:00:00Z")
    assert result.code == 0
    assert "1 incident file with problems not counted: " in result.err
    assert "INC-X.yaml; run changegate validate" in result.err


def test_without_services_there_is_nothing_to_count(cli, in_tmp: Path) -> None:
    write(
        in_tmp / "changegate.yaml", "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: x}\n"
    )
    result = cli("budget")
    assert result.code == 0
    assert result.out.startswith("changegate.yaml lists no services")


def test_slos_that_cannot_have_a_budget_are_configuration_errors(cli, in_tmp: Path) -> None:
    config = "apiVersion: changegate/v1\nkind: Config\nmetadata: {name: x}\nspec:\n  services:\n"
    for slo, said in (
        ("{availability: 100}", "slo.availability must be less than 100, not 100"),
        ("{availability: 0}", "slo.availability must be more than 0, not 0"),
        ("{availability: 99.9, period: 0d}", "'0d' is not a valid value: write it like month"),
        ("{availability: 99.9, latencyP99: 500ms}", "unknown field 'latencyP99'"),
    ):
        write(in_tmp / "changegate.yaml", f"{config}    - {{name: checkout, slo: {slo}}}\n")
        result = cli("budget")
        assert result.code == 2, slo
        assert said in result.err, result.err


def test_the_engines_calendar_edges(cli) -> None:
    # the last instant changegate computes with is already 3000-01 in Berlin
    last = cli("--repo", SHOP, "budget", "--service", "checkout", "--at", "2999-12-31T23:59:59Z")
    assert "checkout: SLO 99.9% availability over 3000-01\n" in last.out
    first = cli("--repo", SHOP, "budget", "--service", "checkout", "--at", "1900-01-01T00:00:00Z")
    assert "  used       0.0 min\n" in first.out
    beyond = cli("--repo", SHOP, "budget", "--at", "3000-01-01T00:00:00Z")
    assert beyond.code == 2
    assert "outside the years changegate computes with" in beyond.err


def test_an_incident_naming_a_service_outside_the_catalog_is_not_counted(
    cli, tmp_path: Path
) -> None:
    root = shop(tmp_path)
    write(root / "incidents" / "INC-Y.yaml", INCIDENT.format(
        name="INC-Y", detected="2024-01-12T10:00:00Z", rest="",
    ).replace("[checkout]", "[chekout]"))  # fmt: skip
    result = cli("--repo", root, "budget", "--service", "checkout", "--at", "2024-01-20T12:00:00Z")
    assert "  used       15.0 min\n" in result.out
    assert "INC-Y.yaml; run changegate validate" in result.err
