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
def one_run() -> Iterator[None]:
    """A run whose loaded objects live as long as it does; at its end they are handed back
    to the collector (``gc.unfreeze``), so that whatever runs next in the process can free
    them."""
    token = _ONE_RUN.set(True)
    try:
        yield
    finally:
        _ONE_RUN.reset(token)
        gc.unfreeze()


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
