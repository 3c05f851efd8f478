"""A content-addressed cache of loaded documents, so each file is parsed once.

An entry is what loading one file gave: its documents (kind, name, where they start, whether
they are valid, the :data:`~engine.documents.fields.INDEXED` keys of their spec, and the body,
decoded only if read) and its findings. It is keyed by the file's git blob id (the SHA-1 git
gives the same bytes) inside a folder named by the *shape*: a digest of everything else that
shaped the entry (the cache format, the engine's loading code, the parsers' and validators'
versions, the time zone database, the schemas, the config). Nothing in an entry is trusted
unchecked: a line whose checksum or JSON does not hold is a miss, and the file is loaded again.

The cache lives under the repository's git directory (``.git/changegate/cache``), so no
checkout carries it, in segments of JSON lines that are written whole and renamed into
place: concurrent runs never see half a segment. ``CHANGEGATE_CACHE=off`` turns it off;
``CHANGEGATE_CACHE=DIR`` keeps it in DIR instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import time
import zlib
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

from engine.documents.fields import Projection, projection
from engine.documents.loader import DEFAULT_LIMITS, lazy_positions, load_bytes
from engine.documents.model import Document
from engine.documents.sourcemap import FieldPath, Position, SourceMap
from engine.findings import Finding, Outcome, Severity

FORMAT: Final = 2
ENVIRONMENT: Final = "CHANGEGATE_CACHE"
MAX_SEGMENTS: Final = 8  # more, and the next save merges them into one
MAX_ENTRIES: Final = 200_000  # a merged segment keeps at most this many files
MAX_BYTES: Final = 256 << 20  # read at most this much of the cache (the newest segments)
MAX_SHAPES: Final = 4  # shapes kept side by side (a config edited back and forth)
# the engine code an entry depends on (its top-level modules too: rules, suggestions, globs),
# and the libraries that parse and validate (their versions change what loading gives)
_SHAPED_BY: Final = (".", "documents", "workspace", "time")
_LIBRARIES: Final = {
    "yaml": "pyyaml",
    "jsonschema": "jsonschema",
    "jsonschema_rs": "jsonschema_rs",
    "referencing": "referencing",
    "tzdata": "tzdata",
}
_SHAPE_NAME: Final = re.compile(r"[0-9a-f]{32}")
_ENCODING: Final = "utf-8"
_ERRORS: Final = "surrogatepass"  # YAML escapes can make lone surrogates; JSON carries them


def blob_id(data: bytes) -> str:
    """The id git gives a file of these bytes."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def shape(schemas: dict[str, Any], config: dict[str, Any]) -> str:
    """The digest of everything besides a file's bytes that decides what loading it gives:
    the cache format, the engine's loading code, the libraries that parse and validate, the
    time zone database, the schemas and the config."""
    digest = hashlib.sha256(f"changegate cache {FORMAT} {sys.version_info[:2]}".encode())
    engine = Path(__file__).resolve().parents[1]
    for folder in _SHAPED_BY:
        for source in sorted((engine / folder).glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for module, distribution in _LIBRARIES.items():
        digest.update(f"{module} {_installed(module, distribution)}".encode())
    digest.update(json.dumps(schemas, sort_keys=True).encode())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def _installed(module: str, distribution: str) -> str:
    """The version of a library in use, from its ``NAME-VERSION.dist-info`` folder beside it
    (found without importing it or reading package metadata, both slow at start-up)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return "absent"
    folder = Path(spec.origin).parent.parent
    prefix = distribution.lower() + "-"
    try:
        names = [n for n in os.listdir(folder) if n.lower().startswith(prefix)]  # noqa: PTH208 - names only, fast
    except OSError:
        names = []
    found = [n for n in names if n.endswith(".dist-info") and "-" not in n[len(prefix) : -10]]
    return found[0] if found else spec.origin  # a checkout of the library: its path


def location(root: Path) -> Path | None:
    """Where the cache of the repository at ``root`` lives (None: nowhere, it is off or there
    is no git directory to keep it in)."""
    setting = os.environ.get(ENVIRONMENT, "").strip()
    if setting.lower() in {"off", "0", "false", "no"}:
        return None
    if setting:
        return Path(setting).absolute()
    common = _git_directory(root)
    return common / "changegate" / "cache" if common is not None else None


def _git_directory(root: Path) -> Path | None:
    """The git directory shared by every worktree of the repository holding ``root``."""
    for folder in (root, *root.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            try:
                pointer = dot.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not pointer.startswith("gitdir:"):
                return None
            own = (folder / pointer.removeprefix("gitdir:").strip()).resolve()
            common = own / "commondir"
            if common.is_file():
                return (own / common.read_text(encoding="utf-8").strip()).resolve()
            return own
    return None


Loaded = tuple[list[Document], list[Document], list[Finding]]  # documents, valid, findings


class Cache:
    """The entries of one shape: read once, written as one new segment per run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lines: dict[str, bytes] = {}
        self._segments: list[Path] = []
        self._new: dict[str, bytes] = {}
        self._used: set[str] = set()
        self._read()

    @classmethod
    def open(cls, root: Path, shape_digest: str) -> Cache | None:
        base = location(root)
        if base is None:
            return None
        return cls(base / shape_digest)

    def _read(self) -> None:
        try:
            segments = sorted(self.folder.glob("*.jsonl"))
        except OSError:
            return
        budget = MAX_BYTES
        for segment in reversed(segments):  # the newest first, while they fit the budget
            try:
                size = segment.stat().st_size
                if not segment.is_file() or size > budget:
                    continue  # not a segment changegate wrote, or one too many: not read
                data = segment.read_bytes()[:budget]
            except OSError:  # removed by a concurrent merge: its entries are in the merged one
                continue
            budget -= len(data)
            self._segments.insert(0, segment)
            for line in data.split(b"\n"):
                if len(line) > 41 and line[40:41] == b"\t":
                    self._lines.setdefault(line[:40].decode("ascii", "replace"), line)

    # --- reading ----------------------------------------------------------------------------

    def get(self, blob: str, path: Path, data: bytes) -> Loaded | None:
        """The file's documents and findings as cached, at ``path``; None if the entry is
        missing or does not hold together (it is then loaded again)."""
        line = self._lines.get(blob)
        if line is None:
            return None
        try:
            restored = _restore(line, path, data)
        except (ValueError, LookupError, TypeError, UnicodeDecodeError):
            restored = None
        if restored is not None:
            self._used.add(blob)
        return restored

    # --- writing ----------------------------------------------------------------------------

    def put(self, blob: str, loaded: Loaded, data: bytes) -> None:
        line = _entry(blob, loaded, content_digest(data))
        if line is not None:
            self._new[blob] = line
            self._used.add(blob)

    def save(self) -> None:
        """Write this run's new entries as one segment; merge segments once they are many.
        A cache that cannot be written is left as it is: it only ever saves time."""
        if not self._new:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            written = _write(self.folder, list(self._new.values()))
            self._lines.update(self._new)
            if len(self._segments) + 1 > MAX_SEGMENTS:
                self._merge([*self._segments, written])
            else:
                self._segments.append(written)
            _prune_shapes(self.folder.parent, keep=self.folder)
        except OSError:
            pass
        self._new = {}

    def _merge(self, segments: list[Path]) -> None:
        """One segment in place of ``segments`` (those read and written here; a concurrent
        run's newer ones stay): this run's files first, then the newest others."""
        lines = self._lines
        first = [lines[b] for b in self._used if b in lines]
        others = [line for b, line in lines.items() if b not in self._used]  # newest first
        merged = _write(self.folder, (first + others)[:MAX_ENTRIES])
        for segment in segments:
            segment.unlink(missing_ok=True)
        self._segments = [merged]


def _write(folder: Path, lines: Sequence[bytes]) -> Path:
    """A new segment, complete before it has its name."""
    name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
    pending = folder / f".{name}.partial"
    with pending.open("wb") as stream:
        stream.write(b"\n".join(lines) + b"\n")
    final = folder / f"{name}.jsonl"
    pending.replace(final)
    return final


def _ours(folder: Path) -> bool:
    """A shape's folder as this cache writes it (a digest for a name, segments in it): only
    such folders are ever removed, whatever CHANGEGATE_CACHE points at."""
    if not _SHAPE_NAME.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
        return False
    return all(f.suffix in {".jsonl", ".partial"} and f.is_file() for f in folder.iterdir())


def _prune_shapes(base: Path, keep: Path) -> None:
    """Only the few most recently written shapes stay (a config edited back and forth), and
    segments a run left half-written over an hour ago go."""
    for stale in keep.glob(".*.partial"):
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    shapes = [s for s in base.iterdir() if s != keep and _ours(s)]
    shapes.sort(key=lambda s: s.stat().st_mtime_ns, reverse=True)
    for old in shapes[MAX_SHAPES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


# --- one entry --------------------------------------------------------------------------------


def content_digest(data: bytes) -> bytes:
    """A second name for a file's bytes beside its blob id: SHA-1 collisions can be made (two
    files of one blob id), SHA-256 ones cannot; an entry holds only for bytes of both."""
    return hashlib.sha256(data).hexdigest()[:32].encode()


def _entry(blob: str, loaded: Loaded, digest: bytes) -> bytes | None:
    """The line of one file: ``blob TAB crc TAB sha256 TAB summary (TAB indexed-rest TAB
    body)*``. JSON escapes every tab and newline inside it, so the separators are
    unambiguous; the checksum covers everything after it."""
    documents, valid, findings = loaded
    good = {id(d) for d in valid}
    indexed = [projection(d.kind, d.spec) for d in documents]
    summary = {
        "d": [
            [d.kind, d.name, d.index, *d.source.root, id(d) in good, i and i[0]]
            for d, i in zip(documents, indexed, strict=True)
        ],
        "f": [[*f[:4], *f[5:]] for f in findings],  # all but the path
    }
    try:
        parts = [digest.decode(), json.dumps(summary, ensure_ascii=False)]
        for document, index in zip(documents, indexed, strict=True):
            parts.append(json.dumps(index and index[1], ensure_ascii=False))
            parts.append(json.dumps(document.body, ensure_ascii=False, allow_nan=True))
    except (TypeError, ValueError):  # not JSON (never from the loaders): not cached
        return None
    rest = "\t".join(parts).encode(_ENCODING, _ERRORS)
    return f"{blob}\t{zlib.crc32(rest):08x}\t".encode() + rest


def _restore(line: bytes, path: Path, data: bytes) -> Loaded | None:
    crc, rest = line[41:49], line[50:]
    if line[49:50] != b"\t" or b"%08x" % zlib.crc32(rest) != crc:
        return None
    digest, *parts = rest.split(b"\t")
    if digest != content_digest(data):
        return None  # bytes of the same blob id, but not the same bytes
    summary = _json(parts[0].decode(_ENCODING, _ERRORS))
    records, found = summary["d"], summary["f"]
    if len(parts) != 2 * len(records) + 1:
        return None
    source = _Source(data, path)
    decoded, table = source.decoded, source.table
    documents, valid = [], []
    for at, (kind, name, index, line_no, column, ok, short) in enumerate(records):
        document = Document(
            kind, name, partial(decoded, parts[2 * at + 2], index, None), path, index,
            SourceMap(Position(line_no, column), pending=partial(table, index)),
            fields=None if short is None else Projection(
                kind, short, partial(decoded, parts[2 * at + 1], index, kind)
            ),
        )  # fmt: skip
        documents.append(document)
        if ok:
            valid.append(document)
    findings = [
        Finding(rule, Severity(severity), Outcome(outcome), message, path, *more)
        for rule, severity, outcome, message, *more in found
    ]
    return documents, valid, findings


_json: Final = json.JSONDecoder().decode


class _Source:
    """What a cached file's documents decode on first use: a body (or indexed fields), and
    should that fail, the file's bytes parsed again as if there were no cache; the positions
    of a document's fields, from the file's bytes."""

    __slots__ = ("_data", "_parsed", "_path", "_positions")

    def __init__(self, data: bytes, path: Path) -> None:
        self._data = data
        self._path = path
        self._parsed: dict[int, Any] | None = None
        self._positions: Any = None

    def table(self, index: int) -> dict[FieldPath, Position]:
        if self._positions is None:
            self._positions = lazy_positions(self._data, DEFAULT_LIMITS)
        table: dict[FieldPath, Position] = self._positions.of(index)()
        return table

    def decoded(self, text: bytes, index: int, indexed: str | None) -> dict[str, Any]:
        try:
            value = _json(text.decode(_ENCODING, _ERRORS))
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        body = self._parse(index)
        if indexed is None:
            return body
        spec = body.get("spec")
        found = projection(indexed, spec if isinstance(spec, dict) else {})
        return found[1] if found is not None else {}

    def _parse(self, index: int) -> dict[str, Any]:
        if self._parsed is None:
            loaded = load_bytes(self._data, self._path)
            self._parsed = {d.index: d.data for d in loaded.documents}
        body = self._parsed.get(index)
        return body if isinstance(body, dict) else {}
