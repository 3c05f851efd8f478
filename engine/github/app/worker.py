"""From a protection request to GitHub's answer: an installation token, the default branch
fetched, the decision at one instant, the answer through the callback; and the waiting queue,
looked at again when the calendar says the gate opens (and at least every RECHECK).

Deciding fails closed: any error rejects with its reason (tokens masked, no traceback). An
answer GitHub refuses (4xx: the run no longer waits, the installation lost access) is logged
and not retried; one GitHub could not take (5xx, no connection) is tried again with a new
decision after RETRY, until the request's wait runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from engine.errors import ChangegateError
from engine.github.app import answer, logs
from engine.github.app.decide import REJECTED, WAITING, Decision, ReadOnce, decide
from engine.github.app.mirror import Mirrors
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
    """The decisions, on a few threads; the queue of waiting requests, on one more."""

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
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="changegate-decide")
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
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
        self._queue.start()

    def stop(self) -> None:
        """Finish the decisions under way; requests not yet taken stay queued in the state
        file for the next start."""
        self._stop.set()
        if self._queue.is_alive():
            self._queue.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.mirrors.close()
        self.store.close()

    def _watch(self) -> None:
        while True:
            try:
                for entry in self.store.due(self.clock()):
                    self.submit(entry.request.delivery)
            except Exception:
                self.log.exception("reading the queue failed")
            if self._stop.wait(self.tick):
                return

    def receive(self, request: ProtectionRequest) -> bool:
        """Keep a new request and start deciding it; False for a delivery seen before."""
        if not self.store.receive(request, self.clock()):
            return False
        self.submit(request.delivery)
        return True

    def submit(self, delivery: str) -> None:
        with self._lock:
            if delivery in self._busy or self._stop.is_set():
                return
            self._busy.add(delivery)
        try:
            self._pool.submit(self._run, delivery)
        except RuntimeError:  # shutting down: it stays queued for the next start
            with self._lock:
                self._busy.discard(delivery)

    def _run(self, delivery: str) -> None:
        try:
            entry = self.store.get(delivery)
            if entry is not None and entry.state in OPEN:
                self.evaluate(entry)
        except Exception:
            self.log.exception("deciding failed", extra={"fields": {"delivery": delivery}})
        finally:
            with self._lock:
                self._busy.discard(delivery)

    # --- one decision -----------------------------------------------------------------------

    def evaluate(self, entry: Entry) -> None:
        request = entry.request
        now = self.clock()  # the one reading of the clock for this decision
        decision, commit = self.decide(request, now)
        deadline = entry.received + decision.max_wait
        if decision.state == WAITING and now >= deadline:
            waited = format_duration(now - entry.received)
            decision = Decision(
                REJECTED,
                (f"still closed after waiting {waited} (maxWait reached)", *decision.reasons),
                decision.services,
            )
        if decision.state == WAITING:
            self._hold(entry, decision, now, deadline, commit)
        else:
            self._answer(entry, decision, now, commit, deadline)

    def decide(self, request: ProtectionRequest, now: datetime) -> tuple[Decision, str | None]:
        """The decision and the commit it read; any failure rejects with its reason."""
        commit = None
        try:
            token = self.tokens.get(request.installation)
            commit = self.mirrors.fetch(request.repository, request.default_branch, token)
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
    ) -> None:
        """Keep a waiting request; the first time, say so on the run."""
        request = entry.request
        soonest = now + SOONEST
        next_check = min(max(decision.opens or deadline, soonest), now + RECHECK, deadline)
        if entry.state != WAITING:
            text = self._comment(request, decision, now, commit, next_check, deadline)
            self._callback(request, None, text)
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
    ) -> None:
        request = entry.request
        text = self._comment(request, decision, now, commit)
        outcome = self._callback(request, decision.state, text)
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

    def _callback(self, request: ProtectionRequest, state: str | None, text: str) -> str:
        """Answer GitHub: ``sent``, ``refused`` (a 4xx: not worth repeating) or ``failed``."""
        try:
            token = self.tokens.get(request.installation)
            with self.connect(
                token, request.repository, self.settings.api_url, budget=BUDGET
            ) as client:
                client.review_deployment(request.run_id, request.environment, state, text)
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
