"""/api/v1/task: read DAGs, nodes and sub-tasks by generic id, and apply operators.

Every id is a generic id (see :mod:`pyobshell.engine.generic_id`): "1"+id is a cluster task,
answered from the cluster store; a local id of this agent from its SQLite store. A malformed id
is 400 ``Task.GenericID.Invalid``, an unknown one 404 ``Task.NotFound``, a local id of another
agent is forwarded to that agent (``api.forwarding``).

Unlike obshell, every handler answers: node ``show_details=false`` works, and the cluster
routes say so when the cluster store is not open instead of sending no response. Handlers are
synchronous (short store queries), so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from pyobshell.api.auth import PASSWORD, CallerDep, accepts
from pyobshell.api.dependencies import ServicesDep, TaskBackendDep
from pyobshell.api.routing import obshell_router
from pyobshell.engine import TaskService
from pyobshell.wire.task import DagDetailDTO, NodeDetailDTO, SubTaskLogDTO, TaskDetailDTO
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.engine.generic_id import decode_generic_id
from pyobshell.engine.operators import parse_node_operator
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.credentials import AuthKind

router = obshell_router(prefix="/api/v1/task", tags=["task"], dependencies=[accepts(PASSWORD)])

ShowDetails = Annotated[bool, Query(description="include nodes, sub-tasks, logs and additional data")]


class DagOperator(BaseModel):
    """``POST /dag/{id}``: obshell sends the DAG DTO fields too; only ``operator`` matters."""

    model_config = ConfigDict(extra="ignore")
    operator: str = Field(min_length=1, description="RETRY, ROLLBACK, CANCEL, PASS, PAUSE or RESUME (any case)")


class NodeOperator(BaseModel):
    """``POST /node/{id}``: only PASS."""

    model_config = ConfigDict(extra="ignore")
    operator: str = Field(min_length=1, description="PASS (any case)")


def task_owner(gid: str, services: ServicesDep, caller: CallerDep) -> TaskService:
    """The service owning ``gid``; obproxy ids (prefix 4/5) need the agent password, as in obshell."""
    decoded = decode_generic_id(gid)
    if decoded.is_obproxy and (caller is None or caller.kind is not AuthKind.AGENT_PASSWORD):
        raise AuthError(AuthFailure.NEEDS_AGENT_PASSWORD)
    return services.for_id(gid)


def cluster_tasks(services: ServicesDep) -> TaskService:
    if services.cluster is None:
        raise TASK_ENGINE_UNAVAILABLE("cluster tasks need an available OceanBase connection")
    return services.cluster


OwnerDep = Annotated[TaskService, Depends(task_owner)]
ClusterDep = Annotated[TaskService, Depends(cluster_tasks)]


# Static paths first: they win over /dag/{id}.

@router.get("/dags/ob", response_model=list[DagDetailDTO], summary="All cluster DAGs")
def list_cluster_dags(cluster: ClusterDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return cluster.list_dags(show_details)


@router.get("/dags/agent", response_model=list[DagDetailDTO], summary="All DAGs of this agent")
def list_local_dags(services: ServicesDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return services.local.list_dags(show_details)


@router.get("/dag/unfinish", response_model=list[DagDetailDTO], summary="Unfinished DAGs (local and cluster)")
def list_unfinished_dags(services: ServicesDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return services.unfinished_dags(show_details)


@router.get("/dag/ob/unfinish", response_model=list[DagDetailDTO], summary="Unfinished cluster DAGs")
def list_unfinished_cluster_dags(cluster: ClusterDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return cluster.list_unfinished_dags(show_details)


@router.get("/dag/agent/unfinish", response_model=list[DagDetailDTO], summary="Unfinished DAGs of this agent")
def list_unfinished_local_dags(services: ServicesDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return services.local.list_unfinished_dags(show_details)


@router.get("/dag/maintain/ob", response_model=DagDetailDTO, summary="Latest cluster maintenance DAG")
def get_cluster_maintenance_dag(cluster: ClusterDep, show_details: ShowDetails = True) -> DagDetailDTO:
    return cluster.get_maintenance_dag(show_details)


@router.get("/dag/maintain/agent", response_model=DagDetailDTO, summary="Latest maintenance DAG of this agent")
def get_local_maintenance_dag(services: ServicesDep, show_details: ShowDetails = True) -> DagDetailDTO:
    return services.local.get_maintenance_dag(show_details)


@router.get("/dag/maintain/agents", response_model=list[DagDetailDTO],
            summary="Latest maintenance DAG of every agent of the cluster (those that have one)")
def get_all_agents_maintenance_dags(tasks: TaskBackendDep, show_details: ShowDetails = True) -> list[DagDetailDTO]:
    return tasks.agents_maintenance_dags(show_details)


@router.get("/dag/{gid}", response_model=DagDetailDTO, summary="A DAG by generic id")
def get_dag(gid: str, owner: OwnerDep, show_details: ShowDetails = True) -> DagDetailDTO:
    return owner.get_dag(gid, show_details)


@router.post("/dag/{gid}", summary="Apply RETRY, ROLLBACK, CANCEL, PASS, PAUSE or RESUME to a DAG")
def operate_dag(gid: str, body: DagOperator, owner: OwnerDep) -> None:
    owner.operate_dag(gid, body.operator)


@router.get("/node/{gid}", response_model=NodeDetailDTO, summary="A node by generic id")
def get_node(gid: str, owner: OwnerDep, show_details: ShowDetails = True) -> NodeDetailDTO:
    return owner.get_node(gid, show_details)


@router.post("/node/{gid}", summary="PASS a failed node")
def operate_node(gid: str, body: NodeOperator, services: ServicesDep, caller: CallerDep) -> None:
    parse_node_operator(body.operator)  # obshell checks the operator before the id
    task_owner(gid, services, caller).operate_node(gid, body.operator)


@router.get("/sub_task/{gid}", response_model=TaskDetailDTO, summary="A sub-task by generic id")
def get_sub_task(gid: str, owner: OwnerDep) -> TaskDetailDTO:
    return owner.get_sub_task(gid)


@router.get("/sub_task/{gid}/logs", response_model=list[SubTaskLogDTO], summary="Every log line of a sub-task")
def get_sub_task_logs(gid: str, owner: OwnerDep) -> list[SubTaskLogDTO]:
    return owner.get_sub_task_logs(gid)
