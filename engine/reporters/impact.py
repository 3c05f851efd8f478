"""The impact preview (the verdict's ``impact``) said to people: one sentence, and a line per
document and rule whose outcome the change moves. Every reporter that shows it reads it here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Final

LISTS: Final = (
    ("newlyDenied", "newly denied"),
    ("noLongerDenied", "no longer denied"),
    ("newlyWarned", "newly warned"),
)


def of(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    found = extra.get("impact")
    return found if isinstance(found, dict) else None


def _noun(kind: str, count: int) -> str:
    words = re.sub(r"(?<!^)([A-Z])", r" \1", kind).lower()
    return f"{count} {words}{'' if count == 1 else 's'}"


def _counted(documents: list[dict[str, Any]]) -> str:
    kinds = Counter(str(d.get("kind")) for d in documents)
    parts = [_noun(kind, count) for kind, count in sorted(kinds.items())]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(impact: Mapping[str, Any]) -> str:
    """``this change newly blocks 3 change requests, unblocks 1 change request``."""
    if impact.get("error"):
        return "the impact of this change is unknown: its policy set cannot be loaded"
    blocked = list(impact.get("newlyBlocked") or ())
    unblocked = list(impact.get("unblocked") or ())
    warned = {
        (e["document"]["kind"], e["document"]["name"]) for e in impact.get("newlyWarned") or ()
    }
    parts = []
    if blocked:
        parts.append(f"newly blocks {_counted(blocked)}")
    if unblocked:
        parts.append(f"unblocks {_counted(unblocked)}")
    if warned:
        parts.append(f"newly warns on {_noun('Document', len(warned))}")
    changed = sum(len(impact.get(key) or ()) for key, _ in LISTS)
    if not parts and changed:
        parts.append(f"changes {_noun('RuleOutcome', changed)} but blocks and unblocks nothing")
    documents = _noun("Document", int(impact.get("documents") or 0))
    if not parts:
        return f"this change blocks, unblocks and warns on nothing ({documents} judged)"
    return f"this change {', '.join(parts)} ({documents} judged under both policy sets)"


def entries(impact: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what happened, entry) for every entry, in the order of LISTS."""
    for key, label in LISTS:
        for entry in impact.get(key) or ():
            yield label, entry


def where(entry: Mapping[str, Any]) -> str:
    document = entry["document"]
    return f"{document['path']} ({document['kind']} {document['name']})"
