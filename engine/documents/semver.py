"""Semantic versions (semver.org 2.0.0): parse, compare, and name the bump between two."""

from __future__ import annotations

import re
from typing import Final, NamedTuple

_SEMVER: Final = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        found = _SEMVER.match(text.removeprefix("v"))
        if not found:
            raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        major, minor, patch, pre = found.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else ())

    @property
    def sort_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        """Orders versions by semver precedence: a pre-release before its release, numeric
        identifiers before alphanumeric ones."""
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def compare(self, other: Version) -> int:
        mine, theirs = self.sort_key, other.sort_key
        return (mine > theirs) - (mine < theirs)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (build metadata is
    ignored, as semver says)."""
    return Version.parse(a).compare(Version.parse(b))


def bump(previous: str, current: str) -> str:
    """The release type from ``previous`` to ``current``: major, minor or patch; ``none`` if
    they are equal and ``downgrade`` if ``current`` is older."""
    old, new = Version.parse(previous), Version.parse(current)
    order = old.compare(new)
    if order > 0:
        return "downgrade"
    if (old.major, old.minor, old.patch) == (new.major, new.minor, new.patch):
        return "none" if order == 0 else "patch"  # 2.5.0-rc.1 -> 2.5.0 ships as a patch step
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    return "patch"
