"""Inline SVG bar charts for the HTML report: no script, no network, printable."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

WIDTH: Final = 560
HEIGHT: Final = 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 44, 38


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], unit: str = "") -> str:
    """A bar per label; a month without a figure shows a dash instead of a bar."""
    known = [v for v in values if v is not None]
    top = 100.0 if unit == "%" else max(max(known, default=0.0), 1e-9)
    if top <= 1e-9:
        top = 1.0
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    step = plot_width / max(len(labels), 1)
    bar = max(min(step * 0.6, 48.0), 4.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{_LEFT}" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _RIGHT}" '
        f'y2="{HEIGHT - _BOTTOM}" class="axis"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" class="tick" text-anchor="end">'
        f"{escape(_format(top, unit))}</text>",
        f'<text x="{_LEFT - 6}" y="{HEIGHT - _BOTTOM}" class="tick" text-anchor="end">0</text>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        middle = _LEFT + step * index + step / 2
        parts.append(
            f'<text x="{middle:.1f}" y="{HEIGHT - _BOTTOM + 16}" class="tick" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{middle:.1f}" y="{HEIGHT - _BOTTOM - 4}" class="value" '
                'text-anchor="middle">–</text>'
            )
            continue
        size = plot_height * (value / top) if top else 0.0
        y = HEIGHT - _BOTTOM - size
        parts.append(
            f'<rect x="{middle - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
            f'height="{size:.1f}" class="bar"><title>{escape(label)}: '
            f"{escape(_format(value, unit))}</title></rect>"
        )
        parts.append(
            f'<text x="{middle:.1f}" y="{y - 4:.1f}" class="value" text-anchor="middle">'
            f"{escape(_format(value, unit))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _format(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}".strip()
