"""Bringing existing tables up to the columns this version declares (tables made by obshell or
an older pyobshell): shared by the task store and the package store.

The catalog is read with statements that SQLite, the simulator and OceanBase answer alike, not
with SQLAlchemy's reflection: on MySQL dialects that parses ``SHOW CREATE TABLE``, and OceanBase
writes its index lines with options MySQL has not (``KEY `idx` (`col`) BLOCK_SIZE 16384 LOCAL``),
so the parser warns "Unknown schema content" for each of them and reports no index at all.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)

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
