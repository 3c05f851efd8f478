"""The git history reader: the only module that talks to git.

Point reads (does a commit exist, a file at a commit, the files of a tree) run the ``git``
command directly: a check makes a handful and importing GitPython would cost more than all
of them (~60 ms). Walking history (the audit) goes through GitPython, imported then.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from engine.errors import ChangegateError, UsageError
from engine.paths import absolute, real

_TIMEOUT = 60  # seconds for one git command; a stuck git must not hang CI forever
_FETCH_TIMEOUT = 300  # seconds for fetching a policy pack
# Fetching a pack speaks only these transports, whatever a URL or a redirect asks for (no
# ext::, no fd::): the URL is already checked, this holds for anything git derives from it.
_TRANSPORTS = (
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "protocol.file.allow=always",
)  # fmt: skip


@dataclass(frozen=True)
class TreeEntry:
    """A file of a commit's tree: ``mode`` 100644/100755 (a file), 120000 (a symbolic link),
    160000 (a submodule); ``size`` None for a submodule."""

    mode: str
    sha: str
    size: int | None
    path: str


class GitError(ChangegateError):
    """git could not answer; the message says what is missing."""


def global_config(key: str) -> str | None:
    """A setting of the user's git configuration (outside any repository), or None."""
    if shutil.which("git") is None:
        return None
    try:
        found = subprocess.run(
            ["git", "config", "--global", "--get", key],
            capture_output=True, timeout=_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.decode(errors="replace").strip() or None


_FULL_SHA: Final = re.compile(r"[0-9a-f]{40}")


@dataclass
class GitRepo:
    root: Path
    _history: Any = field(default=None, repr=False)  # GitPython's Repo, opened on demand
    # (commit SHA, path) -> content: a run reads a changed file at its base more than once
    _read_at: dict[tuple[str, str], bytes | None] = field(default_factory=dict, repr=False)

    @classmethod
    def find(cls, start: Path) -> GitRepo | None:
        """The working tree containing ``start``; None outside any, or without git."""
        if shutil.which("git") is None:
            return None
        folder = real(start if start.is_dir() else start.parent)
        for candidate in (folder, *folder.parents):
            if (candidate / ".git").exists():
                return cls(candidate)
        return None

    def run(
        self,
        *args: str,
        check: bool = True,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = _TIMEOUT,
    ) -> subprocess.CompletedProcess[bytes]:
        """``git -C root ARGS``; a GitError with git's last words when it fails and ``check``."""
        try:
            result = subprocess.run(
                ["git", "-C", str(self.root), *args],
                input=stdin,
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} took over {timeout:.0f} s in {self.root}") from None
        if check and result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git {' '.join(args[:3])}: {lines[-1] if lines else 'failed'}")
        return result

    _git = run

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the repository root, POSIX style; None if outside."""
        try:
            return absolute(path).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def resolve(self, ref: str) -> str:
        """The full SHA of ``ref``; a UsageError naming the ref when it does not exist."""
        result = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if result.returncode != 0:
            raise UsageError(
                f"git ref {ref!r} does not exist in {self.root} (is the clone shallow? "
                "fetch it, e.g. actions/checkout with fetch-depth: 0)"
            )
        return result.stdout.decode().strip()

    def remote_url(self, name: str) -> str | None:
        """A remote's URL without credentials (``https://user:token@host`` loses the user
        part), or None."""
        found = self.run("config", "--get", f"remote.{name}.url", check=False)
        url = found.stdout.decode(errors="replace").strip()
        return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.I) or None

    def has_commit(self, sha: str) -> bool:
        return self._git("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def read(self, ref: str, path: str) -> bytes | None:
        """The content of ``path`` at ``ref``, or None if it does not exist there. Reads at a
        full commit SHA are remembered (what a commit holds never changes)."""
        key = (ref, path)
        if key in self._read_at:
            return self._read_at[key]
        result = self._git("cat-file", "blob", f"{ref}:{path}", check=False)
        found = result.stdout if result.returncode == 0 else None
        if _FULL_SHA.fullmatch(ref) and len(self._read_at) < 256:
            self._read_at[key] = found
        return found

    def blobs(self, shas: list[str]) -> list[bytes | None]:
        """The contents of many objects in one ``git cat-file --batch``, in order; None for one
        that is missing."""
        if not shas:
            return []
        stdin = "".join(f"{sha}\n" for sha in shas).encode()
        output = self.run("cat-file", "--batch", stdin=stdin, timeout=300).stdout
        found: list[bytes | None] = []
        position = 0
        for _ in shas:
            end = output.index(b"\n", position)
            header = output[position:end].split()
            if len(header) != 3:  # "<object> missing"
                found.append(None)
                position = end + 1
                continue
            size = int(header[2])
            found.append(output[end + 1 : end + 1 + size])
            position = end + 1 + size + 1
        return found

    def files(self, ref: str, under: str = "") -> Iterator[str]:
        """Paths of the files at ``ref`` (under a folder, if given)."""
        args = ["ls-tree", "-r", "-z", "--name-only", ref]
        if under:
            args += ["--", under.strip("/")]
        output = self._git(*args).stdout.decode()
        yield from (p for p in output.split("\0") if p)

    def changed_since(self, ref: str) -> frozenset[str]:
        """Paths (from the git root) that differ between ``ref`` and the working tree, new
        files not yet added included."""
        diff = self._git("diff", "--name-only", "-z", "--no-renames", ref, "--").stdout
        new = self._git("ls-files", "--others", "--exclude-standard", "-z").stdout
        return frozenset(p for p in (diff + new).decode(errors="surrogateescape").split("\0") if p)

    def last_change(self, path: str, ref: str = "HEAD") -> str | None:
        """The newest commit at or before ``ref`` that changed ``path``."""
        result = self._git("log", "-1", "--format=%H", ref, "--", path, check=False)
        return result.stdout.decode().strip() or None if result.returncode == 0 else None

    def has_ref(self, ref: str) -> bool:
        return self._git("rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def is_ancestor(self, commit: str, of: str) -> bool:
        return self._git("merge-base", "--is-ancestor", commit, of, check=False).returncode == 0

    def parents(self, commit: str) -> list[str]:
        result = self._git("rev-list", "--parents", "-n", "1", commit, check=False)
        return result.stdout.decode().split()[1:] if result.returncode == 0 else []

    @contextlib.contextmanager
    def worktree(self, commit: str) -> Iterator[Path]:
        """The tree of ``commit`` as a temporary worktree of this repository (so that other
        commits stay readable from it), removed afterwards."""
        folder = Path(tempfile.mkdtemp(prefix="changegate-"))
        tree = folder / "tree"
        try:
            self._git("worktree", "add", "--quiet", "--detach", str(tree), commit)
        except GitError as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise GitError(f"cannot check out {commit[:12]}: {error}") from None
        try:
            yield tree
        finally:
            self._git("worktree", "remove", "--force", str(tree), check=False)
            shutil.rmtree(folder, ignore_errors=True)
            self._git("worktree", "prune", check=False)

    # --- policy packs: a bare cache repository per pack URL ---------------------------------

    @classmethod
    def bare(cls, folder: Path) -> GitRepo:
        """The bare repository at ``folder``, created if it does not exist yet."""
        if not (folder / "HEAD").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            GitRepo(folder).run("init", "--bare", "--quiet", str(folder))
        return cls(folder)

    def fetch(self, url: str, source: str, into: str) -> str:
        """Fetch ``source`` (a ref the remote resolves, or a commit) of ``url`` into the local
        ref ``into``; the commit it names. The URL is passed after ``--`` (never an option)
        and git may not ask for a password on a terminal nobody watches."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
        result = self.run(
            *_TRANSPORTS, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
            "--", url, f"+{source}:{into}",
            env=env, timeout=_FETCH_TIMEOUT, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(lines[-1] if lines else "git fetch failed")
        return self.resolve(into)

    def kind(self, commit: str, path: str) -> str | None:
        """What ``path`` is at ``commit`` (tree, blob, commit), or None if it is not there."""
        spec = f"{commit}^{{tree}}" if not path else f"{commit}:{path}"
        result = self._git("cat-file", "-t", spec, check=False)
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def tree(self, commit: str, under: str = "") -> list[TreeEntry]:
        """Every file at ``commit`` under a folder, with its mode, object and size."""
        args = ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]
        if under:
            args += ["--", under.strip("/") + "/"]
        entries = []
        for line in self._git(*args).stdout.decode(errors="surrogateescape").split("\0"):
            if not line:
                continue
            meta, _, path = line.partition("\t")
            mode, _, sha, size = meta.split()
            entries.append(TreeEntry(mode, sha, None if size == "-" else int(size), path))
        return entries

    def head(self) -> str | None:
        result = self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return result.stdout.decode().strip() or None

    def history(self) -> Any:
        """GitPython's Repo, for walking history."""
        if self._history is None:
            import git

            self._history = git.Repo(self.root)
        return self._history

    def close(self) -> None:
        """Stop the git processes GitPython keeps for reading objects, if it was used."""
        if self._history is not None:
            self._history.close()
