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
    if match:
        return match[0]
    match = difflib.get_close_matches(_fold(word), list(folded), n=1, cutoff=0.7)
    return folded[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``": did you mean 'x'?"`` or an empty string."""
    match = closest(word, candidates)
    return f": did you mean {match!r}?" if match and match != word else ""


def _fold(word: str) -> str:
    return word.lower().replace("-", "").replace("_", "").replace(" ", "")
