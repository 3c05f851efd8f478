"""The queue of deliveries to decide: the same question is decided once for every delivery
that asks it, a delivery is queued once, and closing wakes every thread."""

from __future__ import annotations

import threading
from typing import Any

from engine.github.app.pending import BATCH, Pending
from engine.github.app.webhooks import ProtectionRequest, protection_request
from tests.support.app import protection_body


def request(delivery: str, **body: Any) -> ProtectionRequest:
    return protection_request(delivery, protection_body(**body))


def test_deliveries_asking_the_same_question_are_taken_together() -> None:
    pending = Pending()
    assert pending.put(request("a", run_id=1), 3.0)
    assert pending.put(request("b", run_id=2, environment="staging"), 4.0)
    assert pending.put(request("c", run_id=3, environment="PRODUCTION"), 5.0)
    assert pending.put(request("d", run_id=4, payload={"service": "checkout"}), 6.0)
    assert pending.put(request("e", run_id=5, sender="bob"), 7.0)
    assert pending.take() == (["a", "c"], 5.0)
    assert not pending.put(request("a", run_id=1))  # being decided
    pending.done(["a", "c"])
    assert pending.take() == (["b"], 4.0)
    assert pending.take() == (["d"], 6.0)
    assert pending.take() == (["e"], 7.0)


def test_a_delivery_is_queued_once_and_batches_are_bounded() -> None:
    pending = Pending()
    for n in range(BATCH + 5):
        assert pending.put(request(f"d{n}", run_id=n + 1))
    assert not pending.put(request("d0", run_id=1))
    first = pending.take()
    assert first is not None
    assert len(first[0]) == BATCH
    assert first[1] is None  # arrivals unknown: the branch is fetched anew
    second = pending.take()
    assert second is not None
    assert len(second[0]) == 5


def test_closing_wakes_the_threads_that_wait() -> None:
    pending = Pending()
    taken: list[object] = []
    threads = [threading.Thread(target=lambda: taken.append(pending.take())) for _ in range(3)]
    for thread in threads:
        thread.start()
    pending.close()
    for thread in threads:
        thread.join(5)
    assert taken == [None, None, None]
    assert not pending.put(request("late"))
