"""One scheduler pass: move every unfinished DAG as far as its stored state allows.

Synchronous, run off the event loop in the scheduler's own thread. Each DAG is advanced in one
transaction; sub-tasks made READY are handed to the executor (and runs to stop are cancelled)
only after that transaction commits, so a worker always sees what the scheduler wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from pyobshell.engine import maintenance
from pyobshell.engine.logs import LOCAL_SCHEDULER_TRACE, engine_logger
from pyobshell.engine.model import (
    APPROVAL_GATE_KEY,
    EXECUTE_AGENTS_KEY,
    FAILURE_EXIT_MAINTENANCE_KEY,
    NodeType,
    Operator,
    State,
)
from pyobshell.engine.observers import FinishedNode, NodeObservers, node_seconds
from pyobshell.engine.rows import DagRow, NodeRow, SubTaskRow, is_after, utcnow
from pyobshell.engine.store import TaskStore
from pyobshell.errors import NODE_OPERATOR_NOT_SUPPORT

CANCELLED_LOG = "sub task cancelled"
TIMEOUT_LOG = "sub task timeout"
# The executor running a sub-task times it out itself, to the moment and with its own log line; the
# scheduler's check is the safety net for a run whose executor died, so it waits a little longer.
TIMEOUT_GRACE_SECONDS = 2.0


class Dispatcher(Protocol):
    """Where sub-tasks go after the pass commits. Rows are handed over as the pass wrote them,
    so a dispatcher never has to read the store again (the cluster store may be going away:
    a stop-service restart takes the maintainer's own observer down)."""

    def submit(self, task: SubTaskRow) -> None: ...
    def cancel(self, task: SubTaskRow) -> None: ...
    def interrupt(self, task: SubTaskRow) -> None: ...


class TaskRunner(Protocol):
    def submit(self, task_id: int) -> None: ...
    def cancel(self, task_id: int) -> None: ...
    def interrupt(self, task_id: int) -> None: ...


@dataclass(frozen=True)
class LocalDispatcher:
    """Sub-tasks of this agent's own store go to its executor, which reads them by id."""

    runner: TaskRunner

    def submit(self, task: SubTaskRow) -> None:
        self.runner.submit(task.id)

    def cancel(self, task: SubTaskRow) -> None:
        self.runner.cancel(task.id)

    def interrupt(self, task: SubTaskRow) -> None:
        self.runner.interrupt(task.id)


@dataclass
class _Pass:
    """What one DAG step decided, applied after commit."""

    changed: bool = False
    dispatch: list[SubTaskRow] = field(default_factory=list)
    cancel: list[SubTaskRow] = field(default_factory=list)
    interrupt: list[SubTaskRow] = field(default_factory=list)
    finished_tasks: dict[int, list[SubTaskRow]] = field(default_factory=dict)  # by stage
    finished_nodes: list[FinishedNode] = field(default_factory=list)  # told to observers after commit


@dataclass
class _NodeOutcome:
    finished: bool = False
    succeeded: bool = False
    tasks: list[SubTaskRow] | None = None  # as read in this pass (the next node merges their contexts)


class DagAdvancer:
    def __init__(self, store: TaskStore, dispatcher: Dispatcher, trace_id: str = LOCAL_SCHEDULER_TRACE,
                 timeout_grace: float = TIMEOUT_GRACE_SECONDS):
        self.store = store
        self.dispatcher = dispatcher
        self.timeout_grace = timeout_grace
        self.log = engine_logger(__name__, trace_id)
        self.node_observers = NodeObservers()

    def advance_all(self) -> bool:
        """One pass over the unfinished DAGs; True when any row changed (worth another pass)."""
        with self.store.transaction() as conn:
            dag_ids = [d.id for d in self.store.dags(conn, unfinished_only=True) if not d.state.is_finished]
        changed = False
        for dag_id in dag_ids:
            try:
                changed |= self.advance_dag(dag_id)
            except OperationalError as exc:  # the store went away (its observer restarts): not a bug
                reason = str(exc.orig if exc.orig is not None else exc).splitlines()[0]
                self.log.warning("DAG %d not advanced: the task store does not answer (%s); trying again on "
                                 "the next pass", dag_id, reason, extra={"task_id": dag_id})
            except Exception:  # one broken DAG must not stop the others
                self.log.exception("advancing DAG %d failed", dag_id, extra={"task_id": dag_id})
        return changed

    def advance_dag(self, dag_id: int) -> bool:
        def one_step(conn: Connection) -> _Pass:
            step = _Pass()
            self._advance_dag(conn, self.store.get_dag(conn, dag_id, lock=True), step)
            return step

        step = self.store.write(one_step, f"scheduling DAG {dag_id}")
        for task in step.dispatch:
            self.dispatcher.submit(task)
        for task in step.cancel:
            self.dispatcher.cancel(task)
        for task in step.interrupt:
            self.dispatcher.interrupt(task)
        self.node_observers.notify(step.finished_nodes)
        return step.changed

    # -- DAG ------------------------------------------------------------------------------
    def _advance_dag(self, conn: Connection, dag: DagRow, step: _Pass) -> None:
        if dag.state == State.READY:
            if not self.store.dag_set_running(conn, dag):
                return
            step.changed = True
            self.log.info("DAG %d %r running (operator %s) at stage %d/%d", dag.id, dag.name,
                          dag.operator.name, dag.stage, dag.max_stage, extra={"task_id": dag.id})
        if dag.state != State.RUNNING:
            return
        # Walk on through stages in the same transaction as long as nodes finish at once.
        while self._advance_stage(conn, dag, step):
            pass

    def _advance_stage(self, conn: Connection, dag: DagRow, step: _Pass) -> bool:
        """Advance the node at the current stage; True when the DAG moved to another stage."""
        node = self.store.node_at_stage(conn, dag.id, dag.current_stage)
        upstream: list[SubTaskRow] | None = None
        if node.state == State.PENDING and dag.operator != Operator.ROLLBACK and dag.current_stage > 1:
            upstream = step.finished_tasks.get(dag.current_stage - 1)
            if upstream is None:
                previous = self.store.node_at_stage(conn, dag.id, dag.current_stage - 1)
                upstream = self.store.subtasks_of_node(conn, previous.id)
        if node.state == State.PENDING and self._held(conn, dag, node, step):
            return False
        outcome = self._advance_node(conn, node, upstream, step)
        if outcome.finished and outcome.tasks is not None:
            step.finished_tasks[dag.current_stage] = outcome.tasks
        if not outcome.finished:
            return False
        if outcome.succeeded:
            return self._after_node_succeeded(conn, dag, step)
        self._finish_failed(conn, dag, node, step)
        return False

    def _after_node_succeeded(self, conn: Connection, dag: DagRow, step: _Pass) -> bool:
        rolling_back = dag.operator == Operator.ROLLBACK
        next_stage = dag.current_stage - 1 if rolling_back else dag.current_stage + 1
        if 1 <= next_stage <= dag.max_stage:
            if not self.store.dag_move_stage(conn, dag, next_stage):
                return False
            dag.stage = next_stage
            step.changed = True
            return True
        if self.store.dag_finish(conn, dag, State.SUCCEED, is_finished=True):
            maintenance.release(conn, self.store.tables, dag.maintainer)
            step.changed = True
            self.log.info("DAG %d %r succeeded (operator %s)", dag.id, dag.name, dag.operator.name,
                          extra={"task_id": dag.id})
        return False

    def _finish_failed(self, conn: Connection, dag: DagRow, node: NodeRow, step: _Pass) -> None:
        # A failed maintenance DAG stays unfinished and keeps its lock until RETRY/ROLLBACK/PASS.
        if not self.store.dag_finish(conn, dag, State.FAILED, is_finished=not dag.is_maintenance):
            return
        step.changed = True
        if dag.is_maintenance and node.context.has_param(FAILURE_EXIT_MAINTENANCE_KEY):
            maintenance.release(conn, self.store.tables, dag.maintainer)
        self.log.info("DAG %d %r failed at stage %d node %r (operator %s)", dag.id, dag.name,
                      dag.current_stage, node.name, dag.operator.name, extra={"task_id": dag.id})

    def _held(self, conn: Connection, dag: DagRow, node: NodeRow, step: _Pass) -> bool:
        """Whether the pending ``node`` must not start: its DAG is paused, or it is a gate that
        no RESUME has let through yet (reaching it pauses the DAG, with the gate's reason)."""
        # Only a forward run waits at a gate: a rollback or cancel passes it on its way.
        forward = dag.operator == Operator.RUN and node.operator == Operator.RUN
        gate = node.context.get_param(APPROVAL_GATE_KEY) if forward else None
        if gate and dag.approved_stage != node.dag_stage and dag.pause_reason != gate:
            if self.store.dag_set_paused(conn, dag, True, str(gate)):
                step.changed = True
                self.log.info("DAG %d %r waits at stage %d: %s; RESUME lets it go on", dag.id, dag.name,
                              node.dag_stage, gate, extra={"task_id": dag.id})
            return True
        return dag.is_paused

    # -- node -----------------------------------------------------------------------------
    def _advance_node(self, conn: Connection, node: NodeRow, upstream: list[SubTaskRow] | None,
                      step: _Pass) -> _NodeOutcome:
        if node.state == State.PENDING:
            context = node.context.clone()
            for task in upstream or []:
                context.merge_without_keywords(task.context)
            if not self.store.node_start(conn, node, context):
                return _NodeOutcome()
            step.changed = True
        if node.state.is_finished:
            return _NodeOutcome(True, node.state == State.SUCCEED)
        tasks = self.store.subtasks_of_node(conn, node.id)
        outcome = self._advance_tasks(conn, node, tasks, step)
        outcome.tasks = tasks
        if outcome.finished:
            state = State.SUCCEED if outcome.succeeded else State.FAILED
            if not self.store.node_finish(conn, node, state):
                return _NodeOutcome()
            step.changed = True
            step.finished_nodes.append(FinishedNode(node.dag_id, node.name, state,
                                                    node_seconds(node.start_time, node.end_time)))
            self.log.info("node %d %r %s", node.id, node.name, state.name, extra={"task_id": node.id})
        return outcome

    def _advance_tasks(self, conn: Connection, node: NodeRow, tasks: list[SubTaskRow],
                       step: _Pass) -> _NodeOutcome:
        if node.operator == Operator.CANCEL:
            for task in tasks:
                running = task.state in (State.READY, State.RUNNING)
                if running and self.store.subtask_fail(conn, task, CANCELLED_LOG):
                    step.cancel.append(task)
                    step.changed = True
            return _NodeOutcome(True, False)
        if node.operator not in (Operator.RUN, Operator.RETRY, Operator.ROLLBACK):
            raise NODE_OPERATOR_NOT_SUPPORT(node.operator.name)
        finished, failed = True, False
        for task in tasks:
            verdict = self._advance_task(conn, node, task, step)
            finished &= verdict is not None
            failed |= verdict is False
        return _NodeOutcome(finished, finished and not failed)

    def _advance_task(self, conn: Connection, node: NodeRow, task: SubTaskRow, step: _Pass) -> bool | None:
        """None while the sub-task is still going, else whether it counts as succeeded."""
        this_run = is_after(task.start_time, node.start_time)
        if node.operator == Operator.ROLLBACK:
            if task.operator != Operator.ROLLBACK:
                if task.state == State.PENDING:
                    return True  # never ran, nothing to undo
                return self._make_ready(conn, node, task, Operator.ROLLBACK, step)
            if task.state.is_finished and not this_run:
                return self._make_ready(conn, node, task, Operator.ROLLBACK, step)  # an older rollback attempt
        elif node.operator == Operator.RETRY:
            if task.state == State.FAILED and not this_run:
                return self._make_ready(conn, node, task, Operator.ROLLBACK, step)  # undo, then run again
            if task.state == State.SUCCEED and task.operator == Operator.ROLLBACK and this_run:
                return self._make_ready(conn, node, task, Operator.RUN, step)
        if task.state == State.PENDING:
            operator = Operator.ROLLBACK if node.operator == Operator.ROLLBACK else Operator.RUN
            return self._make_ready(conn, node, task, operator, step)
        if task.state == State.READY:
            step.dispatch.append(task)
            return None
        if task.state == State.RUNNING:
            return self._check_timeout(conn, task, step)
        return task.state == State.SUCCEED

    def _make_ready(self, conn: Connection, node: NodeRow, task: SubTaskRow, operator: Operator,
                    step: _Pass) -> None:
        if operator == Operator.RUN:
            context = node.context.clone()
            agent = task.agent
            if node.type == NodeType.NORMAL and not node.context.has_param(EXECUTE_AGENTS_KEY):
                agent = self.store.owner  # the scheduling agent runs normal nodes
        else:
            context, agent = task.context, task.agent  # a rollback keeps the sub-task's own context
        if self.store.subtask_set_ready(conn, task, operator, context, agent,
                                        from_ready=task.state == State.READY):
            step.dispatch.append(task)
            step.changed = True
        return None

    def _check_timeout(self, conn: Connection, task: SubTaskRow, step: _Pass) -> bool | None:
        if task.start_time is None:
            return None
        elapsed = (utcnow() - task.start_time).total_seconds()
        if elapsed <= task.context.timeout_seconds() + self.timeout_grace:
            return None
        if self.store.subtask_fail(conn, task, TIMEOUT_LOG):
            step.interrupt.append(task)
            step.changed = True
            self.log.info("sub task %d timed out after %.1f s", task.id, elapsed, extra={"task_id": task.id})
            return False
        return None
