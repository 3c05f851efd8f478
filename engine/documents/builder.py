"""Documents built straight from libyaml's event stream rather than from PyYAML's composed
node graph. That keeps construction iterative (the C composer recurses and crashes on deep
nesting), lets every limit be checked while the input is read, and is about twice as fast as
``yaml.load(..., Loader=CSafeLoader)``.

Two builders read the same events: a fast one for ordinary YAML (no positions, no anchors,
nothing near a limit) that gives up on anything unusual, and a careful one that keeps a
source map and says what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from yaml import events
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from engine.documents.scalars import (
    MAYBE_TYPED,
    YAML_TAG,
    TagError,
    position,
    resolve_plain,
    resolve_tagged,
    unsupported_tag,
)
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


PARSER: Any = _fastest_parser()


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


class Abort(Exception):
    """Stop reading this file: what follows cannot be trusted or would be too costly."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


_DROP: Final = object()  # pending key whose value is read but not kept


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


class Builder:
    """Turns one file's event stream into documents, a source map each, and problems."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.documents: list[LoadedDocument] = []
        self.problems: list[Problem] = []
        self._start(Position(1, 1))

    def _start(self, where: Position) -> None:
        """Forget the last document: each has its own positions, anchors and counts."""
        self.stack: list[_Frame] = []
        self.positions: dict[FieldPath, Position] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.root: Any = None
        self.root_pos = where
        self.values = 0
        self.aliases = 0

    def run(self, text: str) -> None:
        parser = PARSER(text)
        try:
            self._read(parser)
        finally:
            dispose = getattr(parser, "dispose", None)
            if dispose is not None:
                dispose()

    def _read(self, parser: Any) -> None:
        while True:
            event = parser.get_event()
            cls = event.__class__
            if cls is events.ScalarEvent or cls is events.AliasEvent:
                self._value(event, cls is events.AliasEvent)
            elif cls is events.MappingStartEvent or cls is events.SequenceStartEvent:
                self._open(event, cls is events.MappingStartEvent)
            elif issubclass(cls, events.CollectionEndEvent):
                frame = self.stack.pop()
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (
                        frame.container,
                        self.values - frame.values_before,
                    )
            elif cls is events.DocumentStartEvent:
                if len(self.documents) >= self.limits.max_documents:
                    raise Abort(
                        Problem(*position(event.start_mark), _too_many_documents(self.limits))
                    )
                self._start(position(event.start_mark))
            elif cls is events.DocumentEndEvent:
                source = SourceMap(self.root_pos, self.positions)
                self.documents.append(LoadedDocument(self.root, source, len(self.documents)))
            elif cls is events.StreamEndEvent:
                return

    def _value(self, event: Any, alias: bool) -> None:
        """A scalar or an alias: counted, bounded, then placed where the open frame wants it.
        Positions are made only where they are kept (keys, list items) or reported."""
        mark = event.start_mark
        value = self._alias(event) if alias else self._scalar(event)
        if self.values > self.limits.max_values:
            raise Abort(Problem(*position(mark), _too_many(self.limits)))
        if not self.stack:
            self.root, self.root_pos = value, position(mark)
            return
        top = self.stack[-1]
        if not top.is_map:
            self.positions[(*top.path, len(top.container))] = position(mark)
            top.container.append(value)
        elif top.key is None:
            self._take_key(top, value, position(mark), alias, event)
        else:
            self._store(top, value)

    def _alias(self, event: Any) -> Any:
        pos = position(event.start_mark)
        name = event.anchor
        if name in self.open_anchors:
            raise Abort(Problem(*pos, f"alias *{name} refers to itself"))
        if name not in self.anchors:
            raise Abort(Problem(*pos, f"alias *{name} has no anchor &{name}"))
        self.aliases += 1
        if self.aliases > self.limits.max_aliases:
            raise Abort(
                Problem(*pos, f"more than {self.limits.max_aliases} aliases in one document")
            )
        value, size = self.anchors[name]
        self.values += size
        return value

    def _scalar(self, event: Any) -> Any:
        self.values += 1
        text = event.value
        mark = event.start_mark
        if len(text) > self.limits.max_scalar:
            raise Abort(
                Problem(
                    *position(mark),
                    f"a value of {len(text):,} characters, over the "
                    f"{self.limits.max_scalar:,}-character limit: link to long text instead of "
                    "pasting it",
                )
            )
        value: Any
        if event.tag is not None and not (event.tag == "!" and not event.implicit[0]):
            try:
                value = resolve_tagged(event.tag, text, position(mark))
            except TagError as error:
                self.problems.append(Problem(*error.mark, str(error)))
                value = text
        elif not event.implicit[0] or (text and text[0] not in MAYBE_TYPED):
            value = text  # quoted or block, or plainly text
        else:
            value = resolve_plain(text)
            if value.__class__ is float and not math.isfinite(value):
                self.problems.append(
                    Problem(
                        *position(mark),
                        f"{text} is not a usable number (infinite or not a number): write a "
                        "finite number",
                    )
                )
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return value

    def _open(self, event: Any, mapping: bool) -> None:
        pos = position(event.start_mark)
        self.values += 1
        if len(self.stack) >= self.limits.max_depth:
            raise Abort(
                Problem(
                    *pos,
                    f"nesting deeper than {self.limits.max_depth} levels: changegate documents "
                    "are never this deep",
                )
            )
        tag = event.tag
        if tag is not None and tag not in {"!", YAML_TAG + "map", YAML_TAG + "seq"}:
            self.problems.append(Problem(*pos, unsupported_tag(tag)))
        container: Any = {} if mapping else []
        path: FieldPath
        if not self.stack:
            self.root, self.root_pos, path = container, pos, ()
        elif self.stack[-1].is_map:
            top = self.stack[-1]
            if top.key is None:
                raise Abort(
                    Problem(*pos, "a list or mapping used as a key: keys must be plain strings")
                )
            # A dropped value still needs a path; -1 is never a real index.
            path = (*top.path, top.key) if top.key is not _DROP else (-1,)
            self._store(top, container)
        else:
            top = self.stack[-1]
            path = (*top.path, len(top.container))
            self.positions[path] = pos
            top.container.append(container)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame(container, path, event.anchor, self.values - 1))

    def _take_key(self, top: _Frame, value: Any, pos: Position, alias: bool, event: Any) -> None:
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
            first = self.positions.get((*top.path, key))
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

    def _store(self, top: _Frame, value: Any) -> None:
        key = top.key
        top.key = None
        if key is _DROP:
            return
        top.container[key] = value
        self.positions[(*top.path, key)] = top.key_pos


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
