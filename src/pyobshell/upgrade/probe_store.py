"""Where the SQL probe's report is kept: one row per upgrade DAG in the cluster store (``ocs``).

The maintainer's probe writes it about once a second; any agent reads it back, for
``GET /api/v1/ob/upgrade/probe`` and for the DAG's ``additional_data`` (``sqlProbe``), so the
figures survive the maintainer moving and outlive the upgrade.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, Text, select
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from pyobshell.db import Id, Time

log = logging.getLogger(__name__)
PROBE_DATA_KEY = "sqlProbe"
_READ_CACHE_S = 0.5

_metadata = MetaData()
REPORTS = Table(
    "pyobshell_probe_report", _metadata,
    Column("dag_id", Id, primary_key=True, autoincrement=False),
    Column("report", Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False),
    Column("gmt_modify", Time, nullable=False),
)


class ProbeReportStore:
    """Reports by DAG id, on the cluster store's engine (None while it is not open)."""

    def __init__(self, engine: Callable[[], Engine | None]):
        self._engine = engine
        self._ready_for: Engine | None = None
        self._cache: dict[int, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def _ready(self) -> Engine | None:
        engine = self._engine()
        if engine is not None and self._ready_for is not engine:
            _metadata.create_all(engine, checkfirst=True)
            self._ready_for = engine
        return engine

    def save(self, report: dict[str, Any]) -> None:
        engine = self._ready()
        if engine is None:
            return
        from datetime import UTC, datetime  # noqa: PLC0415

        dag_id, text, now = int(report["dag_id"]), json.dumps(report, separators=(",", ":")), datetime.now(UTC)
        with engine.begin() as conn:
            updated = conn.execute(REPORTS.update().where(REPORTS.c.dag_id == dag_id)
                                   .values(report=text, gmt_modify=now)).rowcount
            if not updated:
                conn.execute(REPORTS.insert().values(dag_id=dag_id, report=text, gmt_modify=now))
        with self._lock:
            self._cache[dag_id] = (time.monotonic(), report)

    def load(self, dag_id: int) -> dict[str, Any] | None:
        """The report of ``dag_id`` (cached for half a second), None when there is none."""
        with self._lock:
            cached = self._cache.get(dag_id)
        if cached is not None and time.monotonic() - cached[0] < _READ_CACHE_S:
            return cached[1]
        try:
            engine = self._ready()
            if engine is None:
                return None
            with engine.connect() as conn:
                text = conn.execute(select(REPORTS.c.report).where(REPORTS.c.dag_id == dag_id)).scalar()
        except SQLAlchemyError as exc:  # the figures are an addition: never fail a DAG read on them
            log.warning("cannot read the SQL probe report of DAG %d: %s", dag_id, exc)
            return None
        report = json.loads(text) if text else None
        with self._lock:
            self._cache[dag_id] = (time.monotonic(), report)
        return report

    def dag_extras(self, dag_id: int) -> dict[str, Any] | None:
        """What the DAG's additional_data gets: ``{"sqlProbe": report}``."""
        report = self.load(dag_id)
        return {PROBE_DATA_KEY: report} if report else None
