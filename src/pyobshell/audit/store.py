"""The audit trail in the cluster store (``ocs``): one row per record, written by every agent,
read by any; rows older than the retention are pruned.

Portable DDL, as the other cluster tables: bounded ``VARCHAR`` columns, a ``TEXT`` summary,
epoch milliseconds in a ``BIGINT`` (no time zone to get wrong between agents).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from pyobshell.audit.records import rfc3339_ms
from pyobshell.db import Id, add_missing_columns
from pyobshell.wire.audit import AuditRecord

log = logging.getLogger(__name__)

metadata = MetaData()
audit_log = Table(
    "pyobshell_audit", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("time_ms", BigInteger, nullable=False),
    Column("agent", String(128), nullable=False, server_default=""),
    Column("client", String(64), nullable=False, server_default=""),
    Column("credential", String(32), nullable=False, server_default=""),
    Column("session_hash", String(64), nullable=False, server_default=""),
    Column("method", String(16), nullable=False, server_default=""),
    Column("route", String(512), nullable=False, server_default=""),
    Column("path", String(512), nullable=False, server_default=""),
    Column("summary", Text),
    Column("status", Integer, nullable=False, server_default="0"),
    Column("err_code", String(128), nullable=False, server_default=""),
    Column("trace_id", String(64), nullable=False, server_default=""),
    Column("dag_id", String(32), nullable=False, server_default=""),
    Column("forwarded_from", String(128), nullable=False, server_default=""),
    Column("forwarded_to", String(128), nullable=False, server_default=""),
    Index("idx_pyobshell_audit_time", "time_ms"),
    Index("idx_pyobshell_audit_dag", "dag_id", "time_ms"),
)
_COLUMNS = [c.name for c in audit_log.columns if c.name not in ("id", "summary")]

EngineSource = Callable[[], "Engine | None"]


class AuditStoreUnavailable(Exception):
    """The cluster store is not open here, or did not take the statement."""


class AuditStore:
    """Blocking: call it from a worker thread, never from the event loop."""

    def __init__(self, engine_source: EngineSource):
        self._engine_source = engine_source
        self._ready_for: Engine | None = None

    def engine(self) -> Engine:
        engine = self._engine_source()
        if engine is None:
            raise AuditStoreUnavailable("the cluster store (ocs) is not open on this agent")
        if self._ready_for is not engine:
            try:
                metadata.create_all(engine, checkfirst=True)
                with engine.begin() as conn:
                    add_missing_columns(conn, metadata)
            except SQLAlchemyError as exc:
                raise AuditStoreUnavailable(_reason(exc)) from exc
            self._ready_for = engine
        return engine

    def add(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        rows = [{**{name: getattr(r, name) for name in _COLUMNS},
                 "summary": json.dumps(r.summary, separators=(",", ":"), ensure_ascii=False)} for r in records]
        try:
            with self.engine().begin() as conn:
                conn.execute(insert(audit_log), rows)
        except SQLAlchemyError as exc:
            raise AuditStoreUnavailable(_reason(exc)) from exc

    def read(self, since_ms: int | None, dag_id: str, limit: int) -> list[AuditRecord]:
        """Newest first."""
        statement = select(audit_log)
        if since_ms is not None:
            statement = statement.where(audit_log.c.time_ms >= since_ms)
        if dag_id:
            statement = statement.where(audit_log.c.dag_id == dag_id)
        statement = statement.order_by(audit_log.c.time_ms.desc(), audit_log.c.id.desc()).limit(limit)
        try:
            with self.engine().connect() as conn:
                rows = conn.execute(statement).mappings().all()
        except SQLAlchemyError as exc:
            raise AuditStoreUnavailable(_reason(exc)) from exc
        return [_record(row) for row in rows]

    def prune(self, before_ms: int) -> int:
        """Remove the records older than ``before_ms``; how many there were."""
        try:
            with self.engine().begin() as conn:
                return conn.execute(delete(audit_log).where(audit_log.c.time_ms < before_ms)).rowcount
        except SQLAlchemyError as exc:
            raise AuditStoreUnavailable(_reason(exc)) from exc


def _record(row) -> AuditRecord:
    try:
        summary = json.loads(row["summary"]) if row["summary"] else {}
    except ValueError:
        summary = {}
    values = {name: row[name] for name in _COLUMNS}
    return AuditRecord(id=int(row["id"]), time=rfc3339_ms(int(row["time_ms"]) * 1_000_000),
                       summary=summary if isinstance(summary, dict) else {}, **values)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).splitlines()[0]
