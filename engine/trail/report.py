"""The HTML report of ``audit`` and ``metrics``: one self-contained file (Jinja2, inline CSS and
SVG charts, no script, no network) that an auditor can open, keep and print."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.time.instants import format_instant

if TYPE_CHECKING:
    from engine.judging.judge import Judge
    from engine.trail.audit import Audit
    from engine.trail.metrics import Metrics


def html(judge: Judge, *, audit: Audit | None = None, metrics: Metrics | None = None) -> str:
    import jinja2
    from markupsafe import Markup

    from engine.escaping import bidi_visible
    from engine.resources import bundled
    from engine.trail.charts import bars, burn_down
    from engine.trail.metrics import ALL, DEFINITIONS, FIGURES

    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    # what people wrote is escaped by autoescape, and its bidi controls are made visible
    environment.finalize = lambda v: (
        v if isinstance(v, Markup) or not isinstance(v, str) else bidi_visible(v)
    )
    environment.filters["instant"] = lambda moment: format_instant(moment) if moment else ""
    environment.filters["figure"] = _figure
    source = bundled("templates", "report", "report.html.j2").read_text(encoding="utf-8")
    charts: list[Markup] = []
    services: list[tuple[str, Any]] = []
    months: list[str] = []
    budgets: dict[str, Any] = {}
    burn_downs: list[Markup] = []
    if metrics is not None:
        data = metrics.as_json()
        months = metrics.months()
        overall = data["services"].get(ALL, {"months": {}})
        for key, label, unit in FIGURES:
            values = [overall["months"].get(m, {}).get(key) for m in months]
            charts.append(Markup(bars(label, months, values, unit)))  # noqa: S704 - escaped in bars
        services = list(data["services"].items())
        budgets = data["errorBudgets"]
        for chart in metrics.burn_downs:
            svg = burn_down(
                f"{chart.service}: error budget left, {chart.window.label}",
                _span(chart.window.start, chart.window.end, metrics.zone),
                chart.points,
                chart.allowed,
                even=chart.calendar,
            )
            burn_downs.append(Markup(svg))  # noqa: S704 - escaped in burn_down
    shown = audit or metrics
    since = shown.since if shown is not None else None
    until = shown.until if shown is not None else None
    return environment.from_string(source).render(
        kind="audit" if audit is not None else "metrics",
        repository=judge.workspace.root.name,
        period=_period(since, until),
        at=format_instant(judge.now),
        version=__version__,
        audit=audit,
        metrics=metrics,
        metrics_scope="all services",
        months=months,
        charts=charts,
        services=services,
        figures=FIGURES,
        budgets=budgets,
        burn_downs=burn_downs,
        rules=_rules(),
        definitions=DEFINITIONS,
    )


def _span(start: datetime, end: datetime, zone_name: str) -> tuple[datetime, datetime, str, str]:
    """A period with its ends as local date-times (the end exclusive, as months are)."""
    from engine.time.instants import in_zone

    shown = [in_zone(moment, zone_name).strftime("%Y-%m-%d %H:%M") for moment in (start, end)]
    return start, end, shown[0], shown[1]


def _rules() -> dict[str, str]:
    from engine import rules

    return dict(rules.AUDIT)


def _figure(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value}{unit}" if unit == "%" else f"{value}{' ' + unit if unit else ''}"


def _period(since: datetime | None, until: datetime | None) -> str:
    if since and until:
        return f"{format_instant(since)} to {format_instant(until)}"
    if since:
        return f"since {format_instant(since)}"
    if until:
        return f"until {format_instant(until)}"
    return "the whole history"
