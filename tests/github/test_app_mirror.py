"""The bare mirrors: the default branch fetched incrementally, loaded once per commit, and the
installation token kept off command lines and out of messages."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

from engine.github.app.mirror import Mirrors, remote
from engine.gitrepo import GitError
from tests.support.app import CONFIG, FREEZE, Origin

TOKEN = "ghs_s3cr3tT0k3n"


def test_credentials_in_the_url_travel_as_a_header() -> None:
    url, env = remote(
        "https://x-access-token:{token}@ghe.example.com:8443/{owner}/{repo}.git",
        "acme-shop/shop", TOKEN,
    )  # fmt: skip
    assert url == "https://ghe.example.com:8443/acme-shop/shop.git"
    assert TOKEN not in url
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_a_fetch_that_fails_never_shows_the_token(tmp_path: Path) -> None:
    mirrors = Mirrors(
        tmp_path / "mirrors", "https://x-access-token:{token}@127.0.0.1:9/{owner}/{repo}.git"
    )
    with pytest.raises(GitError) as raised:
        mirrors.fetch("acme-shop/shop", "main", TOKEN)
    assert "cannot fetch the default branch main of acme-shop/shop" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_a_default_branch_that_is_not_a_branch_name_is_refused(tmp_path: Path) -> None:
    origin = Origin(tmp_path / "github")
    origin.work.write("changegate.yaml", CONFIG)
    origin.push()
    mirrors = Mirrors(tmp_path / "mirrors", origin.template)
    with pytest.raises(GitError, match="not a valid branch name"):
        mirrors.fetch("acme-shop/shop", "main..x", "")


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    shop = Origin(tmp_path / "github")
    shop.work.write("changegate.yaml", CONFIG)
    shop.work.write("freezes/holiday-freeze.yaml", FREEZE)
    shop.push("The shop")
    return shop


def test_fetches_are_incremental_and_loads_are_shared_per_commit(
    origin: Origin, tmp_path: Path
) -> None:
    mirrors = Mirrors(tmp_path / "mirrors", origin.template)
    first = mirrors.fetch("acme-shop/shop", "main", "")
    assert first == origin.work.repo.head.commit.hexsha
    with (
        mirrors.snapshot("acme-shop/shop", first) as one,
        mirrors.snapshot("Acme-Shop/Shop", first) as two,
    ):
        assert one is two
        assert [d.name for d in one.inventory.valid if d.kind == "FreezeWindow"] == [
            "holiday-freeze"
        ]
        root = one.root
    (origin.work.root / "freezes" / "holiday-freeze.yaml").unlink()
    second = origin.push("No freeze")
    assert mirrors.fetch("acme-shop/shop", "main", "") == second
    with mirrors.snapshot("acme-shop/shop", second) as now:
        assert [d.kind for d in now.inventory.valid] == ["Config"]
    assert not root.exists()  # the checkout of the older commit is gone
    mirrors.close()
    assert not now.root.exists()


def test_concurrent_decisions_share_fetches(origin: Origin, tmp_path: Path) -> None:
    mirrors = Mirrors(tmp_path / "mirrors", origin.template)
    tips: list[str] = []
    threads = [
        threading.Thread(target=lambda: tips.append(mirrors.fetch("acme-shop/shop", "main", "")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(tips) == {origin.work.repo.head.commit.hexsha}
    mirrors.close()


def test_the_least_recently_judged_repository_is_let_go(
    origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.github.app import mirror

    monkeypatch.setattr(mirror, "LOADED", 1)
    other = Origin(tmp_path / "github", "acme-shop/other")
    other.work.write("changegate.yaml", CONFIG)
    other.push()
    mirrors = Mirrors(tmp_path / "mirrors", origin.template)
    with mirrors.snapshot("acme-shop/shop", mirrors.fetch("acme-shop/shop", "main", "")) as shop:
        pass
    with mirrors.snapshot("acme-shop/other", mirrors.fetch("acme-shop/other", "main", "")):
        assert not shop.root.exists()
    mirrors.close()
