from __future__ import annotations

from pathlib import Path

from engine.documents.config import Config, defaults, effective
from engine.documents.loader import load_text
from engine.documents.model import identify
from engine.workspace.semantics import check, values_at


def findings(text: str, config: Config | None = None) -> list[tuple[int, str]]:
    [document], problems = identify(load_text(text, Path("x.yaml")))
    assert problems == []
    return [(f.line, f.message) for f in check(document, config or defaults())]


CHANGE = """\
apiVersion: changegate/v1
kind: ChangeRequest
metadata: {{name: CHG-1}}
spec:
  environment: {env}
  services: [{service}]
  schedule: {{start: "{start}", end: "{end}", timezone: {tz}}}
"""


def change(env="production", service="web", start="2024-01-25T02:00", end="2024-01-25T03:00",
           tz="UTC") -> str:  # fmt: skip
    return CHANGE.format(env=env, service=service, start=start, end=end, tz=tz)


def test_values_at_walks_lists() -> None:
    data = {"a": [{"b": 1}, {"b": 2}, {"c": 3}]}
    assert list(values_at(data, "a.*.b")) == [(("a", 0, "b"), 1), (("a", 1, "b"), 2)]
    assert list(values_at(data, "x.y")) == []


def test_a_valid_change_has_no_findings() -> None:
    assert findings(change()) == []


def test_end_must_follow_start_in_the_documents_zone() -> None:
    assert findings(change(end="2024-01-25T02:00")) == [
        (
            7,
            "spec.schedule.end (2024-01-25T02:00) must be after "
            "spec.schedule.start (2024-01-25T02:00)",
        )
    ]
    # an exact end compared with a local start read in Berlin (UTC+1 in January)
    assert findings(change(end="2024-01-25T01:30:00Z", tz="Europe/Berlin")) == []
    assert findings(change(end="2024-01-25T00:30:00Z", tz="Europe/Berlin"))[0][0] == 7


def test_impossible_dates() -> None:
    assert findings(change(start="2023-02-29T10:00")) == [
        (7, "spec.schedule.start: 2023-02-29 is not a real calendar date")
    ]
    assert findings(change(start="2024-02-29T10:00", end="2024-02-29T11:00")) == []


def test_catalog_names_catch_typos() -> None:
    config = Config(path=None, spec=effective({
        "environments": [{"name": "production"}, {"name": "staging"}],
        "services": [{"name": "checkout"}],
    }))  # fmt: skip
    assert findings(change(env="prodution", service="checkout"), config) == [
        (5, "unknown environment 'prodution': did you mean 'production'?")
    ]
    assert findings(change(service="web"), config) == [
        (6, "unknown service 'web': changegate.yaml lists checkout")
    ]


def test_window_scope_patterns_must_match_something() -> None:
    config = Config(path=None, spec=effective({"environments": [{"name": "production"}]}))
    freeze = (
        "apiVersion: changegate/v1\nkind: FreezeWindow\nmetadata: {name: f}\nspec:\n"
        "  level: hard\n  timezone: UTC\n  start: '2024-12-20T00:00'\n  end: '2025-01-02T00:00'\n"
        "  scope: {environments: [prod*, prodution]}\n"
    )
    assert findings(freeze, config) == [
        (
            9,
            "scope pattern 'prodution' matches no environment in changegate.yaml: did you mean "
            "'production'?: the window would never apply",
        )
    ]
