"""/rpc/v1: how cluster agents run DAGs together (agent token or agent password).

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
GET      /rpc/v1/agent/info      this agent's identity (for peers)
=======  ======================  ==========================================================
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field

from pyobshell.api.auth import AGENT, accepts
from pyobshell.api.dependencies import MemberDep, StateDep
from pyobshell.api.routing import obshell_router
from pyobshell.cluster import maintainer_rpc
from pyobshell.engine.remote_copies import RemoteTask
from pyobshell.wire.agent import AgentInfoWithIdentity

router = obshell_router(prefix="/rpc/v1", tags=["rpc"], dependencies=[accepts(AGENT)])



class TaskLogBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sub_task_id: int = Field(ge=1)
    execute_times: int = Field(ge=0)
    log_content: str


class TaskDetail(BaseModel):
    task_id: int


@router.post("/task/sub_task", response_model=TaskDetail, summary="Run a copy of a cluster sub-task here")
def receive_sub_task(body: RemoteTask, agent: MemberDep) -> TaskDetail:
    return TaskDetail(task_id=agent.receiver.accept(body))


@router.patch("/task/sub_task", summary="Start or finish a cluster sub-task (on the maintainer)")
def update_sub_task(body: RemoteTask, agent: MemberDep) -> None:
    maintainer_rpc.update_sub_task(agent.cluster, body)
    agent.wake()


@router.delete("/task/sub_task", summary="Stop the run of a cluster sub-task here")
def cancel_sub_task(body: RemoteTask, agent: MemberDep) -> None:
    agent.receiver.cancel(body)


@router.post("/task/log", summary="Store a log line of a cluster sub-task (on the maintainer)")
def insert_task_log(body: TaskLogBody, agent: MemberDep) -> None:
    maintainer_rpc.insert_log(agent.cluster, body.sub_task_id, body.execute_times, body.log_content)


@router.post("/task/wake", summary="Run a cluster scheduler pass now (on the maintainer)")
def wake_scheduler(agent: MemberDep) -> None:
    agent.wake()


@router.get("/maintainer", summary="The current maintainer (obshell's JSON)")
async def get_maintainer(agent: MemberDep) -> dict[str, Any]:
    return await anyio.to_thread.run_sync(maintainer_rpc.maintainer_document, agent.election, agent.settings.lease_s)


@router.get("/agent/info", response_model=AgentInfoWithIdentity, summary="This agent's identity (for peers)")
async def get_agent_identity(state: StateDep) -> AgentInfoWithIdentity:
    return state.agent
