"""Every observer's SQL address, so the agent can reach the cluster while its own observer is down.

An agent talks to its own observer first. During an upgrade that observer is stopped and
restarted (its zone's reinstall step), and the agent must keep serving reads, operators and the
DAG meanwhile: the cluster's database (``ocs``, the task and package stores, sessions) is the
same through any observer. :class:`ObserverEndpoints` knows the other observers' SQL addresses
(read from ``DBA_OB_SERVERS`` whenever a connection is made and the list is older than
``refresh_s``) and hands out connections: its own observer first, unless it refused a
connection less than ``down_s`` ago, then the others: active servers of other zones first (a
zone's servers restart together in a rolling upgrade), the last one that worked first among
equals. A connection to another observer is a stand-in: pools give it up once it is returned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pymysql

log = logging.getLogger(__name__)

SERVERS_SQL = "SELECT SVR_IP, SQL_PORT, ZONE, STATUS FROM oceanbase.DBA_OB_SERVERS"
C = TypeVar("C")
# "Cannot reach the server" client errors (CR_* of MySQL's errmsg.h): worth trying another observer.
# Anything else (a wrong password above all) would be the same on every observer.
_UNREACHABLE_ERRNOS = frozenset({2002, 2003, 2006, 2013, 2055})


def is_unreachable(exc: BaseException | None) -> bool:
    """``exc`` (or what it was raised from) says the observer could not be reached."""
    while exc is not None:
        if isinstance(exc, OSError):
            return True
        if isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in _UNREACHABLE_ERRNOS:
            return True
        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        exc = exc.__cause__
    return False


@dataclass(frozen=True)
class SqlEndpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class ObserverEndpoints:
    """Thread-safe: shared by the agent's root@sys pool and its cluster-store engine."""

    def __init__(self, own: SqlEndpoint, *, refresh_s: float = 30.0, down_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.own = own
        self._refresh_s = refresh_s
        self._down_s = down_s
        self._clock = clock
        self._others: list[SqlEndpoint] = []
        self._refreshed_at: float | None = None
        self._down_until: dict[SqlEndpoint, float] = {}
        self._last_good: SqlEndpoint | None = None
        self._lock = threading.Lock()

    def candidates(self) -> list[SqlEndpoint]:
        """The order to try: own (unless just refused), the last good one, the rest, the recently
        refused ones last (they may be back)."""
        with self._lock:
            now = self._clock()
            everyone = [self.own] + [e for e in self._others if e != self.own]
            if self._last_good in everyone and self._last_good != self.own:
                everyone.remove(self._last_good)
                everyone.insert(1, self._last_good)
            up = [e for e in everyone if self._down_until.get(e, 0.0) <= now]
            return up + [e for e in everyone if e not in up]

    def connect(self, open_connection: Callable[[SqlEndpoint], C]) -> C:
        """A connection to the first observer that takes one; the last failure if none does."""
        last_error: BaseException | None = None
        for endpoint in self.candidates():
            try:
                conn = open_connection(endpoint)
            except Exception as exc:
                if not is_unreachable(exc):
                    raise
                last_error = exc  # refused or timed out: try the next observer
                self._mark_down(endpoint, exc)
                continue
            self._mark_good(endpoint)
            self._refresh_if_stale(conn)
            return conn
        assert last_error is not None
        raise last_error

    def is_own(self, host: str, port: int) -> bool:
        return SqlEndpoint(str(host), int(port)) == self.own

    def is_up(self, endpoint: SqlEndpoint) -> bool:
        with self._lock:
            return self._down_until.get(endpoint, 0.0) <= self._clock()

    def learn(self, rows: list[tuple[Any, ...]]) -> None:
        """Replace the known observers with ``(SVR_IP, SQL_PORT[, ZONE[, STATUS]])`` rows."""
        servers = [(SqlEndpoint(str(row[0]), int(row[1])), str(row[2]) if len(row) > 2 else "",
                    str(row[3]).upper() if len(row) > 3 else "ACTIVE") for row in rows if row[0] and row[1]]
        own_zone = next((zone for endpoint, zone, _ in servers if endpoint == self.own), None)

        def preference(server: tuple[SqlEndpoint, str, str]) -> tuple[bool, bool]:
            _, zone, status = server
            return status != "ACTIVE", own_zone is not None and zone == own_zone

        ordered = [endpoint for endpoint, _, _ in sorted(servers, key=preference) if endpoint != self.own]
        with self._lock:
            self._others = ordered
            self._refreshed_at = self._clock()

    def _refresh_if_stale(self, conn: Any) -> None:
        with self._lock:
            stale = self._refreshed_at is None or self._clock() - self._refreshed_at >= self._refresh_s
        if not stale or not isinstance(conn, pymysql.connections.Connection):
            return
        try:
            with conn.cursor() as cursor:
                cursor.execute(SERVERS_SQL)
                rows = [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in cursor.fetchall()]
            if not conn.get_autocommit():
                conn.rollback()  # leave no transaction open on a connection handed to a pool
        except pymysql.MySQLError as exc:  # the list stays as it was; the connection is still good
            log.debug("cannot read the observers' addresses: %s", exc)
            return
        self.learn(rows)

    def _mark_down(self, endpoint: SqlEndpoint, exc: BaseException) -> None:
        with self._lock:
            self._down_until[endpoint] = self._clock() + self._down_s
        log.info("observer %s does not take a connection (%s); trying the next one", endpoint, _short(exc))

    def _mark_good(self, endpoint: SqlEndpoint) -> None:
        with self._lock:
            self._down_until.pop(endpoint, None)
            self._last_good = endpoint


def _short(exc: BaseException) -> str:
    text = str(exc.args[1]) if isinstance(exc, pymysql.MySQLError) and len(exc.args) > 1 else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
