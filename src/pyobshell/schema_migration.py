"""Bringing existing tables up to the columns this version declares (tables made by obshell or
an older pyobshell): shared by the task store and the package store."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)


def add_missing_columns(conn: Connection, metadata: MetaData) -> Inspector:
    """``ALTER TABLE … ADD COLUMN`` for each declared column a table lacks; returns the
    inspector used, for further checks (indexes) on the same connection."""
    existing = inspect(conn)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                log.info("adding column %s.%s", table.name, column.name)
                ddl = CreateColumn(column).compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
    return existing
