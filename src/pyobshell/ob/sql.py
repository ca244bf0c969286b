"""What the statement modules of ``ob/`` run on: anything that runs one statement as root@sys.

Every statement the agent sends OceanBase's sys tenant is a named function in ``ob/`` (servers,
zones, parameters, freeze, health), written over this one protocol and one row type: a dict by
column name. :class:`~pyobshell.ob.connection.ObConnectionPool` is one; so is an upgrade task's
environment. A statement about something the cluster may lack (a view of a later version, a
parameter) is read with :func:`optional_rows`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from pyobshell.errors import MYSQL_ERROR, ObshellError

log = logging.getLogger(__name__)

Row = dict[str, Any]


class Sql(Protocol):
    def query(self, sql: str, args: Sequence[Any] | None = None) -> list[Row]: ...

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> int: ...


def first(sql: Sql, statement: str, args: Sequence[Any] | None = None) -> Any:
    """The first column of the first row, or None."""
    rows = sql.query(statement, args)
    return next(iter(rows[0].values())) if rows else None


def count(sql: Sql, statement: str, args: Sequence[Any] | None = None) -> int:
    value = first(sql, statement, args)
    return int(value) if value is not None else 0


def column(sql: Sql, statement: str, args: Sequence[Any] | None = None) -> list[Any]:
    """The first column of every row."""
    return [next(iter(row.values())) for row in sql.query(statement, args)]


def optional_rows(sql: Sql, statement: str, args: Sequence[Any] | None = None) -> list[Row]:
    """The rows, or none when the statement itself fails (the cluster lacks what it reads)."""
    try:
        return sql.query(statement, args)
    except ObshellError as exc:
        if exc.error_code is not MYSQL_ERROR:
            raise
        log.debug("optional statement failed (%s): %s", statement, exc.message)
        return []


def quote(value: str) -> str:
    """A string literal for the statements OceanBase takes no placeholders in (ALTER SYSTEM)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
