"""The deliveries waiting for a decision. A worker thread takes the oldest, and with it every
other waiting delivery that asks the same question (the same repository, environment,
deployment payload and actor): they are judged once, at one instant, and each is answered.
A matrix of jobs deploying to one environment then costs one decision, not one per job."""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable
from typing import Final

from engine.github.app.webhooks import ProtectionRequest

BATCH: Final = 100  # deliveries answered from one decision at most


def question(request: ProtectionRequest) -> Hashable:
    """What a decision depends on besides the instant and the default branch."""
    return (
        request.repository.casefold(),
        request.installation,
        request.default_branch,
        request.environment.casefold(),
        json.dumps([request.service, request.version, request.change], sort_keys=True),
        request.actor,
    )


class Pending:
    """Deliveries to decide, in order of arrival; each is pending or taken at most once."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._waiting: dict[str, tuple[Hashable, float | None]] = {}
        self._taken: set[str] = set()
        self._closed = False

    def put(self, request: ProtectionRequest, asked: float | None = None) -> bool:
        """Queue a delivery (``asked``: when it arrived, time.monotonic()); False when it is
        queued or being decided already, or the queue is closed."""
        with self._ready:
            delivery = request.delivery
            if self._closed or delivery in self._waiting or delivery in self._taken:
                return False
            self._waiting[delivery] = (question(request), asked)
            self._ready.notify()
            return True

    def take(self) -> tuple[list[str], float | None] | None:
        """The oldest delivery and those asking the same question, and the latest arrival
        among them; None once the queue is closed."""
        with self._ready:
            while not self._waiting and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            first = next(iter(self._waiting))
            key = self._waiting[first][0]
            batch = [d for d, (k, _) in self._waiting.items() if k == key][:BATCH]
            arrivals = [self._waiting.pop(d)[1] for d in batch]
            self._taken.update(batch)
            known = [a for a in arrivals if a is not None]
            return batch, (max(known) if len(known) == len(arrivals) else None)

    def done(self, deliveries: list[str]) -> None:
        with self._ready:
            self._taken.difference_update(deliveries)

    def close(self) -> None:
        """Wake every thread waiting to take; what is still queued stays in the state file."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
