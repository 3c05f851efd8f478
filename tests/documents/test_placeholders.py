"""The quick sieve for placeholders answers as looking at every value does."""

from __future__ import annotations

import random
from typing import Any

from engine.documents.placeholders import find, holds_any

WORDS = [
    "[Name]", "<team>", "Step 1", "rollback step 2", "Detailed description of it", "TBD",
    "FIXME later", "Business reason here", "One sentence description of the incident.",
    "real text", "Revert the configuration", "[WIP] migrate orders", "steps 1", "Stepper",
    "tbd", "todo", "a [b]", "x <y>", "", "  ", "Rollback", "Detailed", "2024-01-01",
    "Step\t3", "rollback\n step 4", "Detailed\tdescription",
]  # fmt: skip
SPACES = ["", " ", "\n", "\t", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000"]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        return {rng.choice(WORDS) + str(i): value(rng, depth + 1) for i in range(rng.randrange(4))}
    if depth < 3 and roll < 0.5:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if roll < 0.6:
        return rng.choice([1, 2.5, True, None])
    return rng.choice(SPACES) + rng.choice(WORDS) + rng.choice(SPACES)


def test_the_sieve_agrees_with_looking_at_every_value() -> None:
    rng = random.Random(4)  # noqa: S311 - test data
    held = 0
    for _ in range(5000):
        item = value(rng)
        expected = next(find(item), None) is not None
        assert holds_any(item) == expected, repr(item)
        held += expected
    assert 500 < held < 4500  # both answers are exercised
