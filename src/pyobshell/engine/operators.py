"""User operators on DAGs (RETRY, ROLLBACK, CANCEL, PASS, and pyobshell's PAUSE, RESUME) and
nodes (PASS).

PAUSE and RESUME only set and clear the DAG's pause flag: the running node goes on to its end and
the scheduler starts no next node while the flag is set (``advance``); the DAG keeps its stored
state and operator, so RETRY, ROLLBACK and CANCEL see the DAG exactly as without a pause. Any of
those three clears a pause: an operator who steers the DAG has looked at it.

Each operator is one transaction of compare-and-set updates with obshell's preconditions and
error codes ("reset" = READY with start/end times at epoch 0). The scheduler does the rest.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, update

from pyobshell.engine import maintenance
from pyobshell.engine.model import APPROVAL_GATE_KEY, FAILURE_EXIT_MAINTENANCE_KEY, Operator, State
from pyobshell.engine.rows import EPOCH, DagRow, NodeRow, SubTaskRow, utcnow
from pyobshell.engine.store import TaskStore
from pyobshell.errors import (
    DAG_BEING_CREATED,
    DAG_CANCEL_FINISHED,
    DAG_CANCEL_NOT_ALLOWED,
    DAG_OPERATOR_NOT_SUPPORT,
    DAG_PASS_NOT_ALLOWED,
    DAG_PASS_NOT_FAILED,
    DAG_PAUSE_ALREADY_PAUSED,
    DAG_PAUSE_NOT_RUNNING,
    DAG_RESUME_NOT_PAUSED,
    DAG_RETRY_NOT_ALLOWED,
    DAG_RETRY_NOT_FAILED,
    DAG_ROLLBACK_NOT_ALLOWED,
    DAG_ROLLBACK_NOT_FAILED,
    NO_ROW_AFFECTED,
    NODE_OPERATOR_NOT_SUPPORT,
    NODE_PASS_NOT_ALLOWED,
    NODE_PASS_NOT_FAILED_DAG,
    NODE_PASS_NOT_FAILED_NODE,
)

log = logging.getLogger(__name__)

DAG_OPERATORS = (Operator.RETRY, Operator.ROLLBACK, Operator.CANCEL, Operator.PASS, Operator.PAUSE,
                 Operator.RESUME)
OPERATOR_PAUSE_REASON = "paused by an operator (PAUSE)"


def parse_dag_operator(text: str) -> Operator:
    """Case-insensitive ``retry|rollback|cancel|pass|pause|resume``, else
    ``Task.Dag.Operator.NotSupport``."""
    name = (text or "").strip().upper()
    if name not in {op.name for op in DAG_OPERATORS}:
        raise DAG_OPERATOR_NOT_SUPPORT(text)
    return Operator[name]


def parse_node_operator(text: str) -> Operator:
    if (text or "").strip().upper() != Operator.PASS.name:
        raise NODE_OPERATOR_NOT_SUPPORT(text)
    return Operator.PASS


class Operators:
    def __init__(self, store: TaskStore):
        self.store = store
        self.t = store.tables

    # -- entry points ---------------------------------------------------------------------
    def operate_dag(self, dag_id: int, operator: Operator) -> None:
        handlers = {Operator.RETRY: self._retry, Operator.ROLLBACK: self._rollback,
                    Operator.CANCEL: self._cancel, Operator.PASS: self._pass_dag,
                    Operator.PAUSE: self._pause, Operator.RESUME: self._resume}
        handler = handlers.get(operator)
        if handler is None:
            raise DAG_OPERATOR_NOT_SUPPORT(operator.name)
        def apply(conn: Connection) -> DagRow:
            dag = self.store.get_dag(conn, dag_id, lock=True)
            if dag.is_reservation:
                raise DAG_BEING_CREATED(dag_id)
            handler(conn, dag, self.store.nodes_of_dag(conn, dag_id))
            return dag

        dag = self.store.write(apply, f"{operator.name} of DAG {dag_id}")
        log.info("operator %s applied to DAG %d %r", operator.name, dag_id, dag.name, extra={"task_id": dag_id})

    def pause(self, dag_id: int, reason: str) -> bool:
        """Pause a ready or running DAG that is not paused yet (the SLO guard); False when it
        is not one (finished, failed, already paused): nothing changed then."""
        def apply(conn: Connection) -> bool:
            dag = self.store.get_dag(conn, dag_id, lock=True)
            if dag.is_paused or dag.state not in (State.READY, State.RUNNING):
                return False
            if not self.store.dag_set_paused(conn, dag, True, reason):
                return False
            self._log_in_dag(conn, dag, f"DAG paused: {reason}. The running node finishes; no next node "
                                        "starts until RESUME")
            return True

        paused = self.store.write(apply, f"pause of DAG {dag_id}")
        if paused:
            log.warning("DAG %d paused: %s; the running node finishes, no next node starts until RESUME",
                        dag_id, reason, extra={"task_id": dag_id})
        return paused

    def pass_node(self, node_id: int) -> None:
        def apply(conn: Connection) -> tuple[NodeRow, DagRow]:
            node = self.store.get_node(conn, node_id)
            dag = self.store.get_dag(conn, node.dag_id, lock=True)
            if dag.state != State.FAILED:
                raise NODE_PASS_NOT_FAILED_DAG(dag.id)
            if node.state != State.FAILED:
                raise NODE_PASS_NOT_FAILED_NODE(node.id)
            if not self._node_can(conn, node, "can_pass"):
                raise NODE_PASS_NOT_ALLOWED(f"node {node.name} can not pass")
            self._mark_passed(conn, node)
            self._reset_dag(conn, dag, Operator.RUN)
            self._retake_lock(conn, dag, node)
            return node, dag

        node, dag = self.store.write(apply, f"PASS of node {node_id}")
        log.info("node %d %r passed; DAG %d continues", node_id, node.name, dag.id, extra={"task_id": node_id})

    # -- DAG operators --------------------------------------------------------------------
    def _retry(self, conn: Connection, dag: DagRow, nodes: list[NodeRow]) -> None:
        if dag.state != State.FAILED:
            raise DAG_RETRY_NOT_FAILED(dag.id)
        node = nodes[dag.current_stage - 1]
        if not self._node_can(conn, node, "can_retry"):
            raise DAG_RETRY_NOT_ALLOWED(f"node {node.name} can not retry")
        self._reset_dag(conn, dag, Operator.RUN)
        self._reset_node(conn, node, Operator.RETRY)
        self._retake_lock(conn, dag, node)

    def _rollback(self, conn: Connection, dag: DagRow, nodes: list[NodeRow]) -> None:
        if dag.state != State.FAILED:
            raise DAG_ROLLBACK_NOT_FAILED(dag.id)
        visited: list[NodeRow] = []
        for node in nodes:
            if node.state == State.PENDING and node.operator != Operator.ROLLBACK:
                break
            if not self._node_can(conn, node, "can_rollback"):
                raise DAG_ROLLBACK_NOT_ALLOWED(f"node {node.name} can not rollback")
            visited.append(node)
            if node.state == State.FAILED:
                break
        if not visited or visited[-1].state != State.FAILED:
            raise DAG_ROLLBACK_NOT_ALLOWED("no node failed")
        self._reset_dag(conn, dag, Operator.ROLLBACK, stage=visited[-1].dag_stage)
        for node in visited:
            if node.state.is_finished:
                self._reset_node(conn, node, Operator.ROLLBACK)
        self._retake_lock(conn, dag, visited[-1])

    def _cancel(self, conn: Connection, dag: DagRow, nodes: list[NodeRow]) -> None:
        if dag.state.is_finished:
            raise DAG_CANCEL_FINISHED()
        target: NodeRow | None = None
        for node in nodes:
            if not self._node_can(conn, node, "can_cancel"):
                raise DAG_CANCEL_NOT_ALLOWED(f"node {node.name} can not cancel")
            if not node.state.is_finished:
                target = node
                break
        if target is None:
            raise DAG_CANCEL_FINISHED()
        self._reset_dag(conn, dag, Operator.CANCEL, expected_state=dag.state, stage=target.dag_stage)
        self._reset_node(conn, target, Operator.CANCEL)

    def _pass_dag(self, conn: Connection, dag: DagRow, nodes: list[NodeRow]) -> None:
        if dag.state != State.FAILED:
            raise DAG_PASS_NOT_FAILED(dag.id)
        failed = [i for i, node in enumerate(nodes) if node.state == State.FAILED]
        if not failed:
            raise DAG_PASS_NOT_ALLOWED("no node failed")
        remaining = [node for node in nodes[failed[-1]:] if node.state != State.SUCCEED]
        for node in remaining:
            if not self._node_can(conn, node, "can_pass"):
                raise DAG_PASS_NOT_ALLOWED(f"node {node.name} can not pass")
        d, now = self.t.dag, utcnow()
        self._required(conn, update(d).where(d.c.id == dag.id, d.c.state == int(State.FAILED))
                       .values(state=int(State.SUCCEED), operator=int(Operator.PASS), is_finished=True,
                               end_time=now, gmt_modify=now), "pass dag")
        for node in remaining:
            self._mark_passed(conn, node)
        maintenance.release(conn, self.t, dag.maintainer)

    def _pause(self, conn: Connection, dag: DagRow, _nodes: list[NodeRow]) -> None:
        if dag.state not in (State.READY, State.RUNNING) or dag.is_finished:
            raise DAG_PAUSE_NOT_RUNNING(dag.id, dag.state.name)
        if dag.is_paused:
            raise DAG_PAUSE_ALREADY_PAUSED(dag.id, dag.pause_reason)
        if not self.store.dag_set_paused(conn, dag, True, OPERATOR_PAUSE_REASON):
            raise NO_ROW_AFFECTED("pause dag")

    def _resume(self, conn: Connection, dag: DagRow, nodes: list[NodeRow]) -> None:
        if not dag.is_paused or dag.is_finished:
            raise DAG_RESUME_NOT_PAUSED(dag.id, dag.state.name)
        # A RESUME while the DAG waits at a gate is the approval that gate waits for.
        current = nodes[dag.current_stage - 1] if nodes else None
        at_gate = (current is not None and current.state == State.PENDING
                   and current.context.has_param(APPROVAL_GATE_KEY))
        approved = current.dag_stage if at_gate and current is not None else None
        if not self.store.dag_set_paused(conn, dag, False, approved_stage=approved):
            raise NO_ROW_AFFECTED("resume dag")

    def _log_in_dag(self, conn: Connection, dag: DagRow, line: str) -> None:
        """A line in the log of the current node's first sub-task, where readers of the DAG look."""
        node = self.store.node_at_stage(conn, dag.id, dag.current_stage)
        tasks = self._subtasks(conn, node)
        if tasks:
            self.store.insert_log(conn, tasks[0].id, tasks[0].execute_times, line)

    # -- helpers --------------------------------------------------------------------------
    def _subtasks(self, conn: Connection, node: NodeRow) -> list[SubTaskRow]:
        return self.store.subtasks_of_node(conn, node.id)

    def _node_can(self, conn: Connection, node: NodeRow, flag: str) -> bool:
        """A node has a capability only when every sub-task has it."""
        tasks = self._subtasks(conn, node)
        return bool(tasks) and all(getattr(task, flag) for task in tasks)

    def _required(self, conn: Connection, statement: object, what: str) -> None:
        if conn.execute(statement).rowcount != 1:  # type: ignore[arg-type]
            raise NO_ROW_AFFECTED(what)

    def _reset_dag(self, conn: Connection, dag: DagRow, operator: Operator, *,
                   expected_state: State = State.FAILED, stage: int | None = None) -> None:
        d = self.t.dag
        values: dict[str, object] = dict(state=int(State.READY), operator=int(operator), is_finished=False,
                                         start_time=EPOCH, end_time=EPOCH, gmt_modify=utcnow(),
                                         is_paused=False, pause_reason="")
        if stage is not None:
            values["stage"] = stage
        self._required(conn, update(d).where(d.c.id == dag.id, d.c.state == int(expected_state),
                                             d.c.start_time.is_not_distinct_from(dag.start_time))
                       .values(**values), "reset dag")

    def _reset_node(self, conn: Connection, node: NodeRow, operator: Operator) -> None:
        n = self.t.node
        self._required(conn, update(n).where(n.c.id == node.id, n.c.state == int(node.state))
                       .values(state=int(State.PENDING), operator=int(operator), start_time=EPOCH,
                               end_time=EPOCH, gmt_modify=utcnow()), "reset node")

    def _mark_passed(self, conn: Connection, node: NodeRow) -> None:
        n, s, now = self.t.node, self.t.subtask, utcnow()
        self._required(conn, update(n).where(n.c.id == node.id, n.c.state == int(node.state))
                       .values(state=int(State.SUCCEED), operator=int(Operator.PASS), end_time=now,
                               gmt_modify=now), "pass node")
        conn.execute(update(s).where(s.c.node_id == node.id, s.c.state != int(State.SUCCEED))
                     .values(state=int(State.SUCCEED), operator=int(Operator.PASS), end_time=now, gmt_modify=now))

    def _retake_lock(self, conn: Connection, dag: DagRow, node: NodeRow) -> None:
        """A failed maintenance DAG that let its lock go must hold it again before it runs."""
        if dag.is_maintenance and node.context.has_param(FAILURE_EXIT_MAINTENANCE_KEY):
            maintenance.acquire(conn, self.t, dag.maintainer, dag.id, self.store.owner, retaking=True)
