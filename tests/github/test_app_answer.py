"""The comment beside the App's answer: bounded, escaped, and never a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.github.app.answer import LIMIT, comment, masked
from engine.github.app.decide import Decision

NOW = datetime(2024, 12, 23, 10, 0, tzinfo=UTC)


def test_many_long_reasons_stay_within_the_limit_and_say_how_many_were_left_out() -> None:
    decision = Decision("rejected", tuple(f"reason {n}: " + "x" * 2000 for n in range(50)))
    text = comment(decision, environment="production", now=NOW, commit="a" * 40, branch="main")
    assert len(text) <= LIMIT
    assert text.splitlines()[1].endswith("…")  # one reason, cut
    assert text.endswith("more (see the App's log)")


def test_the_environment_and_the_reasons_are_escaped() -> None:
    decision = Decision("approved", ("<script>@team #1",), ("checkout",))
    text = comment(decision, environment="prod<b>", now=NOW, commit=None, branch="main")
    assert text.startswith("changegate approves the deployment to prod&lt;b&gt; of checkout")
    assert "main \\(not read\\)" in text
    assert "- &lt;script&gt;@\u200bteam \\#\u200b1" in text


def test_a_waiting_comment_says_when_it_looks_again_and_gives_up() -> None:
    decision = Decision("waiting", ("frozen",), ("checkout",))
    text = comment(
        decision, environment="staging", now=NOW, commit="b" * 40, branch="main",
        next_check=NOW + timedelta(minutes=15), deadline=NOW + timedelta(days=3),
    )  # fmt: skip
    assert "changegate holds the deployment to staging of checkout" in text
    assert "looked at again at 2024-12-23T10:15:00Z" in text
    assert "rejected if still closed at 2024-12-26T10:00:00Z" in text


def test_secrets_are_masked() -> None:
    assert masked("token ghs_abc in ghs_abc", ["ghs_abc", ""]) == "token *** in ***"
