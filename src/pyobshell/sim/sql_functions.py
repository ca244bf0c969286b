"""MySQL/OceanBase functions that SQLite lacks, registered on every simulator connection."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timezone

_UNITS_US = {
    "MICROSECOND": 1,
    "SECOND": 1_000_000,
    "MINUTE": 60_000_000,
    "HOUR": 3_600_000_000,
    "DAY": 86_400_000_000,
}


def now_us() -> int:
    return time.time_ns() // 1000


def us_to_datetime_text(us: int | None, precision: int = 6) -> str | None:
    """µs since the epoch → local 'YYYY-MM-DD HH:MM:SS[.ffffff]' as MySQL's NOW(6) shows it."""
    if us is None:
        return None
    moment = datetime.fromtimestamp(us / 1_000_000)
    return format_datetime(moment, precision)


def format_datetime(moment: datetime, precision: int) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if precision > 0:
        text += "." + f"{moment.microsecond:06d}"[:precision]
    return text


def parse_datetime_text(text: str | None) -> datetime | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(text).strip(), fmt)
        except ValueError:
            continue
    return None


def encode_data_version(version: str | None) -> int | None:
    """OceanBase's data-version encoding: major<<32 | minor<<16 | patch<<8 | bp."""
    if not version:
        return None
    try:
        major, minor, patch, bp = (int(part) for part in str(version).split("."))
    except ValueError:
        return None
    return major << 32 | minor << 16 | patch << 8 | bp


def _now(precision: int | None = 0) -> str:
    return format_datetime(datetime.now(), int(precision or 0))


def _utc_now(precision: int | None = 0) -> str:
    return format_datetime(datetime.now(timezone.utc).replace(tzinfo=None), int(precision or 0))


def _substring_index(text: str | None, delimiter: str | None, count: int | None) -> str | None:
    if text is None or delimiter is None or count is None:
        return None
    text, count = str(text), int(count)
    if count == 0 or not delimiter:
        return ""
    parts = text.split(delimiter)
    return delimiter.join(parts[:count]) if count > 0 else delimiter.join(parts[count:])


def _timestampdiff(unit: str, start: str | None, end: str | None) -> int | None:
    begin, finish = parse_datetime_text(start), parse_datetime_text(end)
    if begin is None or finish is None:
        return None
    delta = finish - begin
    micros = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    return int(micros / _UNITS_US.get(str(unit).upper(), 1_000_000))


def _unix_timestamp(value: str | None = None) -> float | int | None:
    if value is None:
        return int(time.time())
    moment = parse_datetime_text(value)
    return None if moment is None else moment.timestamp()


def _time_to_usec(value: str | None) -> int | None:
    moment = parse_datetime_text(value)
    return None if moment is None else int(moment.timestamp() * 1_000_000)


def _greatest(*values: object) -> object:
    present = [v for v in values if v is not None]
    return max(present) if len(present) == len(values) and present else None


def _least(*values: object) -> object:
    present = [v for v in values if v is not None]
    return min(present) if len(present) == len(values) and present else None


def _regexp(pattern: str | None, value: str | None) -> int | None:
    """SQLite's REGEXP operator calls regexp(pattern, value)."""
    if pattern is None or value is None:
        return None
    try:
        return int(re.search(pattern, str(value)) is not None)
    except re.error:
        return 0


def register(conn: sqlite3.Connection, ob_version: str) -> None:
    """Register the functions on one SQLite connection."""
    conn.create_function("sim_now_us", 0, now_us)
    conn.create_function("sim_us_to_datetime", 1, us_to_datetime_text)
    conn.create_function("sim_encode_version", 1, encode_data_version, deterministic=True)
    conn.create_function("sim_now", 1, _now)
    conn.create_function("sim_utc_now", 1, _utc_now)
    conn.create_function("substring_index", 3, _substring_index, deterministic=True)
    conn.create_function("sim_timestampdiff", 3, _timestampdiff, deterministic=True)
    conn.create_function("unix_timestamp", 0, _unix_timestamp)
    conn.create_function("unix_timestamp", 1, _unix_timestamp)
    conn.create_function("usec_to_time", 1, us_to_datetime_text, deterministic=True)
    conn.create_function("time_to_usec", 1, _time_to_usec, deterministic=True)
    conn.create_function("ob_version", 0, lambda: ob_version)
    conn.create_function("greatest", -1, _greatest, deterministic=True)
    conn.create_function("least", -1, _least, deterministic=True)
    conn.create_function("regexp", 2, _regexp, deterministic=True)
