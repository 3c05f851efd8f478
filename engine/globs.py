"""Glob patterns for paths (``releases/**.yaml``) and names (``prod-*``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str, *, path: bool = False, fold: bool = False) -> re.Pattern[str]:
    """``*`` any run of characters (not ``/`` in paths), ``**`` any run including ``/``,
    ``**/`` zero or more folders, ``?`` one character, ``{a,b}`` either, ``[...]`` a class;
    ``fold`` ignores case (environment names, which GitHub compares so)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    star = "[^/]*" if path else ".*"
    one = "[^/]" if path else "."
    depth = 0  # inside {...}
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append(star)
        elif c == "?":
            out.append(one)
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    out.extend(")" * depth)
    # folding is ASCII only, as environment names compare (no Unicode folding)
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.ASCII if fold else 0)


def match_name(pattern: str, name: str) -> bool:
    return compile_glob(pattern).match(name) is not None


def match_any(
    patterns: list[str] | tuple[str, ...] | None, name: str, *, fold: bool = False
) -> bool:
    """True when any pattern matches; an omitted (None) list matches everything."""
    if patterns is None:
        return True
    return any(compile_glob(p, fold=fold).match(name) for p in patterns)


def match_path(pattern: str, relative: str) -> bool:
    return compile_glob(pattern, path=True).match(relative) is not None


def match_any_path(patterns: Sequence[str], relative: str) -> bool:
    """Whether any of the path globs matches (one regular expression for them all)."""
    return len(patterns) > 0 and _paths(tuple(patterns)).match(relative) is not None


@functools.lru_cache(maxsize=64)
def _paths(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{compile_glob(p, path=True).pattern})" for p in patterns))


def literal_prefix(pattern: str) -> str:
    """The folder part of a path glob before its first wildcard: where a walk can start."""
    cut = len(pattern)
    for token in "*?[{":
        found = pattern.find(token)
        if found >= 0:
            cut = min(cut, found)
    head = pattern[:cut]
    return head[: head.rfind("/") + 1] if cut < len(pattern) else head
