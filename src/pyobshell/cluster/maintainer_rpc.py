"""What the maintainer does for executors that cannot write to the cluster store themselves
(``PATCH /rpc/v1/task/sub_task``, ``POST /rpc/v1/task/log``), and who the maintainer is
(``GET /rpc/v1/maintainer``). Every write is fenced by ``execute_times``, as the direct writes are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from pyobshell.cluster.maintainer_election import MaintainerElection
from pyobshell.engine.model import State
from pyobshell.engine.remote_copies import RemoteTask
from pyobshell.engine.store import TaskStore
from pyobshell.errors import ErrorCode, ErrorKind

TASK_NOT_RUNNING = ErrorCode("Task.Remote.NotRunning", ErrorKind.UNEXPECTED, "task not running: {}")
EXECUTE_TIMES_NOT_MATCH = ErrorCode("Task.Remote.ExecuteTimesNotMatch", ErrorKind.UNEXPECTED,
                                    "execute times not match: {}")


def update_sub_task(cluster: TaskStore, task: RemoteTask) -> None:
    """Start (incoming RUNNING) or finish (incoming SUCCEED/FAILED) the cluster row."""
    cluster.write(lambda conn: _update_sub_task(cluster, conn, task), f"update of cluster sub task {task.task_id}")


def _update_sub_task(cluster: TaskStore, conn: Connection, task: RemoteTask) -> None:
    row = cluster.get_subtask(conn, task.task_id, lock=True)
    if row.execute_times != task.execute_times:
        raise EXECUTE_TIMES_NOT_MATCH(f"sub task {row.id} is at {row.execute_times}, not {task.execute_times}")
    if task.state == State.RUNNING:
        if row.state == State.RUNNING and row.agent == task.executer_agent:
            return
        if row.state != State.READY or not cluster.subtask_start(conn, row):
            raise TASK_NOT_RUNNING(f"sub task {row.id} is {row.state.name}")
        return
    if task.state.is_finished:
        if row.state == task.state:
            return  # already written (a retried call)
        if row.state != State.RUNNING or not cluster.subtask_finish(conn, row.id, row.execute_times,
                                                                    task.state, task.context):
            raise TASK_NOT_RUNNING(f"sub task {row.id} is {row.state.name}")
        return
    raise TASK_NOT_RUNNING(f"cannot set sub task {row.id} to {task.state.name}")


def insert_log(cluster: TaskStore, sub_task_id: int, execute_times: int, content: str) -> bool:
    """Store a log line unless it belongs to an older attempt; False when dropped."""
    return insert_logs(cluster, sub_task_id, execute_times, [content])


def insert_logs(cluster: TaskStore, sub_task_id: int, execute_times: int, contents: list[str]) -> bool:
    """Store log lines of one attempt, in order, in one transaction; False when dropped
    (they belong to an older attempt, or the row is not running yet)."""
    def insert(conn: Connection) -> bool:
        row = cluster.get_subtask(conn, sub_task_id, lock=True)
        if row.execute_times > execute_times or row.state in (State.PENDING, State.READY):
            return False
        cluster.insert_logs(conn, sub_task_id, execute_times, contents)
        return True
    return cluster.write(insert, f"log of cluster sub task {sub_task_id}")


COORDINATOR_NOT_INITIALIZED = ErrorCode("Agent.Coordinator.NotInitialized", ErrorKind.UNAVAILABLE,
                                        "Coordinator is not initialized: {}")


def maintainer_document(election: MaintainerElection, lease_s: float) -> dict[str, Any]:
    """``GET /rpc/v1/maintainer``: who holds the lease, in obshell's capitalised JSON (blocking)."""
    row = election.read()
    if not row.is_active(lease_s) or row.agent is None or row.active_time is None:
        raise COORDINATOR_NOT_INITIALIZED("no active maintainer")
    active = row.active_time.isoformat()
    return {
        "MaintainerInfo": {"Id": 1, "AgentIp": row.agent.ip, "AgentPort": row.agent.port, "Counter": row.counter,
                           "AgentTime": row.agent_time, "ActiveTime": active},
        "LifeTime": row.idle_s,
        "LastUpdateTime": active,
        "ExpirationTime": (row.active_time + timedelta(seconds=lease_s)).isoformat(),
    }
