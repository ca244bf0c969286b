"""Structured engine logging: stdlib logging with ``trace_id`` and ``task_id`` extra fields."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

LOCAL_SCHEDULER_TRACE = "LS00000000000000"
CLUSTER_SCHEDULER_TRACE = "CS00000000000000"


class EngineLogger(logging.LoggerAdapter):
    """Adds a fixed ``trace_id`` (the scheduler's or a request's) to every record.

    ``task_id`` may be given per call: ``log.info("...", extra={"task_id": 7})``.
    """

    def __init__(self, logger: logging.Logger, trace_id: str):
        super().__init__(logger, {"trace_id": trace_id})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        extra.setdefault("task_id", None)
        kwargs["extra"] = extra
        return msg, kwargs


def engine_logger(name: str, trace_id: str) -> EngineLogger:
    return EngineLogger(logging.getLogger(name), trace_id)


class DefaultFieldsFilter(logging.Filter):
    """Give records without them empty ``trace_id``/``task_id`` so format strings never fail."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = ""
        if not hasattr(record, "task_id"):
            record.task_id = None
        return True
