"""Where the repository is, which config governs it, and which files are its documents."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple

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


class Found(NamedTuple):
    """A file to load: its absolute path (from the root's real path, so one spelling per file),
    its path from changegate's root (None when outside it), and whether the entry itself is a
    symbolic link, whose target must be checked before anything is read."""

    path: Path
    relative: str | None
    link: bool = False


def relative_posix(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root``, following symlinked folders but not the file's own
    link (a dangling or looping symlink is still the file the user named)."""
    try:
        return (real(path.parent) / path.name).relative_to(root).as_posix()
    except ValueError:
        return None


def discover(root: Path, selection: Selection, paths: Sequence[Path]) -> list[Found]:
    """Files to load, sorted. Explicit files are taken as given; explicit folders are walked
    for YAML files; with no paths, the selection's globs choose from the repository. A link
    to a folder where documents are looked for is listed itself, to be refused, never walked."""
    if paths:
        return _named(root, selection, paths)
    found: dict[str, Found] = {}  # by the path from the root: one spelling per file
    for start in sorted({literal_prefix(p) for p in (*selection.include, *selection.always)}):
        base = root / start
        linked = _linked_step(root, start)
        if linked is not None:
            relative = relative_posix(linked, root)
            found[relative or str(linked)] = Found(linked, relative, link=True)
            continue
        if base.is_file():
            candidates = [Found(base, start.rstrip("/"), base.is_symlink())]
        elif base.is_dir():
            candidates = list(_walk(base, start.strip("/")))
        else:
            continue
        for item in candidates:
            relative = item.relative
            if relative is None or selection.excludes(relative):
                continue
            folder_link = item.link and item.path.is_dir()
            if selection.governs(relative) or (
                folder_link and selection.governs(f"{relative}/x.yaml")
            ):
                found[relative] = item
    return [found[relative] for relative in sorted(found)]  # the order of their paths


def _named(root: Path, selection: Selection, paths: Sequence[Path]) -> list[Found]:
    found: dict[Path, Found] = {}
    for given in paths:
        if not given.exists() and not given.is_symlink():
            raise UsageError(f"{given}: no such file or directory")
        path = absolute(given)
        if given.is_symlink() and given.is_dir():
            found[path] = Found(path, relative_posix(given, root), link=True)  # refused
        elif given.is_dir():
            walked = [
                item
                for item in _walk(path, relative_posix(given / "x", root), named=True)
                if (item.path.name.endswith(YAML_SUFFIXES) or (item.link and item.path.is_dir()))
                and not (item.relative and selection.excludes(item.relative))
            ]
            if not walked:
                raise UsageError(f"{given}: no YAML files (*.yaml, *.yml) in this folder")
            found.update((item.path, item) for item in walked)
        else:
            relative = relative_posix(given, root)
            # a file reached through a link, or outside the root, is checked before reading
            found[path] = Found(path, relative, given.is_symlink() or relative is None)
    return sorted(found.values(), key=lambda f: str(f.path))


def _linked_step(root: Path, start: str) -> Path | None:
    """The first folder on the way from ``root`` to ``start`` that is a symbolic link."""
    current = root
    for part in [p for p in start.split("/") if p][: -1 if not start.endswith("/") else None]:
        current = current / part
        if current.is_symlink():
            return current
    return None


def _walk(folder: Path, relative: str | None, *, named: bool = False) -> Iterator[Found]:
    """Every file under ``folder`` (a real folder), skipping hidden folders (.git, .github,
    .venv), with its path from the root built from the walk, never by resolving each file:
    ``relative`` is the folder's own path from the root (for ``named`` folders, the path of
    ``folder/x``, whose folder part is the folder's). Links are listed, never followed."""
    if named:
        prefix = relative.rsplit("/", 1)[0] if relative and "/" in relative else ""
        known = relative is not None
    else:
        prefix, known = relative or "", True
    pending = [(folder, prefix)]
    while pending:
        current, here = pending.pop()
        with os.scandir(current) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                inner = f"{here}/{entry.name}" if here else entry.name
                path = current / entry.name  # joined: half the cost of parsing entry.path
                if entry.is_symlink():
                    yield Found(path, inner if known else None, link=True)
                elif entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        pending.append((path, inner))
                else:
                    yield Found(path, inner if known else None)
