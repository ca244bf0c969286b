"""Agent log lines: one event per line, with time, level, trace id and logger name."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pyobshell.api.trace import TraceIdLogFilter

LOG_FORMAT = "%(asctime)s %(levelname)s trace=%(trace_id)s pid=%(process)d %(name)s: %(message)s"


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def configure_logging(log_file: Path, level: int = logging.INFO) -> logging.Handler:
    """Send every logger (ours and uvicorn's) to ``log_file``; returns the handler."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(_UtcFormatter(LOG_FORMAT))
    handler.addFilter(TraceIdLogFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
