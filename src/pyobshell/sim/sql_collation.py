"""OceanBase's default collation (utf8mb4_general_ci) on SQLite, whose default is binary.

In MySQL mode every string comparison ignores case unless a binary collation is asked for:
``'a' = 'A'`` is 1, ``zone = 'ZONE1'`` matches ``zone1``. The simulator gets there two ways:

* user tables: text columns are declared ``COLLATE NOCASE`` (unless the DDL asks for a binary
  collation or type), so comparisons, unique keys and their indexes follow the column, as in MySQL;
* system views and table-less statements: each comparison gets an explicit ``COLLATE NOCASE`` on
  its left operand (an explicit collation wins over any column's in SQLite), so no view has to
  remember to declare it.

An explicit ``COLLATE x`` in a statement keeps its meaning: ``*_bin`` and ``binary`` compare
bytes, any other collation ignores case. NOCASE folds ASCII letters only, like the simulator's
data (names, states, versions).
"""

from __future__ import annotations

from sqlglot import exp

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.In, exp.Between)
_TEXT_TYPES = {
    exp.DataType.Type.CHAR, exp.DataType.Type.VARCHAR, exp.DataType.Type.NCHAR, exp.DataType.Type.NVARCHAR,
    exp.DataType.Type.TEXT, exp.DataType.Type.TINYTEXT, exp.DataType.Type.MEDIUMTEXT, exp.DataType.Type.LONGTEXT,
    exp.DataType.Type.ENUM, exp.DataType.Type.SET,
}
NOCASE, BINARY = "NOCASE", "BINARY"


def sqlite_collation(mysql_name: str) -> str:
    """A MySQL collation name → the SQLite collation that compares the same way."""
    name = mysql_name.strip("`'\"").lower()
    return BINARY if name == "binary" or name.endswith("_bin") else NOCASE


def map_explicit_collations(expression: exp.Expression) -> None:
    """``x COLLATE utf8mb4_bin`` → ``x COLLATE BINARY`` (SQLite knows no MySQL collation names)."""
    for node in list(expression.find_all(exp.Collate)):
        node.set("expression", exp.var(sqlite_collation(node.expression.name)))


def compare_ignoring_case(expression: exp.Expression) -> None:
    """Give every comparison without an explicit collation ``COLLATE NOCASE`` (in place)."""
    for node in list(expression.find_all(*_COMPARISONS, exp.Case)):
        left = node.this
        if left is None or _has_explicit_collation(node):
            continue
        node.set("this", exp.Collate(this=exp.Paren(this=left), expression=exp.var(NOCASE)))


def declare_column_collations(expression: exp.Expression) -> None:
    """Text columns of CREATE/ALTER TABLE ignore case unless declared binary (in place); the
    MySQL collation clause itself is replaced, SQLite knowing none of MySQL's names."""
    for column in expression.find_all(exp.ColumnDef):
        kind = column.args.get("kind")
        collation = NOCASE
        for constraint in list(column.constraints):
            clause = constraint.args.get("kind")
            if isinstance(clause, exp.CollateColumnConstraint):
                collation = sqlite_collation(clause.this.name)
                constraint.pop()
            elif isinstance(clause, exp.CharacterSetColumnConstraint) and clause.this.name.lower() == "binary":
                collation = BINARY
        if isinstance(kind, exp.DataType) and kind.this in _TEXT_TYPES and collation == NOCASE:
            column.append("constraints", exp.ColumnConstraint(kind=exp.CollateColumnConstraint(this=exp.var(NOCASE))))


def _has_explicit_collation(node: exp.Expression) -> bool:
    operands = [node.this, node.args.get("expression"), *node.args.get("expressions", []),
                node.args.get("low"), node.args.get("high")]
    return any(isinstance(operand, exp.Collate) for operand in operands if operand is not None)
