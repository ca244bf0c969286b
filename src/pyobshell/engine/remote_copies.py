"""Remote copies: local (SQLite) copies of cluster sub-tasks this agent executes.

The maintainer sends a ready cluster sub-task to the agent named as its executor. That agent
keeps a copy in its local store (``node_id = 0``) and a ``task_mapping`` row (cluster id →
local id, ``execute_times``, ``is_sync``), runs the copy in its own executor and writes the
result back to the cluster store. ``execute_times`` fences every step: an older attempt never
overwrites a newer one.

``is_sync`` on the mapping says the cluster row has seen the copy's final state; on a log row
it says the line reached the cluster's ``sub_task_log``. Whatever could not be written at once
is pushed later by the cluster's sync loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from sqlalchemy import Connection, insert, select, update

from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import AgentInfo, Operator, State
from pyobshell.engine.rows import SubTaskRow, utcnow
from pyobshell.engine.store import TaskStore

REMOTE_NODE_ID = 0
SYNC_BATCH = 1000


def _context(value: Any) -> TaskContext:
    return value if isinstance(value, TaskContext) else TaskContext.from_dict(value or {})


def _agent(value: Any) -> AgentInfo:
    agent = AgentInfo.from_any(value)
    if not agent.ip or not 1 <= agent.port <= 65535:
        raise ValueError(f"not an agent address: {value!r}")
    return agent


class RemoteTask(BaseModel):
    """A cluster sub-task as the maintainer sends it to its executor, and as the executor
    reports it back (obshell's ``RemoteTask`` JSON; ``start_time``/``end_time`` are ignored).
    The one shape of that message: the RPC routes take it as their body, validated once."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)
    task_id: int = Field(ge=1)
    name: str
    struct_name: str
    state: State
    operator: Operator
    can_cancel: bool = False
    can_continue: bool = False
    can_pass: bool = False
    can_retry: bool = False
    can_rollback: bool = False
    context: Annotated[TaskContext, BeforeValidator(_context), PlainSerializer(lambda c: c.to_dict())] = Field(
        default_factory=TaskContext)
    execute_times: int = Field(ge=0)
    executer_agent: Annotated[AgentInfo, BeforeValidator(_agent)]

    @classmethod
    def from_row(cls, row: SubTaskRow) -> "RemoteTask":
        return cls(task_id=row.id, name=row.name, struct_name=row.struct_name, state=row.state, operator=row.operator,
                   can_cancel=row.can_cancel, can_continue=row.can_continue, can_pass=row.can_pass,
                   can_retry=row.can_retry, can_rollback=row.can_rollback, context=row.context,
                   execute_times=row.execute_times, executer_agent=row.agent)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "RemoteTask":
        return cls.model_validate(raw)


@dataclass(frozen=True)
class Mapping:
    remote_task_id: int
    local_task_id: int
    execute_times: int
    is_sync: bool


@dataclass(frozen=True)
class UnsyncedLog:
    id: int
    remote_task_id: int
    execute_times: int
    content: str


@dataclass(frozen=True)
class AcceptResult:
    local_task_id: int
    queue: bool  # hand the copy to the executor


def _mapping(row: Any) -> Mapping:
    return Mapping(int(row.remote_task_id), int(row.local_task_id), int(row.execute_times), bool(row.is_sync))


def mapping_by_remote(store: TaskStore, conn: Connection, remote_id: int) -> Mapping | None:
    m = store.tables.task_mapping
    assert m is not None, "remote copies live in the local store"
    row = conn.execute(select(m).where(m.c.remote_task_id == remote_id)).first()
    return _mapping(row) if row is not None else None


def mapping_by_local(store: TaskStore, conn: Connection, local_id: int) -> Mapping | None:
    m = store.tables.task_mapping
    assert m is not None, "remote copies live in the local store"
    row = conn.execute(select(m).where(m.c.local_task_id == local_id)).first()
    return _mapping(row) if row is not None else None


def accept(store: TaskStore, task: RemoteTask) -> AcceptResult:
    """Create or refresh the copy of ``task`` (idempotent by ``execute_times``)."""
    t, m, now = store.tables.subtask, store.tables.task_mapping, utcnow()
    assert m is not None
    copy_values: dict[str, Any] = dict(
        name=task.name[:64], struct_name=task.struct_name, executer_agent_ip=task.executer_agent.ip,
        executer_agent_port=task.executer_agent.port, execute_times=task.execute_times,
        can_cancel=task.can_cancel, can_continue=task.can_continue, can_pass=task.can_pass,
        can_retry=task.can_retry, can_rollback=task.can_rollback, context=task.context.to_json(),
        state=int(State.READY), operator=int(task.operator), start_time=None, end_time=None, gmt_modify=now,
    )
    with store.transaction() as conn:
        found = mapping_by_remote(store, conn, task.task_id)
        if found is None:
            local_id = int(conn.execute(insert(t).values(node_id=REMOTE_NODE_ID, gmt_create=now, **copy_values))
                           .inserted_primary_key[0])
            conn.execute(insert(m).values(remote_task_id=task.task_id, local_task_id=local_id,
                                          execute_times=task.execute_times, is_sync=True, gmt_modify=now))
            return AcceptResult(local_id, True)
        if found.execute_times >= task.execute_times:
            # The same (or an older) attempt again: still waiting to start? queue it once more.
            state = conn.execute(select(t.c.state).where(t.c.id == found.local_task_id)).scalar()
            return AcceptResult(found.local_task_id, state == int(State.READY)
                                and found.execute_times == task.execute_times)
        conn.execute(update(t).where(t.c.id == found.local_task_id).values(**copy_values))
        conn.execute(update(m).where(m.c.remote_task_id == task.task_id)
                     .values(execute_times=task.execute_times, is_sync=True, gmt_modify=now))
        return AcceptResult(found.local_task_id, True)


def mark_finished(store: TaskStore, conn: Connection, local_id: int, execute_times: int) -> None:
    """In the local finish transaction: the cluster row still has to learn the result."""
    m = store.tables.task_mapping
    assert m is not None
    conn.execute(update(m).where(m.c.local_task_id == local_id, m.c.execute_times == execute_times)
                 .values(is_sync=False, gmt_modify=utcnow()))


def set_synced(store: TaskStore, remote_id: int, execute_times: int) -> None:
    m = store.tables.task_mapping
    assert m is not None
    with store.transaction() as conn:
        conn.execute(update(m).where(m.c.remote_task_id == remote_id, m.c.execute_times == execute_times)
                     .values(is_sync=True))


def insert_log(store: TaskStore, conn: Connection, local_id: int, execute_times: int, content: str) -> None:
    """A log line of a copy, to be copied to the cluster store (``is_sync = false``)."""
    now = utcnow()
    conn.execute(insert(store.tables.log).values(sub_task_id=local_id, execute_times=execute_times,
                                                 log_content=content, is_sync=False, create_time=now,
                                                 update_time=now))


def copies_in_states(store: TaskStore, conn: Connection, states: tuple[State, ...]) -> list[SubTaskRow]:
    t = store.tables.subtask
    rows = conn.execute(select(t).where(t.c.node_id == REMOTE_NODE_ID, t.c.state.in_([int(s) for s in states])))
    return [SubTaskRow.from_mapping(r._mapping) for r in rows]


def finished_unsynced(store: TaskStore) -> list[tuple[Mapping, SubTaskRow]]:
    """Copies whose final state the cluster row has not seen yet, oldest first."""
    m, t = store.tables.task_mapping, store.tables.subtask
    assert m is not None
    with store.read() as conn:
        rows = conn.execute(select(m).where(m.c.is_sync.is_(False)).order_by(m.c.gmt_modify).limit(SYNC_BATCH)).all()
        result = []
        for row in rows:
            mapping = _mapping(row)
            found = conn.execute(select(t).where(t.c.id == mapping.local_task_id)).first()
            if found is None:
                continue
            copy = SubTaskRow.from_mapping(found._mapping)
            if copy.state.is_finished and copy.execute_times == mapping.execute_times:
                result.append((mapping, copy))
        return result


def unsynced_logs(store: TaskStore) -> list[UnsyncedLog]:
    lg, m = store.tables.log, store.tables.task_mapping
    assert m is not None
    query = (select(lg.c.id, m.c.remote_task_id, lg.c.execute_times, lg.c.log_content)
             .join(m, m.c.local_task_id == lg.c.sub_task_id)
             .where(lg.c.is_sync.is_(False)).order_by(lg.c.id).limit(SYNC_BATCH))
    with store.read() as conn:
        return [UnsyncedLog(int(r[0]), int(r[1]), int(r[2]), r[3] or "") for r in conn.execute(query)]


def set_logs_synced(store: TaskStore, log_ids: list[int]) -> None:
    if not log_ids:
        return
    lg = store.tables.log
    with store.transaction() as conn:
        conn.execute(update(lg).where(lg.c.id.in_(log_ids)).values(is_sync=True))
