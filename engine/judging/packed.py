"""What a worker sends back of its evaluations, as plain values, and how the parent makes
them records again in file order (judging/parallel.py).

A run's evaluations are many (every rule on every document, passes and skips included): as
records of enums and paths they would pickle to megabytes per worker. A group per document
(its path, kind and name, then its rules and one-byte codes) is a fraction of that, and most
reports never need the records (only JUnit, SARIF and decision records read them).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from engine.findings import Evaluation, Outcome, Severity

# an evaluation's outcome and severity, as one small number
_CODES: Final = [(outcome, severity) for outcome in Outcome for severity in Severity]
_CODE: Final = {pair: code for code, pair in enumerate(_CODES)}
# a document's evaluations: its path ("" for none), kind, name, the rules, their codes
_Packed = tuple[str, str, str | None, list[str], bytes]


class Packed:
    """A worker's evaluations as plain values, a group per document in the share's order
    (about a fifth of the pickle of one plain row per evaluation, and less to build), made
    records again only if a report reads them (JUnit, SARIF, decision records); the rules
    that ran travel beside them, for the verdict's count."""

    def __init__(self, evaluations: Sequence[Evaluation]) -> None:
        self.documents: list[_Packed] = []
        self.count = len(evaluations)
        current: tuple[Path | None, str, str | None] | None = None
        rules: list[str] = []
        codes = bytearray()
        for e in evaluations:
            key = (e.path, e.kind, e.name)
            if key != current:
                self._add(current, rules, codes)
                current, rules, codes = key, [], bytearray()
            rules.append(e.rule)
            codes.append(_CODE[e.outcome, e.severity])
        self._add(current, rules, codes)
        self.ran = {e.rule for e in evaluations if e.outcome is not Outcome.SKIP}

    def _add(
        self, key: tuple[Path | None, str, str | None] | None, rules: list[str], codes: bytearray
    ) -> None:
        if key is not None:
            path, kind, name = key
            self.documents.append(
                ("" if path is None else str(path), kind, name, rules, bytes(codes))
            )


def _unpacked(documents: Iterator[_Packed]) -> list[Evaluation]:
    records = []
    for path, kind, name, rules, codes in documents:
        where = Path(path) if path else None
        records += [
            Evaluation(rule, *_CODES[code], kind, name, where)
            for rule, code in zip(rules, codes, strict=True)
        ]
    return records


class Evaluations(Sequence[Evaluation]):
    """Every worker's evaluations in file order (as one process gives them), made records on
    first use."""

    def __init__(self, packs: Sequence[Packed]) -> None:
        self._packs = packs
        self._records: list[Evaluation] | None = None

    def _all(self) -> list[Evaluation]:
        if self._records is None:
            merged = heapq.merge(*(pack.documents for pack in self._packs), key=lambda d: d[0])
            self._records = _unpacked(merged)
        return self._records

    def __len__(self) -> int:
        return sum(pack.count for pack in self._packs)

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self) -> Iterator[Evaluation]:
        return iter(self._all())
