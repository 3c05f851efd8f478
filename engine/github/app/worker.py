"""From a protection request to GitHub's answer: an installation token, the default branch
fetched, the decision at one instant, the answer through the callback; and the waiting queue,
looked at again when the calendar says the gate opens (and at least every RECHECK).

Deciding fails closed: any error rejects with its reason (tokens masked, no traceback). An
answer GitHub refuses (4xx: the run no longer waits, the installation lost access) is logged
and not retried; one GitHub could not take (5xx, no connection) is tried again with a new
decision after RETRY, until the request's wait runs out.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from engine.errors import ChangegateError
from engine.github.app import answer, logs
from engine.github.app.decide import REJECTED, WAITING, Decision, ReadOnce, decide
from engine.github.app.mirror import Mirrors
from engine.github.app.pending import Pending
from engine.github.app.settings import Settings
from engine.github.app.state import OPEN, Entry, Store
from engine.github.app.webhooks import ProtectionRequest
from engine.github.client import Client, GitHubError
from engine.time.durations import format_duration
from engine.time.instants import format_instant

RECHECK: Final = timedelta(minutes=15)  # longest a waiting request goes unexamined
SOONEST: Final = timedelta(minutes=1)  # shortest, so that a wrong opening cannot spin
RETRY: Final = timedelta(minutes=5)  # after GitHub could not take an answer
TOKEN_MARGIN: Final = timedelta(minutes=5)  # a token this close to expiring is renewed
BUDGET: Final = 60.0  # seconds one decision may spend waiting on GitHub

Clock = Callable[[], datetime]
Send = Callable[[ProtectionRequest, str | None, str], str]  # the answer's state, its comment


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Tokens:
    """Installation tokens, exchanged with the App's JWT and kept until shortly before they
    expire (by the real clock: a token's life is not a decision's instant)."""

    def __init__(self, settings: Settings, for_app: Callable[..., Client]) -> None:
        self.settings = settings
        self.for_app = for_app
        self._lock = threading.Lock()
        self._tokens: dict[int, tuple[str, datetime]] = {}

    def get(self, installation: int) -> str:
        with self._lock:
            kept = self._tokens.get(installation)
            if kept is not None and kept[1] - TOKEN_MARGIN > datetime.now(UTC):
                return kept[0]
            settings = self.settings
            with self.for_app(
                settings.app_id, settings.private_key, settings.api_url, budget=BUDGET
            ) as app:
                token, expires = app.installation_token(installation)
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            self._tokens[installation] = (token, expires)
            return token

    def secrets(self) -> list[str]:
        with self._lock:
            return [token for token, _ in self._tokens.values()]


class Worker:
    """The decisions, on a few threads taking from ``pending``; the requests waiting for
    the gate to open, watched by one more."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = wall_clock,
        tick: float = 30.0,
        threads: int = 4,
        connect: Callable[..., Client] = ReadOnce.connect,
        for_app: Callable[..., Client] = Client.for_app,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.tick = tick
        self.connect = connect
        self.store = Store(settings.state)
        self.mirrors = Mirrors(settings.mirrors, settings.git_url)
        self.tokens = Tokens(settings, for_app)
        self.log = logs.logger()
        self.pending = Pending()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"changegate-decide-{n}", daemon=True)
            for n in range(threads)
        ]
        self._queue = threading.Thread(target=self._watch, name="changegate-queue", daemon=True)

    # --- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take up the requests left queued or waiting by an earlier run, then watch."""
        counts = self.store.counts()
        self.log.info(
            "changegate serve is ready",
            extra={
                "fields": {"queued": counts.get("queued", 0), "waiting": counts.get(WAITING, 0)}
            },
        )
        for thread in (*self._threads, self._queue):
            thread.start()

    def stop(self) -> None:
        """Finish the decisions under way; requests not yet taken stay queued in the state
        file for the next start."""
        self._stop.set()
        self.pending.close()
        for thread in (self._queue, *self._threads):
            if thread.is_alive():
                thread.join()
        self.mirrors.close()
        self.store.close()

    def _watch(self) -> None:
        while True:
            try:
                for entry in self.store.due(self.clock()):
                    self.pending.put(entry.request)
            except Exception:
                self.log.exception("reading the queue failed")
            if self._stop.wait(self.tick):
                return

    def receive(self, request: ProtectionRequest) -> bool:
        """Keep a new request and queue it for a decision; False for a delivery seen before."""
        arrived = time.monotonic()
        if not self.store.receive(request, self.clock()):
            return False
        self.pending.put(request, arrived)
        return True

    def _work(self) -> None:
        while (taken := self.pending.take()) is not None:
            deliveries, asked = taken
            try:
                entries = [e for d in deliveries if (e := self.store.get(d)) and e.state in OPEN]
                if entries:
                    self.evaluate(entries, asked)
            except Exception:
                self.log.exception("deciding failed", extra={"fields": {"deliveries": deliveries}})
            finally:
                self.pending.done(deliveries)

    # --- one decision -----------------------------------------------------------------------

    def evaluate(self, entries: list[Entry], asked: float | None = None) -> None:
        """Decide requests that ask the same question, at one instant, and answer each."""
        now = self.clock()  # the one reading of the clock for this decision
        decision, commit = self.decide(entries[0].request, now, asked)
        with self._answering(entries[0].request) as client:
            for entry in entries:
                self._settle(entry, decision, now, commit, client)

    @contextlib.contextmanager
    def _answering(self, request: ProtectionRequest) -> Iterator[Send]:
        """How a batch answers GitHub: one client, connected when the first answer goes."""
        with contextlib.ExitStack() as stack:
            clients: list[Client] = []

            def client() -> Client:
                if not clients:
                    token = self.tokens.get(request.installation)
                    settings = self.settings
                    connected = self.connect(
                        token, request.repository, settings.api_url, budget=BUDGET
                    )
                    clients.append(stack.enter_context(connected))
                return clients[0]

            yield functools.partial(self._callback, client)

    def _settle(
        self, entry: Entry, decision: Decision, now: datetime, commit: str | None, send: Send
    ) -> None:
        deadline = entry.received + decision.max_wait
        if decision.state == WAITING and now >= deadline:
            waited = format_duration(now - entry.received)
            decision = Decision(
                REJECTED,
                (f"still closed after waiting {waited} (maxWait reached)", *decision.reasons),
                decision.services,
            )
        if decision.state == WAITING:
            self._hold(entry, decision, now, deadline, commit, send)
        else:
            self._answer(entry, decision, now, commit, deadline, send)

    def decide(
        self, request: ProtectionRequest, now: datetime, asked: float | None = None
    ) -> tuple[Decision, str | None]:
        """The decision and the commit it read: the default branch as it is at ``asked`` (a
        delivery's arrival, time.monotonic()) or later. Any failure rejects with its reason."""
        commit = None
        try:
            token = self.tokens.get(request.installation)
            branch = request.default_branch
            commit = self.mirrors.fetch(request.repository, branch, token, asked)
            with (
                self.mirrors.snapshot(request.repository, commit) as snapshot,
                self.connect(
                    token, request.repository, self.settings.api_url, budget=BUDGET
                ) as client,
            ):
                return decide(request, snapshot, client, now), commit
        except ChangegateError as error:
            reason = answer.masked(str(error), self.tokens.secrets())
            return Decision(REJECTED, (f"changegate could not decide: {reason}",)), commit
        except Exception as error:
            self.log.exception("deciding failed", extra={"fields": _about(request)})
            reason = (
                f"changegate could not decide ({type(error).__name__}, a bug): the App's log has "
                f"the details under delivery {request.delivery}"
            )
            return Decision(REJECTED, (reason,)), commit

    def _hold(
        self,
        entry: Entry,
        decision: Decision,
        now: datetime,
        deadline: datetime,
        commit: str | None,
        send: Send,
    ) -> None:
        """Keep a waiting request; the first time, say so on the run."""
        request = entry.request
        soonest = now + SOONEST
        next_check = min(max(decision.opens or deadline, soonest), now + RECHECK, deadline)
        if entry.state != WAITING:
            text = self._comment(request, decision, now, commit, next_check, deadline)
            send(request, None, text)
        self.store.update(
            request.delivery, state=WAITING, now=now, next_check=next_check,
            deadline=deadline, reasons=decision.reasons,
        )  # fmt: skip
        self._decided(
            request, decision, now, commit, {"nextCheck": next_check, "deadline": deadline}
        )

    def _answer(
        self,
        entry: Entry,
        decision: Decision,
        now: datetime,
        commit: str | None,
        deadline: datetime,
        send: Send,
    ) -> None:
        request = entry.request
        text = self._comment(request, decision, now, commit)
        outcome = send(request, decision.state, text)
        state = decision.state
        next_check = None
        if outcome == "refused":
            state = "unanswered"
        elif outcome == "failed":
            retry = now + RETRY
            state, next_check = ("unanswered", None) if retry >= deadline else (entry.state, retry)
        self.store.update(
            request.delivery, state=state, now=now, next_check=next_check,
            deadline=deadline, reasons=decision.reasons,
        )  # fmt: skip
        self._decided(request, decision, now, commit, {"callback": outcome})

    def _comment(
        self,
        request: ProtectionRequest,
        decision: Decision,
        now: datetime,
        commit: str | None,
        next_check: datetime | None = None,
        deadline: datetime | None = None,
    ) -> str:
        text = answer.comment(
            decision, environment=request.environment, now=now, commit=commit,
            branch=request.default_branch, next_check=next_check, deadline=deadline,
        )  # fmt: skip
        return answer.masked(text, self.tokens.secrets())

    def _callback(
        self, client: Callable[[], Client], request: ProtectionRequest, state: str | None, text: str
    ) -> str:
        """Answer GitHub: ``sent``, ``refused`` (a 4xx: not worth repeating) or ``failed``."""
        try:
            client().review_deployment(request.run_id, request.environment, state, text)
        except GitHubError as error:
            refused = error.status is not None and 400 <= error.status < 500
            self.log.error(
                "GitHub did not take the answer",
                extra={"fields": {**_about(request), "state": state, "error": str(error)}},
            )
            return "refused" if refused else "failed"
        except ChangegateError as error:
            self.log.error(
                "GitHub could not be answered",
                extra={"fields": {**_about(request), "state": state, "error": str(error)}},
            )
            return "failed"
        except Exception:
            self.log.exception("answering GitHub failed", extra={"fields": _about(request)})
            return "failed"
        return "sent"

    def _decided(
        self,
        request: ProtectionRequest,
        decision: Decision,
        now: datetime,
        commit: str | None,
        more: dict[str, Any],
    ) -> None:
        fields = {
            **_about(request),
            "decision": decision.state,
            "services": list(decision.services),
            "reasons": list(decision.reasons),
            "at": format_instant(now),
            "commit": commit,
            **{k: format_instant(v) if isinstance(v, datetime) else v for k, v in more.items()},
        }
        self.log.info(f"decision: {decision.state}", extra={"fields": fields})


def _about(request: ProtectionRequest) -> dict[str, Any]:
    return {
        "delivery": request.delivery,
        "repository": request.repository,
        "run": request.run_id,
        "environment": request.environment,
    }
