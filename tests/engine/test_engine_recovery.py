"""Timeouts, and recovery after the engine stops mid-DAG (a restart on the same SQLite file)."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.engine.engine_helpers import (
    OWNER,
    SCRIPT,
    Blocking,
    BlockingContinuable,
    Sleeper,
    Step,
    make_registry,
    running_engine,
    wait_dag,
    wait_for,
)

from pyobshell.engine import State, TaskContext, TaskEngine, TaskStore, TemplateBuilder
from pyobshell.engine.advance import TIMEOUT_LOG, DagAdvancer, LocalDispatcher
from pyobshell.engine.creation import create_dag
from pyobshell.engine.executor import NOT_CONTINUABLE
from pyobshell.engine.schema import StoreKind

pytestmark = pytest.mark.anyio


async def test_a_sub_task_past_its_timeout_fails(sqlite_url: str) -> None:
    async with running_engine(sqlite_url, StoreKind.LOCAL) as engine:
        template = TemplateBuilder("slow").add_task(Sleeper(name="sleepy")).build()
        dag = await wait_dag(engine, engine.create_dag(template, TaskContext(params={"timeout": 0.3})).id)
        assert dag.state == "FAILED"
        task = ((dag.nodes or [])[0].sub_tasks or [])[0]
        assert any(line == f"ERROR: task {task.task_id} timeout" for line in task.task_logs or [])


class _Recorder:
    def __init__(self) -> None:
        self.submitted: list[int] = []
        self.interrupted: list[int] = []

    def submit(self, task_id: int) -> None:
        self.submitted.append(task_id)

    def cancel(self, task_id: int) -> None:
        raise AssertionError("no cancel expected")

    def interrupt(self, task_id: int) -> None:
        self.interrupted.append(task_id)


def test_the_scheduler_fails_running_sub_tasks_past_their_timeout(sqlite_url: str) -> None:
    """A RUNNING row nobody finishes (its executor died) fails after the timeout and the grace."""
    store = TaskStore(sqlite_url, StoreKind.LOCAL, owner=OWNER)
    dispatcher = _Recorder()
    advancer = DagAdvancer(store, LocalDispatcher(dispatcher), timeout_grace=0.2)
    dag = create_dag(store, TemplateBuilder("lost").add_task(Step(name="a")).build(),
                     TaskContext(params={"timeout": 0.05}), make_registry())
    assert advancer.advance_dag(dag.id)  # READY → RUNNING, node started, sub-task READY
    with store.transaction() as conn:
        task = store.subtasks_of_node(conn, store.node_at_stage(conn, dag.id, 1).id)[0]
        assert task.state == State.READY and dispatcher.submitted == [task.id]
        assert store.subtask_start(conn, task)
    time.sleep(0.1)
    advancer.advance_all()  # past the timeout, within the grace: the executor may still report it
    with store.transaction() as conn:
        assert store.get_subtask(conn, task.id).state == State.RUNNING
    time.sleep(0.2)
    advancer.advance_all()
    with store.transaction() as conn:
        assert store.get_subtask(conn, task.id).state == State.FAILED
        assert [line.log_content for line in store.logs_of_subtask(conn, task.id)] == [TIMEOUT_LOG]
        assert store.get_dag(conn, dag.id).state == State.FAILED
    assert dispatcher.interrupted == [task.id]
    store.close()


async def _stop_mid_dag(url: str, blocking_task: Blocking) -> str:
    """Start a DAG, stop the engine while its second node runs; returns the DAG id."""
    engine = TaskEngine(TaskStore(url, StoreKind.LOCAL, owner=OWNER), make_registry())
    await engine.start()
    template = TemplateBuilder("restart").add_task(Step(name="a")).add_task(blocking_task) \
        .add_task(Step(name="z")).build()
    gid = engine.create_dag(template).id
    await wait_for(SCRIPT.started)
    await engine.stop()
    engine.close()
    SCRIPT.started.clear()
    return gid


async def test_continuable_sub_tasks_run_again_after_a_restart(sqlite_url: str) -> None:
    gid = await _stop_mid_dag(sqlite_url, BlockingContinuable(name="cont"))
    async with running_engine(sqlite_url, StoreKind.LOCAL) as engine:
        assert engine.service.get_dag(gid).state == "RUNNING"
        await wait_for(SCRIPT.started)  # the interrupted run started again
        SCRIPT.release.set()
        dag = await wait_dag(engine, gid)
        assert dag.state == "SUCCEED"
        assert SCRIPT.entries("execute:cont") == ["execute:cont", "execute:cont"]
        assert SCRIPT.entries("execute:a") == ["execute:a@127.0.0.1"]  # finished work is not redone
        assert ((dag.nodes or [])[1].sub_tasks or [])[0].execute_times == 1  # same attempt, continued


async def test_other_interrupted_sub_tasks_fail_with_a_log_line(sqlite_url: str) -> None:
    gid = await _stop_mid_dag(sqlite_url, Blocking(name="once"))
    async with running_engine(sqlite_url, StoreKind.LOCAL) as engine:
        dag = await wait_dag(engine, gid)
        assert (dag.state, dag.stage) == ("FAILED", 2)
        task = ((dag.nodes or [])[1].sub_tasks or [])[0]
        assert f"ERROR: {NOT_CONTINUABLE}" in (task.task_logs or [])
        assert SCRIPT.entries("execute:once") == ["execute:once"]
        # the DAG can go on: a retry runs it again to the end
        SCRIPT.release.set()
        engine.service.operate_dag(gid, "retry")
        assert (await wait_dag(engine, gid, ("SUCCEED",))).stage == 3


async def test_stop_does_not_hang_on_a_blocked_task(sqlite_url: str) -> None:
    engine = TaskEngine(TaskStore(sqlite_url, StoreKind.LOCAL, owner=OWNER), make_registry())
    await engine.start()
    engine.create_dag(TemplateBuilder("blocked").add_task(Blocking(name="b")).build())
    await wait_for(SCRIPT.started)
    await asyncio.wait_for(engine.stop(timeout=2), timeout=10)
    assert engine.executor.running_ids == set()
    engine.close()
