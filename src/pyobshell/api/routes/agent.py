"""This agent's public identity and state (``/status``, ``/info``, ``/time``, ``/secret``: no
credential) and every agent's status (``/agents/status``)."""

from __future__ import annotations

import platform
from typing import Annotated

from fastapi import Query

from pyobshell.api.dependencies import StateDep
from pyobshell.api.envelope import rfc3339_nano
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import PYOBSHELL_VERSION
from pyobshell.wire.agent import AgentDetail, AgentSecret, AgentStatus

router = obshell_router(prefix="/api/v1", tags=["agent"])

# obshell's ob_query_timeout is in microseconds; a short default keeps /status fast.
ObQueryTimeout = Annotated[int | None, Query(ge=1, le=60_000_000, description="observer probe timeout, microseconds")]
DEFAULT_OB_QUERY_TIMEOUT_US = 2_000_000


def ob_timeout_seconds(ob_query_timeout: int | None) -> float:
    return (ob_query_timeout or DEFAULT_OB_QUERY_TIMEOUT_US) / 1_000_000


@router.get("/status", response_model=AgentStatus, response_model_exclude_none=True, summary="Agent status")
@router.post("/status", response_model=AgentStatus, response_model_exclude_none=True, summary="Agent status")
async def get_status(state: StateDep, ob_query_timeout: ObQueryTimeout = None) -> AgentStatus:
    return await state.status(ob_timeout_seconds(ob_query_timeout))


@router.get("/info", response_model=AgentDetail, summary="Agent information")
async def get_info(state: StateDep) -> AgentDetail:
    return AgentDetail(
        pid=state.pid, state=state.server_state, startAt=state.start_at_ns, homePath=str(state.home),
        obVersion=state.ob_version, architecture=platform.machine(), ip=state.ip, port=state.port,
        zone=state.observer.zone if state.observer is not None else "", identity=state.identity,
        version=state.version, pyobshellVersion=PYOBSHELL_VERSION, security=state.agent_password_set(),
    )


@router.get("/time", response_model=str, summary="Server time (RFC 3339, nanoseconds)")
async def get_time() -> str:
    return rfc3339_nano()


@router.get("/secret", response_model=AgentSecret, summary="The agent's RSA public key")
async def get_secret(state: StateDep) -> AgentSecret:
    return AgentSecret(ip=state.ip, port=state.port, public_key=state.public_key())


@router.get("/agents/status", response_model=dict[str, AgentStatus], response_model_exclude_none=True,
            summary="Status of every agent of the cluster")
async def get_agents_status(state: StateDep, ob_query_timeout: ObQueryTimeout = None) -> dict[str, AgentStatus]:
    return await state.cluster_statuses(ob_timeout_seconds(ob_query_timeout))
