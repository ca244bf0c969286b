"""The ``oceanbase`` database as the catalog shows it: the system views and tables the simulator
serves, with their columns and MySQL types, for ``SHOW DATABASES``, ``SHOW TABLES``, ``DESC`` and
``information_schema`` (which mysql-mimic answers from the session's schema mapping).

Types follow SQLite's declared type of each column where the view passes one through, else the
column's name (``…_TIME`` and ``gmt_…`` are timestamps), else ``varchar``: enough for a tool that
lists columns, not a copy of OceanBase's exact column definitions.
"""

from __future__ import annotations

import re
import sqlite3

from pyobshell.sim.state_schema import served_object_names

_TIME_NAME = re.compile(r"(^gmt_|_time$|^timestamp$)", re.IGNORECASE)
_DECLARED = {"INTEGER": "bigint(20)", "INT": "bigint(20)", "REAL": "double", "TEXT": "varchar(1024)"}


def system_catalog(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """{view or table name: {column: MySQL type}} for every served system object."""
    return {name: _columns(conn, name) for name in served_object_names()}


def _columns(conn: sqlite3.Connection, name: str) -> dict[str, str]:
    rows = conn.execute(f'PRAGMA temp.table_info("{name}")').fetchall()
    return {row[1]: _mysql_type(row[1], row[2] or "") for row in rows}


def _mysql_type(column: str, declared: str) -> str:
    if _TIME_NAME.search(column):
        return "timestamp(6)"
    return _DECLARED.get(declared.upper(), "varchar(1024)")
