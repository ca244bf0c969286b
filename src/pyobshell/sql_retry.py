"""MySQL's "try restarting transaction": when the database gives a transaction up (deadlock,
lock wait timeout) it has rolled it back, and the whole transaction may simply run again.

OceanBase answers these in MySQL mode as MySQL does; so does the simulator when two writers
meet. Only whole transactions are restarted, never a single statement of one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

LOCK_WAIT_TIMEOUT, DEADLOCK = 1205, 1213
RESTARTABLE_CODES = frozenset({LOCK_WAIT_TIMEOUT, DEADLOCK})
DEFAULT_ATTEMPTS = 5
_FIRST_BACKOFF_S = 0.01

T = TypeVar("T")


def is_restartable(exc: BaseException | None) -> bool:
    """A database error (SQLAlchemy-wrapped or as the driver raised it) that asks for a restart."""
    if isinstance(exc, DBAPIError):
        exc = exc.orig
    args = getattr(exc, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in RESTARTABLE_CODES


CONNECTION_LOST_CODES = frozenset({2002, 2003, 2006, 2013, 2055})  # CR_*: the server went away


def is_connection_lost(exc: BaseException | None) -> bool:
    """The connection broke under a statement (its observer was stopped): a read may simply be
    made again on a new connection, which the store's connector takes from another observer."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    args = getattr(exc, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in CONNECTION_LOST_CODES


def restartable_cause(exc: BaseException) -> bool:
    """``exc`` or what it was raised from asks for a restart (errors wrapped by our own codes)."""
    return is_restartable(exc) or is_restartable(exc.__cause__)


def run_restarting(work: Callable[[], T], what: str, *, attempts: int = DEFAULT_ATTEMPTS) -> T:
    """Run ``work`` (one whole transaction) and run it again, after a short jittered back-off,
    while the database asks for a restart; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts or not restartable_cause(exc):
                raise
            delay = _FIRST_BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.info("%s: the database gave the transaction up (%s); restarting it in %.0f ms (attempt %d of %d)",
                     what, _first_line(exc), delay * 1000, attempt + 1, attempts)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__
