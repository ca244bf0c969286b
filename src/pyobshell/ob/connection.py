"""SQL connections to the observer as root@sys (PyMySQL), kept in a small thread-safe pool.

The pool never blocks the event loop: the ``a*`` methods run the blocking driver in a worker
thread. Connections are made lazily and thrown away on any connection-level failure, so the
pool survives the observer going away and coming back without any extra bookkeeping. With
:class:`~pyobshell.ob.endpoints.ObserverEndpoints` it reaches the cluster through another
observer while its own is down (statements about the cluster answer the same through any).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import pymysql
import pymysql.cursors
from pymysql.connections import Connection

from pyobshell.errors import MYSQL_ERROR, ObshellError
from pyobshell.ob.endpoints import ObserverEndpoints, SqlEndpoint
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.ob.target import ObserverTarget

T = TypeVar("T")
Row = dict[str, Any]

# Client error numbers meaning "the connection itself is gone" (CR_* in MySQL's errmsg.h).
_CONNECTION_LOST_ERRNOS = frozenset({2002, 2003, 2006, 2013, 2055})
# Reused connections idle for longer than this are pinged first; cheaper than a failed query.
_PING_AFTER_IDLE_S = 5.0


@dataclass(frozen=True)
class PoolOptions:
    database: str | None = None
    connect_timeout_s: float = 3.0
    read_timeout_s: float | None = 60.0
    write_timeout_s: float | None = 60.0
    max_idle: int = 4


def is_connection_error(exc: BaseException) -> bool:
    """True if ``exc`` means the connection is unusable (as opposed to a failed statement)."""
    if isinstance(exc, (pymysql.err.InterfaceError, OSError)):
        return True
    if isinstance(exc, pymysql.err.OperationalError) and exc.args:
        return exc.args[0] in _CONNECTION_LOST_ERRNOS
    return False


class ObConnectionPool:
    """A lazily filled pool of PyMySQL connections to one observer."""

    def __init__(self, target: ObserverTarget, options: PoolOptions | None = None,
                 endpoints: ObserverEndpoints | None = None) -> None:
        self.target = target
        self.options = options or PoolOptions()
        self.endpoints = endpoints  # None: this observer only
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connect(self, read_timeout_s: float | None) -> Connection:
        def open_connection(endpoint: SqlEndpoint) -> Connection:
            return self._open(endpoint, read_timeout_s)

        own = SqlEndpoint(self.target.host, self.target.sql_port)
        try:
            if self.endpoints is None:
                return open_connection(own)
            return self.endpoints.connect(open_connection)
        except pymysql.MySQLError as exc:
            where = str(own) if self.endpoints is None else f"{own} or any other observer"
            raise OB_NOT_CONNECTED(f"{where}: {_describe(exc)}") from exc

    def _open(self, endpoint: SqlEndpoint, read_timeout_s: float | None) -> Connection:
        opts = self.options
        return pymysql.connect(
            host=endpoint.host,
            port=endpoint.port,
            user=self.target.user,
            password=self.target.password,
            database=opts.database,
            connect_timeout=opts.connect_timeout_s,
            read_timeout=read_timeout_s,
            write_timeout=opts.write_timeout_s,
            autocommit=True,
            charset="utf8mb4",
            # The observer is on this host and obshell talks to it in the clear too; PyMySQL's
            # default ("TLS if offered") builds a new SSL context, with the system CA store,
            # for every connection: tens of milliseconds and megabytes per probe.
            ssl_disabled=True,
        )

    def _take_idle(self) -> Connection | None:
        with self._lock:
            while self._idle:
                conn, released_at = self._idle.pop()
                if time.monotonic() - released_at < _PING_AFTER_IDLE_S:
                    return conn
                try:
                    conn.ping(reconnect=False)
                    return conn
                except pymysql.MySQLError:
                    _close_quietly(conn)
        return None

    def _give_back(self, conn: Connection) -> None:
        if self.endpoints is not None and not self.endpoints.is_own(conn.host, conn.port):
            _close_quietly(conn)  # a stand-in while the own observer was down: not kept
            return
        with self._lock:
            if not self._closed and len(self._idle) < self.options.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        _close_quietly(conn)

    @contextmanager
    def connection(self, *, read_timeout_s: float | None = None) -> Iterator[Connection]:
        """A raw connection for several statements; discarded if the connection fails.

        ``read_timeout_s`` asks for a fresh connection with that read timeout (not pooled).
        """
        if self._closed:
            raise OB_NOT_CONNECTED("connection pool is closed")
        dedicated = read_timeout_s is not None
        conn = None if dedicated else self._take_idle()
        if conn is None:
            conn = self._connect(read_timeout_s if dedicated else self.options.read_timeout_s)
        try:
            yield conn
        except BaseException as exc:
            if dedicated or is_connection_error(exc):
                _close_quietly(conn)
            else:
                self._give_back(conn)
            raise
        if dedicated:
            _close_quietly(conn)
        else:
            self._give_back(conn)

    def query(self, sql: str, args: Sequence[Any] | None = None, *, read_timeout_s: float | None = None) -> list[Row]:
        """Run one statement and return its rows as dicts; SQL failures become ObshellErrors."""
        return self._run(sql, args, read_timeout_s, lambda cursor: list(cursor.fetchall()))

    def query_one(self, sql: str, args: Sequence[Any] | None = None) -> Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        """Run one statement and return the affected row count."""
        return self._run(sql, args, None, lambda cursor: cursor.rowcount)

    def _run(self, sql: str, args: Sequence[Any] | None, read_timeout_s: float | None, fetch: Any) -> Any:
        try:
            with self.connection(read_timeout_s=read_timeout_s) as conn:
                with conn.cursor(pymysql.cursors.DictCursor) as cursor:
                    cursor.execute(sql, args)
                    return fetch(cursor)
        except ObshellError:
            raise
        except pymysql.MySQLError as exc:
            if is_connection_error(exc):
                raise OB_NOT_CONNECTED(_describe(exc)) from exc
            raise ObshellError(MYSQL_ERROR, _describe(exc)) from exc

    async def aquery(self, sql: str, args: Sequence[Any] | None = None, *, read_timeout_s: float | None = None) -> list[Row]:
        return await run_blocking(functools.partial(self.query, sql, args, read_timeout_s=read_timeout_s))

    async def aexecute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        return await run_blocking(functools.partial(self.execute, sql, args))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close_quietly(conn)


async def run_blocking(func: Any) -> Any:
    """Run a blocking call in a worker thread (never on the event loop)."""
    return await anyio.to_thread.run_sync(func)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.MySQLError) and len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return str(exc) or type(exc).__name__


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except Exception:  # already broken; nothing left to release
        pass
