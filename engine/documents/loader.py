"""The one YAML loader: safe, strict, YAML 1.2 core scalars, bounded, with a source map.

A file that cannot be read or parsed is a value (:class:`LoadedFile` with problems), never an
exception: one bad file must not hide the others. Ordinary files are built by the fast
builder; their source maps are computed only if a finding asks for a position.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import yaml

from engine.documents.builder import (
    DEFAULT_LIMITS,
    PARSER,
    Abort,
    Builder,
    Limits,
    LoadedDocument,
    Problem,
)
from engine.documents.fast import NEAR, near_positions
from engine.documents.fast import fast as fast_documents
from engine.documents.scalars import resolve_plain
from engine.documents.sourcemap import FieldPath, Position, SourceMap

__all__ = [
    "DEFAULT_LIMITS",
    "PARSER",
    "Limits",
    "LoadedDocument",
    "LoadedFile",
    "Problem",
    "lazy_positions",
    "load_bytes",
    "load_file",
    "load_text",
    "read_file",
    "resolve_plain",
]


@dataclass(frozen=True, slots=True)
class LoadedFile:
    path: Path
    documents: tuple[LoadedDocument, ...]
    problems: tuple[Problem, ...]


class _Positions:
    """The source maps of one file, computed on first use by the careful builder."""

    __slots__ = ("_limits", "_maps", "_text")

    def __init__(self, text: str | bytes, limits: Limits) -> None:
        self._text: str | bytes | None = text
        self._limits = limits
        self._maps: list[SourceMap] = []

    def of(self, index: int) -> Callable[[], dict[FieldPath, Position]]:
        return partial(self._table, index)  # one per document: a partial is the cheapest

    def _table(self, index: int) -> dict[FieldPath, Position]:
        if self._text is not None:
            text = self._text
            if isinstance(text, bytes):
                text = text.decode("utf-8-sig")  # it was decoded once already: it can be
            builder = Builder(self._limits)
            builder.run(text)
            self._maps = [d.source for d in builder.documents]
            self._text = None  # the text is no longer needed
        if index >= len(self._maps):  # pragma: no cover - both builders read the same text
            return {}
        return dict(self._maps[index]._table())


def lazy_positions(data: bytes, limits: Limits = DEFAULT_LIMITS) -> _Positions:
    """The source maps of a file's documents, built from its bytes when first asked (for a
    document whose data came from elsewhere, the cache)."""
    return _Positions(data, limits)


def load_text(text: str, path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Load every document of ``text``; ``path`` only names the source."""
    fast = fast_documents(text, limits)
    if fast is not None:
        positions = _Positions(text, limits)
        return LoadedFile(
            path,
            tuple(
                LoadedDocument(
                    data,
                    SourceMap(
                        root,
                        pending=positions.of(i),
                        near=(NEAR, partial(near_positions, marks)),
                    ),
                    i,
                )
                for i, (data, root, marks) in enumerate(fast)
            ),
            (),
        )
    builder = Builder(limits)
    try:
        builder.run(text)
    except Abort as abort:
        builder.problems.append(abort.problem)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        builder.problems.append(Problem(line, column, _describe_yaml_error(error, text)))
    except yaml.YAMLError as error:  # ReaderError and friends: no mark, maybe a position
        position = getattr(error, "position", None)
        line, column = _line_col(text, position) if isinstance(position, int) else (1, 1)
        builder.problems.append(Problem(line, column, f"not valid YAML: {error}"))
    return LoadedFile(path, tuple(builder.documents), tuple(builder.problems))


def _describe_yaml_error(error: yaml.MarkedYAMLError, text: str) -> str:
    problem = error.problem or "syntax error"
    mark = error.problem_mark
    detail = f"{error.context}, {problem}" if error.context else problem
    opened = error.context_mark
    if opened is not None and mark is not None and opened.line != mark.line:
        detail += f" (the {_what(error.context)} started at line {opened.line + 1})"
    hint = ""
    if "\\t" in problem or "tab" in problem or (mark is not None and _char_at(text, mark) == "\t"):
        hint = ": indent with spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = ": quote the value if it contains ': ', or fix the indentation"
    elif "could not find expected ':'" in problem:
        hint = ": a key needs ': ' after it; check the indentation above"
    elif "flow sequence" in (error.context or ""):
        hint = ": close the list with ]"
    elif "flow mapping" in (error.context or ""):
        hint = ": close the mapping with }"
    return f"not valid YAML: {detail}{hint}"


def _char_at(text: str, mark: Any) -> str:
    lines = text.splitlines()
    line: int = mark.line
    column: int = mark.column
    if line < len(lines) and column < len(lines[line]):
        return lines[line][column]
    return ""


def _what(context: str | None) -> str:
    for what in ("flow sequence", "flow mapping", "block mapping", "block collection"):
        if context and what in context:
            return {"flow sequence": "list", "flow mapping": "mapping"}.get(what, "block")
    return "block"


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def load_bytes(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Decode (UTF-8, optional BOM) and load; a binary or mis-encoded file is a problem."""
    if len(data) > limits.max_file_bytes:
        return _failed(path, 1, 1, _too_big(len(data), limits))
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        return _failed(
            path,
            line,
            column,
            "file contains a NUL byte: it is binary, or UTF-16/32 text; save it as UTF-8",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        byte = data[error.start]
        return _failed(
            path,
            line,
            column,
            f"file is not UTF-8 (byte 0x{byte:02x} cannot be decoded): save it as UTF-8",
        )
    return load_text(text, path, limits)


def load_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Read and load one file. Never raises for anything about the file itself."""
    data = read_file(path, limits)
    return data if isinstance(data, LoadedFile) else load_bytes(data, path, limits)


# opened without blocking (a FIFO would wait for a writer) and never inherited by a child
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes | LoadedFile:
    """The bytes of one file, or why it cannot be read (as a loaded file with the problem)."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                return _failed(path, 1, 1, f"cannot read {path.name}: it is {what}")
            if info.st_size > limits.max_file_bytes:
                return _failed(path, 1, 1, _too_big(info.st_size, limits))
            data = _read_all(descriptor, info.st_size, limits.max_file_bytes + 1)
        finally:
            os.close(descriptor)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return _failed(path, 1, 1, f"cannot read {path.name}: {reason.lower()}")
    return data


def _read_all(descriptor: int, size: int, most: int) -> bytes:
    """Everything up to ``most`` bytes: a file that grows while it is read still meets the
    limit, and a short read is not taken for the end."""
    chunks = []
    total = 0
    while total < most:
        chunk = os.read(descriptor, min(max(size + 1 - total, 1 << 16), most - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"file is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit: "
        "split it into smaller files"
    )


def _failed(path: Path, line: int, column: int, message: str) -> LoadedFile:
    return LoadedFile(path, (), (Problem(line, column, message),))
