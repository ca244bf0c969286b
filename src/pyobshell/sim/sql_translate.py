"""MySQL statements (as sqlglot parsed them) → SQLite statements the simulator can run.

Tables of the ``oceanbase`` database are the simulator's system views (scope ``system``);
every other database is a SQLite file attached under its own name (scope ``user``). MySQL
functions SQLite lacks become the functions of :mod:`sql_functions`; DDL loses what SQLite
cannot express (engine, charset, comments) and keeps what matters (auto-increment, unique
keys, indexes, ON UPDATE CURRENT_TIMESTAMP as a trigger).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

from pyobshell.sim import sql_collation
from pyobshell.sim.sql_errors import SqlError, bad_database, no_database_selected, no_such_table, not_supported
from pyobshell.sim.state_schema import known_system_objects

# sqlglot warns about every MySQL-only table property it drops; that is intended here.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

SYSTEM_DB = "oceanbase"
_SYSTEM_OBJECTS = known_system_objects()
_NOW_FUNCTIONS = {"NOW", "SYSDATE", "LOCALTIMESTAMP", "LOCALTIME", "CURRENT_TIMESTAMP"}
_LOCAL_NOW_DEFAULT = "(strftime('%Y-%m-%d %H:%M:%f', 'now', 'localtime'))"
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)


class SimSQLite(SQLite):
    """SQLite output with the simulator's function names."""

    class Generator(SQLite.Generator):
        TRANSFORMS = {
            **SQLite.Generator.TRANSFORMS,
            exp.CurrentTimestamp: lambda self, e: f"sim_now({self.sql(e, 'this') or 0})",
            exp.UtcTimestamp: lambda self, e: f"sim_utc_now({self.sql(e, 'this') or 0})",
            exp.TimestampDiff: lambda self, e: (
                f"sim_timestampdiff('{e.text('unit').upper() or 'SECOND'}', {self.sql(e, 'expression')}, {self.sql(e, 'this')})"
            ),
            exp.RegexpLike: lambda self, e: f"({self.sql(e, 'this')} REGEXP {self.sql(e, 'expression')})",
        }


@dataclass
class Translated:
    """One statement ready for SQLite, and what the session must know to run it."""

    sql: str
    scope: str  # "system", "user" or "none" (no table at all)
    databases: set[str] = field(default_factory=set)
    is_write: bool = False
    locking: bool = False  # SELECT … FOR UPDATE: take the write lock first
    follow_up: list[str] = field(default_factory=list)  # e.g. CREATE INDEX after CREATE TABLE


def translate(expression: exp.Expression, current_db: str | None) -> Translated:
    expression = expression.copy()
    if expression.args.get("kind") == "INDEX" and isinstance(expression, (exp.Create, exp.Drop)):
        return _translate_index(expression, current_db)
    _drop_dual(expression)
    ctes = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    scope, databases = _resolve_tables(expression, current_db, ctes)
    locking = bool(expression.args.get("locks"))
    sql_collation.map_explicit_collations(expression)
    if scope == "user":
        sql_collation.declare_column_collations(expression)
    else:
        sql_collation.compare_ignoring_case(expression)
    _strip_mysql_only(expression)
    expression = expression.transform(_rewrite_functions)
    follow_up: list[str] = []
    if isinstance(expression, exp.Create) and expression.kind == "TABLE":
        follow_up = _split_table_constraints(expression)
    if isinstance(expression, exp.TruncateTable):
        table = expression.expressions[0]
        expression = exp.Delete(this=table)
    if isinstance(expression, exp.Insert) and expression.args.get("conflict"):
        _rewrite_on_duplicate(expression)
    sql = expression.sql(dialect=SimSQLite)
    return Translated(sql, scope, databases, isinstance(expression, _WRITES), locking, follow_up)


def _translate_index(statement: exp.Create | exp.Drop, current_db: str | None) -> Translated:
    """CREATE/DROP INDEX: SQLite names indexes per database, MySQL per table, so the
    simulator stores index ``i`` of table ``t`` as ``t__i`` in the table's database."""
    if isinstance(statement, exp.Create):
        index = statement.this
        table = index.args["table"]
        name = index.name
    else:
        table = statement.args["cluster"].this
        name = statement.expressions[0].name if statement.expressions else statement.args["tables"][0].name
    scope, databases = _resolve_tables(table, current_db, set())
    if scope != "user":
        raise not_supported("index DDL on oceanbase system tables")
    db = table.text("db")
    exists = " IF EXISTS" if statement.args.get("exists") else ""
    if isinstance(statement, exp.Drop):
        return Translated(f'DROP INDEX{exists} "{db}"."{table.name}__{name}"', scope, databases, is_write=True)
    columns = ", ".join(f'"{ordered.this.name}"' for ordered in index.args["params"].args.get("columns") or [])
    unique = "UNIQUE " if statement.args.get("unique") else ""
    exists = " IF NOT EXISTS" if statement.args.get("exists") else ""
    sql = f'CREATE {unique}INDEX{exists} "{db}"."{table.name}__{name}" ON "{table.name}" ({columns})'
    return Translated(sql, scope, databases, is_write=True)


def _resolve_tables(expression: exp.Expression, current_db: str | None, ctes: set[str]) -> tuple[str, set[str]]:
    scopes: set[str] = set()
    databases: set[str] = set()
    for table in expression.find_all(exp.Table):
        name = table.name
        if not name or (not table.args.get("db") and name.lower() in ctes):
            continue
        db = (table.text("db") or current_db or "").lower()
        if not db:
            raise no_database_selected()
        if db == SYSTEM_DB:
            if name.lower() not in _SYSTEM_OBJECTS:
                raise no_such_table(SYSTEM_DB, name)
            table.set("db", None)
            scopes.add("system")
        elif db in ("information_schema", "mysql", "performance_schema"):
            raise not_supported(f"query on {db}.{name} in this statement")
        else:
            table.set("db", exp.to_identifier(db))
            databases.add(db)
            scopes.add("user")
    if len(scopes) > 1:
        raise not_supported("a statement mixing oceanbase system views and user tables")
    return (scopes.pop() if scopes else "none"), databases


def _drop_dual(expression: exp.Expression) -> None:
    """``SELECT … FROM DUAL``: MySQL's table of no columns and one row is SQLite's bare SELECT."""
    for select in expression.find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        table = source.this if isinstance(source, exp.From) else None
        if (isinstance(table, exp.Table) and table.name.lower() == "dual" and not table.args.get("db")
                and not table.alias and not select.args.get("joins")):
            source.pop()


def _strip_mysql_only(expression: exp.Expression) -> None:
    """Remove what only changes MySQL's execution, not the result: hints, locks, table options.
    (Column collations are :mod:`sql_collation`'s.)"""
    expression.set("locks", None)
    for hint in list(expression.find_all(exp.Hint)):
        hint.pop()
    for kind in (exp.CommentColumnConstraint, exp.CharacterSetColumnConstraint):
        for node in list(expression.find_all(kind)):
            parent = node.parent
            (parent if isinstance(parent, exp.ColumnConstraint) else node).pop()


def _rewrite_functions(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.upper() in _NOW_FUNCTIONS:
        precision = node.expressions[0] if node.expressions else exp.Literal.number(0)
        return exp.CurrentTimestamp(this=precision)
    if isinstance(node, exp.ColumnConstraint) and isinstance(node.args.get("kind"), exp.DefaultColumnConstraint):
        default = node.args["kind"].this
        if isinstance(default, (exp.CurrentTimestamp, exp.Anonymous)) and (
            not isinstance(default, exp.Anonymous) or default.name.upper() in _NOW_FUNCTIONS
        ):
            return exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(this=exp.maybe_parse(_LOCAL_NOW_DEFAULT, dialect="sqlite")))
    return node


def _split_table_constraints(create: exp.Create) -> list[str]:
    """Move KEY/UNIQUE KEY definitions out of CREATE TABLE (SQLite wants CREATE INDEX) and turn
    ON UPDATE CURRENT_TIMESTAMP into a trigger."""
    schema = create.this
    table = schema.this
    db, name = table.text("db"), table.name
    qualified_index = (lambda index: f'"{db}"."{name}__{index}"') if db else (lambda index: f'"{name}__{index}"')
    statements: list[str] = []
    for item in list(schema.expressions):
        if isinstance(item, exp.UniqueColumnConstraint) and isinstance(item.this, exp.Schema):
            index = item.this.name or "uk"
            columns = ", ".join(f'"{c.name}"' for c in item.this.expressions)
            statements.append(f'CREATE UNIQUE INDEX IF NOT EXISTS {qualified_index(index)} ON "{name}" ({columns})')
            item.pop()
        elif isinstance(item, exp.IndexColumnConstraint):
            columns = ", ".join(f'"{c.name}"' for c in item.expressions)
            statements.append(f'CREATE INDEX IF NOT EXISTS {qualified_index(item.name or "idx")} ON "{name}" ({columns})')
            item.pop()
    for column in schema.find_all(exp.ColumnDef):
        for constraint in list(column.constraints):
            if isinstance(constraint.args.get("kind"), exp.OnUpdateColumnConstraint):
                constraint.pop()
                statements.append(_on_update_trigger(db, name, column.name))
    return statements


def _on_update_trigger(db: str, table: str, column: str) -> str:
    trigger = f'"{db}"."{table}__{column}__on_update"' if db else f'"{table}__{column}__on_update"'
    return (
        f'CREATE TRIGGER IF NOT EXISTS {trigger} AFTER UPDATE ON "{table}" FOR EACH ROW '
        f'WHEN NEW."{column}" IS OLD."{column}" BEGIN '
        f'UPDATE "{table}" SET "{column}" = sim_now(6) WHERE rowid = NEW.rowid; END'
    )


def _rewrite_on_duplicate(insert: exp.Insert) -> None:
    """ON DUPLICATE KEY UPDATE c = VALUES(c) → ON CONFLICT DO UPDATE SET c = excluded.c."""
    conflict = insert.args["conflict"]

    def values_to_excluded(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.upper() == "VALUES" and node.expressions:
            return exp.column(node.expressions[0].name, table="excluded")
        return node

    updates = [eq.transform(values_to_excluded) for eq in conflict.expressions]
    insert.set("conflict", exp.OnConflict(action=exp.var("UPDATE"), expressions=updates))


def validate_database_name(name: str) -> str:
    if not name or not name.replace("_", "").isalnum() or len(name) > 64:
        raise bad_database(name)
    return name.lower()


__all__ = ["SqlError", "Translated", "translate", "validate_database_name", "SYSTEM_DB"]
