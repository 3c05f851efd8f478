"""Fixtures of the deployment protection App's tests: the fake GitHub knowing the App, the
shop's repository as GitHub hosts it, the App's pinned clock, and the App served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.github.app.decide import ReadOnce
from engine.github.client import Client
from tests.support.app import (
    CONFIG,
    FREEZE,
    IN_FREEZE,
    Clock,
    Origin,
    Running,
    as_app,
    quick,
    serving,
    settings_for,
)
from tests.support.fakegithub import FakeGitHub, Spec
from tests.support.files import TEAMS, shared_or_skip


@pytest.fixture(scope="session")
def openapi() -> Spec:
    return Spec(shared_or_skip("github", "openapi-subset.json"))


@pytest.fixture
def app_github(openapi: Spec) -> Iterator[FakeGitHub]:
    with FakeGitHub(openapi) as fake:
        for team, members in TEAMS.items():
            fake.teams[team] = list(members)
        yield as_app(fake)
    assert fake.problems == [], "\n".join(fake.problems)


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    shop = Origin(tmp_path / "github")
    shop.work.write("changegate.yaml", CONFIG)
    shop.work.write("freezes/holiday-freeze.yaml", FREEZE)
    shop.push("The shop")
    return shop


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_FREEZE)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "app.sqlite3"


@pytest.fixture
def app(app_github: FakeGitHub, origin: Origin, clock: Clock, state: Path) -> Iterator[Running]:
    settings = settings_for(app_github, origin, state)
    with serving(
        settings, clock, connect=quick(ReadOnce.connect), for_app=quick(Client.for_app)
    ) as running:
        yield running
