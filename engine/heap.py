"""How a run treats Python's cycle collector.

Loading builds hundreds of thousands of objects (documents, their data, the cache's index)
that live until the run ends and hold no reference cycles, and judging adds as many (records,
findings, what CEL is handed). The collector would walk them again and again while they are
built, and after, finding nothing to free: two thirds of a warm load's time, and a sixth of
judging's. So loading and judging pause it, and a run that ends with its process (the command
line) sets what it made aside for good (``gc.freeze``). A process that runs on (the App)
does not: there, everything stays collectable.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ONE_RUN: ContextVar[bool] = ContextVar("changegate_one_run", default=False)


@contextmanager
def one_run(*, last: bool = False) -> Iterator[None]:
    """A run whose loaded objects live as long as it does. At its end they are handed back
    to the collector (``gc.unfreeze``) and what :func:`keep` held is let go, so that whatever
    runs next in the process can free them; unless the run is the ``last`` thing its process
    does (the command line, :func:`engine.cli.entry`), whose end frees everything at once."""
    token = _ONE_RUN.set(True)
    try:
        yield
    finally:
        _ONE_RUN.reset(token)
        if not last:
            gc.unfreeze()
            _kept.clear()


_kept: list[object] = []


def keep(value: object) -> None:
    """Within :func:`one_run`, hold ``value`` until the run ends: a run's documents and what
    was derived from them take tens of milliseconds to free one by one, time a process that
    ends with its run need not spend (outside a run, as in the App, nothing is held)."""
    if _ONE_RUN.get():
        _kept.append(value)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collection while the block builds objects; within :func:`one_run`, what exists
    afterwards is set aside from later collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _ONE_RUN.get():
            gc.freeze()
        if enabled:
            gc.enable()
