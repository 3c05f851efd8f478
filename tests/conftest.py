"""Shared fixtures: a CLI runner, git repositories in tmp_path, the shared reference data."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main
from engine.documents.model import Document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# the teams of examples/acme-shop, as GitHub would list their members
TEAMS = {
    "acme-shop/cab": ["bob", "carol"],
    "acme-shop/engineering-managers": ["dana"],
    "acme-shop/on-call": ["frank"],
    "acme-shop/platform": ["grace"],
}
SHARED = ROOT.parent / "shared"


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


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of our own, as a user in a fresh folder would have."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared reference data lives beside the repository")
    return path


class GitRepo:
    """A real git repository in tmp_path, driven through GitPython."""

    def __init__(self, root: Path) -> None:
        import git

        self.root = root
        self.repo = git.Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Test Author")
            config.set_value("user", "email", "author@example.com")
            config.set_value("commit", "gpgsign", "false")

    def write(self, relative: str, text: str) -> Path:
        return write(self.root / relative, text)

    def commit(self, message: str, *, author: str = "Test Author") -> str:
        import git

        self.repo.git.add(A=True)
        actor = git.Actor(author, f"{author.lower().replace(' ', '.')}@example.com")
        return str(self.repo.index.commit(message, author=actor, committer=actor).hexsha)

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.repo.git.checkout("-b", name, start)

    def checkout(self, ref: str) -> None:
        self.repo.git.checkout(ref)


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def copy_example(target: Path, name: str = "acme-shop") -> Path:
    """A copy of an example repository without its context files."""
    import shutil

    shutil.copytree(EXAMPLES / name, target, dirs_exist_ok=True)
    shutil.rmtree(target / "contexts", ignore_errors=True)
    return target


def window_document(kind: str = "FreezeWindow", name: str = "w", **spec: object) -> Document:
    """A schema-valid FreezeWindow or ChangeWindow (hard, UTC unless given)."""
    import yaml

    from engine.documents.loader import load_text
    from engine.documents.model import identify
    from engine.documents.schemas import SchemaSet

    if kind == "FreezeWindow":
        spec.setdefault("level", "hard")
    spec.setdefault("timezone", "UTC")
    body = {"apiVersion": "changegate/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    [document], problems = identify(load_text(yaml.safe_dump(body), Path(f"{name}.yaml")))
    assert problems == []
    assert SchemaSet().check(document) == []
    return document
