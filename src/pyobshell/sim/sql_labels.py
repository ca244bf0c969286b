"""Result-column labels as MySQL and OceanBase give them: the select item as the client typed it.

Clients read results by name (``row["count(*)"]``), so a label must not be sqlglot's rewrite of
the item (``COUNT(*)``, ``CURRENT_VERSION()``) nor SQLite's. MySQL's rule: an alias wins; a column
is labelled with its name as written (without the table); a string literal with its value; any
other expression with its text exactly as typed. The text comes from the tokens of the statement,
so a select list the tokens cannot split reliably keeps the old labels rather than wrong ones.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

Labels = list[str | None]

# Tokens that end a select list at nesting depth 0.
_END = {TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING, TokenType.ORDER_BY,
        TokenType.LIMIT, TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT, TokenType.INTO,
        TokenType.SEMICOLON, TokenType.WINDOW, TokenType.FOR, TokenType.LOCK}
_MODIFIERS = {"DISTINCT", "ALL", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_CALC_FOUND_ROWS",
              "SQL_NO_CACHE", "SQL_CACHE", "SQL_SMALL_RESULT", "SQL_BIG_RESULT", "SQL_BUFFER_RESULT"}
_TOKENIZER = MySQL().tokenizer_class()


def typed_labels(select: exp.Expression, sql: str) -> Labels | None:
    """One label per select item (None: keep what the item already says), or None when the
    typed select list cannot be matched with the parsed one."""
    if not isinstance(select, exp.Select) or not select.expressions:
        return None
    anchor = _first_position(select.expressions[0])
    if anchor is None:
        return None
    try:
        tokens = _TOKENIZER.tokenize(sql)
    except SqlglotError:
        return None
    for index in reversed([i for i, t in enumerate(tokens) if t.token_type == TokenType.SELECT and t.start < anchor]):
        items = _select_items(tokens, index + 1)
        if len(items) == len(select.expressions) and items[0][0].start <= anchor:
            texts = [sql[first.start:last.end + 1] for first, last in items]
            return [_label(item, text) for item, text in zip(select.expressions, texts)]
    return None


def apply_labels(select: exp.Expression, labels: Labels | None) -> exp.Expression:
    """Alias each labelled item of ``select`` (in place) with its label; returns ``select``.

    ``labels`` come from the statement as parsed; an item that has become an alias since (the
    session replaces ``VERSION()`` and the like by an aliased value) gets its alias replaced."""
    if not labels or not isinstance(select, exp.Select) or len(labels) != len(select.expressions):
        return select
    items = []
    for item, label in zip(select.expressions, labels):
        if label is not None:
            item = exp.alias_(item.this if isinstance(item, exp.Alias) else item, exp.to_identifier(label, quoted=True))
        items.append(item)
    select.set("expressions", items)
    return select


def labels_depend_on_literals(select: exp.Expression, labels: Labels | None) -> bool:
    """True when a label contains a literal: such a label differs between statements of one
    cached shape, so the statement must not become a template."""
    if not labels or not isinstance(select, exp.Select):
        return False
    return any(label is not None and any(True for _ in item.find_all(exp.Literal))
               for item, label in zip(select.expressions, labels))


def _label(item: exp.Expression, text: str) -> str | None:
    if isinstance(item, exp.Alias):
        return None
    if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
        return None
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, exp.Literal) and item.is_string:
        return item.this
    return text.strip()


def _first_position(node: exp.Expression) -> int | None:
    starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
    return min(starts) if starts else None


def _select_items(tokens: list[Token], start: int) -> list[tuple[Token, Token]]:
    """The (first, last) token of each top-level item after a SELECT at ``start``."""
    while start < len(tokens) and tokens[start].text.upper() in _MODIFIERS:
        start += 1
    items: list[tuple[Token, Token]] = []
    depth, first, last = 0, None, None
    for token in tokens[start:]:
        kind = token.token_type
        if depth == 0 and (kind in _END or kind == TokenType.R_PAREN):
            break
        if depth == 0 and kind == TokenType.COMMA:
            if first is None or last is None:
                return []
            items.append((first, last))
            first = last = None
            continue
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        first = first or token
        last = token
    if first is not None and last is not None:
        items.append((first, last))
    return items
