"""Names a person or a deployment gives (``--env``, ``--service``), checked against the config.

GitHub's environment names are case-insensitive, so ``Production`` is the environment
``production``: it resolves to the config's spelling. Service names are exact. A name the
config does not list is a usage error with a "did you mean"; a glob is never a name (``*``
would otherwise match every freeze and no change request). Where the config lists no
environments or services, the name is taken as given and the caller says that it could not
be verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from engine.errors import UsageError
from engine.suggest import did_you_mean

_GLOB: Final = frozenset("*?[]{}")


class Name(NamedTuple):
    """A resolved name, and why it could not be checked (None when it was)."""

    value: str
    unverified: str | None = None


def same_environment(a: str, b: str) -> bool:
    """Environment names compare as GitHub compares them: case-insensitively, and only in the
    ASCII letters (no Unicode folding makes ``ſtaging`` the environment ``staging``)."""
    return fold(a) == fold(b)


def fold(name: str) -> str:
    """A name with its ASCII capitals lowered, nothing else."""
    return name.translate(_ASCII_LOWER)


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _hint(text: str, known: Sequence[str]) -> str:
    """A "did you mean" for a typo or an abbreviation (``prod``), else the list of names."""
    folded = fold(text)
    starts = [name for name in known if fold(name).startswith(folded)]
    if len(starts) == 1:
        return f": did you mean {starts[0]!r}?"
    return did_you_mean(text, known) or f" (it lists {', '.join(known)})"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _shape(text: str, flag: str, what: str) -> None:
    if not text or text != text.strip():
        raise UsageError(f"{flag} {text!r}: give the {what}'s name, without surrounding spaces")
    if _GLOB & set(text):
        raise UsageError(
            f"{flag} {text!r} is a pattern, not {_article(what)} {what} name: name the one "
            f"{what} being deployed (patterns belong in freeze and change window scopes)"
        )


def environment(text: str, known: Sequence[str], *, flag: str = "--env") -> Name:
    """``text`` as the config spells it (case-insensitively), or a UsageError."""
    _shape(text, flag, "environment")
    if not known:
        return Name(
            text,
            f"changegate.yaml lists no environments, so {text!r} cannot be checked for typos: "
            "list them under environments to have misspelled names refused",
        )
    for name in known:
        if same_environment(name, text):
            return Name(name)
    raise UsageError(
        f"{flag} {text!r}: changegate.yaml lists no such environment" + _hint(text, known)
    )


def service(text: str, known: Sequence[str], *, flag: str = "--service") -> Name:
    """``text`` if the config lists it (exactly), or a UsageError."""
    _shape(text, flag, "service")
    if not known:
        return Name(
            text,
            f"changegate.yaml lists no services, so {text!r} cannot be checked for typos: "
            "list them under services to have misspelled names refused",
        )
    if text in known:
        return Name(text)
    raise UsageError(f"{flag} {text!r}: changegate.yaml lists no such service" + _hint(text, known))
