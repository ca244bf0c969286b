"""The executor: a bounded pool of worker threads running sub-tasks, one run per sub-task.

A worker moves its sub-task READY→RUNNING, runs ``execute()`` (or ``rollback()``) with the
stored context, and writes SUCCEED/FAILED with the changed context. Every write is fenced by
``execute_times``, so a run that was cancelled, timed out or superseded cannot overwrite a
newer attempt. Python threads cannot be killed: cancel and timeout set the task's interrupt
flag (raised at its next log call or ``sleep``) and a cancel also calls the ``cancel()`` hook
at once, in its own thread, so the hook can stop blocking work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection

from pyobshell.engine import remote_copies
from pyobshell.engine.logs import LOCAL_SCHEDULER_TRACE, engine_logger
from pyobshell.engine.model import Operator, State
from pyobshell.engine.rows import SubTaskRow
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import Task, TaskInterrupted, TaskRegistry, WaitOperator, describe_error

NOT_CONTINUABLE = "task unexpectedly interrupted and cannot continue"


class RemoteCopyHooks(Protocol):
    """How the cluster layer takes part in running copies of cluster sub-tasks (``node_id = 0``)."""

    def start(self, row: SubTaskRow) -> bool:
        """Move the cluster row to RUNNING before the copy starts; False: not now (the
        maintainer sends the task again and it is retried)."""
        ...

    def finished(self, row: SubTaskRow) -> None:
        """The copy finished locally (its mapping is marked unsynced): push the result."""
        ...

    def logged(self, row: SubTaskRow) -> None:
        """A log line of the copy was stored locally (unsynced)."""
        ...


@dataclass
class _Run:
    task_id: int
    row: SubTaskRow | None = None
    task: Task | None = None
    interrupted: bool = False  # asked to stop before the task object existed
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def interrupt(self) -> None:
        with self.lock:
            self.interrupted = True
            task = self.task
        if task is not None:
            task.interrupt()

    def attach(self, task: Task) -> None:
        with self.lock:
            self.task = task
            interrupted = self.interrupted
        if interrupted:
            task.interrupt()


class Executor:
    def __init__(self, store: TaskStore, registry: TaskRegistry, *, workers: int = 8,
                 on_finished: Callable[[], None] | None = None, trace_id: str = LOCAL_SCHEDULER_TRACE):
        self.store = store
        self.registry = registry
        self._on_finished = on_finished or (lambda: None)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pyobshell-task")
        self._lock = threading.Lock()
        self._queued: set[int] = set()
        self._running: dict[int, _Run] = {}
        self._again: set[int] = set()
        self._futures: set[Future[None]] = set()
        self._closed = False
        self.log = engine_logger(__name__, trace_id)
        # Set by the cluster layer once this agent can reach the cluster; copies wait until then.
        self.remote_hooks: RemoteCopyHooks | None = None

    # -- control --------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue every READY or RUNNING sub-task left by a previous process; returns how many."""
        with self.store.transaction() as conn:
            rows = self.store.subtasks_in_states(conn, (State.READY, State.RUNNING))
            if self.store.tables.task_mapping is not None:
                rows += remote_copies.copies_in_states(self.store, conn, (State.READY, State.RUNNING))
        for row in rows:
            self.log.info("recovering sub task %d (%s)", row.id, row.state.name, extra={"task_id": row.id})
            self.submit(row.id)
        return len(rows)

    def submit(self, task_id: int) -> None:
        """Queue a sub-task; repeated submissions of a queued or running one are folded."""
        with self._lock:
            if self._closed or task_id in self._queued:
                return
            if task_id in self._running:
                self._again.add(task_id)  # maybe a new attempt: look again when this run ends
                return
            self._queued.add(task_id)
            future = self._pool.submit(self._handle, task_id)
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def cancel(self, task_id: int) -> None:
        """Interrupt a running sub-task and call its ``cancel()`` hook."""
        run = self._interrupt(task_id)
        if run is not None and run.task is not None:
            threading.Thread(target=self._cancel_hook, args=(run.task,), name=f"pyobshell-cancel-{task_id}",
                             daemon=True).start()

    def interrupt(self, task_id: int) -> None:
        self._interrupt(task_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking work; interrupt runs and drop their results (recovery re-runs them)."""
        with self._lock:
            self._closed = True
            runs = list(self._running.values())
            futures = list(self._futures)
        for run in runs:
            run.interrupt()
        wait_futures(futures, timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def running_ids(self) -> set[int]:
        with self._lock:
            return set(self._running)

    # -- internals ------------------------------------------------------------------------
    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _interrupt(self, task_id: int) -> _Run | None:
        with self._lock:
            run = self._running.get(task_id)
        if run is not None:
            run.interrupt()
        return run

    def _cancel_hook(self, task: Task) -> None:
        try:
            task.cancel()
        except Exception:
            self.log.exception("cancel hook of sub task %d failed", task.id, extra={"task_id": task.id})

    def _handle(self, task_id: int) -> None:
        run = _Run(task_id)
        with self._lock:
            # Registered before the row is started, so a cancel arriving meanwhile is not lost.
            self._queued.discard(task_id)
            self._running[task_id] = run
        try:
            with self.store.read() as conn:
                row = self.store.get_subtask(conn, task_id)
            is_continue = row.state == State.RUNNING
            if row.state == State.READY and self._is_copy(row):
                hooks = self.remote_hooks
                if hooks is None or not hooks.start(row):
                    self.log.info("copy %d of a cluster sub task cannot start yet", task_id, extra={"task_id": task_id})
                    return
            with self.store.transaction() as conn:
                if row.state == State.READY and not self.store.subtask_start(conn, row):
                    return
            if row.state == State.RUNNING:
                run.row = row
                self._run(run, is_continue)
        except Exception:
            self.log.exception("sub task %d could not be run", task_id, extra={"task_id": task_id})
        finally:
            with self._lock:
                self._running.pop(task_id, None)
                again = task_id in self._again
                self._again.discard(task_id)
            if again:
                self.submit(task_id)

    def _run(self, run: _Run, is_continue: bool) -> None:
        row = run.row
        assert row is not None
        if is_continue and not row.can_continue:
            self._finish(run, RuntimeError(NOT_CONTINUABLE))
            return
        try:
            task = self.registry.create(row.struct_name)
        except Exception as exc:  # unregistered type or a constructor that fails
            self._finish(run, exc)
            return
        task.bind(task_id=row.id, name=row.name, operator=row.operator, execute_times=row.execute_times,
                  agent=row.agent, context=row.context, is_continue=is_continue,
                  log_sink=lambda line: self._write_log(row, line))
        run.attach(task)
        timeout = row.context.timeout_seconds()
        timer = threading.Timer(timeout, self._on_timeout, args=(run,))
        timer.daemon = True
        timer.start()
        self.log.info("sub task %d %r starts %s (attempt %d%s)", row.id, row.name,
                      "rollback" if row.operator == Operator.ROLLBACK else "execute", row.execute_times,
                      ", continued after restart" if is_continue else "", extra={"task_id": row.id})
        error: BaseException | None = None
        try:
            if row.operator == Operator.ROLLBACK:
                task.rollback()
            else:
                task.execute()
        except TaskInterrupted as exc:
            error = exc
        except Exception as exc:
            error = exc
            if not isinstance(exc, WaitOperator):
                self.log.info("sub task %d raised %s", row.id, type(exc).__name__, exc_info=True,
                              extra={"task_id": row.id})
        finally:
            timer.cancel()
        self._finish(run, error)

    def _on_timeout(self, run: _Run) -> None:
        run.interrupt()
        self._finish(run, TimeoutError(f"task {run.task_id} timeout"))

    def _finish(self, run: _Run, error: BaseException | None) -> None:
        with run.lock:
            if run.done:
                return
            run.done = True
        row = run.row
        assert row is not None
        with self._lock:
            closed = self._closed
        if closed:
            self.log.info("engine closing: result of sub task %d not recorded", row.id, extra={"task_id": row.id})
            return
        state = State.SUCCEED if error is None else State.FAILED
        context = run.task.context if run.task is not None else row.context
        with self.store.transaction() as conn:
            written = self.store.subtask_finish(conn, row.id, row.execute_times, state, context)
            if written and error is not None:
                line = str(error) if isinstance(error, WaitOperator) else f"ERROR: {describe_error(error)}"
                self._insert_log(conn, row, line)
            if written and self._is_copy(row):
                remote_copies.mark_finished(self.store, conn, row.id, row.execute_times)
        if written:
            self.log.info("sub task %d %r %s", row.id, row.name, state.name, extra={"task_id": row.id})
        else:
            self.log.info("sub task %d attempt %d already finished elsewhere (cancelled or timed out)",
                          row.id, row.execute_times, extra={"task_id": row.id})
        if written and self._is_copy(row) and self.remote_hooks is not None:
            self.remote_hooks.finished(row)
        self._on_finished()

    def _is_copy(self, row: SubTaskRow) -> bool:
        return row.node_id == remote_copies.REMOTE_NODE_ID and self.store.tables.task_mapping is not None

    def _insert_log(self, conn: Connection, row: SubTaskRow, line: str) -> None:
        if self._is_copy(row):
            remote_copies.insert_log(self.store, conn, row.id, row.execute_times, line)
        else:
            self.store.insert_log(conn, row.id, row.execute_times, line)

    def _write_log(self, row: SubTaskRow, line: str) -> None:
        with self.store.transaction() as conn:
            self._insert_log(conn, row, line)
        self.log.info("sub task %d: %s", row.id, line, extra={"task_id": row.id})
        if self._is_copy(row) and self.remote_hooks is not None:
            self.remote_hooks.logged(row)
