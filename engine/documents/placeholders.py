"""Text left from a scaffold (``changegate new``) or a copied template: values that stand for
what the author was meant to write. A change record holding them is not complete, however
valid its schema says it is.

A value is a placeholder when all of it is one of:
- text in brackets or angle brackets: ``[Name]``, ``[Detailed description of the change]``,
  ``<team>`` (as the domain templates and the scaffolds write them);
- a numbered step: ``Step 1``, ``Rollback step 2``, ``[Step 3]``;
- a scaffold's filler sentence: ``Detailed description ...``, ``Business reason ...``;
- a to-do marker in capitals, alone or before more text (``TBD``, ``TBA`` and the usual
  to-do and fix-me words).
Only whole values count: ``[WIP] migrate orders`` or a description that mentions a step are
real text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

from engine.documents.sourcemap import format_field

_PLACEHOLDER: Final = re.compile(
    r"""
    \[[^\[\]\n]{1,120}\]                                  # [Name], [Step 1]
    | <[^<>\n]{1,120}>                                    # <your team>
    | (?:rollback\s+)?step\s+\d{1,3}\.?                   # Step 1, Rollback step 2
    | (?-i:T[O]DO|TBD|TBA|F[I]XME)\b.*                   # to-do markers, capitals only
    | (?:detailed\s+description|business\s+reason)\b.*   # the scaffold's filler sentences
    | one\s+sentence\s+description\s+of\s+the\s+incident\.?
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
MAX_SHOWN: Final = 60  # characters of a placeholder quoted in a message


# what a placeholder can start with (the to-do markers only in capitals)
_FIRST: Final = frozenset("[<sSrRTFdDbBoO")


def is_placeholder(text: str) -> bool:
    stripped = text.strip()
    return stripped[:1] in _FIRST and _PLACEHOLDER.fullmatch(stripped) is not None


# In the JSON text of a value, where a placeholder could begin: a string opening with what
# one starts with. A quick sieve over the whole document at C speed; what passes is looked at
# value by value.
_SIEVE: Final = re.compile(
    r'"(?:\s|\\[nrtfb]|\\u00[01][0-9a-fA-F])*'  # what strip() removes, as JSON writes it
    r"(?:\[|<|T[O]DO|TBD|TBA|F[I]XME|"
    r"(?i:rollback|step|detailed|business|one)(?:\s|\\[nrtfb]|\\u00[01][0-9a-fA-F]))"
)


def holds_any(value: Any) -> bool:
    """Whether any placeholder is in the value (the quick question, asked of every document
    first: most hold none, and their paths need not be built)."""
    try:
        if _SIEVE.search(json.dumps(value, ensure_ascii=False)) is None:
            return False
    except (TypeError, ValueError):
        pass  # not JSON (never from the loaders): looked at value by value
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if is_placeholder(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def find(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, str]]:
    """Each placeholder in a document's value, nested lists and mappings included: its field
    path (``spec.implementation[0]``) and its text."""
    if isinstance(value, str):
        if is_placeholder(value):
            yield format_field(path), value.strip()
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find(item, (*path, index))


def described(value: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    """The placeholders as ``field: 'text'``, for messages."""
    if not holds_any(value):
        return []
    shown = []
    for field, text in find(value, path):
        quoted = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
        shown.append(f"{field}: {quoted!r}")
    return shown
