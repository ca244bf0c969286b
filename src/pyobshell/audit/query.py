"""What ``GET /api/v1/audit`` and ``pyobshell audit`` ask for: ``since``, ``dag``, ``limit``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyobshell.errors import COMMON_ILLEGAL_ARGUMENT
from pyobshell.wire.audit import DEFAULT_LIMIT, MAX_LIMIT

MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_DAG_ID = 32


class AuditQueryError(ValueError):
    """A parameter that cannot be used; the message names it and says what it accepts."""


@dataclass(frozen=True)
class AuditQuery:
    since_ms: int | None = None  # records at or after this moment
    dag_id: str = ""  # generic id ("" : every record)
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, since: str | None = None, dag: str | None = None, limit: int | str | None = None) -> "AuditQuery":
        """Raises :class:`AuditQueryError` (the client side) for a value that is not usable."""
        return cls(parse_since(since), parse_dag(dag), parse_limit(limit))

    @classmethod
    def from_request(cls, since: str | None, dag: str | None, limit: int | None) -> "AuditQuery":
        """The same, as a 400 ``Common.IllegalArgument`` for the HTTP layer."""
        try:
            return cls.parse(since, dag, limit)
        except AuditQueryError as exc:
            raise COMMON_ILLEGAL_ARGUMENT(str(exc)) from None


def parse_since(text: str | None) -> int | None:
    """Epoch milliseconds (digits only) or an ISO-8601 time (no zone: UTC); None when empty."""
    value = (text or "").strip()
    if not value:
        return None
    if value.isdigit():
        if len(value) > 15 or int(value) > MAX_EPOCH_MS:
            raise AuditQueryError(f"since: {value!r} is too far in the future for epoch milliseconds")
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuditQueryError(f"since: {value[:64]!r} is neither epoch milliseconds nor an ISO-8601 time "
                              "(e.g. 2024-05-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return int(moment.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise AuditQueryError(f"since: {value[:64]!r} is out of range") from None


def parse_dag(text: str | None) -> str:
    value = (text or "").strip()
    if value and (not value.isdigit() or not value.isascii() or len(value) > MAX_DAG_ID):
        raise AuditQueryError(f"dag: {value[:64]!r} is not a DAG id (its generic id, digits, e.g. 11)")
    return value


def parse_limit(value: int | str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise AuditQueryError(f"limit: {value[:32]!r} is not a whole number between 1 and {MAX_LIMIT}")
        value = int(value.strip())
    if isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise AuditQueryError(f"limit: {value} is not between 1 and {MAX_LIMIT}")
    return value
