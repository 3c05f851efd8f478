"""Where each value of a loaded document came from: field path -> line and column."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

FieldPath = tuple[str | int, ...]


class Position(NamedTuple):
    """A 1-based line and column in a file."""

    line: int
    column: int


def format_field(path: Iterable[str | int]) -> str:
    """``("spec", "rollback", 0, "step")`` -> ``spec.rollback[0].step``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = part
    return out


def parse_field(text: str) -> FieldPath:
    """The inverse of :func:`format_field`, for the ``field`` of policy rules."""
    parts: list[str | int] = []
    for dotted in text.replace("[", ".[").split("."):
        if not dotted:
            continue
        if dotted.startswith("[") and dotted.endswith("]") and dotted[1:-1].isdigit():
            parts.append(int(dotted[1:-1]))
        else:
            parts.append(dotted)
    return tuple(parts)


class SourceMap:
    """Positions of a document's mapping keys and sequence items, by field path.

    A path that is not in the map (a missing field, or one inside an alias) resolves to its
    nearest ancestor that is, so every finding still lands on a real line.
    """

    __slots__ = ("_near", "_pending", "_positions", "root")

    def __init__(
        self,
        root: Position,
        positions: Mapping[FieldPath, Position] | None = None,
        *,
        pending: Callable[[], Mapping[FieldPath, Position]] | None = None,
        near: tuple[int, Callable[[], Mapping[FieldPath, Position]]] | None = None,
    ) -> None:
        """``positions`` now, or ``pending``: a function that computes them when first asked
        (the loader re-reads the file then; most documents are never asked). ``near``: the
        depth to which another function gives every position, cheaply (the fast builder's
        marks): paths no deeper are answered from it without re-reading."""
        self.root = root
        self._positions = positions
        self._pending = pending
        self._near = near

    def _table(self) -> Mapping[FieldPath, Position]:
        if self._positions is None:
            self._positions = self._pending() if self._pending is not None else {}
            self._pending = None
        return self._positions

    def _table_for(self, path: FieldPath) -> Mapping[FieldPath, Position]:
        near = self._near
        if near is None or len(path) > near[0] or self._positions is not None:
            return self._table()
        table = near[1]()
        self._near = (near[0], lambda: table)  # computed once
        return table

    def locate(self, path: FieldPath) -> Position:
        table = self._table_for(path)
        while path:
            found = table.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return self.root

    def has(self, path: FieldPath) -> bool:
        return path in self._table_for(path)

    def within(self, prefix: FieldPath) -> SourceMap:
        """The map of a value nested at ``prefix`` (a document embedded in another)."""
        return _Nested(self, prefix)


class _Nested(SourceMap):
    __slots__ = ("_outer", "_prefix")

    def __init__(self, outer: SourceMap, prefix: FieldPath) -> None:
        super().__init__(outer.locate(prefix), {})
        self._outer = outer
        self._prefix = prefix

    def locate(self, path: FieldPath) -> Position:
        return self._outer.locate((*self._prefix, *path))

    def has(self, path: FieldPath) -> bool:
        return self._outer.has((*self._prefix, *path))
