"""Where the repository is, which config governs it, and which files are its documents."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from engine.config import CONFIG_FILE
from engine.errors import UsageError
from engine.globs import literal_prefix, match_path
from engine.paths import real

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
    roots = {find_root(real(p)) or real(cwd) for p in paths} if paths else set()
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
                walked = [f for f in _walk(path) if f.name.endswith(YAML_SUFFIXES)]
                walked = [f for f in walked if not _excluded(f, root, exclude)]
                if not walked:
                    raise UsageError(f"{path}: no YAML files (*.yaml, *.yml) in this folder")
                found.update(walked)
            else:
                found.add(path)
        return sorted(found)
    for start in sorted({literal_prefix(p) for p in include}):
        base = root / start
        if base.is_file():
            candidates = [base]
        elif base.is_dir():
            candidates = list(_walk(base))
        else:
            continue
        for file in candidates:
            relative = relative_posix(file, root)
            if relative is None or _excluded(file, root, exclude):
                continue
            if any(match_path(pattern, relative) for pattern in include):
                found.add(file)
    return sorted(found)


def _excluded(file: Path, root: Path, exclude: Sequence[str]) -> bool:
    relative = relative_posix(file, root)
    return relative is not None and any(match_path(p, relative) for p in exclude)


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, skipping hidden folders (.git, .github, .venv)."""
    files: list[Path] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(current, name) for name in names)
    return files
