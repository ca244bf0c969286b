"""Transactions the database gives up (deadlock 1213, lock wait timeout 1205) run again from
the start; other errors do not. On the cluster store, writers that meet wait for each other
instead of failing."""

from __future__ import annotations

import threading

import pymysql
import pytest
from tests.engine.engine_helpers import OWNER, Step, StoreTarget, make_registry
from sqlalchemy.exc import IntegrityError, OperationalError

from pyobshell.cluster import maintainer_rpc
from pyobshell.engine import StoreKind, TaskContext, TaskStore, TemplateBuilder
from pyobshell.engine.creation import create_dag
from pyobshell.engine.model import Operator
from pyobshell.errors import TASK_CREATE_FAILED
from pyobshell.db import is_restartable, run_restarting


def db_error(code: int, message: str = "") -> OperationalError:
    return OperationalError("UPDATE subtask_instance …", {}, pymysql.err.OperationalError(code, message or f"error {code}"))


class Flaky:
    """Fails with the given errors first, then answers ``done``."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_a_deadlock_and_a_lock_wait_timeout_restart_the_transaction() -> None:
    work = Flaky(db_error(1213, "Deadlock found when trying to get lock"), db_error(1205))
    assert run_restarting(work, "test") == "done"
    assert work.calls == 3


def test_a_restartable_cause_under_our_own_error_is_restarted_too() -> None:
    wrapped = TASK_CREATE_FAILED("'x'")
    wrapped.__cause__ = db_error(1213)
    work = Flaky(wrapped)
    assert run_restarting(work, "test") == "done" and work.calls == 2


@pytest.mark.parametrize("error", [
    db_error(2013, "Lost connection to MySQL server during query"),
    IntegrityError("INSERT …", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")),
    ValueError("not a database error"),
])
def test_other_errors_are_raised_at_once(error: Exception) -> None:
    work = Flaky(error)
    with pytest.raises(type(error)):
        run_restarting(work, "test")
    assert work.calls == 1


def test_the_last_failure_is_raised_after_the_attempts() -> None:
    work = Flaky(*[db_error(1213) for _ in range(3)])
    with pytest.raises(OperationalError) as raised:
        run_restarting(work, "test", attempts=3)
    assert work.calls == 3 and is_restartable(raised.value)


def test_store_write_decides_afresh_on_each_attempt(sqlite_url: str) -> None:
    store = TaskStore(sqlite_url, owner=OWNER)
    seen: list[int] = []

    def work(conn) -> int:
        dag = store.get_dag(conn, dag_id, lock=True)
        seen.append(dag.stage)
        if len(seen) == 1:
            raise db_error(1213)
        return dag.stage

    dag_id = create_dag(store, TemplateBuilder("one").add_task(Step(name="a")).build(), None, make_registry()).id
    try:
        assert store.write(work, "test") == 1
        assert seen == [1, 1]
    finally:
        store.close()


def test_concurrent_writers_of_one_sub_task_all_succeed(store_target: StoreTarget) -> None:
    """Four executors push log lines of one running cluster sub-task at once (each a read of the
    row, then an insert): every line is stored, none fails."""
    store = TaskStore(store_target.url, store_target.kind, owner=OWNER)
    try:
        dag = create_dag(store, TemplateBuilder("logs").add_task(Step(name="a")).build(), TaskContext(),
                         make_registry())
        with store.transaction() as conn:
            (task,) = store.subtasks_of_node(conn, store.node_at_stage(conn, dag.id, 1).id)
            assert store.subtask_set_ready(conn, task, Operator.RUN, task.context, OWNER)
            assert store.subtask_start(conn, task)
        failures: list[BaseException] = []

        def push(writer: int) -> None:
            for line in range(10):
                try:
                    assert maintainer_rpc.insert_log(store, task.id, task.execute_times, f"w{writer} line {line}")
                except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                    failures.append(exc)

        threads = [threading.Thread(target=push, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        with store.read() as conn:
            lines = [row.log_content for row in store.logs_of_subtask(conn, task.id)]
        assert sorted(lines) == sorted(f"w{w} line {n}" for w in range(4) for n in range(10))
    finally:
        store.close()


# --- the real thing, on seekdb (OceanBase's own lock waits and deadlock detection) ---------

def ob_lock_wait(conn, seconds: float) -> None:
    """Give up a row lock wait after ``seconds`` with 1205 (OceanBase's own session variable)."""
    conn.exec_driver_sql(f"SET SESSION ob_trx_lock_timeout = {int(seconds * 1_000_000)}")


def _two_dags(store: TaskStore) -> tuple[int, int]:
    template = TemplateBuilder("locks").add_task(Step(name="a")).build()
    return tuple(create_dag(store, template, None, make_registry()).id for _ in range(2))  # type: ignore[return-value]


@pytest.mark.seekdb
def test_a_real_lock_wait_timeout_restarts_the_transaction(seekdb_url: str) -> None:
    """Another writer holds the DAG's row: the lock wait gives up (1205), the write runs again."""
    store = TaskStore(seekdb_url, StoreKind.CLUSTER, owner=OWNER)
    blocker = store.engine.connect()
    try:
        dag_id, _ = _two_dags(store)
        blocker_txn = blocker.begin()
        store.get_dag(blocker, dag_id, lock=True)
        attempts: list[int] = []

        def work(conn) -> int:
            attempts.append(len(attempts) + 1)
            if len(attempts) == 2:
                blocker_txn.rollback()  # the other writer finishes meanwhile
            ob_lock_wait(conn, 0.2)
            return store.get_dag(conn, dag_id, lock=True).stage

        assert store.write(work, "test") == 1
        assert attempts == [1, 2]
    finally:
        blocker.close()
        store.close()


@pytest.mark.seekdb
def test_a_real_deadlock_restarts_the_losing_transaction(seekdb_url: str) -> None:
    """Two writers lock two DAGs in opposite orders. OceanBase's deadlock detection rolls one back
    (1213), or, when it is slow to see the cycle, both wait out their lock wait (1205): either
    way the transactions given up run again, until both have committed."""
    store = TaskStore(seekdb_url, StoreKind.CLUSTER, owner=OWNER)
    try:
        first, second = _two_dags(store)
        both_hold_one = threading.Barrier(2, timeout=30)
        runs: list[str] = []
        failures: list[BaseException] = []

        def writer(name: str, order: tuple[int, int]) -> None:
            def work(conn) -> None:
                runs.append(name)
                ob_lock_wait(conn, 2.0)
                dag = store.get_dag(conn, order[0], lock=True)
                if runs.count(name) == 1:
                    both_hold_one.wait()
                store.get_dag(conn, order[1], lock=True)
                assert store.dag_move_stage(conn, dag, dag.stage)
            try:
                store.write(work, f"writer {name}")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=("a", (first, second))),
                   threading.Thread(target=writer, args=("b", (second, first)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        assert len(runs) > 2  # at least one was given up and restarted; both wrote (asserted in work)
    finally:
        store.close()
