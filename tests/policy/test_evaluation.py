"""Policies written by users: compile errors, fail-closed evaluation, variables, effective
dates, severity and message expressions, waivers and unmatched documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.files import write
from tests.support.verdicts import outcomes

CONFIG = """\
apiVersion: changegate/v1
kind: Config
metadata: {name: repo}
spec:
  policies: [./policies]
"""

INCIDENT = """\
apiVersion: changegate/v1
kind: Incident
metadata: {name: INC-1, labels: {team: payments}}
spec:
  title: Checkout errors
  severity: SEV-2
  services: [checkout]
  detectedAt: "2024-01-11T10:15:00Z"
"""


def policy(rules: str, *, match: str = "{kinds: [Incident]}", variables: str = "") -> str:
    return (
        "apiVersion: changegate/v1\nkind: Policy\nmetadata: {name: house}\nspec:\n"
        f"  match: {match}\n{variables}  rules:\n{rules}"
    )


@pytest.fixture
def repo(in_tmp: Path) -> Path:
    write(in_tmp / "changegate.yaml", CONFIG)
    write(in_tmp / "incidents" / "INC-1.yaml", INCIDENT)
    return in_tmp


def check(cli, *args: str) -> tuple[int, dict[str, Any], str]:
    result = cli("check", "--format", "json", "--at", "2024-01-20T12:00:00Z", *args)
    if result.code == 2:
        return result.code, {}, result.err
    return result.code, json.loads(result.out), result.err


def test_cel_that_does_not_compile_exits_2_with_file_line_and_caret(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - name: broken\n"
            "      expression: \"object.spec.severity == 'SEV-1' &&& true\"\n"
            "      message: m\n"
        ),
    )
    code, _, err = check(cli)
    assert code == 2
    assert "CEL that does not compile" in err
    assert "policies/house.yaml:8:7: policy house rule broken, expression" in err
    assert "object.spec.severity == 'SEV-1' &&& true" in err
    caret_line = err.splitlines()[-1]
    assert caret_line.strip() == "^"


def test_every_failing_rule_is_reported_with_its_field(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: one, expression: 'false', message: first, field: spec.severity}\n"
            "    - {name: two, expression: 'false', message: second, field: spec.services}\n"
            "    - {name: three, expression: 'true', message: fine}\n"
        ),
    )
    code, verdict, _ = check(cli)
    assert code == 1
    by_rule = {f["rule"]: f for f in verdict["findings"]}
    assert set(by_rule) == {"house/one", "house/two"}
    assert (by_rule["house/one"]["document"]["line"], by_rule["house/one"]["message"]) == (
        6,
        "first",
    )
    assert by_rule["house/two"]["document"]["field"] == "spec.services"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("object.spec.nosuch == 'x'", "could not be evaluated, so changegate denies"),
        ("'a string'", "expression gave str 'a string', not true or false"),
        ("1 / 0 == 1", "could not be evaluated"),
    ],
)
def test_errors_deny_even_in_a_warning_rule(cli, repo: Path, expression: str, problem: str) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            f'    - {{name: fragile, severity: warn, expression: "{expression}", message: m}}\n'
        ),
    )
    code, verdict, _ = check(cli)
    assert code == 1
    assert outcomes(verdict) == [("house/fragile", "deny", "error")]
    assert problem in verdict["findings"][0]["message"]


def test_a_failing_variable_errors_every_rule(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: a, expression: 'variables.v', message: m}\n"
            "    - {name: b, expression: 'true', message: m}\n",
            variables="  variables:\n    - {name: v, expression: 'object.spec.nosuch'}\n",
        ),
    )
    code, verdict, _ = check(cli)
    assert code == 1
    assert sorted(outcomes(verdict)) == [("house/a", "deny", "error"), ("house/b", "deny", "error")]
    assert "variable v:" in verdict["findings"][0]["message"]


def test_variables_read_earlier_variables(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: a, expression: 'variables.b == 4', message: m}\n",
            variables=(
                "  variables:\n    - {name: a, expression: '2'}\n"
                "    - {name: b, expression: 'variables.a * variables.a'}\n"
            ),
        ),
    )
    assert check(cli)[0] == 0


def test_each_variable_sees_exactly_the_ones_before_it(cli, repo: Path) -> None:
    """Variables are bound for CEL only when needed (before one that names ``variables``, and
    after the last): every variable still sees the ones before it, and the rules all."""
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - name: shows\n      severity: warn\n      expression: 'false'\n"
            "      messageExpression: >-\n"
            "        join(variables.d.map(x, string(x)), ',') + ' of ' +\n"
            "        string(['a', 'b', 'c', 'd'].filter(n, n in variables).size())\n",
            variables=(
                "  variables:\n    - {name: a, expression: \"'b' in variables ? 1 : 0\"}\n"
                "    - {name: b, expression: '1'}\n"
                "    - {name: c, expression: \"'variables' == 'variables' ? 1 : 0\"}\n"
                "    - name: d\n      expression: >-\n"
                "        [variables.a, 'b' in variables ? 1 : 0, variables.c,\n"
                "         'd' in variables ? 1 : 0]\n"
            ),
        ),
    )
    code, verdict, _ = check(cli)
    assert code == 0
    assert outcomes(verdict) == [("house/shows", "warn", "fail")]
    assert verdict["findings"][0]["message"] == "0,1,1,0 of 4"


def test_severity_expression_and_its_failure(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - name: by-event\n"
            "      severityExpression: \"request.event == 'deploy' ? 'deny' : 'warn'\"\n"
            "      expression: 'false'\n      message: m\n"
            "    - name: nonsense\n"
            "      severityExpression: \"'loud'\"\n"
            "      expression: 'false'\n      message: m\n"
        ),
    )
    _, local, _ = check(cli)
    assert sorted(outcomes(local)) == [
        ("house/by-event", "warn", "fail"),
        ("house/nonsense", "deny", "error"),
    ]
    _, deploy, _ = check(cli, "--event", "deploy")
    assert ("house/by-event", "deny", "fail") in outcomes(deploy)


def test_message_expression_falls_back_to_the_message(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: good, expression: 'false', message: plain,\n"
            "       messageExpression: \"'severity ' + object.spec.severity\"}\n"
            "    - {name: bad, expression: 'false', message: plain,\n"
            "       messageExpression: 'object.spec.nosuch'}\n"
        ),
    )
    _, verdict, _ = check(cli)
    messages = {f["rule"]: f["message"] for f in verdict["findings"]}
    assert messages["house/good"] == "severity SEV-2"
    assert messages["house/bad"].startswith("plain (messageExpression failed:")


def test_a_message_expression_needs_no_message(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: good, expression: 'false',\n"
            "       messageExpression: \"'severity ' + object.spec.severity\"}\n"
            "    - {name: bad, expression: 'false', messageExpression: 'object.spec.nosuch'}\n"
        ),
    )
    code, verdict, err = check(cli)
    assert code == 1, err
    messages = {f["rule"]: f["message"] for f in verdict["findings"]}
    assert messages["house/good"] == "severity SEV-2"
    assert messages["house/bad"].startswith("rule house/bad failed (messageExpression failed:")


def test_a_rule_without_message_or_message_expression_is_a_configuration_error(
    cli, repo: Path
) -> None:
    write(repo / "policies" / "house.yaml", policy("    - {name: mute, expression: 'false'}\n"))
    code, _, err = check(cli)
    assert code == 2
    assert "spec.rules[0]: give message, or messageExpression, or both" in err


@pytest.mark.parametrize("backend", ["cel-expr-python", "cel-python"])
@pytest.mark.parametrize(
    ("where", "variables", "expression", "says"),
    [
        (
            "expression",
            "  variables:\n    - {name: required, expression: '1'}\n",
            "variables.requird > 0",
            "variables.requird is not a variable of this policy (defined here: required): "
            "did you mean 'required'?",
        ),
        (
            "expression",
            "",
            "'variables.x is fine in a string' != '' && variables.typo == 1",
            "variables.typo is not a variable of this policy (defined here: none)",
        ),
        (
            "variables",
            "  variables:\n    - {name: first, expression: 'variables.second + 1'}\n"
            "    - {name: second, expression: '1'}\n",
            "variables.first > 0",
            "variables.second is defined after this variable",
        ),
    ],
    ids=["misspelled", "none-defined", "used-before-defined"],
)
def test_a_misspelled_variable_is_a_compile_error_with_a_caret(
    cli, repo: Path, backend: str, where: str, variables: str, expression: str, says: str
) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(f'    - {{name: r, expression: "{expression}", message: m}}\n', variables=variables),
    )
    code, _, err = check(cli, "--cel-backend", backend)
    assert code == 2, err
    assert "CEL that does not compile" in err
    assert says in err
    *_, source, caret = err.splitlines()
    offset = caret.index("^") - (len(source) - len(source.lstrip()))
    assert source.strip()[offset:].startswith(says.split()[0].removeprefix("variables."))
    assert where in err


def test_variables_in_match_when_are_not_computed_yet(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: r, expression: 'true', message: m}\n",
            match="{kinds: [Incident], when: 'variables.v'}",
            variables="  variables:\n    - {name: v, expression: 'true'}\n",
        ),
    )
    code, _, err = check(cli)
    assert code == 2
    assert "variables.v is not computed yet when match.when runs" in err


def test_effective_dates(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: soon, expression: 'false', message: m,\n"
            "       effective: {from: '2024-02-01'}}\n"
            "    - {name: over, expression: 'false', message: m,\n"
            "       effective: {until: '2024-01-01'}}\n"
        ),
    )
    _, verdict, _ = check(cli)
    assert outcomes(verdict) == [("house/soon", "warn", "fail")]
    assert "(enforced from 2024-02-01T00:00:00Z)" in verdict["findings"][0]["message"]
    _, later, _ = check(cli, "--at", "2024-03-01T00:00:00Z")
    assert ("house/soon", "deny", "fail") in outcomes(later)


def test_match_when_and_rule_when_skip(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - {name: a, expression: 'false', message: m}\n",
            match="{kinds: [Incident], when: \"object.spec.severity == 'SEV-1'\"}",
        ),
    )
    assert check(cli)[1]["findings"] == []


def test_waivers(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy("    - {name: strict, expression: 'false', message: always fails}\n"),
    )
    waiver = (
        "apiVersion: changegate/v1\nkind: Waiver\nmetadata: {name: w}\n"
        "spec: {rule: '%s', selector: %s, owner: dana, justification: agreed, expires: '%s'}\n"
    )
    write(
        repo / "policies" / "w.yaml",
        waiver % ("house/*", "{labels: {team: payments}}", "2024-06-30"),
    )
    code, verdict, _ = check(cli)
    assert code == 0
    assert outcomes(verdict) == [("house/strict", "deny", "waived")]
    assert (
        "waived by w, owner dana, expires 2024-06-30: agreed" in verdict["findings"][0]["message"]
    )
    # expired: the failure stands and the waiver itself fails
    write(repo / "policies" / "w.yaml", waiver % ("house/strict", "{names: [INC-*]}", "2024-01-01"))
    code, verdict, _ = check(cli)
    assert code == 1
    assert sorted(outcomes(verdict)) == [
        ("house/strict", "deny", "fail"),
        ("waiver/expired", "deny", "fail"),
    ]
    # unused: a warning
    write(repo / "policies" / "w.yaml", waiver % ("house/strict", "{names: [OTHER]}", "2024-06-30"))
    _, verdict, _ = check(cli)
    assert ("waiver/unused", "warn", "fail") in outcomes(verdict)


def test_errors_are_never_waived(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml", policy("    - {name: e, expression: 'x.y', message: m}\n")
    )
    write(
        repo / "policies" / "w.yaml",
        "apiVersion: changegate/v1\nkind: Waiver\nmetadata: {name: w}\n"
        "spec: {rule: 'house/*', selector: {names: ['*']}, owner: dana, justification: j,\n"
        "       expires: '2030-01-01'}\n",
    )
    code, verdict, _ = check(cli, "--cel-backend", "cel-python")
    assert code == 1
    assert ("house/e", "deny", "error") in outcomes(verdict)


def test_a_changed_document_no_rule_judged_is_reported(cli, repo: Path, tmp_path: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy("    - {name: a, expression: 'true', message: m}\n", match="{kinds: [ReleasePlan]}"),
    )
    context = write(
        tmp_path / "context.yaml",
        "event: pull_request\npullRequest: {author: alice, changedFiles: [incidents/INC-1.yaml]}\n",
    )
    code, verdict, _ = check(cli, "--context", str(context))
    assert code == 0
    [finding] = verdict["findings"]
    assert (finding["rule"], finding["severity"]) == ("changegate/unmatched", "warn")
    assert "no policy rule judged this Incident" in finding["message"]


def test_docs_and_old_object_are_available_to_user_policies(cli, repo: Path) -> None:
    write(
        repo / "policies" / "house.yaml",
        policy(
            "    - name: known-release\n"
            "      expression: \"'INC-1' in docs.Incident && oldObject == null\"\n"
            "      message: m\n"
        ),
    )
    assert check(cli)[0] == 0


def test_policy_documents_are_validated_before_use(cli, repo: Path) -> None:
    write(repo / "policies" / "house.yaml", policy("    - {name: Bad Name, expression: 'true'}\n"))
    code, _, err = check(cli)
    assert code == 2
    assert "invalid policies or waivers" in err
    assert "spec.rules[0]: give message, or messageExpression, or both" in err


def test_unknown_builtin_pack(cli, repo: Path) -> None:
    write(repo / "changegate.yaml", CONFIG.replace("./policies", "builtin:strict"))
    code, _, err = check(cli)
    assert code == 2
    assert "unknown policy pack 'builtin:strict'" in err
    assert "builtin:recommended" in err
