"""How paths are shown to people."""

from __future__ import annotations

import functools
import os
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
