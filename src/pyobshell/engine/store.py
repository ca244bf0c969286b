"""The task store: one SQLAlchemy Core layer over the local SQLite file or the cluster ``ocs`` db.

Reads return typed rows. Every state change is an optimistic compare-and-set UPDATE keyed on
the values the caller last saw (state, start_time, execute_times), as obshell does, so a
scheduler pass and a user operator racing on the same row cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, update
from sqlalchemy.exc import DBAPIError, InvalidRequestError, OperationalError, SQLAlchemyError

from pyobshell.engine import maintenance
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import AgentInfo, Operator, State
from pyobshell.engine.read_cache import DataVersionWatch, data_version_watch
from pyobshell.engine.rows import DagRow, LogRow, NodeRow, SubTaskRow, utcnow
from pyobshell.engine.schema import StoreKind, TaskTables, build_tables
from pyobshell.errors import NO_ROW_AFFECTED, TASK_NOT_FOUND
from pyobshell.db import add_missing_columns
from pyobshell.db import is_connection_lost, run_restarting

_READ_ONLY = "pyobshell_read_only"
log = logging.getLogger(__name__)
T = TypeVar("T")


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred read-then-write transaction
        # could otherwise fail with SQLITE_BUSY instead of waiting. Read-only transactions stay
        # deferred: under WAL they never wait for the lock (SQLite's busy wait backs off in
        # sleeps of up to 100 ms, which made concurrent API reads take seconds).
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def _connection_broke(exc: BaseException) -> bool:
    """The driver lost the server, or SQLAlchemy found a pooled connection already closed
    under it (what a checkout after an observer restart raises)."""
    if isinstance(exc, InvalidRequestError) and not isinstance(exc, DBAPIError):
        return "connection is closed" in str(exc).lower()
    return is_connection_lost(exc)


Connector = Callable[[], Any]
"""Opens one DB-API connection (e.g. to whichever observer of the cluster answers)."""


def make_engine(url: str, connect: Connector | None = None) -> Engine:
    """``connect`` replaces the URL's host and port: connections come from it. Such connections
    may go to another server than the preferred one, so they are recycled after a minute and
    drift back to it once it answers again."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _sqlite_pragmas(engine)
        return engine
    if connect is not None:
        return create_engine(url, creator=connect, pool_pre_ping=True, pool_recycle=60)
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600)


class TaskStore:
    """DAG/node/sub-task persistence for one store (``kind`` LOCAL or CLUSTER)."""

    def __init__(self, url: str, kind: StoreKind = StoreKind.LOCAL, *, owner: AgentInfo | None = None,
                 connect: Connector | None = None):
        self.url = url
        self.kind = kind
        self.owner = owner or AgentInfo("127.0.0.1", 2886)
        self.tables: TaskTables = build_tables(kind)
        self.engine = make_engine(url, connect)
        self.migrate()
        # Tells readers whether anything was committed since (SQLite files only, else None).
        self.change_watch: DataVersionWatch | None = data_version_watch(self.engine)

    @property
    def is_local(self) -> bool:
        return self.kind == StoreKind.LOCAL

    # -- lifecycle ------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create missing tables and columns, and the maintenance status rows."""
        try:
            self.tables.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                add_missing_columns(conn, self.tables.metadata)
                maintenance.ensure_status_rows(conn, self.tables)
        except SQLAlchemyError as exc:
            raise TASK_ENGINE_UNAVAILABLE(f"cannot prepare the {self.kind.value} task store: {exc}") from exc

    def close(self) -> None:
        if self.change_watch is not None:
            self.change_watch.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def write(self, work: Callable[[Connection], T], what: str, attempts: int = 3) -> T:
        """Run ``work`` in one transaction, from the start again when the database gives the
        transaction up (deadlock, lock wait timeout) or the connection broke under it (its
        observer was just stopped: the next connection comes from another one). ``work`` must
        read what it decides on inside the transaction, so that a restart decides afresh; its
        writes are compare-and-set, so a transaction that did commit before its connection broke
        is not applied twice."""
        def once() -> T:
            with self.transaction() as conn:
                return work(conn)

        for attempt in range(1, attempts + 1):
            try:
                return run_restarting(once, what)
            except (DBAPIError, InvalidRequestError) as exc:
                if attempt == attempts or not _connection_broke(exc):
                    raise
                log.info("%s: the %s task store lost its connection; writing again on a new one",
                         what, self.kind.value)
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads (a consistent snapshot that never waits for writers).

        A store that cannot be reached (the cluster store while the local observer restarts)
        is ``Task.Engine.Unavailable`` naming the cause, not an unexpected error."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{_READ_ONLY: True})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise TASK_ENGINE_UNAVAILABLE(f"the {self.kind.value} task store cannot be read now: "
                                          f"{exc.orig if exc.orig is not None else exc}") from exc

    def reading(self, work: Callable[[Connection], T], attempts: int = 3) -> T:
        """``work`` in a read-only transaction (:meth:`read`), made again on a new connection
        when the connection broke under it (the observer behind it was just stopped)."""
        for attempt in range(1, attempts + 1):
            try:
                with self.read() as conn:
                    return work(conn)
            except Exception as exc:  # TASK_ENGINE_UNAVAILABLE wraps the driver's error
                if attempt == attempts or not is_connection_lost(exc.__cause__ or exc):
                    raise
                log.info("the %s task store lost its connection under a read; reading again", self.kind.value)
        raise AssertionError("unreachable")

    # -- reads ----------------------------------------------------------------------------
    def get_dag(self, conn: Connection, dag_id: int, *, lock: bool = False) -> DagRow:
        """``lock``: SELECT … FOR UPDATE, so a read-then-write transaction on the cluster store
        waits for another writer of the DAG instead of failing at its first write."""
        stmt = select(self.tables.dag).where(self.tables.dag.c.id == dag_id)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise TASK_NOT_FOUND(f"dag {dag_id} not found")
        return DagRow.from_mapping(row._mapping)

    def get_node(self, conn: Connection, node_id: int) -> NodeRow:
        row = conn.execute(select(self.tables.node).where(self.tables.node.c.id == node_id)).first()
        if row is None:
            raise TASK_NOT_FOUND(f"node {node_id} not found")
        return NodeRow.from_mapping(row._mapping)

    def get_subtask(self, conn: Connection, task_id: int, *, lock: bool = False) -> SubTaskRow:
        t = self.tables.subtask
        stmt = select(t).where(t.c.id == task_id)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise TASK_NOT_FOUND(f"sub task {task_id} not found")
        return SubTaskRow.from_mapping(row._mapping)

    def node_at_stage(self, conn: Connection, dag_id: int, stage: int) -> NodeRow:
        n = self.tables.node
        row = conn.execute(select(n).where(n.c.dag_id == dag_id, n.c.dag_stage == stage)).first()
        if row is None:
            raise TASK_NOT_FOUND(f"node of dag {dag_id} at stage {stage} not found")
        return NodeRow.from_mapping(row._mapping)

    def nodes_of_dag(self, conn: Connection, dag_id: int) -> list[NodeRow]:
        n = self.tables.node
        rows = conn.execute(select(n).where(n.c.dag_id == dag_id).order_by(n.c.dag_stage))
        return [NodeRow.from_mapping(r._mapping) for r in rows]

    def subtasks_of_node(self, conn: Connection, node_id: int) -> list[SubTaskRow]:
        t = self.tables.subtask
        rows = conn.execute(select(t).where(t.c.node_id == node_id).order_by(t.c.id))
        return [SubTaskRow.from_mapping(r._mapping) for r in rows]

    def subtasks_of_nodes(self, conn: Connection, node_ids: list[int]) -> dict[int, list[SubTaskRow]]:
        """Sub-tasks of several nodes in one query (a DAG view would otherwise query per node)."""
        result: dict[int, list[SubTaskRow]] = {node_id: [] for node_id in node_ids}
        if not node_ids:
            return result
        t = self.tables.subtask
        for row in conn.execute(select(t).where(t.c.node_id.in_(node_ids)).order_by(t.c.id)):
            task = SubTaskRow.from_mapping(row._mapping)
            result[task.node_id].append(task)
        return result

    def subtasks_in_states(self, conn: Connection, states: tuple[State, ...]) -> list[SubTaskRow]:
        t = self.tables.subtask
        rows = conn.execute(select(t).where(t.c.state.in_([int(s) for s in states]), t.c.node_id != 0))
        return [SubTaskRow.from_mapping(r._mapping) for r in rows]

    def dags(self, conn: Connection, *, unfinished_only: bool = False) -> list[DagRow]:
        d = self.tables.dag
        query = select(d).order_by(d.c.id)
        if unfinished_only:
            query = query.where(d.c.is_finished.is_(False))
        return [DagRow.from_mapping(r._mapping) for r in conn.execute(query)]

    def dag_state_counts(self, conn: Connection) -> dict[State, int]:
        """How many DAGs are in each stored state (one grouped query: what a metrics scrape reads)."""
        d = self.tables.dag
        rows = conn.execute(select(d.c.state, func.count()).group_by(d.c.state))
        return {State(int(state)): int(count) for state, count in rows}

    def latest_maintenance_dag(self, conn: Connection) -> DagRow | None:
        d = self.tables.dag
        row = conn.execute(select(d).where(d.c.is_maintenance.is_(True)).order_by(d.c.id.desc()).limit(1)).first()
        return DagRow.from_mapping(row._mapping) if row is not None else None

    def logs_of_subtask(self, conn: Connection, task_id: int) -> list[LogRow]:
        lg = self.tables.log
        rows = conn.execute(select(lg).where(lg.c.sub_task_id == task_id).order_by(lg.c.id))
        return [LogRow.from_mapping(r._mapping) for r in rows]

    def logs_of_subtasks(self, conn: Connection, task_ids: list[int]) -> dict[int, list[str]]:
        if not task_ids:
            return {}
        lg = self.tables.log
        rows = conn.execute(select(lg.c.sub_task_id, lg.c.log_content)
                            .where(lg.c.sub_task_id.in_(task_ids)).order_by(lg.c.id))
        result: dict[int, list[str]] = {}
        for sub_task_id, content in rows:
            result.setdefault(int(sub_task_id), []).append(content or "")
        return result

    # -- compare-and-set writes ----------------------------------------------------------
    def _cas(self, conn: Connection, statement: Any, what: str, *, required: bool = True) -> bool:
        changed = conn.execute(statement).rowcount == 1
        if not changed and required:
            raise NO_ROW_AFFECTED(what)
        return changed

    def insert_log(self, conn: Connection, task_id: int, execute_times: int, content: str) -> None:
        self.insert_logs(conn, task_id, execute_times, [content])

    def insert_logs(self, conn: Connection, task_id: int, execute_times: int, contents: list[str]) -> None:
        """Log lines of one attempt, in order (one multi-row INSERT)."""
        if not contents:
            return
        now = utcnow()
        extra: dict[str, Any] = {"is_sync": True} if self.is_local else {}
        conn.execute(self.tables.log.insert(), [
            dict(sub_task_id=task_id, execute_times=execute_times, log_content=content, create_time=now,
                 update_time=now, **extra)
            for content in contents])

    def dag_set_running(self, conn: Connection, dag: DagRow) -> bool:
        d, now = self.tables.dag, utcnow()
        stmt = (update(d).where(d.c.id == dag.id, d.c.state == int(State.READY),
                                d.c.start_time.is_not_distinct_from(dag.start_time))
                .values(state=int(State.RUNNING), stage=dag.current_stage, start_time=now, gmt_modify=now))
        if not self._cas(conn, stmt, "set dag running", required=False):
            return False
        dag.state, dag.stage, dag.start_time = State.RUNNING, dag.current_stage, now
        return True

    def dag_move_stage(self, conn: Connection, dag: DagRow, stage: int) -> bool:
        d = self.tables.dag
        stmt = (update(d).where(d.c.id == dag.id, d.c.stage == dag.stage,
                                d.c.start_time.is_not_distinct_from(dag.start_time))
                .values(stage=stage, gmt_modify=utcnow()))
        return self._cas(conn, stmt, "update dag stage", required=False)

    def dag_finish(self, conn: Connection, dag: DagRow, state: State, *, is_finished: bool) -> bool:
        d, now = self.tables.dag, utcnow()
        stmt = (update(d).where(d.c.id == dag.id, d.c.state == int(State.RUNNING),
                                d.c.start_time.is_not_distinct_from(dag.start_time))
                .values(state=int(state), is_finished=is_finished, end_time=now, gmt_modify=now))
        return self._cas(conn, stmt, "finish dag", required=False)

    def dag_set_paused(self, conn: Connection, dag: DagRow, paused: bool, reason: str = "", *,
                       approved_stage: int | None = None) -> bool:
        """Set or clear the pause of an unfinished DAG (a RESUME may let a gate stage through)."""
        d = self.tables.dag
        values: dict[str, Any] = dict(is_paused=paused, pause_reason=reason if paused else "", gmt_modify=utcnow())
        if approved_stage is not None:
            values["approved_stage"] = approved_stage
        stmt = (update(d).where(d.c.id == dag.id, d.c.is_finished.is_(False), d.c.state == int(dag.state),
                                d.c.is_paused.is_(dag.is_paused))
                .values(**values))
        if not self._cas(conn, stmt, "pause dag", required=False):
            return False
        dag.is_paused, dag.pause_reason = paused, values["pause_reason"]
        if approved_stage is not None:
            dag.approved_stage = approved_stage
        return True

    def node_start(self, conn: Connection, node: NodeRow, context: TaskContext) -> bool:
        n, now = self.tables.node, utcnow()
        stmt = (update(n).where(n.c.id == node.id, n.c.state == int(State.PENDING))
                .values(state=int(State.RUNNING), context=context.to_json(), start_time=now, end_time=now,
                        gmt_modify=now))
        if not self._cas(conn, stmt, "start node", required=False):
            return False
        node.state, node.context, node.start_time, node.end_time = State.RUNNING, context, now, now
        return True

    def node_finish(self, conn: Connection, node: NodeRow, state: State) -> bool:
        n, now = self.tables.node, utcnow()
        stmt = (update(n).where(n.c.id == node.id, n.c.state == int(State.RUNNING),
                                n.c.start_time.is_not_distinct_from(node.start_time))
                .values(state=int(state), end_time=now, gmt_modify=now))
        if not self._cas(conn, stmt, "finish node", required=False):
            return False
        node.state, node.end_time = state, now
        return True

    def subtask_set_ready(self, conn: Connection, task: SubTaskRow, operator: Operator,
                          context: TaskContext, agent: AgentInfo, *, from_ready: bool = False) -> bool:
        """READY for a new attempt (``execute_times+1``, the fencing token of every later write)."""
        t = self.tables.subtask
        state_test = t.c.state == int(State.READY) if from_ready else t.c.state != int(State.READY)
        stmt = (update(t).where(t.c.id == task.id, t.c.execute_times == task.execute_times, state_test)
                .values(state=int(State.READY), operator=int(operator), execute_times=task.execute_times + 1,
                        context=context.to_json(), executer_agent_ip=agent.ip, executer_agent_port=agent.port,
                        gmt_modify=utcnow()))
        if not self._cas(conn, stmt, "set sub task ready", required=False):
            return False
        task.state, task.operator, task.execute_times = State.READY, operator, task.execute_times + 1
        task.context, task.agent = context, agent
        return True

    def subtask_start(self, conn: Connection, task: SubTaskRow) -> bool:
        t, now = self.tables.subtask, utcnow()
        stmt = (update(t).where(t.c.id == task.id, t.c.execute_times == task.execute_times,
                                t.c.state == int(State.READY))
                .values(state=int(State.RUNNING), start_time=now, gmt_modify=now))
        if self._cas(conn, stmt, "start sub task", required=False):
            task.state, task.start_time = State.RUNNING, now
            return True
        # Accepted when another start of the same attempt already won.
        current = self.get_subtask(conn, task.id)
        return (current.state == State.RUNNING and current.execute_times == task.execute_times
                and current.agent == task.agent)

    def subtask_finish(self, conn: Connection, task_id: int, execute_times: int, state: State,
                       context: TaskContext) -> bool:
        t, now = self.tables.subtask, utcnow()
        stmt = (update(t).where(t.c.id == task_id, t.c.execute_times == execute_times,
                                t.c.state == int(State.RUNNING))
                .values(state=int(state), context=context.to_json(), end_time=now, gmt_modify=now))
        return self._cas(conn, stmt, "finish sub task", required=False)

    def subtask_fail(self, conn: Connection, task: SubTaskRow, reason: str) -> bool:
        """The scheduler fails a sub-task (cancel, timeout, lost run) and logs why."""
        t, now = self.tables.subtask, utcnow()
        stmt = (update(t).where(t.c.id == task.id, t.c.execute_times == task.execute_times,
                                t.c.state.in_([int(State.READY), int(State.RUNNING)]))
                .values(state=int(State.FAILED), end_time=now, gmt_modify=now))
        if not self._cas(conn, stmt, "fail sub task", required=False):
            return False
        self.insert_log(conn, task.id, task.execute_times, reason)
        task.state, task.end_time = State.FAILED, now
        return True

    def now(self) -> datetime:
        return utcnow()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
