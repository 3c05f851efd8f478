""" "Did you mean" for typos in kinds, fields and enum values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was most likely meant to be, if any is close enough."""
    options = list(candidates)
    folded = {_fold(option): option for option in options}
    if _fold(word) in folded:
        return folded[_fold(word)]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    if not match:
        found = difflib.get_close_matches(_fold(word), list(folded), n=1, cutoff=0.7)
        match = [folded[found[0]]] if found else []
    if match and _digits_only_differ(word, match[0]):
        return None  # SEV-9 is not a typo of SEV-4: numbers carry meaning
    return match[0] if match else None


def _digits_only_differ(word: str, candidate: str) -> bool:
    strip = str.maketrans("", "", "0123456789")
    return word != candidate and word.translate(strip) == candidate.translate(strip)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``": did you mean 'x'?"`` or an empty string."""
    match = closest(word, candidates)
    return f": did you mean {match!r}?" if match and match != word else ""


def _fold(word: str) -> str:
    return word.lower().replace("-", "").replace("_", "").replace(" ", "")
