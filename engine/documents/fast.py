"""The fast builder: the documents of ordinary YAML straight from libyaml's events, with no
bookkeeping at all. It gives up (None) on anything unusual, and the careful builder
(:mod:`engine.documents.builder`) then reads the file and says what."""

from __future__ import annotations

import math
from typing import Any, Final

import yaml
from yaml import events

from engine.documents.builder import PARSER, Limits
from engine.documents.scalars import MAYBE_TYPED, position, resolve_plain
from engine.documents.sourcemap import Position

_NO_KEY: Final = object()  # a mapping waiting for its next key


_VALUE_EVENTS: Final = (
    events.ScalarEvent,
    events.MappingStartEvent,
    events.SequenceStartEvent,
    events.MappingEndEvent,
    events.SequenceEndEvent,
)
_FRAME_EVENTS: Final = (
    events.DocumentStartEvent,
    events.DocumentEndEvent,
    events.StreamStartEvent,
    events.StreamEndEvent,
)


# a document's positions kept while building it: of its top-level fields and of theirs
# (``spec.title``), from the parser's marks; deeper positions come from the careful builder
NEAR: Final = 2
Marks = dict[tuple[str | int, ...], dict[str | int, Any]]  # frame path -> key/index -> mark


def fast(text: str, limits: Limits) -> list[tuple[Any, Position, Marks]] | None:
    """The documents of ordinary YAML, built with no bookkeeping but the marks of the fields
    near the top: no anchors, tags, aliases or merge keys, nothing near a limit. None when
    anything is unusual; the careful builder then reads the file and says what."""
    parser = PARSER(text)
    documents: list[tuple[Any, Position, Marks]] = []
    stack: list[list[Any]] = []  # [container, pending key, is a mapping, marks of items or None]
    root: Any = None
    marks: Marks = {}
    root_pos, values = Position(1, 1), 0
    max_scalar, max_depth, max_values = limits.max_scalar, limits.max_depth, limits.max_values
    ScalarEvent, MappingStart, SequenceStart, MappingEnd, SequenceEnd = _VALUE_EVENTS  # hot
    DocumentStart, DocumentEnd, StreamStart, StreamEnd = _FRAME_EVENTS
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
                if event.implicit[0] and (not value or value[0] in MAYBE_TYPED):
                    value = resolve_plain(value)
                    if value.__class__ is float and not math.isfinite(value):
                        return None
                values += 1
                if not stack:
                    root, root_pos = value, position(event.start_mark)
                    continue
                top = stack[-1]
                if top[2]:
                    key = top[1]
                    if key is _NO_KEY:
                        key = event.value
                        if key in top[0] or (key == "<<" and not event.style):
                            return None
                        top[1] = key
                        if top[3] is not None:
                            top[3][key] = event.start_mark
                    else:
                        top[0][key] = value
                        top[1] = _NO_KEY
                else:
                    if top[3] is not None:
                        top[3][len(top[0])] = event.start_mark
                    top[0].append(value)
            elif cls is MappingStart or cls is SequenceStart:
                if event.tag is not None or event.anchor is not None or len(stack) >= max_depth:
                    return None
                values += 1
                container: Any = {} if cls is MappingStart else []
                if not stack:
                    root, root_pos = container, position(event.start_mark)
                    stack.append(
                        [container, _NO_KEY, cls is MappingStart, marks.setdefault((), {})]
                    )
                elif not _nest(stack, marks, container, event.start_mark):
                    return None  # a mapping or list as a key
            elif cls is MappingEnd or cls is SequenceEnd:
                stack.pop()
            elif cls is DocumentStart:
                if len(documents) >= limits.max_documents:
                    return None  # the careful builder reads up to the limit and says so
                root, values, marks = None, 0, {}
                root_pos = position(event.start_mark)
            elif cls is DocumentEnd:
                documents.append((root, root_pos, marks))
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


def _nest(stack: list[list[Any]], marks: Marks, container: Any, mark: Any) -> bool:
    """Place a new mapping or list in the open one and open it; False if it is a key."""
    top = stack[-1]
    near = None
    if top[2]:
        if top[1] is _NO_KEY:
            return False
        if top[3] is not None and len(stack) < NEAR:
            near = marks[(top[1],)] = {}
        top[0][top[1]] = container
        top[1] = _NO_KEY
    else:
        if top[3] is not None:
            top[3][len(top[0])] = mark
            if len(stack) < NEAR:
                near = marks[(len(top[0]),)] = {}
        top[0].append(container)
    stack.append([container, _NO_KEY, container.__class__ is dict, near])
    return True


def near_positions(marks: Marks) -> dict[tuple[str | int, ...], Position]:
    """The positions the marks give: of every field and list item ``NEAR`` levels deep or
    less, as the careful builder would place them."""
    table = {}
    for path, items in marks.items():
        for key, mark in items.items():
            table[(*path, key)] = Position(mark.line + 1, mark.column + 1)
    return table
