"""Where the repository is, which config governs it, and which files are its documents."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from engine.documents.config import CONFIG_FILE
from engine.errors import UsageError
from engine.globs import literal_prefix, match_path
from engine.paths import absolute, real

YAML_SUFFIXES: Final = (".yaml", ".yml")


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding changegate.yaml, without leaving the
    git repository; else the git repository's top; else None."""
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
        if (candidate / ".git").exists():
            return candidate
    return None


def resolve_root(repo: Path | None, paths: Sequence[Path], cwd: Path) -> Path:
    """``--repo`` if given; else the root of the given paths (they must share one); else the
    root above the working directory; else the working directory."""
    if repo is not None:
        if not repo.is_dir():
            raise UsageError(f"--repo {repo}: no such directory")
        return real(repo)
    # a file's own link is not followed: its root is where it is, not where it points
    roots = {find_root(absolute(p)) or real(cwd) for p in paths} if paths else set()
    if len(roots) > 1:
        shown = ", ".join(sorted(str(r) for r in roots))
        raise UsageError(
            f"the paths belong to different repositories ({shown}); run changegate once per "
            "repository or pass --repo"
        )
    if roots:
        return roots.pop()
    return find_root(real(cwd)) or real(cwd)


def relative_posix(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root``, following symlinked folders but not the file's own
    link (a dangling or looping symlink is still the file the user named)."""
    try:
        return (real(path.parent) / path.name).relative_to(root).as_posix()
    except ValueError:
        return None


def discover(
    root: Path, include: Sequence[str], exclude: Sequence[str], paths: Sequence[Path]
) -> list[Path]:
    """Files to load, sorted. Explicit files are taken as given; explicit folders are walked
    for YAML files; with no paths, the include globs select from the repository."""
    found: set[Path] = set()
    if paths:
        for path in paths:
            if not path.exists() and not path.is_symlink():
                raise UsageError(f"{path}: no such file or directory")
            if path.is_dir():
                walked = [
                    file
                    for file, relative in _walk(path, relative_posix(path / "x", root))
                    if (file.name.endswith(YAML_SUFFIXES) or _linked_folder(file))
                    and not (exclude and relative and _matches(exclude, relative))
                ]
                if not walked:
                    raise UsageError(f"{path}: no YAML files (*.yaml, *.yml) in this folder")
                found.update(walked)
            else:
                found.add(path)
        return sorted(found, key=str)
    for start in sorted({literal_prefix(p) for p in include}):
        base = root / start
        candidates: list[tuple[Path, str | None]]
        if base.is_file():
            candidates = [(base, start)]
        elif base.is_dir():
            candidates = list(_walk(base, f"{start.rstrip('/')}/x" if start else "x"))
        else:
            continue
        for file, relative in candidates:
            if relative is None or (exclude and _matches(exclude, relative)):
                continue
            if _matches(include, relative) or (
                _linked_folder(file) and _matches(include, f"{relative}/x.yaml")
            ):
                found.add(file)  # a linked folder where documents are looked for is refused
    return sorted(found, key=str)


def _linked_folder(path: Path) -> bool:
    return path.is_symlink() and path.is_dir()


def _matches(patterns: Sequence[str], relative: str) -> bool:
    return any(match_path(pattern, relative) for pattern in patterns)


def _walk(folder: Path, relative: str | None) -> Iterator[tuple[Path, str | None]]:
    """Every file under ``folder``, skipping hidden folders (.git, .github, .venv), with its
    path relative to the root when ``relative`` (the relative path of ``folder/x``) is known.
    Relative paths are built from the walk, never by resolving each file."""
    prefix = relative.rsplit("/", 1)[0] if relative and "/" in relative else ""
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        inner = os.path.relpath(current, folder)
        here = prefix if inner == "." else (f"{prefix}/{inner}" if prefix else inner)
        # os.walk lists links to folders but does not enter them: they are yielded, to be
        # refused rather than silently left out
        names = [*names, *(d for d in dirs if Path(current, d).is_symlink())]
        for name in names:
            yield (
                Path(current, name),
                None if relative is None else (f"{here}/{name}" if here else name),
            )
