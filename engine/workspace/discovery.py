"""Where the repository is, which config governs it, and which files are its documents."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from engine.documents.config import CONFIG_FILE, Selection
from engine.errors import UsageError
from engine.globs import literal_prefix
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


def discover(root: Path, selection: Selection, paths: Sequence[Path]) -> list[Path]:
    """Files to load, sorted. Explicit files are taken as given; explicit folders are walked
    for YAML files; with no paths, the selection's globs choose from the repository. A link
    to a folder where documents are looked for is listed itself, to be refused, never walked."""
    if paths:
        return _named(root, selection, paths)
    found: set[Path] = set()
    for start in sorted({literal_prefix(p) for p in (*selection.include, *selection.always)}):
        base = root / start
        linked = _linked_step(root, start)
        if linked is not None:
            found.add(linked)
            continue
        candidates: list[tuple[Path, str | None]]
        if base.is_file():
            candidates = [(base, start)]
        elif base.is_dir():
            candidates = list(_walk(base, f"{start.rstrip('/')}/x" if start else "x"))
        else:
            continue
        for file, relative in candidates:
            if relative is None or selection.excludes(relative):
                continue
            if selection.governs(relative) or (
                _linked_folder(file) and selection.governs(f"{relative}/x.yaml")
            ):
                found.add(file)
    return sorted(found, key=str)


def _named(root: Path, selection: Selection, paths: Sequence[Path]) -> list[Path]:
    found: set[Path] = set()
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{path}: no such file or directory")
        if path.is_symlink() and path.is_dir():
            found.add(path)  # refused as a link to a folder, not walked
        elif path.is_dir():
            walked = [
                file
                for file, relative in _walk(path, relative_posix(path / "x", root))
                if (file.name.endswith(YAML_SUFFIXES) or _linked_folder(file))
                and not (relative and selection.excludes(relative))
            ]
            if not walked:
                raise UsageError(f"{path}: no YAML files (*.yaml, *.yml) in this folder")
            found.update(walked)
        else:
            found.add(path)
    return sorted(found, key=str)


def _linked_step(root: Path, start: str) -> Path | None:
    """The first folder on the way from ``root`` to ``start`` that is a symbolic link."""
    current = root
    for part in [p for p in start.split("/") if p][: -1 if not start.endswith("/") else None]:
        current = current / part
        if current.is_symlink():
            return current
    return None


def _linked_folder(path: Path) -> bool:
    return path.is_symlink() and path.is_dir()


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
