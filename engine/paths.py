"""How paths are shown to people."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path, cwd: Path | None = None) -> str:
    """Relative to the working directory when under it (clickable in terminals and in CI
    annotations, which run from the checkout's root); absolute otherwise."""
    base = (cwd or Path.cwd()).resolve()
    absolute = path if path.is_absolute() else base / path
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()
