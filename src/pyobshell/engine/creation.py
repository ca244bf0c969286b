"""Turning a template into stored DAG, node and sub-task rows, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from pyobshell.engine import codes, maintenance
from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import AgentInfo, NodeType, Operator, State
from pyobshell.engine.rows import DagRow, utcnow
from pyobshell.engine.schema import StoreKind
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import TaskRegistry
from pyobshell.engine.template import Node, Template
from pyobshell.errors import TASK_CREATE_FAILED, ObshellError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _PlannedNode:
    node: Node
    struct_name: str
    context: TaskContext
    agents: list[AgentInfo]


def _plan_node(node: Node, dag_context: TaskContext, creator: AgentInfo, registry: TaskRegistry) -> _PlannedNode:
    struct_name = registry.name_of(node.task_type)
    context = node.context.clone() if node.context is not None else TaskContext()
    if node.parallel:
        context.merge(dag_context)
    else:
        context.merge_without_exec_agents(dag_context)
    agents = context.execute_agents()
    if node.parallel and not agents:
        raise codes.TASK_TEMPLATE_INVALID(f"parallel node {node.name} has no execute agents")
    if not node.parallel and len(agents) > 1:
        raise codes.TASK_TEMPLATE_INVALID(f"normal node {node.name} has more than one execute agent")
    return _PlannedNode(node, struct_name, context, agents or [creator])


def _plan(template: Template, dag_context: TaskContext, creator: AgentInfo,
          registry: TaskRegistry) -> list[_PlannedNode]:
    template.ensure_not_empty()
    return [_plan_node(node, dag_context, creator, registry) for node in template.nodes]


def create_dag(store: TaskStore, template: Template, context: TaskContext | None,
               registry: TaskRegistry) -> DagRow:
    """Insert the DAG (READY/RUN, stage 1), its nodes and sub-tasks, taking its lock.

    Errors keep their own code (the maintenance errors stay recognisable) but the message says
    which task could not be created, as obshell's ``WrapRetain`` does.
    """
    dag_context = context or TaskContext()
    try:
        planned = _plan(template, dag_context, store.owner, registry)
        def insert(conn: Connection) -> DagRow:
            dag_id = _insert_rows(store, conn, template, dag_context, planned)
            maintenance.acquire(conn, store.tables, template.maintainer, dag_id, store.owner)
            return store.get_dag(conn, dag_id)

        dag = store.write(insert, f"creation of DAG {template.name!r}")
    except ObshellError as exc:
        log.info("creating DAG %r refused: %s", template.name, exc.message)
        raise exc.wrap(f"Create task '{template.name}' failed") from exc
    except Exception as exc:  # a database error: report it as a typed creation failure
        log.exception("creating DAG %r failed", template.name)
        raise TASK_CREATE_FAILED(f"'{template.name}': {exc}") from exc
    log.info("created DAG %d %r with %d nodes", dag.id, dag.name, dag.max_stage,
             extra={"task_id": dag.id})
    return dag


def _insert_rows(store: TaskStore, conn: Connection, template: Template, dag_context: TaskContext,
                 planned: list[_PlannedNode]) -> int:
    tables, now = store.tables, utcnow()
    dag_values: dict[str, object] = dict(
        name=template.name, type=template.type, stage=1, max_stage=len(planned), state=int(State.READY),
        operator=int(Operator.RUN), is_maintenance=template.maintainer.is_maintenance, is_finished=False,
        context=dag_context.to_base64_json(), gmt_create=now, gmt_modify=now,
    )
    if store.kind == StoreKind.CLUSTER:
        dag_values.update(maintenance_type=int(template.maintainer.type),
                          maintenance_key=template.maintainer.key)
    dag_id = int(conn.execute(insert(tables.dag).values(**dag_values)).inserted_primary_key[0])
    for stage, plan in enumerate(planned, start=1):
        encoded = plan.context.to_base64_json()
        node_id = int(conn.execute(insert(tables.node).values(
            name=plan.node.name[:64], dag_id=dag_id, dag_stage=stage, struct_name=plan.struct_name,
            type=(NodeType.PARALLEL if plan.node.parallel else NodeType.NORMAL).value,
            state=int(State.PENDING), max_stage=len(plan.agents), context=encoded, operator=int(Operator.RUN),
            gmt_create=now, gmt_modify=now,
        )).inserted_primary_key[0])
        task_type = plan.node.task_type
        conn.execute(insert(tables.subtask), [dict(
            node_id=node_id, name=plan.node.name[:64], struct_name=plan.struct_name,
            executer_agent_ip=agent.ip, executer_agent_port=agent.port, execute_times=0,
            can_cancel=task_type.can_cancel, can_continue=task_type.can_continue,
            can_pass=task_type.can_pass, can_retry=task_type.can_retry, can_rollback=task_type.can_rollback,
            context=encoded, state=int(State.PENDING), operator=int(Operator.RUN), gmt_create=now, gmt_modify=now,
        ) for agent in plan.agents])
    return dag_id
