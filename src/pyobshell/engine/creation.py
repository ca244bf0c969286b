"""Turning a template into stored DAG, node and sub-task rows, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, insert, select, update

from pyobshell.engine import codes, maintenance
from pyobshell.engine.context import TaskContext
from pyobshell.engine.model import AgentInfo, Maintainer, MaintenanceType, NodeType, Operator, State
from pyobshell.engine.rows import DagRow, utcnow
from pyobshell.engine.schema import StoreKind
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import TaskRegistry
from pyobshell.engine.template import Node, Template
from pyobshell.errors import TASK_CREATE_FAILED, TASK_EXPIRED, ObshellError

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
               registry: TaskRegistry, *, reserved: int | None = None) -> DagRow:
    """Insert the DAG (READY/RUN, stage 1), its nodes and sub-tasks, taking its lock; with
    ``reserved``, fill in that reservation (:func:`reserve_dag`), whose lock is already held.

    Errors keep their own code (the maintenance errors stay recognisable) but the message says
    which task could not be created, as obshell's ``WrapRetain`` does.
    """
    dag_context = context or TaskContext()
    try:
        planned = _plan(template, dag_context, store.owner, registry)
        def insert(conn: Connection) -> DagRow:
            if reserved is not None:
                dag_id = _fill_reservation(store, conn, reserved, template, dag_context)
            else:
                dag_id = _insert_dag_row(store, conn, template.name, template.type, template.maintainer,
                                         dag_context, State.READY, len(planned))
                maintenance.acquire(conn, store.tables, template.maintainer, dag_id, store.owner)
            _insert_nodes(store, conn, dag_id, planned)
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


# -- reservations ---------------------------------------------------------------------------
# A start that must check the cluster for seconds before it knows its DAG takes the lock first,
# with a DAG row that has no nodes yet (PENDING, max_stage 0: the scheduler leaves it alone):
# every other start is refused at once, naming it. The checks then fill it in or give it back;
# a starter that dies meanwhile leaves a reservation that the next start drops after the lease.
RESERVATION_LEASE = timedelta(seconds=120)
RESERVED_BY_KEY = "reserved_by"


def reserve_dag(store: TaskStore, name: str, maintainer: Maintainer, dag_type: str = "") -> DagRow:
    """Take ``maintainer``'s lock now, for a DAG named ``name`` created later by
    :func:`create_dag` (``reserved=``) or given back by :func:`drop_reservation`."""
    if maintainer.type == MaintenanceType.TENANT_MAINTENANCE:  # a tenant lock records its DAG's id
        raise codes.TASK_TEMPLATE_INVALID("a tenant maintenance DAG cannot be reserved")
    context = TaskContext(params={RESERVED_BY_KEY: str(store.owner)})

    def reserve(conn: Connection) -> DagRow:
        # The lock first: a start that loses is told so by its first statement, and on a store
        # that serializes writers (the simulator's) it holds them up for one statement only.
        maintenance.lock_status(conn, store.tables)
        try:
            maintenance.acquire(conn, store.tables, maintainer, 0, store.owner)
        except ObshellError:
            if not _drop_expired_reservations(conn, store):
                raise
            maintenance.acquire(conn, store.tables, maintainer, 0, store.owner)
        dag_id = _insert_dag_row(store, conn, name, dag_type, maintainer, context, State.PENDING, 0)
        return store.get_dag(conn, dag_id)

    try:
        dag = store.write(reserve, f"reservation of DAG {name!r}")
    except ObshellError as exc:
        raise exc.wrap(f"Create task '{name}' failed") from exc
    log.info("reserved DAG %d %r while its start is checked", dag.id, name, extra={"task_id": dag.id})
    return dag


def drop_reservation(store: TaskStore, dag_id: int) -> None:
    """Give a reservation back (its start was refused); a DAG already filled in stays."""
    def drop(conn: Connection) -> None:
        dag = store.get_dag(conn, dag_id, lock=True)
        if dag.is_reservation:
            _delete_reservation(conn, store, dag)

    store.write(drop, f"release of reserved DAG {dag_id}")
    log.info("reserved DAG %d given back", dag_id, extra={"task_id": dag_id})


def _fill_reservation(store: TaskStore, conn: Connection, dag_id: int, template: Template,
                      dag_context: TaskContext) -> int:
    d = store.tables.dag
    planned_stages = len(template.nodes)
    changed = conn.execute(update(d).where(d.c.id == dag_id, d.c.state == int(State.PENDING), d.c.max_stage == 0)
                           .values(name=template.name, type=template.type, max_stage=planned_stages, state=int(State.READY),
                                   context=dag_context.to_base64_json(), gmt_modify=utcnow())).rowcount
    if changed != 1:
        raise TASK_EXPIRED(f"the reservation of DAG {dag_id} is gone (held longer than "
                           f"{int(RESERVATION_LEASE.total_seconds())} s?); start again")
    return dag_id


def _drop_expired_reservations(conn: Connection, store: TaskStore) -> bool:
    """Drop the reservations older than the lease; True when there was one."""
    d = store.tables.dag
    expired = conn.execute(select(d).where(d.c.state == int(State.PENDING), d.c.max_stage == 0,
                                           d.c.gmt_create < utcnow() - RESERVATION_LEASE).with_for_update()).all()
    for row in expired:
        dag = DagRow.from_mapping(row._mapping)
        log.warning("dropping DAG %d %r: reserved by %s more than %d s ago and never created (its agent "
                    "stopped during the start's checks?)", dag.id, dag.name, dag.context.get_param(RESERVED_BY_KEY),
                    int(RESERVATION_LEASE.total_seconds()), extra={"task_id": dag.id})
        _delete_reservation(conn, store, dag)
    return bool(expired)


def _delete_reservation(conn: Connection, store: TaskStore, dag: DagRow) -> None:
    d = store.tables.dag
    conn.execute(delete(d).where(d.c.id == dag.id, d.c.state == int(State.PENDING), d.c.max_stage == 0))
    maintenance.release(conn, store.tables, dag.maintainer)


def _insert_dag_row(store: TaskStore, conn: Connection, name: str, dag_type: str, maintainer: Maintainer,
                    dag_context: TaskContext, state: State, max_stage: int) -> int:
    now = utcnow()
    dag_values: dict[str, object] = dict(
        name=name, type=dag_type, stage=1, max_stage=max_stage, state=int(state),
        operator=int(Operator.RUN), is_maintenance=maintainer.is_maintenance, is_finished=False,
        context=dag_context.to_base64_json(), gmt_create=now, gmt_modify=now,
    )
    if store.kind == StoreKind.CLUSTER:
        dag_values.update(maintenance_type=int(maintainer.type), maintenance_key=maintainer.key)
    return int(conn.execute(insert(store.tables.dag).values(**dag_values)).inserted_primary_key[0])


def _insert_nodes(store: TaskStore, conn: Connection, dag_id: int, planned: list[_PlannedNode]) -> None:
    tables, now = store.tables, utcnow()
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
