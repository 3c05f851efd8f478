"""Plain scalars resolved as the YAML 1.2 core schema says, and the few core tags changegate
accepts: ``no`` and ``on`` stay strings, ``10:00`` is not 600, dates stay strings."""

from __future__ import annotations

import math
import re
from typing import Any, Final

from engine.documents.sourcemap import Position

YAML_TAG: Final = "tag:yaml.org,2002:"
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
MAYBE_TYPED: Final = frozenset("0123456789+-.~nNtTfF")


# Every number form of the core schema, one alternative each (a plain scalar is matched once)
_NUMBER: Final = re.compile(
    r"(?P<int>[-+]?[0-9]+)\Z|0o(?P<oct>[0-7]+)\Z|0x(?P<hex>[0-9a-fA-F]+)\Z"
    r"|(?P<float>[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)\Z"
    r"|(?P<inf>[-+]?\.(inf|Inf|INF))\Z|(?P<nan>\.(nan|NaN|NAN))\Z"
)
_WORDS: Final = frozenset("nNtTfF~")  # what starts a null or a boolean, and nothing else


def resolve_plain(text: str) -> Any:
    """Resolve an untagged plain scalar as the YAML 1.2 core schema does.

    ``no``, ``on``, ``10:00`` and ``2024-01-25`` stay strings (YAML 1.1 would give a bool, the
    sexagesimal 600 and a date); ``010`` is the integer 10.
    """
    if not text:
        return None
    first = text[0]
    if first not in MAYBE_TYPED:
        return text
    if first in _WORDS:
        if text in _NULLS:
            return None
        return _BOOLS.get(text, text)
    number = _NUMBER.match(text)
    if number is None:
        return text
    kind = number.lastgroup
    if kind == "int":
        return int(text, 10)
    if kind == "oct":
        return int(text[2:], 8)
    if kind == "hex":
        return int(text[2:], 16)
    if kind == "float":
        return float(text)
    if kind == "inf":
        return -math.inf if text.startswith("-") else math.inf
    return math.nan


def resolve_tagged(tag: str, text: str, mark: Position) -> Any:
    short = tag.removeprefix(YAML_TAG)
    if tag == "!" or short == "str":
        return text
    if short in {"int", "float", "bool", "null"}:
        value = resolve_plain(text)
        expected: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[short]
        if isinstance(value, expected) and not (short != "bool" and isinstance(value, bool)):
            return float(value) if short == "float" else value
        raise TagError(mark, f"{text!r} is not a valid !!{short}")
    raise TagError(mark, unsupported_tag(tag))


def unsupported_tag(tag: str) -> str:
    shown = "!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag
    return (
        f"unsupported YAML tag {shown}: changegate documents hold plain strings, numbers, "
        "booleans, lists and mappings; remove the tag"
    )


class TagError(Exception):
    def __init__(self, mark: Position, message: str) -> None:
        super().__init__(message)
        self.mark = mark


def position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)
