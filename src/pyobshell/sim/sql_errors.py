"""Errors the simulated observer answers with: OceanBase's codes and messages (reference §5.4)
and MySQL's for generic SQL. Each becomes one MySQL error packet, never a dropped connection."""

from __future__ import annotations

import re
import sqlite3


class SqlError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# OceanBase (errno = |OB code|)
def entry_not_exist(what: str) -> SqlError:
    return SqlError(4018, what)


def stop_in_multiple_zones() -> SqlError:
    return SqlError(4660, "cannot stop server or stop zone in multiple zones")


def zone_status_not_match() -> SqlError:
    return SqlError(4633, "zone status not match")


def op_not_allowed(what: str | None = None) -> SqlError:
    return SqlError(4179, f"{what} not allowed" if what else "Operation not allowed now")


def ob_timeout(timeout_us: int) -> SqlError:
    return SqlError(4012, f"Timeout, query has reached the maximum query timeout: {timeout_us}(us), maybe you can adjust the session variable ob_query_timeout or query_timeout hint, and try again.")


def unexpected() -> SqlError:
    return SqlError(4016, "Internal error")


def invalid_argument(what: str) -> SqlError:
    return SqlError(1210, f"Incorrect arguments to {what}")


def not_supported(what: str) -> SqlError:
    return SqlError(1235, f"{what} not supported")


# MySQL
def syntax_error(near: str) -> SqlError:
    return SqlError(1064, f"You have an error in your SQL syntax; check the manual that corresponds to your OceanBase version for the right syntax to use near '{near[:80]}'")


def no_database_selected() -> SqlError:
    return SqlError(1046, "No database selected")


def unknown_database(name: str) -> SqlError:
    return SqlError(1049, f"Unknown database '{name}'")


def database_exists(name: str) -> SqlError:
    return SqlError(1007, f"Can't create database '{name}'; database exists")


def bad_database(name: str) -> SqlError:
    return SqlError(1102, f"Incorrect database name '{name}'")


def no_such_table(db: str, table: str) -> SqlError:
    return SqlError(1146, f"Table '{db}.{table}' doesn't exist")


def lock_wait_timeout() -> SqlError:
    return SqlError(1205, "Lock wait timeout exceeded; try restarting transaction")


def deadlock() -> SqlError:
    return SqlError(1213, "Deadlock found when trying to get lock; try restarting transaction")


def access_denied(user: str, host: str, with_password: bool) -> SqlError:
    """MySQL's form, which OceanBase keeps: the user without its tenant, the client's host."""
    return SqlError(1045, f"Access denied for user '{user}'@'{host}' (using password: {'YES' if with_password else 'NO'})")


_PATTERNS: list[tuple[re.Pattern[str], int, str]] = [
    (re.compile(r"UNIQUE constraint failed: (?P<x>.+)"), 1062, "Duplicate entry for key '{x}'"),
    (re.compile(r"NOT NULL constraint failed: \S+\.(?P<x>\w+)"), 1048, "Column '{x}' cannot be null"),
    (re.compile(r"no such table: (?:\w+\.)?(?P<x>\S+)"), 1146, "Table '{x}' doesn't exist"),
    (re.compile(r"no such column: (?P<x>\S+)"), 1054, "Unknown column '{x}' in 'field list'"),
    (re.compile(r"table (?P<x>\S+) already exists"), 1050, "Table '{x}' already exists"),
    (re.compile(r"duplicate column name: (?P<x>\S+)"), 1060, "Duplicate column name '{x}'"),
    (re.compile(r"no such function: (?P<x>\S+)"), 1305, "FUNCTION {x} does not exist"),
    (re.compile(r"database is locked"), 1205, "Lock wait timeout exceeded; try restarting transaction"),
    (re.compile(r"(?P<x>.*syntax error.*)"), 1064, "You have an error in your SQL syntax: {x}"),
]


def from_sqlite(error: sqlite3.Error) -> SqlError:
    """Map a SQLite failure to the MySQL error a client expects."""
    text = str(error)
    for pattern, code, template in _PATTERNS:
        match = pattern.search(text)
        if match:
            return SqlError(code, template.format(**match.groupdict()))
    if isinstance(error, sqlite3.IntegrityError):
        return SqlError(1452, f"Constraint violated: {text}")
    return SqlError(1105, f"Unknown error: {text}")
