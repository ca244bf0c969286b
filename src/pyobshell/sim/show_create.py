"""``SHOW CREATE TABLE`` for user tables: MySQL DDL rebuilt from SQLite's catalog, in the
form SQLAlchemy's MySQL reflection parses (columns, primary key, unique and plain keys)."""

from __future__ import annotations

import re
import sqlite3

_TYPES = [
    (re.compile(r"^TEXT\((\d+)\)$"), "varchar({0})"),
    (re.compile(r"^(VAR)?CHAR\((\d+)\)$"), "varchar({1})"),
    (re.compile(r"^TEXT$"), "text"),
    (re.compile(r"^(BIG)?INT(EGER)?$"), "bigint"),
    (re.compile(r"^(TINY|SMALL|MEDIUM)INT$"), "int"),
    (re.compile(r"^BOOL(EAN)?$"), "tinyint(1)"),
    (re.compile(r"^TIMESTAMP(TZ)?(\((\d)\))?$"), "timestamp{1}"),
    (re.compile(r"^DATETIME(\((\d)\))?$"), "datetime{0}"),
    (re.compile(r"^(REAL|DOUBLE|FLOAT)"), "double"),
    (re.compile(r"^(BLOB|LONGBLOB|VARBINARY.*)$"), "longblob"),
    (re.compile(r"^(LONGTEXT|MEDIUMTEXT)$"), "longtext"),
]


def mysql_type(declared: str) -> str:
    text = (declared or "TEXT").upper().replace(" ", "")
    for pattern, template in _TYPES:
        match = pattern.match(text)
        if match:
            return template.format(*[(g or "") for g in match.groups()])
    return declared.lower() or "text"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def show_create_table(conn: sqlite3.Connection, db: str, table: str) -> str | None:
    schema = f'"{db}"'
    row = conn.execute(f"SELECT sql FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None:
        return None
    autoincrement = "AUTOINCREMENT" in (row[0] or "").upper()
    lines, primary = [], []
    for cid, name, declared, notnull, default, pk in conn.execute(f'PRAGMA {schema}.table_info("{table}")'):
        parts = [_quote(name), mysql_type(declared)]
        parts.append("NOT NULL" if notnull or pk else "DEFAULT NULL" if default is None else "")
        if default is not None:
            parts.append("DEFAULT CURRENT_TIMESTAMP" if "now" in str(default).lower() else f"DEFAULT {default}")
        if pk and autoincrement:
            parts.append("AUTO_INCREMENT")
        lines.append("  " + " ".join(p for p in parts if p))
        if pk:
            primary.append((pk, name))
    if primary:
        lines.append("  PRIMARY KEY (" + ",".join(_quote(n) for _, n in sorted(primary)) + ")")
    for _, index, unique, origin, _partial in conn.execute(f'PRAGMA {schema}.index_list("{table}")'):
        if origin == "pk":
            continue
        columns = [c[2] for c in conn.execute(f'PRAGMA {schema}.index_info("{index}")')]
        name = index.split("__", 1)[1] if index.startswith(f"{table}__") else index
        kind = "UNIQUE KEY" if unique else "KEY"
        lines.append(f"  {kind} {_quote(name)} (" + ",".join(_quote(c) for c in columns) + ")")
    body = ",\n".join(lines)
    return f"CREATE TABLE {_quote(table)} (\n{body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
