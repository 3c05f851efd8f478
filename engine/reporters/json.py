"""The JSON verdict of SPEC §8 (stable, versioned)."""

from __future__ import annotations

import json
from typing import TextIO

from engine.paths import display_path
from engine.verdict import Report


def report(report: Report, out: TextIO, *, color: bool) -> None:
    del color  # machines read this
    json.dump(report.verdict.to_json(display_path), out, indent=2, ensure_ascii=False)
    out.write("\n")
