"""/rpc/v1/task/* and /rpc/v1/maintainer: how cluster agents run DAGs together (agent token).

=======  ======================  ==========================================================
method   path                    behaviour
=======  ======================  ==========================================================
POST     /rpc/v1/task/sub_task   executor: copy the cluster sub-task and queue it (idempotent
                                 by ``execute_times``); answers ``{"task_id": <local id>}``
PATCH    /rpc/v1/task/sub_task   maintainer: start (RUNNING) or finish (SUCCEED/FAILED) the
                                 cluster row for an executor that cannot write it itself
DELETE   /rpc/v1/task/sub_task   executor: stop the run of that attempt
POST     /rpc/v1/task/log        maintainer: store an executor's log line
POST     /rpc/v1/task/wake       maintainer: run a scheduler pass now (a sub-task finished)
GET      /rpc/v1/maintainer      who the maintainer is (obshell's capitalised JSON)
=======  ======================  ==========================================================
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from pyobshell.api.auth import AGENT, accepts
from pyobshell.api.routing import obshell_router
from pyobshell.cluster import maintainer_rpc
from pyobshell.cluster.cluster_agent import ClusterAgent
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.engine.remote_copies import RemoteTask
from pyobshell.errors import ErrorCode, ErrorKind

router = obshell_router(prefix="/rpc/v1", tags=["rpc"], dependencies=[accepts(AGENT)])

COORDINATOR_NOT_INITIALIZED = ErrorCode("Agent.Coordinator.NotInitialized", ErrorKind.UNEXPECTED,
                                        "Coordinator is not initialized: {}")


class TaskLogBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sub_task_id: int = Field(ge=1)
    execute_times: int = Field(ge=0)
    log_content: str


class TaskDetail(BaseModel):
    task_id: int


def cluster_agent(request: Request) -> ClusterAgent:
    tasks = getattr(request.app.state.agent, "tasks", None)
    agent = getattr(tasks, "cluster_agent", None)
    if agent is None or not agent.joined:
        raise TASK_ENGINE_UNAVAILABLE("this agent is not a cluster agent yet")
    return agent


ClusterAgentDep = Annotated[ClusterAgent, Depends(cluster_agent)]


@router.post("/task/sub_task", response_model=TaskDetail, summary="Run a copy of a cluster sub-task here")
def receive_sub_task(body: RemoteTask, agent: ClusterAgentDep) -> TaskDetail:
    return TaskDetail(task_id=agent.receiver.accept(body))


@router.patch("/task/sub_task", summary="Start or finish a cluster sub-task (on the maintainer)")
def update_sub_task(body: RemoteTask, agent: ClusterAgentDep) -> None:
    maintainer_rpc.update_sub_task(agent.cluster, body)
    agent.wake()


@router.delete("/task/sub_task", summary="Stop the run of a cluster sub-task here")
def cancel_sub_task(body: RemoteTask, agent: ClusterAgentDep) -> None:
    agent.receiver.cancel(body)


@router.post("/task/log", summary="Store a log line of a cluster sub-task (on the maintainer)")
def insert_task_log(body: TaskLogBody, agent: ClusterAgentDep) -> None:
    maintainer_rpc.insert_log(agent.cluster, body.sub_task_id, body.execute_times, body.log_content)


@router.post("/task/wake", summary="Run a cluster scheduler pass now (on the maintainer)")
def wake_scheduler(agent: ClusterAgentDep) -> None:
    agent.wake()


@router.get("/maintainer", summary="The current maintainer (obshell's JSON)")
async def get_maintainer(agent: ClusterAgentDep) -> dict[str, Any]:
    row = await anyio.to_thread.run_sync(agent.election.read)
    lease = agent.settings.lease_s
    if not row.is_active(lease) or row.agent is None or row.active_time is None:
        raise COORDINATOR_NOT_INITIALIZED("no active maintainer")
    active = row.active_time.isoformat()
    return {
        "MaintainerInfo": {"Id": 1, "AgentIp": row.agent.ip, "AgentPort": row.agent.port, "Counter": row.counter,
                           "AgentTime": row.agent_time, "ActiveTime": active},
        "LifeTime": row.idle_s,
        "LastUpdateTime": active,
        "ExpirationTime": (row.active_time + timedelta(seconds=lease)).isoformat(),
    }
