"""Large and binary string literals in queries (how PyMySQL and mysql.connector send BLOBs).

A query carrying raw bytes is not valid UTF-8, and parsing megabytes of literal text would be
slow; so before parsing, each such literal is cut out of the raw query, unescaped, and replaced
by a unique placeholder string. After translation the placeholders become SQLite parameters.
Small text literals stay in the query.
"""

from __future__ import annotations

import re
import secrets

_ESCAPES = {ord("0"): 0, ord("b"): 8, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("Z"): 26}
# The same escapes for decoded text (statement_cache reads small literals with them).
TEXT_ESCAPES = {chr(escaped): chr(value) for escaped, value in _ESCAPES.items()}
_QUOTES = (0x27, 0x22)  # ' and "
_INLINE_LIMIT = 1024  # longer literals are bound, not parsed
_BINARY = b"_binary"


_SPECIAL = {quote: re.compile(rb"[\\" + bytes([quote]) + rb"]") for quote in _QUOTES}


def _literal_end(data: bytes, start: int, quote: int) -> tuple[bytes, int]:
    """Unescape a MySQL quoted literal whose body starts at ``start``; return (value, index after)."""
    out = bytearray()
    special = _SPECIAL[quote]
    i, end = start, len(data)
    while True:
        match = special.search(data, i)
        if match is None:
            raise ValueError("unterminated string literal")
        j = match.start()
        out += data[i:j]  # copy the plain run in one step: literals can be megabytes
        if data[j] == 0x5C and j + 1 < end:
            nxt = data[j + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i = j + 2
        elif data[j] == quote and j + 1 < end and data[j + 1] == quote:
            out.append(quote)
            i = j + 2
        elif data[j] == quote:
            return bytes(out), j + 1
        else:
            raise ValueError("unterminated string literal")


def _skip_comment(data: bytes, i: int) -> int:
    if data.startswith(b"/*", i):
        end = data.find(b"*/", i + 2)
        return len(data) if end < 0 else end + 2
    end = data.find(b"\n", i)
    return len(data) if end < 0 else end + 1


def extract(data: bytes) -> tuple[bytes, dict[str, bytes | str]]:
    """Replace binary or long literals in ``data`` by placeholder literals; return the new query
    and the placeholder → value map (bytes for binary data, str for long text)."""
    token = secrets.token_hex(6)
    values: dict[str, bytes | str] = {}
    parts: list[bytes] = []
    copied = i = 0
    end = len(data)
    while i < end:
        byte = data[i]
        if byte == 0x60:  # `identifier`
            close = data.find(b"`", i + 1)
            i = end if close < 0 else close + 1
        elif data.startswith((b"/*", b"-- ", b"#"), i):
            i = _skip_comment(data, i)
        elif byte in _QUOTES:
            try:
                value, after = _literal_end(data, i + 1, byte)
            except ValueError:
                return data, {}  # leave it to the parser to report the syntax error
            binary = data[max(0, i - len(_BINARY)):i].lower() == _BINARY
            hex_literal = byte == 0x27 and i > 0 and data[i - 1] in b"xX" and not _identifier_byte(data, i - 2)
            text = _text(value)
            if hex_literal and len(value) > _INLINE_LIMIT:
                try:
                    value, binary, text = bytes.fromhex(value.decode("ascii")), True, None
                except ValueError:
                    return data, {}  # not hex after all: the parser reports it
            if binary or text is None or len(value) > _INLINE_LIMIT:
                name = f"__sim_lit_{token}_{len(values)}"
                values[name] = value if binary or text is None else text
                start = i - len(_BINARY) if binary and not hex_literal else i - 1 if hex_literal else i
                parts += [data[copied:start], f"'{name}'".encode()]
                copied = after
            i = after
        else:
            i += 1
    if not values:
        return data, {}
    parts.append(data[copied:])
    return b"".join(parts), values


def _identifier_byte(data: bytes, index: int) -> bool:
    if index < 0:
        return False
    char = data[index]
    return chr(char).isalnum() or char in (0x5F, 0x24)  # letters, digits, _ and $


def _text(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def bind(sql: str, values: dict[str, bytes | str]) -> tuple[str, dict[str, bytes | str]]:
    """Turn the placeholders that survived translation into named SQLite parameters."""
    params: dict[str, bytes | str] = {}
    for index, (name, value) in enumerate(values.items()):
        literal = f"'{name}'"
        if literal in sql:
            sql = sql.replace(literal, f":b{index}")
            params[f"b{index}"] = value
    return sql, params
