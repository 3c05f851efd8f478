"""What a CEL expression refers to, read from its text: ``variables.NAME``, outside string
literals. Both CEL runtimes see ``variables`` as a map, so a misspelled name compiles there and
fails only when evaluated (an error that denies); reading the references lets a policy with a
typo be refused when it is loaded, with a caret at the name."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from engine.cel import CompileError
from engine.suggest import did_you_mean

_STRING_START: Final = re.compile(r"""(?i)(?:r|b|rb|br)?('''|\"\"\"|'|")""")
_REFERENCE: Final = re.compile(r"(?<![\w.])variables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def _code(expression: str) -> str:
    """The expression with every string literal blanked (same length, same lines)."""
    out = []
    position = 0
    while position < len(expression):
        found = _STRING_START.search(expression, position)
        if found is None:
            out.append(expression[position:])
            break
        prefix_start = found.start()
        before = expression[prefix_start - 1] if prefix_start else ""
        if found.group(0)[0] not in "'\"" and (before.isalnum() or before == "_"):
            # the r or b ends an identifier ("bar" followed by a quote): not a prefix
            prefix_start = found.start(1)
        out.append(expression[position:prefix_start])
        quote = found.group(1)
        raw = "r" in expression[prefix_start : found.start(1)].lower()
        end = _string_end(expression, found.end(), quote, raw=raw)
        literal = expression[prefix_start:end]
        out.append("".join("\n" if c == "\n" else " " for c in literal))
        position = end
    return "".join(out)


def _string_end(text: str, start: int, quote: str, *, raw: bool) -> int:
    position = start
    while position < len(text):
        if not raw and text[position] == "\\":
            position += 2
            continue
        if text.startswith(quote, position):
            return position + len(quote)
        if len(quote) == 1 and text[position] == "\n":
            return position  # an unterminated literal: the compiler says so
        position += 1
    return len(text)


def variable_references(expression: str) -> Iterator[tuple[str, int, int]]:
    """Each ``variables.NAME`` in the expression: the name, its line and column (1-based)."""
    code = _code(expression)
    for match in _REFERENCE.finditer(code):
        offset = match.start(1)
        line = code.count("\n", 0, offset) + 1
        column = offset - (code.rfind("\n", 0, offset) + 1) + 1
        yield match.group(1), line, column


AFTER: Final = "is defined after this variable: variables are computed in order, so move it up"
BEFORE_MATCH: Final = (
    "is not computed yet when match.when runs (variables come after it): test the condition "
    "in a rule's when instead"
)


def unknown_variable(
    expression: str, defined: Sequence[str], later: Sequence[str] = (), *, early: str = AFTER
) -> CompileError | None:
    """The first reference to a variable the expression cannot see: not defined by the
    policy, or defined but not computed yet where the expression runs (``early`` says why)."""
    for name, line, column in variable_references(expression):
        if name in defined:
            continue
        if name in later:
            message = f"variables.{name} {early}"
        else:
            known = ", ".join(defined) if defined else "none"
            message = (
                f"variables.{name} is not a variable of this policy (defined here: {known})"
                + did_you_mean(name, defined)
            )
        return CompileError(message, line, column)
    return None
