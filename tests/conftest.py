"""Shared fixtures: a CLI runner, a working folder of our own, git repositories in tmp_path, and
no network beyond loopback. Helpers live in tests/support/."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main
from tests.support.repos import GitRepo


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``changegate`` in-process through ``main([...])``."""

    def run(*args: str | os.PathLike[str]) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network; loopback (the fake GitHub) is allowed."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in {"127.0.0.1", "localhost", "::1"}:
            raise RuntimeError(f"network access in tests: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _pack_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared policy packs are fetched into the test's own cache, never the user's."""
    monkeypatch.setenv("CHANGEGATE_PACK_CACHE", str(tmp_path / "pack-cache"))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of our own, as a user in a fresh folder would have."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")
