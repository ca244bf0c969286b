"""The two MySQL drivers OceanBase tools use, behind one small interface, so a test can send the
same statement through both and compare what each client sees: PyMySQL (pyobshell, OBD) and
mysql.connector (OceanBase's own upgrade scripts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mysql.connector
import pymysql

DRIVERS = ("pymysql", "mysql.connector")


@dataclass(frozen=True)
class Answer:
    """What one statement returned: labels and rows, or an error code and message."""

    labels: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()
    code: int | None = None
    message: str = ""


@contextmanager
def session(driver: str, observer: dict, password: str, database: str | None = "oceanbase") -> Iterator[Any]:
    """A connection as root@sys through ``driver``, closed afterwards."""
    host, port = observer["ip"], observer["sql_port"]
    if driver == "pymysql":
        conn = pymysql.connect(host=host, port=port, user="root@sys", password=password, database=database,
                               autocommit=True, connect_timeout=5, read_timeout=30)
    else:
        conn = mysql.connector.connect(host=host, port=port, user="root@sys", password=password, database=database,
                                       autocommit=True, connection_timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def ask(conn: Any, sql: str) -> Answer:
    """Run ``sql``; errors become an Answer too, as both drivers report them differently."""
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
        labels = tuple(column[0] for column in cursor.description or ())
        rows = tuple(tuple(row) for row in cursor.fetchall()) if cursor.description else ()
        return Answer(labels, rows)
    except pymysql.MySQLError as error:
        return Answer(code=error.args[0], message=str(error.args[1]) if len(error.args) > 1 else "")
    except mysql.connector.Error as error:
        return Answer(code=error.errno, message=error.msg)
    finally:
        cursor.close()


def login_error(driver: str, observer: dict, password: str) -> Answer:
    """The error a login with ``password`` gets (an empty Answer if it succeeds)."""
    try:
        with session(driver, observer, password):
            return Answer()
    except pymysql.MySQLError as error:
        return Answer(code=error.args[0], message=str(error.args[1]))
    except mysql.connector.Error as error:
        return Answer(code=error.errno, message=error.msg)
