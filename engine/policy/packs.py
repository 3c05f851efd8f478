"""Shared policy packs: fetched once by the commit changegate.lock pins, kept in a local cache
(a bare git repository per URL), and read only after their files hash to the lock's digest.

``check``, ``gate``, ``test`` and the Action never resolve a ref: only ``changegate policies
lock`` does (and ``verify``, to tell a tag that moved).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine.documents.loader import LoadedFile, load_bytes
from engine.errors import ConfigError
from engine.gitrepo import GitError, GitRepo
from engine.paths import display_path, escapes
from engine.policy.lock import LOCK_FILE, Lock, Pin, parse_lock
from engine.policy.packsource import PackSource, SourceError, is_pack, parse, redact

MAX_FILES: Final = 2_000  # files in one pack
MAX_BYTES: Final = 16 * 1024 * 1024  # their total size
CACHE_VARIABLE: Final = "CHANGEGATE_PACK_CACHE"
_LOCK_FIX: Final = "run `changegate policies lock` and commit changegate.lock"


def cache_root() -> Path:
    """Where fetched packs are kept: $CHANGEGATE_PACK_CACHE, else the user's cache folder."""
    chosen = os.environ.get(CACHE_VARIABLE)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "changegate" / "packs"


def source_of(origin: str, where: str = "changegate.yaml policies") -> PackSource:
    try:
        return parse(origin)
    except SourceError as error:
        raise ConfigError(f"{where}: {error}") from None


@dataclass(frozen=True)
class PackFile:
    path: str  # from the pack's folder
    data: bytes


@dataclass(frozen=True)
class Cache:
    """The local cache of packs: one bare repository per URL, holding the pinned commits."""

    root: Path

    def repository(self, source: PackSource) -> GitRepo:
        name = hashlib.sha256(source.url.encode()).hexdigest()[:24]
        try:
            return GitRepo.bare(self.root / f"{name}.git")
        except (GitError, OSError) as error:
            raise ConfigError(f"cannot use the pack cache {self.root}: {error}") from None

    def resolve(self, source: PackSource) -> str:
        """The commit ``source``'s ref names now, fetched (the one place a ref is read)."""
        repo = self.repository(source)
        marker = hashlib.sha256(source.ref.encode()).hexdigest()[:16]
        try:
            return repo.fetch(source.url, source.ref, f"refs/changegate/refs/{marker}")
        except GitError as error:
            raise ConfigError(_unreachable(source, f"ref {source.ref}", error)) from None

    def ensure(self, source: PackSource, commit: str) -> GitRepo:
        """The cache repository holding ``commit``, fetched by that commit only if missing."""
        repo = self.repository(source)
        if repo.has_commit(commit):
            return repo
        try:
            repo.fetch(source.url, commit, f"refs/changegate/pins/{commit}")
        except GitError as error:
            raise ConfigError(
                _unreachable(source, f"commit {commit[:12]} (pinned by changegate.lock)", error)
                + "; if the pack's owners removed that commit, "
                + _LOCK_FIX
            ) from None
        return repo

    def files(self, source: PackSource, commit: str) -> list[PackFile]:
        return pack_files(self.ensure(source, commit), source, commit)


def _unreachable(source: PackSource, what: str, error: Exception) -> str:
    return (
        f"cannot fetch {what} of pack {redact(source.text)}: {redact(str(error))}; check the "
        "URL, the network and your access to the repository (git's credentials)"
    )


def pack_files(repo: GitRepo, source: PackSource, commit: str) -> list[PackFile]:
    """Every file of the pack's folder at ``commit``; a ConfigError for a folder that is not
    there, a symbolic link or a submodule in it (they could lead outside the pack) or a pack
    over the size limits."""
    where = f"pack {redact(source.text)} at {commit[:12]}"
    if repo.kind(commit, source.path) != "tree":
        raise ConfigError(
            f"{where}: #{source.path or '/'} is not a folder of that commit (a path through a "
            "symbolic link is not followed); fix the #PATH in changegate.yaml"
        )
    entries = repo.tree(commit, source.path)
    if len(entries) > MAX_FILES:
        raise ConfigError(
            f"{where} holds {len(entries):,} files, over {MAX_FILES:,}: point #PATH at the pack"
        )
    total = 0
    for entry in entries:
        if entry.mode == "120000":
            raise ConfigError(
                f"{where}: {entry.path} is a symbolic link; changegate reads no pack through a "
                "link (it could lead outside the pack): the pack must commit the file itself"
            )
        if entry.size is None:
            raise ConfigError(f"{where}: {entry.path} is a submodule; packs hold files only")
        total += entry.size
    if total > MAX_BYTES:
        raise ConfigError(
            f"{where} holds {total:,} bytes, over {MAX_BYTES:,}: point #PATH at the pack"
        )
    contents = repo.blobs([e.sha for e in entries])
    prefix = f"{source.path}/" if source.path else ""
    return [
        PackFile(entry.path.removeprefix(prefix), data or b"")
        for entry, data in zip(entries, contents, strict=True)
    ]


def digest(files: Sequence[PackFile]) -> str:
    """sha256 over each file's path and the sha256 of its content, in path order."""
    outer = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path.encode()):
        outer.update(f"{file.path}\n{hashlib.sha256(file.data).hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"


def policy_files(source: PackSource, files: Sequence[PackFile]) -> list[LoadedFile]:
    """The YAML files of a pack as loaded files, named ``repo.git@REF:PATH/file.yaml``."""
    loaded = []
    for file in sorted(files, key=lambda f: f.path):
        parts = file.path.split("/")
        if not file.path.endswith((".yaml", ".yml")) or any(p.startswith(".") for p in parts[:-1]):
            continue
        whole = f"{source.path}/{file.path}" if source.path else file.path
        loaded.append(load_bytes(file.data, Path(source.file_label(whole))))
    return loaded


def checked(lock: Lock | None, origins: Sequence[str]) -> Lock:
    """The lock, consistent with the config's pack sources: every one pinned, nothing else."""
    packs = [o for o in origins if is_pack(o)]
    for origin in packs:
        source_of(origin)
    if lock is None:
        if packs:
            raise ConfigError(
                f"changegate.yaml names the pack {redact(packs[0])}, but there is no "
                f"changegate.lock pinning it: {_LOCK_FIX}"
            )
        return Lock(Path(LOCK_FILE), ())
    for origin in packs:
        if lock.pin(origin) is None:
            raise ConfigError(
                f"{display_path(lock.path)}: no entry for {redact(origin)}, which changegate.yaml "
                f"names (a new pack, or its ref or path changed): {_LOCK_FIX}"
            )
    for pin in lock.pins:
        if pin.source not in packs:
            raise ConfigError(
                f"{display_path(lock.path)}:{pin.line}: pins {redact(pin.source)}, which "
                f"changegate.yaml no longer names: {_LOCK_FIX} (it drops the entry)"
            )
    return lock


def verified_files(cache: Cache, pin: Pin, where: Path) -> list[PackFile]:
    """The pinned pack's files, after their digest matches the lock's."""
    source = source_of(pin.source, f"{display_path(where)}:{pin.line}")
    files = cache.files(source, pin.commit)
    found = digest(files)
    if found != pin.digest:
        raise ConfigError(
            f"{display_path(where)}:{pin.line}: pack {redact(pin.source)} at commit "
            f"{pin.commit[:12]} hashes to {found}, but the lock says {pin.digest} (the lock was "
            f"edited, or its commit changed without its digest): {_LOCK_FIX}, and review what "
            "changed in the pack"
        )
    return files


def reader(lock: Lock, cache: Cache) -> Callable[[str], list[LoadedFile]]:
    """Reads a ``git+`` policy source as the lock pins it (for ``load_sources``)."""

    def read(origin: str) -> list[LoadedFile]:
        pin = lock.pin(origin)
        if pin is None:  # checked() pins every source of the config: one read from elsewhere
            raise ConfigError(f"changegate.lock does not pin {redact(origin)}: {_LOCK_FIX}")
        return policy_files(source_of(origin), verified_files(cache, pin, lock.path))

    return read


def reader_for(
    origins: Sequence[str],
    *,
    root: Path,
    boundary: Path,
    ref: str | None,
    git: GitRepo | None,
    prefix: str,
    commit: str | None = None,
) -> Callable[[str], list[LoadedFile]]:
    """The pack reader of a run: the lock of the working tree, or of ``ref`` (with
    ``--policies-from``, the lock goes with the config and policies it comes with; at
    ``commit``, what ``ref`` named when the run began), checked against the config's sources
    before anything is read."""
    if ref is None:
        lock = read_lock(root, boundary)
    else:
        lock = read_lock_at(git, ref, prefix, commit) if git is not None else None
    return reader(checked(lock, origins), Cache(cache_root()))


def read_lock(root: Path, boundary: Path) -> Lock | None:
    """The working tree's changegate.lock at changegate's root, if there is one."""
    path = root / LOCK_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if escapes(path, boundary) or not path.is_file():
        raise ConfigError(
            f"{display_path(path)} is not a file of the repository (a symbolic link out of it, "
            "or a folder): changegate does not read it; commit the lock itself"
        )
    return parse_lock(path.read_bytes(), path)


def read_lock_at(git: GitRepo, ref: str, prefix: str, commit: str | None = None) -> Lock | None:
    """changegate.lock as the git ref ``ref`` has it (``--policies-from``), at ``commit`` when
    the run already resolved it."""
    sha = commit or git.resolve(ref)
    data = git.read(sha, prefix + LOCK_FILE)
    return None if data is None else parse_lock(data, Path(f"{ref}:{prefix}{LOCK_FILE}"))


# --- changegate policies lock / verify -------------------------------------------------------


def lock_packs(
    origins: Sequence[str], old: Lock | None, cache: Cache
) -> tuple[list[Pin], list[str]]:
    """Resolve every pack source's ref now and pin it; what changed against ``old``, said."""
    pins: list[Pin] = []
    notes: list[str] = []
    for origin in origins:
        if not is_pack(origin):
            continue
        source = source_of(origin)
        commit = cache.resolve(source)
        files = pack_files(cache.ensure(source, commit), source, commit)
        pin = Pin(origin, commit, digest(files), len(files))
        pins.append(pin)
        before = old.pin(origin) if old is not None else None
        shown = redact(origin)
        if before is None:
            count = f"{len(files)} file{'' if len(files) == 1 else 's'}"
            notes.append(f"pinned {shown} at {commit[:12]} ({count})")
        elif before.commit != commit:
            notes.append(f"{shown}: {source.ref} moved from {before.commit[:12]} to {commit[:12]}")
        elif before.digest != pin.digest:
            notes.append(f"{shown}: corrected the digest of {commit[:12]}")
        else:
            notes.append(f"{shown} unchanged at {commit[:12]}")
    kept = {p.source for p in pins}
    for stale in old.pins if old is not None else ():
        if stale.source not in kept:
            notes.append(f"dropped {redact(stale.source)} (changegate.yaml no longer names it)")
    return pins, notes


def verify(lock: Lock | None, origins: Sequence[str], cache: Cache, *, remote: bool) -> list[str]:
    """What is wrong with the lock and the cache (empty: every pack is pinned, cached and
    hashes to its digest; with ``remote``, every ref still names its pinned commit)."""
    try:
        lock = checked(lock, origins)
    except ConfigError as error:
        return [str(error)]
    problems = []
    for pin in lock.pins:
        try:
            verified_files(cache, pin, lock.path)
            if remote:
                source = source_of(pin.source)
                now = cache.resolve(source)
                if now != pin.commit:
                    problems.append(
                        f"{display_path(lock.path)}:{pin.line}: {source.ref} of "
                        f"{redact(pin.source)} now names {now[:12]}, but the lock pins "
                        f"{pin.commit[:12]}: a release tag should not move; ask the pack's "
                        f"owners, or review the new commit and {_LOCK_FIX}"
                    )
        except ConfigError as error:
            problems.append(str(error))
    return problems
