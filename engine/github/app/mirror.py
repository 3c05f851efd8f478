"""The repositories the App judges, as bare mirrors of their default branch: fetched
incrementally before every decision (never the deployment's ref: the deployer controls it),
and loaded once per commit (a checkout, its Workspace and Inventory, shared by the decisions
on that commit).

The installation token never reaches a command line or a message: credentials in the git URL
travel as an HTTP header through git's environment, and a git error has the token masked.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from engine.errors import ChangegateError
from engine.gitrepo import GitError, GitRepo
from engine.workspace.inventory import Inventory, Workspace

FETCH_TIMEOUT: Final = 300  # seconds: a first fetch of a large repository takes a while
LOADED: Final = 16  # repositories kept loaded; the least recently judged is let go first


@dataclass(frozen=True)
class Snapshot:
    """The default branch of a repository at one commit, loaded."""

    repository: str
    tip: str
    root: Path
    workspace: Workspace
    inventory: Inventory


@dataclass
class _Loaded:
    snapshot: Snapshot
    stack: contextlib.ExitStack
    users: int = 0


@dataclass
class _Repository:
    lock: threading.Lock = field(default_factory=threading.Lock)
    fetched: float = float("-inf")  # when the last fetch that finished had started
    tip: str | None = None


def remote(template: str, repository: str, token: str) -> tuple[str, dict[str, str]]:
    """The URL to fetch from and the environment that carries its credentials."""
    owner, name = repository.split("/")
    url = template.format(token=token, owner=owner, repo=name)
    env = {"GIT_TERMINAL_PROMPT": "0"}
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and (parts.username or parts.password):
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        url = urlunsplit(parts._replace(netloc=netloc))
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        basic = base64.b64encode(pair.encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    return url, env


class Mirrors:
    """Bare mirrors under ``folder``, one per repository."""

    def __init__(self, folder: Path, template: str) -> None:
        self.folder = folder
        self.template = template
        self._guard = threading.Lock()
        self._repositories: dict[str, _Repository] = {}
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._retired: list[_Loaded] = []

    def path(self, repository: str) -> Path:
        owner, name = repository.casefold().split("/")
        return self.folder / owner / f"{name}.git"

    def _state(self, repository: str) -> _Repository:
        with self._guard:
            return self._repositories.setdefault(repository.casefold(), _Repository())

    def fetch(self, repository: str, branch: str, token: str, asked: float | None = None) -> str:
        """The tip of ``branch`` as the remote has it at or after ``asked`` (a time.monotonic()
        reading; default now): fetched by this call, or by one that started after ``asked``,
        so that decisions asked for together share one fetch."""
        asked = time.monotonic() if asked is None else asked
        state = self._state(repository)
        with state.lock:
            if state.fetched >= asked and state.tip is not None:
                return state.tip
            started = time.monotonic()
            tip = self._fetch(repository, branch, token)
            state.fetched, state.tip = started, tip
            return tip

    def _fetch(self, repository: str, branch: str, token: str) -> str:
        mirror = GitRepo(self.path(repository))
        if not (mirror.root / "HEAD").is_file():
            mirror.root.mkdir(parents=True, exist_ok=True)
            mirror.run("init", "--bare", "--quiet", ".")
        if mirror.run("check-ref-format", f"refs/heads/{branch}", check=False).returncode:
            raise GitError(f"the default branch {branch!r} is not a valid branch name")
        url, extra = remote(self.template, repository, token)
        ref = f"refs/heads/{branch}"
        try:
            mirror.run(
                "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", url,
                f"+{ref}:{ref}",
                env={**os.environ, **extra}, timeout=FETCH_TIMEOUT,
            )  # fmt: skip
        except GitError as error:
            message = str(error).replace(url, "the repository")
            if token:
                message = message.replace(token, "***")
            raise GitError(
                f"cannot fetch the default branch {branch} of {repository}: {message}: does the "
                "App's installation have Contents: read on it, and is CHANGEGATE_GIT_URL right?"
            ) from None
        return mirror.resolve(ref)

    @contextlib.contextmanager
    def snapshot(self, repository: str, tip: str) -> Iterator[Snapshot]:
        """The default branch at ``tip``, loaded (once for every decision on that commit)."""
        loaded = self._acquire(repository, tip)
        try:
            yield loaded.snapshot
        finally:
            self._release(loaded)

    def _acquire(self, repository: str, tip: str) -> _Loaded:
        key = repository.casefold()
        state = self._state(repository)
        with state.lock:
            with self._guard:
                found = self._loaded.get(key)
                if found is not None and found.snapshot.tip == tip:
                    found.users += 1
                    self._loaded.move_to_end(key)
                    return found
            loaded = self._load(repository, tip)
            with self._guard:
                previous = self._loaded.pop(key, None)
                self._loaded[key] = loaded
                loaded.users += 1
                if previous is not None:
                    self._retired.append(previous)
                while len(self._loaded) > LOADED:
                    self._retired.append(self._loaded.popitem(last=False)[1])
            self._sweep()
            return loaded

    def _load(self, repository: str, tip: str) -> _Loaded:
        stack = contextlib.ExitStack()
        tree = stack.enter_context(GitRepo(self.path(repository)).worktree(tip))
        try:
            workspace = Workspace.open(repo=tree, config_file=None)
            inventory = workspace.load(repository=True)
        except ChangegateError as error:
            stack.close()
            # paths from the repository's root, not from a temporary checkout
            raise type(error)(str(error).replace(f"{tree}/", "")) from None
        except BaseException:
            stack.close()
            raise
        return _Loaded(Snapshot(repository, tip, tree, workspace, inventory), stack)

    def _release(self, loaded: _Loaded) -> None:
        with self._guard:
            loaded.users -= 1
        self._sweep()

    def _sweep(self) -> None:
        """Remove the checkouts of commits no longer current once nobody reads them."""
        with self._guard:
            done = [r for r in self._retired if r.users == 0]
            self._retired = [r for r in self._retired if r.users > 0]
        for loaded in done:
            loaded.stack.close()

    def close(self) -> None:
        with self._guard:
            everything = [*self._retired, *self._loaded.values()]
            self._retired, self._loaded = [], OrderedDict()
        for loaded in everything:
            loaded.stack.close()
