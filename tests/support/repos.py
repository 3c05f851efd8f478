"""Real git repositories in tmp_path, driven through GitPython."""

from __future__ import annotations

from pathlib import Path

from tests.support.files import write


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
