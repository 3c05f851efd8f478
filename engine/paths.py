"""How paths are shown to people."""

from __future__ import annotations

import functools
import os
import posixpath
from pathlib import Path


def real(path: Path) -> Path:
    """``path`` made absolute with symlinks followed; unlike ``Path.resolve`` on Python 3.11,
    a symlink loop is returned as it is instead of raising."""
    return Path(_realpath(os.path.abspath(path)))  # noqa: PTH100 - resolve() raises on loops


@functools.lru_cache(maxsize=8192)
def _realpath(path: str) -> str:
    # Cached: thousands of documents share a handful of folders. A run does not expect its
    # folders to be re-linked while it reads them.
    return os.path.realpath(path)


def absolute(path: Path) -> Path:
    """One spelling per file: absolute, with its folder's symlinks followed (not the file's
    own link, so a dangling link is still the file the user named)."""
    return real(path.parent) / path.name


def display_path(path: Path, cwd: Path | None = None) -> str:
    """Relative to the working directory when under it (clickable in terminals and in CI
    annotations, which run from the checkout's root); absolute otherwise."""
    base = real(cwd or Path.cwd())
    absolute = path if path.is_absolute() else base / path
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()


def git_top(folder: Path) -> Path | None:
    """The top of the git working tree holding ``folder``, found without starting git."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def escapes(path: Path, boundary: Path) -> bool:
    """Whether ``path``, with every symbolic link on the way followed, leads outside
    ``boundary`` (a real, absolute folder)."""
    return not real(path).is_relative_to(boundary)


def normalise(relative: str) -> str | None:
    """A path from a repository's root in one spelling (``changes/./x.yaml`` is
    ``changes/x.yaml``); None when it is empty, absolute or leaves the root (``../x``)."""
    if not relative or relative.startswith("/") or any(ord(c) < 32 for c in relative):
        return None  # control characters (a NUL) name no file git or a checkout can hold
    normal = posixpath.normpath(relative)
    if normal in {".", ".."} or normal.startswith("../"):
        return None
    return normal


def inner_folder(text: str) -> str | None:
    """A folder written from a repository's root (``./policies``, ``policies/``, ``.``) in one
    spelling (``policies``; ``""`` for the root); None when it leaves the root."""
    stripped = text.rstrip("/")
    if stripped in {"", "."}:
        return ""
    return normalise(stripped)
