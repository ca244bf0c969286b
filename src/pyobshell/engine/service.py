"""Service functions behind the task API: create, read and operate DAGs by generic id.

Synchronous and short (a few queries each); an async caller runs them in a thread pool.
:class:`TaskService` serves one store; :class:`TaskServices` routes a generic id to the local
or the cluster service, or reports that another agent owns it (the API then forwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from pyobshell.engine import codes, maintenance
from pyobshell.engine.context import TaskContext
from pyobshell.engine.creation import create_dag, drop_reservation, reserve_dag
from pyobshell.engine.dto import DtoBuilder, merge_additional_data
from pyobshell.wire.task import DagDetailDTO, NodeDetailDTO, SubTaskLogDTO, TaskDetailDTO
from pyobshell.engine.generic_id import GenericId, decode_generic_id
from pyobshell.engine.model import AgentInfo, DagType, Maintainer
from pyobshell.engine.operators import Operators, parse_dag_operator, parse_node_operator
from pyobshell.engine.read_cache import ReadCache
from pyobshell.engine.rows import DagRow
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import TaskRegistry
from pyobshell.engine.template import Template
from pyobshell.errors import TASK_NOT_FOUND, ObshellError


DagExtras = Callable[[int], dict[str, Any] | None]


class TaskOwnedByOtherAgent(ObshellError):
    """The generic id names a task of another agent; ``agent`` is where to forward."""

    def __init__(self, gid: str, agent: AgentInfo):
        super().__init__(codes.TASK_OTHER_AGENT, f"Task {gid} belongs to agent {agent}")
        self.gid = gid
        self.agent = agent


class TaskService:
    def __init__(self, store: TaskStore, registry: TaskRegistry, on_change: Callable[[], None] | None = None,
                 dag_extras: DagExtras | None = None):
        """``dag_extras``: data about a DAG kept outside the engine (pyobshell's SQL probe),
        merged into its ``additional_data`` on every read (never cached with the DAG)."""
        self.store = store
        self._dag_extras = dag_extras
        self.registry = registry
        self.operators = Operators(store)
        self.dto = DtoBuilder(registry, store.owner, store.is_local)
        self._on_change = on_change or (lambda: None)
        # Polled reads by id, reused until the next commit (shared objects: never mutate them).
        self._reads: ReadCache[object] = ReadCache(store.change_watch)

    # -- ids ------------------------------------------------------------------------------
    def owns(self, gid: GenericId) -> bool:
        if self.store.is_local:
            return gid.agent == self.store.owner
        return gid.is_cluster

    def row_id(self, gid: str) -> int:
        decoded = decode_generic_id(gid)
        if self.owns(decoded):
            return decoded.id
        if decoded.agent is not None and decoded.agent != self.store.owner:
            raise TaskOwnedByOtherAgent(gid, decoded.agent)
        raise TASK_NOT_FOUND(f"{gid} is not a {self.store.kind.value} task")

    # -- create ---------------------------------------------------------------------------
    def create_dag(self, template: Template, context: TaskContext | None = None, *,
                   reserved: int | None = None) -> DagDetailDTO:
        """``reserved``: the row id :meth:`reserve_dag` returned, whose lock this DAG takes over."""
        dag = create_dag(self.store, template, context, self.registry, reserved=reserved)
        self._on_change()
        return self.dto.dag(dag)

    def reserve_dag(self, name: str, maintainer: Maintainer, dag_type: str = "") -> int:
        """Take the maintenance lock for a DAG still being planned (see :mod:`creation`)."""
        dag = reserve_dag(self.store, name, maintainer, dag_type)
        self._on_change()
        return dag.id

    def drop_reservation(self, dag_id: int) -> None:
        drop_reservation(self.store, dag_id)
        self._on_change()

    # -- reads ----------------------------------------------------------------------------
    def get_dag(self, gid: str, show_details: bool = True) -> DagDetailDTO:
        dag_id = self.row_id(gid)
        result: DagDetailDTO = self._reads.get_or_build(("dag", dag_id, show_details),
                                                        lambda: self._read_dag(dag_id, show_details))
        if result.id != gid:
            raise TASK_NOT_FOUND("dag id not match")
        return self._with_extras(result)

    def _with_extras(self, dag: DagDetailDTO) -> DagDetailDTO:
        extras = self._dag_extras(dag.dag_id) if self._dag_extras is not None else None
        if not extras:
            return dag
        return dag.model_copy(update={"additional_data": merge_additional_data(dict(dag.additional_data or {}), extras)})

    def _read_dag(self, dag_id: int, show_details: bool) -> DagDetailDTO:
        return self.store.reading(lambda conn: self._dag_dto(conn, self.store.get_dag(conn, dag_id), show_details))

    def get_node(self, gid: str, show_details: bool = True) -> NodeDetailDTO:
        node_id = self.row_id(gid)

        def read(conn: Connection) -> tuple:
            node = self.store.get_node(conn, node_id)
            dag = self.store.get_dag(conn, node.dag_id)
            tasks = self.store.subtasks_of_node(conn, node.id) if show_details else None
            return node, dag, tasks, self.store.logs_of_subtasks(conn, [t.id for t in tasks or []])

        node, dag, tasks, logs = self.store.reading(read)
        result = self.dto.node(node, tasks, logs, obproxy=dag.dag_type == DagType.OBPROXY, with_data=show_details)
        if result.id[:1] != gid[:1]:
            raise TASK_NOT_FOUND("node type not match")
        return result

    def get_sub_task(self, gid: str) -> TaskDetailDTO:
        task_id = self.row_id(gid)

        def read(conn: Connection) -> tuple:
            task = self.store.get_subtask(conn, task_id)
            obproxy = self._is_obproxy_task(conn, task.node_id)
            return task, obproxy, self.store.logs_of_subtasks(conn, [task.id]).get(task.id, [])

        task, obproxy, logs = self.store.reading(read)
        result = self.dto.sub_task(task, logs, obproxy=obproxy)
        if result.id[:1] != gid[:1]:
            raise TASK_NOT_FOUND("sub task type not match")
        return result

    def get_sub_task_logs(self, gid: str) -> list[SubTaskLogDTO]:
        task_id = self.row_id(gid)

        def read(conn: Connection) -> list[SubTaskLogDTO]:
            self.store.get_subtask(conn, task_id)
            return [self.dto.log_entry(row) for row in self.store.logs_of_subtask(conn, task_id)]

        return self.store.reading(read)

    def list_dags(self, show_details: bool = False) -> list[DagDetailDTO]:
        return self.store.reading(lambda conn: [self._dag_dto(conn, dag, show_details) for dag in self.store.dags(conn)])

    def list_unfinished_dags(self, show_details: bool = False) -> list[DagDetailDTO]:
        return self.store.reading(lambda conn: [self._dag_dto(conn, dag, show_details)
                                                for dag in self.store.dags(conn, unfinished_only=True)])

    def get_maintenance_dag(self, show_details: bool = True) -> DagDetailDTO:
        """The latest maintenance DAG in any state, else 404 (``/dag/maintain/...``)."""
        def read(conn: Connection) -> DagDetailDTO:
            dag = self.store.latest_maintenance_dag(conn)
            if dag is None:
                holder = "Agent" if self.store.is_local else "Cluster"
                raise TASK_NOT_FOUND(f"{holder} is not under maintenance")
            return self._dag_dto(conn, dag, show_details)

        return self._with_extras(self.store.reading(read))

    def dag_param(self, dag_id: int, key: str) -> Any:
        """One param of a DAG's context (what the DAG was started with), None when unset."""
        return self.store.reading(lambda conn: self.store.get_dag(conn, dag_id).context.get_param(key))

    def produced_param(self, dag_id: int, key: str) -> Any:
        """A param the DAG's sub-tasks wrote into their context while they ran (the upgrade's
        parameter backup): the value of the latest stage's sub-task that has it, None when none has."""
        def read(conn: Connection) -> Any:
            nodes = sorted(self.store.nodes_of_dag(conn, dag_id), key=lambda node: node.dag_stage, reverse=True)
            tasks = self.store.subtasks_of_nodes(conn, [node.id for node in nodes])
            for node in nodes:
                for task in tasks.get(node.id, []):
                    if task.context.has_param(key):
                        return task.context.get_param(key)
            return None

        return self.store.reading(read)

    def refuse_if_under_maintenance(self) -> None:
        """409 naming the running maintenance DAG, when there is one (a maintenance DAG would
        not be created now)."""
        self.store.reading(lambda conn: maintenance.refuse_if_held(conn, self.store.tables))

    def is_under_maintenance(self) -> bool:
        return bool(self._reads.get_or_build(("maintenance",), self._read_under_maintenance))

    def _read_under_maintenance(self) -> bool:
        return self.store.reading(lambda conn: maintenance.is_under_maintenance(conn, self.store.tables))

    # -- operators ------------------------------------------------------------------------
    def operate_dag(self, gid: str, operator: str) -> None:
        parsed = parse_dag_operator(operator)
        self.operators.operate_dag(self.row_id(gid), parsed)
        self._on_change()

    def pause_dag(self, dag_id: int, reason: str) -> bool:
        """Pause a running DAG from inside the agent (the SLO guard); False: it was not running
        or already paused, and nothing changed."""
        paused = self.operators.pause(dag_id, reason)
        if paused:
            self._on_change()
        return paused

    def operate_node(self, gid: str, operator: str) -> None:
        parse_node_operator(operator)
        self.operators.pass_node(self.row_id(gid))
        self._on_change()

    # -- helpers --------------------------------------------------------------------------
    def _dag_dto(self, conn: Connection, dag: DagRow, show_details: bool) -> DagDetailDTO:
        if not show_details:
            # Whether a pause is in effect depends on the node at the DAG's stage.
            current = self.store.node_at_stage(conn, dag.id, dag.current_stage) if dag.is_paused else None
            return self.dto.dag(dag, current=current)
        node_rows = self.store.nodes_of_dag(conn, dag.id)
        tasks = self.store.subtasks_of_nodes(conn, [node.id for node in node_rows])
        nodes = [(node, tasks[node.id]) for node in node_rows]
        logs = self.store.logs_of_subtasks(conn, [t.id for _, ts in nodes for t in ts])
        return self.dto.dag(dag, nodes, logs)

    def _is_obproxy_task(self, conn: Connection, node_id: int) -> bool:
        if node_id == 0:
            return False
        node = self.store.get_node(conn, node_id)
        return self.store.get_dag(conn, node.dag_id).dag_type == DagType.OBPROXY


class TaskServices:
    """Routes generic ids: prefix 1 to the cluster service, this agent's ids to the local one."""

    def __init__(self, local: TaskService, cluster: TaskService | None = None):
        self.local = local
        self.cluster = cluster

    def unfinished_dags(self, show_details: bool) -> list[DagDetailDTO]:
        """This agent's unfinished DAGs, then the cluster's (when the cluster store is open)."""
        dags = self.local.list_unfinished_dags(show_details)
        if self.cluster is not None:
            dags += self.cluster.list_unfinished_dags(show_details)
        return dags

    def for_id(self, gid: str) -> TaskService:
        decoded = decode_generic_id(gid)
        if decoded.is_cluster:
            if self.cluster is None:
                raise TASK_NOT_FOUND("cluster tasks are not available on this agent")
            return self.cluster
        if decoded.agent != self.local.store.owner:
            assert decoded.agent is not None
            raise TaskOwnedByOtherAgent(gid, decoded.agent)
        return self.local
