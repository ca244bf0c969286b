"""Translations of repeated statement shapes, learned once per observer process.

The agent sends the same few DML shapes again and again with other literal values (PyMySQL
interpolates parameters), and sqlglot's parse, translation and SQL generation cost most of each
statement. One scan cuts a statement into its *shape* (literals replaced by markers) and values; the
first time a shape runs on a user database it is translated again with sentinel literals, and if each
sentinel comes out as a plain SQLite literal, that translation becomes a template with parameters.
A wrong template silently changes results, so learning refuses unless each literal sits where its
value cannot matter (comparisons, IN lists, VALUES rows, LIMIT, arithmetic: never result-column
names, ORDER BY positions, INTERVALs, format strings, type arguments) and the template filled with
the real values gives back the real translation exactly.
"""

from __future__ import annotations

import math
import re
import secrets
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Union

from sqlglot import exp

from pyobshell.sim.binary_literals import TEXT_ESCAPES
from pyobshell.sim.sql_translate import Translated, translate

Value = Union[str, int, float]
CACHEABLE = (exp.Select, exp.Insert, exp.Update, exp.Delete)
_SINGLE, _DOUBLE, _NUMBER = "\x01", "\x02", "\x03"  # markers in shape texts; refused in statements
_MARKER = re.compile("[\x01\x02\x03]")
_RESERVED = re.compile("[\x00-\x03]")  # the markers, and NUL that the full path cannot run in SQL text
_QUOTE = {_SINGLE: "'", _DOUBLE: '"', _NUMBER: ""}
_INT64_MAX = 2**63 - 1
_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# Functions the session's middleware replaces by values before translation: the value is not in the text.
_REPLACED_FUNCTION = re.compile(
    r"\b(?:DATABASE|SCHEMA|VERSION|CURRENT_VERSION|USER|SYSTEM_USER|SESSION_USER|CONNECTION_ID)\s*\("
    r"|\bCURRENT_(?:USER|SCHEMA)\b", re.IGNORECASE)
_SUSPECT_WORDS = ("DATABASE", "SCHEMA", "VERSION", "USER", "CONNECTION_ID")  # a cheap test before the regex
_SCAN = re.compile(r"""
      (?P<plain>[^'"`0-9;/\-\#@]+|/(?!\*)|-(?!-))  # names, keywords, operators: long runs, for speed
    | (?P<backtick>`(?:[^`]|``)*`)
    | (?P<single>'(?:[^'\\]|\\.|'')*')
    | (?P<double>"(?:[^"\\]|\\.|"")*")
    | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    | (?P<semicolon>;)
    | (?P<refused>/\*|--|\#|@|['"`])
""", re.VERBOSE | re.DOTALL)
_INTRODUCER = re.compile(r"(?:^|[^\w$\x80-\U0010ffff])_[\w$\x80-\U0010ffff]*\s*\Z")  # _binary 'x', _utf8mb4 'x'
# MySQL escapes accepted in cached literals; \% and \_ keep their backslash in MySQL, so they are refused.
_STRICT_ESCAPES = {**TEXT_ESCAPES, "\\": "\\", "'": "'", '"': '"'}
_ESCAPE_RUN = {quote: re.compile(r"\\(.)|" + quote * 2, re.DOTALL) for quote in "'\""}
# Parents through which a literal reaches SQLite unchanged; by exact type, as subclasses generate differently.
_PLAIN_PARENTS = frozenset({
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.In, exp.Between, exp.Like,
    exp.Tuple, exp.Limit, exp.Offset, exp.Alias, exp.Add, exp.Sub, exp.Mul, exp.Anonymous,
    exp.CurrentTimestamp, exp.Coalesce,
})
_TRANSPARENT = frozenset({exp.Neg, exp.Paren})
_SQLITE_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|(?<![\w.'])[0-9]+(?![\w.'])""")


@dataclass(frozen=True)
class Shape:
    """A statement without its literals: ``text`` has one marker per literal, in order."""

    text: str
    values: tuple[Value, ...]
    raw: tuple[str, ...]  # each literal as written, for checking a template against the real translation


@dataclass(frozen=True)
class Entry:
    """What a shape taught: its template, or None when it must always take the slow path."""

    translated: Translated | None


@dataclass
class StatementCache:
    """(current database, shape text) → Entry, least recently used first out."""

    size: int = 512
    _entries: OrderedDict[tuple[str | None, str], Entry] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, database: str | None, shape: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get((database, shape))
            if entry is not None:
                self._entries.move_to_end((database, shape))
            return entry

    def store(self, database: str | None, shape: str, entry: Entry) -> None:
        with self._lock:
            self._entries[(database, shape)] = entry
            self._entries.move_to_end((database, shape))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


CACHE = StatementCache()  # one per observer process: every observer is its own process


def split(sql: str) -> Shape | None:
    """Cut a MySQL statement into shape and literals, or None when it is not cacheable."""
    if not _START.match(sql) or _RESERVED.search(sql):
        return None
    pieces: list[str] = []
    values: list[Value] = []
    raw: list[str] = []
    copied = 0
    string_end: int | None = None
    for match in _SCAN.finditer(sql):
        kind, start, end = match.lastgroup, match.start(), match.end()
        if kind in ("plain", "backtick") or (kind == "number" and _after_identifier(sql, start)):
            continue  # digits of a name such as t1 or col_2 stay in the shape
        if kind == "refused" or (kind == "semicolon" and sql[end:].strip()):
            return None
        if kind in ("single", "double"):
            if _after_identifier(sql, start) or _INTRODUCER.search(sql[max(0, start - 64):start]):
                return None  # X'..', N'..', _binary'..' and charset introducers are not plain strings
            if string_end is not None and not sql[string_end:start].strip():
                return None  # 'a' 'b' is one concatenated literal in MySQL
            value = _unescape(match.group()[1:-1], match.group()[0])
            if value is None or "\x00" in value:
                return None  # the full path cannot run a NUL inside SQL text: keep its answer
            marker, string_end = (_SINGLE if kind == "single" else _DOUBLE), end
        elif kind == "number":
            number = _number(sql, start, end)
            if number is None:
                return None
            value, marker = number, _NUMBER
        else:
            continue
        pieces += [sql[copied:start], marker]
        values.append(value)
        raw.append(match.group())
        copied = end
    pieces.append(sql[copied:])
    text = "".join(pieces)
    upper = text.upper()
    if any(word in upper for word in _SUSPECT_WORDS) and _REPLACED_FUNCTION.search(text):
        return None
    return Shape(text, tuple(values), tuple(raw))


def _after_identifier(sql: str, index: int) -> bool:
    return index > 0 and (sql[index - 1].isalnum() or sql[index - 1] in "_$" or ord(sql[index - 1]) > 127)


def _number(sql: str, start: int, end: int) -> int | float | None:
    """The value of a numeric token; None when it touches an identifier (``1abc``, ``0x1F``) or a dot."""
    if sql[start - 1:start] in (".", "'", '"', "`") or sql[end:end + 1] == "." \
            or (end < len(sql) and _after_identifier(sql, end + 1)):
        return None
    text = sql[start:end]
    if text.isdigit():
        return int(text) if len(text) <= 19 and int(text) <= _INT64_MAX else None  # SQLite reads bigger ones as REAL
    number = float(text)
    return number if math.isfinite(number) else None


def _unescape(body: str, quote: str) -> str | None:
    """A quoted literal's value, as MySQL reads it; None for an escape outside the accepted ones."""
    if "\\" not in body and quote * 2 not in body:
        return body
    if any(escaped and escaped not in _STRICT_ESCAPES for escaped in _ESCAPE_RUN[quote].findall(body)):
        return None
    return _ESCAPE_RUN[quote].sub(lambda m: _STRICT_ESCAPES[m.group(1)] if m.group(1) else quote, body)


_local = threading.local()  # a SQLite connection per thread, to read decimals with


def parameters(shape: Shape) -> dict[str, Value]:
    """SQLite parameters ``p0, p1, …`` for a cached template. Decimals are read by SQLite itself:
    its literal reader does not always round like Python's float(), and the full path uses it."""
    params: dict[str, Value] = {f"p{i}": value for i, value in enumerate(shape.values)}
    reals = [i for i, value in enumerate(shape.values) if isinstance(value, float)]
    if reals:
        reader = getattr(_local, "reader", None) or _local.__dict__.setdefault("reader", sqlite3.connect(":memory:"))
        row = reader.execute("SELECT " + ", ".join(shape.raw[i] for i in reals)).fetchone()  # checked number tokens
        params.update({f"p{i}": value for i, value in zip(reals, row)})
    return params


def learn(shape: Shape, real: Translated, database: str | None,
          parse: Callable[[str], list[exp.Expression | None]]) -> Entry:
    """Translate the shape with sentinel literals; a template when each sentinel provably stands
    for its literal, else a negative entry. ``real`` is the translation of the actual statement."""
    if real.scope != "user" or real.follow_up:
        return Entry(None)
    token = secrets.token_hex(6)
    base = (7 * 10**9 + secrets.randbelow(10**9)) * 10**4  # 14 digits, well inside SQLite's INTEGER
    markers = _MARKER.findall(shape.text)
    cores = [str(base + i) if mark == _NUMBER else f"__sim_p{i}_{token}" for i, mark in enumerate(markers)]
    quoted = iter(_QUOTE[mark] + core + _QUOTE[mark] for mark, core in zip(markers, cores))
    try:
        statements = [e for e in parse(_MARKER.sub(lambda _: next(quoted), shape.text)) if e]
        if len(statements) != 1 or type(statements[0]) not in CACHEABLE or not _plain_positions(statements[0], cores):
            return Entry(None)
        translated = translate(statements[0], database)
    except Exception:  # noqa: BLE001 - a sentinel version that does not translate is just not cached
        return Entry(None)
    if (translated.scope, translated.databases, translated.is_write, translated.locking, translated.follow_up) != (
            real.scope, real.databases, real.is_write, real.locking, []):
        return Entry(None)
    pieces = _template(translated.sql, cores)
    rendered = "".join(p if isinstance(p, str) else _sqlite_literal(shape, p) for p in pieces or [])
    if pieces is None or rendered != real.sql:
        return Entry(None)
    sql = "".join(piece if isinstance(piece, str) else f":p{piece}" for piece in pieces)
    return Entry(Translated(sql, real.scope, set(real.databases), real.is_write, real.locking))


def _plain_positions(statement: exp.Expression, cores: list[str]) -> bool:
    """Each sentinel is exactly one literal node, in a position that cannot depend on its value."""
    found: dict[str, list[exp.Literal]] = {core: [] for core in cores}
    for node in statement.find_all(exp.Literal):
        if node.this in found:
            found[node.this].append(node)
    return all(len(nodes) == 1 and nodes[0].is_string != core.isdigit() and _plain(nodes[0])
               for core, nodes in found.items())


def _plain(literal: exp.Literal) -> bool:
    parent = literal.parent
    while parent is not None and type(parent) in _TRANSPARENT:
        parent = parent.parent
    if parent is None or type(parent) not in _PLAIN_PARENTS:
        return False
    node: exp.Expression = literal
    while node.parent is not None:  # SQLite names an unaliased result column after its text
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions" and not isinstance(node, exp.Alias):
            return False
        node = node.parent
    return True


def _template(sql: str, cores: list[str]) -> list[str | int] | None:
    """SQLite text split around the sentinels (ints index the literals); None unless every
    sentinel appears, and only as a whole literal token."""
    index = {core: i for i, core in enumerate(cores)}
    counts = dict.fromkeys(cores, 0)
    pieces: list[str | int] = []
    copied = 0
    for match in _SQLITE_TOKEN.finditer(sql):
        token = match.group()
        core = token[1:-1] if token[0] == "'" else token if token[0].isdigit() else None
        if core not in index or (token[0] == "'") == core.isdigit():
            continue
        pieces += [sql[copied:match.start()], index[core]]
        counts[core] += 1
        copied = match.end()
    pieces.append(sql[copied:])
    if any(count == 0 or sql.count(core) != count for core, count in counts.items()):
        return None
    return pieces


def _sqlite_literal(shape: Shape, index: int) -> str:
    """A literal of the shape as sqlglot writes it for SQLite."""
    value = shape.values[index]
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else shape.raw[index]
