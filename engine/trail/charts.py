"""Inline SVG charts for the HTML report (bars per month, error budget burn-downs): no
script, no network, printable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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


def burn_down(
    title: str,
    span: tuple[datetime, datetime, str, str],
    points: Sequence[tuple[datetime, float]],
    allowed: float,
    *,
    even: bool,
) -> str:
    """The error budget left over a period: a line from the whole budget down to what is left
    now, the zero line, and (``even``) the straight line of spending it evenly by the end.
    ``span`` is the period's start and end with their labels."""
    start, end, first, last = span
    left = _LEFT + 24  # room for "223.2 min"
    length = max((end - start).total_seconds(), 1.0)
    values = [v for _, v in points]
    top = max([allowed, *values, 1e-9])
    bottom = min([0.0, *values])
    plot_width = WIDTH - left - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM

    def x(moment: datetime) -> float:
        return left + plot_width * (moment - start).total_seconds() / length

    def y(value: float) -> float:
        return _TOP + plot_height * (top - value) / (top - bottom)

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    left_now = values[-1] if values else allowed
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{WIDTH - _RIGHT}" y2="{y(0):.1f}" class="axis"/>',
        f'<text x="{left - 6}" y="{y(top) + 4:.1f}" class="tick" text-anchor="end">'
        f"{escape(_format(top, 'min'))}</text>",
        f'<text x="{left - 6}" y="{y(0) + 4:.1f}" class="tick" text-anchor="end">0</text>',
        f'<text x="{left}" y="{HEIGHT - _BOTTOM + 16}" class="tick">{escape(first)}</text>',
        f'<text x="{WIDTH - _RIGHT}" y="{HEIGHT - _BOTTOM + 16}" class="tick" '
        f'text-anchor="end">{escape(last)}</text>',
    ]
    if even:
        parts.append(
            f'<line x1="{x(start):.1f}" y1="{y(allowed):.1f}" x2="{x(end):.1f}" y2="{y(0):.1f}" '
            'class="even"><title>spending it evenly</title></line>'
        )
    if points:
        state = "burn spent" if left_now <= 0 else "burn"
        parts.append(
            f'<polyline points="{line}" class="{state}"><title>'
            f"{escape(_format(left_now, 'min'))} left</title></polyline>"
        )
        moment, value = points[-1]
        parts.append(
            f'<text x="{x(moment):.1f}" y="{y(value) - 6:.1f}" class="value" '
            f'text-anchor="middle">{escape(_format(value, "min"))} left</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
