"""The one YAML loader: safe, strict, YAML 1.2 core scalars, bounded, with a source map.

Documents are built straight from libyaml's event stream rather than from PyYAML's composed
node graph. That keeps construction iterative (the C composer recurses and crashes on deep
nesting), lets every limit be checked while the input is read, and is about twice as fast as
``yaml.load(..., Loader=CSafeLoader)``.

A file that cannot be read or parsed is a value (:class:`LoadedFile` with problems), never an
exception: one bad file must not hide the others.
"""

from __future__ import annotations

import math
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import yaml
from yaml import events
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from engine.documents.sourcemap import FieldPath, Position, SourceMap


class _PurePythonParser(Reader, Scanner, Parser):
    """PyYAML's pure-Python parser, for installs without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


def _fastest_parser() -> Any:
    """libyaml's parser (~7x faster) where PyYAML was built with it; both give the same
    events. ``CParser`` lives in ``yaml.cyaml`` and is not re-exported by ``yaml``."""
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - depends on how PyYAML was built
        return _PurePythonParser
    return CParser


_Parser: Any = _fastest_parser()


class Limits(NamedTuple):
    """Bounds that keep hostile input cheap to reject."""

    max_file_bytes: int = 5 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 100
    max_values: int = 250_000  # per document, counting every alias expansion
    max_scalar: int = 65_536  # characters in one key or value
    max_documents: int = 1_000  # per file: more is a file to split, or a flood


DEFAULT_LIMITS: Final = Limits()


class Problem(NamedTuple):
    """Why (part of) a file could not be loaded, at a 1-based position."""

    line: int
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    data: Any
    source: SourceMap
    index: int  # 0-based position among the file's documents


@dataclass(frozen=True, slots=True)
class LoadedFile:
    path: Path
    documents: tuple[LoadedDocument, ...]
    problems: tuple[Problem, ...]


class _Abort(Exception):
    """Stop reading this file: what follows cannot be trusted or would be too costly."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_YAML_TAG: Final = "tag:yaml.org,2002:"
_DROP: Final = object()  # pending key whose value is read but not kept

_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS: Final = {
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
}  # fmt: skip
_INT: Final = re.compile(r"[-+]?[0-9]+\Z")
_OCT: Final = re.compile(r"0o[0-7]+\Z")
_HEX: Final = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT: Final = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF: Final = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN: Final = re.compile(r"\.(nan|NaN|NAN)\Z")
# Only these first characters can start a non-string plain scalar in the 1.2 core schema.
_MAYBE_TYPED: Final = frozenset("0123456789+-.~nNtTfF")


def resolve_plain(text: str) -> Any:
    """Resolve an untagged plain scalar as the YAML 1.2 core schema does.

    ``no``, ``on``, ``10:00`` and ``2024-01-25`` stay strings (YAML 1.1 would give a bool, the
    sexagesimal 600 and a date); ``010`` is the integer 10.
    """
    if not text:
        return None
    if text[0] not in _MAYBE_TYPED:
        return text
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.match(text):
        return int(text, 10)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _resolve_tagged(tag: str, text: str, mark: Position) -> Any:
    short = tag.removeprefix(_YAML_TAG)
    if tag == "!" or short == "str":
        return text
    if short in {"int", "float", "bool", "null"}:
        value = resolve_plain(text)
        expected: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[short]
        if isinstance(value, expected) and not (short != "bool" and isinstance(value, bool)):
            return float(value) if short == "float" else value
        raise _TagError(mark, f"{text!r} is not a valid !!{short}")
    raise _TagError(mark, _unsupported_tag(tag))


def _unsupported_tag(tag: str) -> str:
    shown = "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag
    return (
        f"unsupported YAML tag {shown}: changegate documents hold plain strings, numbers, "
        "booleans, lists and mappings; remove the tag"
    )


class _TagError(Exception):
    def __init__(self, mark: Position, message: str) -> None:
        super().__init__(message)
        self.mark = mark


def _pos(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class _Frame:
    """An open mapping or sequence while its events are being read."""

    __slots__ = ("anchor", "container", "is_map", "key", "key_pos", "path", "values_before")

    def __init__(
        self, container: Any, path: FieldPath, anchor: str | None, values_before: int
    ) -> None:
        self.container = container
        self.is_map = isinstance(container, dict)
        self.path = path
        self.key: Any = None  # the pending key of a mapping, None while a key is expected
        self.key_pos = Position(1, 1)
        self.anchor = anchor
        self.values_before = values_before


class _Builder:
    """Turns one file's event stream into documents, a source map each, and problems."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.documents: list[LoadedDocument] = []
        self.problems: list[Problem] = []

    def run(self, text: str) -> None:
        parser = _Parser(text)
        try:
            self._read(parser)
        finally:
            dispose = getattr(parser, "dispose", None)
            if dispose is not None:
                dispose()

    def _read(self, parser: Any) -> None:
        limits = self.limits
        stack: list[_Frame] = []
        positions: dict[FieldPath, Position] = {}
        anchors: dict[str, tuple[Any, int]] = {}
        open_anchors: set[str] = set()
        root: Any = None
        root_pos = Position(1, 1)
        values = aliases = 0
        ScalarEvent, AliasEvent = events.ScalarEvent, events.AliasEvent
        MappingStart, SequenceStart = events.MappingStartEvent, events.SequenceStartEvent
        CollectionEnd = events.CollectionEndEvent
        DocumentStart, DocumentEnd = events.DocumentStartEvent, events.DocumentEndEvent

        while True:
            event = parser.get_event()
            if event is None:  # pragma: no cover - the parser ends with StreamEndEvent
                return
            cls = event.__class__

            if cls is ScalarEvent or cls is AliasEvent:
                # Positions are made only where they are kept (keys, list items) or reported.
                mark = event.start_mark
                if cls is AliasEvent:
                    pos = _pos(mark)
                    name = event.anchor
                    if name in open_anchors:
                        raise _Abort(Problem(*pos, f"alias *{name} refers to itself"))
                    if name not in anchors:
                        raise _Abort(Problem(*pos, f"alias *{name} has no anchor &{name}"))
                    aliases += 1
                    if aliases > limits.max_aliases:
                        raise _Abort(
                            Problem(*pos, f"more than {limits.max_aliases} aliases in one document")
                        )
                    value, size = anchors[name]
                    values += size
                else:
                    values += 1
                    text = event.value
                    if len(text) > limits.max_scalar:
                        raise _Abort(
                            Problem(
                                *_pos(mark),
                                f"a value of {len(text):,} characters, over the "
                                f"{limits.max_scalar:,}-character limit: link to long text "
                                "instead of pasting it",
                            )
                        )
                    if event.tag is None:  # the common case, inlined
                        if not event.implicit[0]:
                            value = text  # quoted or block: always a string
                        elif text and text[0] not in _MAYBE_TYPED:
                            value = text
                        else:
                            value = resolve_plain(text)
                            if value.__class__ is float and not math.isfinite(value):
                                self.problems.append(
                                    Problem(
                                        *_pos(mark),
                                        f"{text} is not a usable number (infinite or not a "
                                        "number): write a finite number",
                                    )
                                )
                    else:
                        try:
                            value = self._scalar(event, _pos(mark))
                        except _TagError as error:
                            self.problems.append(Problem(*error.mark, str(error)))
                            value = text
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1)
                if values > limits.max_values:
                    raise _Abort(Problem(*_pos(mark), _too_many(limits)))
                if not stack:
                    root, root_pos = value, _pos(mark)
                    continue
                top = stack[-1]
                if top.is_map:
                    if top.key is None:
                        self._take_key(top, value, _pos(mark), cls is AliasEvent, event, positions)
                        continue
                    self._store(top, value, positions)
                else:
                    positions[(*top.path, len(top.container))] = _pos(mark)
                    top.container.append(value)

            elif cls is MappingStart or cls is SequenceStart:
                pos = _pos(event.start_mark)
                values += 1
                if len(stack) >= limits.max_depth:
                    raise _Abort(
                        Problem(
                            *pos,
                            f"nesting deeper than {limits.max_depth} levels: changegate "
                            "documents are never this deep",
                        )
                    )
                tag = event.tag
                if tag is not None and tag not in {"!", _YAML_TAG + "map", _YAML_TAG + "seq"}:
                    self.problems.append(Problem(*pos, _unsupported_tag(tag)))
                container: Any = {} if cls is MappingStart else []
                if stack:
                    top = stack[-1]
                    if top.is_map:
                        if top.key is None:
                            raise _Abort(
                                Problem(
                                    *pos,
                                    "a list or mapping used as a key: keys must be plain strings",
                                )
                            )
                        # A dropped value still needs a path; -1 is never a real index.
                        path = (*top.path, top.key) if top.key is not _DROP else (-1,)
                        self._store(top, container, positions)
                    else:
                        path = (*top.path, len(top.container))
                        positions[path] = pos
                        top.container.append(container)
                else:
                    root, root_pos, path = container, pos, ()
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                stack.append(_Frame(container, path, event.anchor, values - 1))

            elif issubclass(cls, CollectionEnd):
                frame = stack.pop()
                if frame.anchor is not None:
                    open_anchors.discard(frame.anchor)
                    anchors[frame.anchor] = (frame.container, values - frame.values_before)

            elif cls is DocumentStart:
                if len(self.documents) >= limits.max_documents:
                    raise _Abort(Problem(*_pos(event.start_mark), _too_many_documents(limits)))
                positions, anchors, open_anchors = {}, {}, set()
                root, values, aliases = None, 0, 0
                root_pos = _pos(event.start_mark)

            elif cls is DocumentEnd:
                self.documents.append(
                    LoadedDocument(root, SourceMap(root_pos, positions), len(self.documents))
                )

            elif cls is events.StreamEndEvent:
                return

    def _scalar(self, event: Any, pos: Position) -> Any:
        tag = event.tag
        if tag is None or (tag == "!" and not event.implicit[0]):
            return resolve_plain(event.value) if event.implicit[0] else event.value
        return _resolve_tagged(tag, event.value, pos)

    def _take_key(
        self,
        top: _Frame,
        value: Any,
        pos: Position,
        alias: bool,
        event: Any,
        positions: dict[FieldPath, Position],
    ) -> None:
        if not alias and event.value == "<<" and not event.style:  # plain: None or ""
            self.problems.append(
                Problem(
                    *pos,
                    "merge keys (<<) are not part of YAML 1.2 and changegate does not expand "
                    "them: write the fields out",
                )
            )
            top.key = _DROP
            return
        if isinstance(value, (dict, list)):
            self.problems.append(Problem(*pos, "a list or mapping used as a key"))
            top.key = _DROP
            return
        key = event.value if not alias else ("" if value is None else str(value))
        if key in top.container:
            first = positions.get((*top.path, key))
            where = f" (first at line {first.line})" if first else ""
            self.problems.append(
                Problem(
                    *pos,
                    f"duplicate key {key!r}{where}: YAML tools disagree on which one wins, "
                    "so keep exactly one",
                )
            )
            top.key = _DROP
            return
        top.key, top.key_pos = key, pos

    @staticmethod
    def _store(top: _Frame, value: Any, positions: dict[FieldPath, Position]) -> None:
        key = top.key
        top.key = None
        if key is _DROP:
            return
        top.container[key] = value
        positions[(*top.path, key)] = top.key_pos


def _too_many_documents(limits: Limits) -> str:
    return (
        f"file holds more than {limits.max_documents:,} documents: split it into smaller files "
        "(the documents after the limit are not read)"
    )


def _too_many(limits: Limits) -> str:
    return (
        f"document expands to more than {limits.max_values:,} values (aliases multiply "
        "them): this looks like an alias bomb"
    )


_NO_KEY: Final = object()  # a mapping waiting for its next key


def _fast(text: str, limits: Limits) -> list[tuple[Any, Position]] | None:
    """The documents of ordinary YAML, built with no bookkeeping: no positions, no anchors,
    tags, aliases or merge keys, nothing near a limit. None when anything is unusual; the
    careful builder then reads the file and says what."""
    parser = _Parser(text)
    documents: list[tuple[Any, Position]] = []
    stack: list[list[Any]] = []  # [container, pending key, is a mapping]
    root: Any = None
    root_pos = Position(1, 1)
    values = 0
    max_scalar, max_depth, max_values = limits.max_scalar, limits.max_depth, limits.max_values
    ScalarEvent = events.ScalarEvent
    MappingStart, SequenceStart = events.MappingStartEvent, events.SequenceStartEvent
    MappingEnd, SequenceEnd = events.MappingEndEvent, events.SequenceEndEvent
    DocumentStart, DocumentEnd = events.DocumentStartEvent, events.DocumentEndEvent
    StreamStart, StreamEnd = events.StreamStartEvent, events.StreamEndEvent
    try:
        while True:
            event = parser.get_event()
            cls = event.__class__
            if cls is ScalarEvent:
                if event.tag is not None or event.anchor is not None:
                    return None
                value = event.value
                if len(value) > max_scalar:
                    return None
                if event.implicit[0] and (not value or value[0] in _MAYBE_TYPED):
                    value = resolve_plain(value)
                    if value.__class__ is float and not math.isfinite(value):
                        return None
                values += 1
                if not stack:
                    root, root_pos = value, _pos(event.start_mark)
                    continue
                top = stack[-1]
                if top[2]:
                    key = top[1]
                    if key is _NO_KEY:
                        key = event.value
                        if key in top[0] or (key == "<<" and not event.style):
                            return None
                        top[1] = key
                    else:
                        top[0][key] = value
                        top[1] = _NO_KEY
                else:
                    top[0].append(value)
            elif cls is MappingStart or cls is SequenceStart:
                if event.tag is not None or event.anchor is not None or len(stack) >= max_depth:
                    return None
                values += 1
                container: Any = {} if cls is MappingStart else []
                if stack:
                    top = stack[-1]
                    if top[2]:
                        if top[1] is _NO_KEY:
                            return None  # a mapping or list as a key
                        top[0][top[1]] = container
                        top[1] = _NO_KEY
                    else:
                        top[0].append(container)
                else:
                    root, root_pos = container, _pos(event.start_mark)
                stack.append([container, _NO_KEY, cls is MappingStart])
            elif cls is MappingEnd or cls is SequenceEnd:
                stack.pop()
            elif cls is DocumentStart:
                if len(documents) >= limits.max_documents:
                    return None  # the careful builder reads up to the limit and says so
                root, values = None, 0
                root_pos = _pos(event.start_mark)
            elif cls is DocumentEnd:
                documents.append((root, root_pos))
            elif cls is StreamEnd:
                return documents
            elif cls is not StreamStart:
                return None  # an alias
            if values > max_values:
                return None
    except yaml.YAMLError:
        return None
    finally:
        parser.dispose()


class _Positions:
    """The source maps of one file, computed on first use by the careful builder."""

    __slots__ = ("_limits", "_maps", "_text")

    def __init__(self, text: str, limits: Limits) -> None:
        self._text: str | None = text
        self._limits = limits
        self._maps: list[SourceMap] = []

    def of(self, index: int) -> Callable[[], dict[FieldPath, Position]]:
        def compute() -> dict[FieldPath, Position]:
            if self._text is not None:
                builder = _Builder(self._limits)
                builder.run(self._text)
                self._maps = [d.source for d in builder.documents]
                self._text = None  # the text is no longer needed
            if index >= len(self._maps):  # pragma: no cover - both builders read the same text
                return {}
            return dict(self._maps[index]._table())

        return compute


def load_text(text: str, path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedFile:
    """Load every document of ``text``; ``path`` only names the source."""
    fast = _fast(text, limits)
    if fast is not None:
        positions = _Positions(text, limits)
        return LoadedFile(
            path,
            tuple(
                LoadedDocument(data, SourceMap(root, pending=positions.of(i)), i)
                for i, (data, root) in enumerate(fast)
            ),
            (),
        )
    builder = _Builder(limits)
    try:
        builder.run(text)
    except _Abort as abort:
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
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return _failed(path, 1, 1, f"cannot read {path.name}: it is {what}")
        if info.st_size > limits.max_file_bytes:
            return _failed(path, 1, 1, _too_big(info.st_size, limits))
        with path.open("rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return _failed(path, 1, 1, f"cannot read {path.name}: {reason.lower()}")
    return load_bytes(data, path, limits)


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"file is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit: "
        "split it into smaller files"
    )


def _failed(path: Path, line: int, column: int, message: str) -> LoadedFile:
    return LoadedFile(path, (), (Problem(line, column, message),))
