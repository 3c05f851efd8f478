"""The App's state file (SQLite): every protection request received, by delivery id, and
where it stands. A delivery id seen before is not taken again; requests still queued or
waiting are picked up again after a restart.

States: ``queued`` (to decide), ``waiting`` (closed by a freeze or a change window, looked at
again at ``next_check``), and the final ones: ``approved``, ``rejected`` (GitHub has the
answer) and ``unanswered`` (GitHub refused the answer, or the wait ran out before GitHub
could be told).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from engine.errors import ConfigError
from engine.github.app.webhooks import ProtectionRequest

OPEN: Final = frozenset({"queued", "waiting"})
FINAL: Final = frozenset({"approved", "rejected", "unanswered"})

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS requests (
    delivery TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    received REAL NOT NULL,
    next_check REAL NOT NULL,
    deadline REAL,
    reasons TEXT NOT NULL DEFAULT '[]',
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_due ON requests (state, next_check);
"""


@dataclass(frozen=True)
class Entry:
    request: ProtectionRequest
    state: str
    received: datetime
    next_check: datetime
    deadline: datetime | None
    reasons: tuple[str, ...]


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Store:
    """The state file, shared by the server's threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(f"CHANGEGATE_STATE {path}: cannot open it ({error})") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def receive(self, request: ProtectionRequest, now: datetime) -> bool:
        """Keep a new request, queued; False when its delivery id was seen before."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO requests "
                "(delivery, request, state, received, next_check, updated) "
                "VALUES (?, ?, 'queued', ?, ?, ?)",
                (request.delivery, request.as_json(), _epoch(now), _epoch(now), _epoch(now)),
            )
            return cursor.rowcount == 1

    def get(self, delivery: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT request, state, received, next_check, deadline, reasons "
                "FROM requests WHERE delivery = ?",
                (delivery,),
            ).fetchone()
        return None if row is None else _entry(row)

    def due(self, now: datetime) -> list[Entry]:
        """The open requests whose time to be looked at has come, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request, state, received, next_check, deadline, reasons FROM requests "
                "WHERE state IN ('queued', 'waiting') AND next_check <= ? "
                "ORDER BY next_check, received",
                (_epoch(now),),
            ).fetchall()
        return [_entry(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state")
            return {str(state): int(count) for state, count in rows.fetchall()}

    def update(
        self,
        delivery: str,
        *,
        state: str,
        now: datetime,
        next_check: datetime | None = None,
        deadline: datetime | None = None,
        reasons: tuple[str, ...] = (),
    ) -> None:
        if state not in OPEN | FINAL:
            raise ValueError(f"unknown state {state!r}")
        with self._lock:
            self._db.execute(
                "UPDATE requests SET state = ?, next_check = COALESCE(?, next_check), "
                "deadline = COALESCE(?, deadline), reasons = ?, updated = ? WHERE delivery = ?",
                (
                    state,
                    None if next_check is None else _epoch(next_check),
                    None if deadline is None else _epoch(deadline),
                    json.dumps(list(reasons)),
                    _epoch(now),
                    delivery,
                ),
            )


def _entry(row: tuple[str, str, float, float, float | None, str]) -> Entry:
    request, state, received, next_check, deadline, reasons = row
    return Entry(
        request=ProtectionRequest.from_json(request),
        state=state,
        received=_instant(received),
        next_check=_instant(next_check),
        deadline=None if deadline is None else _instant(deadline),
        reasons=tuple(json.loads(reasons)),
    )
