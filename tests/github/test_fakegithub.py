"""The fake GitHub's own checks can fail: what disagrees with GitHub's description is caught."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.fakegithub import FakeGitHub, Spec
from tests.support.files import shared_or_skip


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(shared_or_skip("github", "openapi-subset.json"))


@pytest.fixture
def fake(spec: Spec) -> Iterator[FakeGitHub]:
    with FakeGitHub(spec) as github:
        github.add_pull(7, author="alice", head="a" * 40, base="b" * 40, files=["x.yaml"])
        yield github


def get(fake: FakeGitHub, path: str, **params: str) -> requests.Response:
    headers = {"Authorization": f"token {fake.token}"}
    return requests.get(f"{fake.url}{path}", params=params, headers=headers, timeout=10)


def test_a_valid_exchange_has_no_problems(fake: FakeGitHub) -> None:
    assert get(fake, "/repos/acme-shop/shop/pulls/7/files", per_page="100").status_code == 200
    assert fake.problems == []


def test_an_undeclared_query_parameter_is_a_problem(fake: FakeGitHub) -> None:
    get(fake, "/repos/acme-shop/shop/pulls/7/files", sort="name")
    assert fake.problems == [
        "GET /repos/acme-shop/shop/pulls/7/files: query parameter 'sort' is not declared"
    ]


def test_an_unknown_operation_is_a_problem(fake: FakeGitHub) -> None:
    get(fake, "/repos/acme-shop/shop/releases")
    assert fake.problems[0].endswith("not an operation of the description")


def test_a_response_that_breaks_the_schema_is_a_problem(fake: FakeGitHub) -> None:
    del fake.pulls[7]["head"]
    get(fake, "/repos/acme-shop/shop/pulls/7")
    assert any("'head' is a required property" in p for p in fake.problems)


def test_a_wrong_token_is_refused(fake: FakeGitHub) -> None:
    answer = requests.get(f"{fake.url}/user", headers={"Authorization": "token nope"}, timeout=10)
    assert answer.status_code == 401
    assert fake.problems == []  # 401 may come from any endpoint, as a basic-error


def test_only_the_apps_own_jwt_exchanges_a_token(spec: Spec) -> None:
    import time

    import jwt

    from tests.support.app import APP_ID, INSTALLATION, app_key, as_app

    with FakeGitHub(spec) as github:
        as_app(github)
        url = f"{github.url}/app/installations/{INSTALLATION}/access_tokens"

        def exchange(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return requests.post(url, json={}, headers=headers, timeout=10).status_code

        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": APP_ID}
        assert exchange(jwt.encode(claims, app_key()[0], algorithm="RS256")) == 201
        assert exchange(jwt.encode({**claims, "iss": "1"}, app_key()[0], algorithm="RS256")) == 401
        assert (
            exchange(jwt.encode({**claims, "exp": now + 3600}, app_key()[0], algorithm="RS256"))
            == 401
        )
        assert (
            exchange(jwt.encode(claims, "not the key, and long enough: 32+", algorithm="HS256"))
            == 401
        )
        github.installations.clear()
        assert exchange(jwt.encode(claims, app_key()[0], algorithm="RS256")) == 404
    assert github.problems == []
