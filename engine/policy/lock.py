"""``changegate.lock``: the commit and digest of each shared pack changegate.yaml names.

It is JSON (written by ``changegate policies lock``, read by the one YAML loader, so a problem
is shown at its line). A run reads packs only as the lock pins them: a pull request that
changes the lock changes the policies, and is governed like one (kind PolicyLock).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from engine.documents.loader import load_bytes
from engine.documents.model import API_VERSION, Document
from engine.documents.sourcemap import FieldPath, SourceMap
from engine.errors import ConfigError
from engine.paths import display_path
from engine.policy.packsource import SourceError, parse, redact

LOCK_FILE: Final = "changegate.lock"
LOCK_KIND: Final = "PolicyLock"
LOCK_VERSION: Final = 1
_COMMIT: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")
_FIELDS: Final = {"source": str, "commit": str, "digest": str, "files": int}
_FIX: Final = "changegate.lock is written by `changegate policies lock`: run it rather than editing"


@dataclass(frozen=True)
class Pin:
    """One pack as the lock pins it: ``files`` is how many files the digest covers."""

    source: str
    commit: str
    digest: str
    files: int
    line: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "commit": self.commit,
            "digest": self.digest,
            "files": self.files,
        }


@dataclass(frozen=True)
class Lock:
    path: Path  # where it was read (a file, or REF:changegate.lock)
    pins: tuple[Pin, ...]
    source: SourceMap | None = None

    def pin(self, origin: str) -> Pin | None:
        return next((p for p in self.pins if p.source == origin), None)

    def as_json(self) -> dict[str, Any]:
        return {"lockVersion": LOCK_VERSION, "packs": [p.as_json() for p in self.pins]}


def render(pins: Iterable[Pin]) -> str:
    """The lock file's text: stable (sorted by source, one field a line) so diffs are small."""
    ordered = sorted(pins, key=lambda p: p.source)
    data = Lock(Path(LOCK_FILE), tuple(ordered)).as_json()
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def parse_lock(data: bytes, path: Path) -> Lock:
    """The lock in ``data``; any problem is a ConfigError naming its line and the fix."""
    loaded = load_bytes(data, path)
    if loaded.problems:
        problem = loaded.problems[0]
        where = f"{display_path(path)}:{problem.line}:{problem.column}"
        raise ConfigError(f"{where}: {problem.message}; {_FIX}")
    if len(loaded.documents) != 1 or not isinstance(loaded.documents[0].data, dict):
        raise ConfigError(f"{display_path(path)}:1:1: not a lock (a JSON object); {_FIX}")
    document = loaded.documents[0]
    body: dict[str, Any] = document.data
    source = document.source

    def fail(field: FieldPath, message: str) -> ConfigError:
        line, column = source.locate(field)
        return ConfigError(f"{display_path(path)}:{line}:{column}: {message}; {_FIX}")

    for key in body:
        if key not in {"lockVersion", "packs"}:
            raise fail((key,), f"unknown field {key!r} (a lock has lockVersion and packs)")
    if body.get("lockVersion") != LOCK_VERSION:
        raise fail(("lockVersion",), f"lockVersion must be {LOCK_VERSION} (this changegate's)")
    packs = body.get("packs")
    if not isinstance(packs, list):
        raise fail(("packs",), "packs must be a list")
    pins = [
        replace(_pin(entry, ("packs", i), fail), line=source.locate(("packs", i))[0])
        for i, entry in enumerate(packs)
    ]
    seen: set[str] = set()
    for i, pin in enumerate(pins):
        if pin.source in seen:
            raise fail(("packs", i, "source"), f"{redact(pin.source)} is pinned twice")
        seen.add(pin.source)
    return Lock(path, tuple(pins), source)


def _pin(entry: Any, where: FieldPath, fail: Any) -> Pin:
    if not isinstance(entry, dict):
        raise fail(where, "each pack is an object with source, commit, digest and files")
    for key, value in entry.items():
        expected = _FIELDS.get(key)
        if expected is None:
            raise fail((*where, key), f"unknown field {key!r} (a pack has {', '.join(_FIELDS)})")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise fail((*where, key), f"{key} must be a {expected.__name__}")
    missing = [key for key in _FIELDS if key not in entry]
    if missing:
        raise fail(where, f"the pack lacks {', '.join(missing)}")
    try:
        parse(entry["source"])
    except SourceError as error:
        raise fail((*where, "source"), str(error)) from None
    if not _COMMIT.fullmatch(entry["commit"]):
        raise fail((*where, "commit"), "commit must be a full commit id (40 hex digits)")
    if not _DIGEST.fullmatch(entry["digest"]):
        raise fail((*where, "digest"), "digest must be sha256: and 64 hex digits")
    return Pin(entry["source"], entry["commit"], entry["digest"], entry["files"])


def lock_document(lock: Lock, path: Path, *, deleted: bool = False) -> Document:
    """The lock as the document governance policies judge (kind PolicyLock): ``object.spec``
    is the lock's content (``oldObject`` the base revision's)."""
    body = {
        "apiVersion": API_VERSION,
        "kind": LOCK_KIND,
        "metadata": {"name": LOCK_FILE},
        "spec": lock.as_json(),
    }
    source = lock.source or load_bytes(b"{}", path).documents[0].source
    return Document(
        kind=LOCK_KIND,
        name=LOCK_FILE,
        body=body,
        path=path,
        index=0,
        source=source,
        deleted=deleted,
    )
