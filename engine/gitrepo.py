"""The git history reader: the only module that imports GitPython (imported lazily, since
most runs never touch history)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ChangegateError, UsageError
from engine.paths import real


class GitError(ChangegateError):
    """git could not answer; the message says what is missing."""


@dataclass(frozen=True)
class GitRepo:
    root: Path
    _repo: Any

    @classmethod
    def find(cls, start: Path) -> GitRepo | None:
        """The repository containing ``start``, or None outside any (or without git)."""
        try:
            import git
        except ImportError:  # pragma: no cover - GitPython needs the git executable
            return None
        try:
            repo = git.Repo(start, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        if repo.working_tree_dir is None:
            return None
        return cls(real(Path(repo.working_tree_dir)), repo)

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the repository root, POSIX style; None if outside."""
        try:
            return (real(path.parent) / path.name).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def resolve(self, ref: str) -> str:
        """The full SHA of ``ref``; a UsageError naming the ref when it does not exist."""
        import git

        try:
            return str(self._repo.rev_parse(ref).hexsha)
        except (git.BadName, ValueError, git.GitCommandError):
            raise UsageError(
                f"git ref {ref!r} does not exist in {self.root} (is the clone shallow? "
                "fetch it, e.g. actions/checkout with fetch-depth: 0)"
            ) from None

    def has_commit(self, sha: str) -> bool:
        """Whether the clone holds that commit (GitPython's commit() does not check)."""
        import git

        try:
            self._repo.git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    def read(self, ref: str, path: str) -> bytes | None:
        """The content of ``path`` at ``ref``, or None if it does not exist there."""
        try:
            blob = self._repo.commit(ref).tree / path
        except KeyError:
            return None
        if blob.type != "blob":
            return None
        return bytes(blob.data_stream.read())

    def files(self, ref: str, under: str = "") -> Iterator[str]:
        """Paths of the files at ``ref`` (under a folder, if given)."""
        tree = self._repo.commit(ref).tree
        if under:
            try:
                tree = tree / under.strip("/")
            except KeyError:
                return
        for item in tree.traverse():
            if item.type == "blob":
                yield str(item.path)

    def close(self) -> None:
        """Stop the git processes GitPython keeps for reading objects."""
        self._repo.close()

    def head(self) -> str | None:
        try:
            return str(self._repo.head.commit.hexsha)
        except ValueError:  # an unborn branch: no commit yet
            return None
