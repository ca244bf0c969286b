"""Request trace ids: taken from ``X-OBSHELL-Trace-ID`` or made up, and stamped on log lines."""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar

TRACE_HEADER = "X-OBSHELL-Trace-ID"

current_trace_id: ContextVar[str] = ContextVar("pyobshell_trace_id", default="")


def new_trace_id() -> str:
    """8 random bytes as 16 lowercase hex characters, like obshell."""
    return secrets.token_hex(8)


class TraceIdLogFilter(logging.Filter):
    """Adds ``record.trace_id`` (the current request's trace id, or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id.get() or "-"
        return True
