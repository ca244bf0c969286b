"""What the stores share about their databases (SQLite, the simulator, OceanBase): column types,
bringing old tables up to date, and restarting a transaction the database gave up.

**Column types.** SQLite needs INTEGER (not BIGINT) primary keys to auto-increment, and MySQL
needs DATETIME(6) so the microseconds that optimistic updates compare against survive.

**Migrations** bring existing tables up to the columns this version declares (tables made by
obshell or an older pyobshell). The catalog is read with statements that SQLite, the simulator
and OceanBase answer alike, not with SQLAlchemy's reflection: on MySQL dialects that parses
``SHOW CREATE TABLE``, and OceanBase writes its index lines with options MySQL has not
(``KEY `idx` (`col`) BLOCK_SIZE 16384 LOCAL``), so the parser warns "Unknown schema content" for
each of them and reports no index at all.

**Transaction restart.** MySQL's "try restarting transaction": when the database gives a
transaction up (deadlock, lock wait timeout) it has rolled it back, and the whole transaction may
simply run again. OceanBase answers these in MySQL mode as MySQL does; so does the simulator when
two writers meet. Only whole transactions are restarted, never a single statement of one.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import BigInteger, Connection, DateTime, Integer, MetaData, inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)
T = TypeVar("T")

Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


# -- migrations ------------------------------------------------------------------------------

# An index line of SHOW CREATE TABLE, whatever follows the name (MySQL's or OceanBase's options).
_INDEX_LINE = re.compile(r"^\s*(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?(?:KEY|INDEX)\s+`((?:[^`]|``)+)`", re.MULTILINE)


def _quoted(conn: Connection, table_name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(table_name)


def column_names(conn: Connection, table_name: str) -> set[str]:
    """The table's column names, from the result header of a SELECT that returns no row."""
    return set(conn.exec_driver_sql(f"SELECT * FROM {_quoted(conn, table_name)} WHERE 1 = 0").keys())


def index_names(conn: Connection, table_name: str) -> set[str]:
    """Names of the table's secondary indexes (unique ones included, the primary key not)."""
    if conn.dialect.name == "sqlite":
        return {str(ix["name"]) for ix in inspect(conn).get_indexes(table_name)}
    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE {_quoted(conn, table_name)}").one()[1]
    return {name.replace("``", "`") for name in _INDEX_LINE.findall(ddl)}


def add_missing_columns(conn: Connection, metadata: MetaData) -> None:
    """``ALTER TABLE … ADD COLUMN`` for each declared column a table lacks."""
    for table in metadata.sorted_tables:
        have = column_names(conn, table.name)
        for column in table.columns:
            if column.name not in have:
                log.info("adding column %s.%s", table.name, column.name)
                ddl = CreateColumn(column).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {_quoted(conn, table.name)} ADD COLUMN {ddl}")


# -- transaction restart -----------------------------------------------------------------------

LOCK_WAIT_TIMEOUT, DEADLOCK = 1205, 1213
RESTARTABLE_CODES = frozenset({LOCK_WAIT_TIMEOUT, DEADLOCK})
DEFAULT_ATTEMPTS = 5
_FIRST_BACKOFF_S = 0.01


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
