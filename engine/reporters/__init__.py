"""Reporters turn a verdict into text for people or machines, one module per format."""

from __future__ import annotations

from typing import Protocol, TextIO

from engine.verdict import Verdict


class Reporter(Protocol):
    def __call__(self, verdict: Verdict, out: TextIO, *, color: bool) -> None: ...
