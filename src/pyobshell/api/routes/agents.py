"""/api/v1/agents/status: this agent and every reachable peer, keyed "ip:port"."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends

from pyobshell.api.dependencies import agent_state
from pyobshell.wire.agent import AgentStatus
from pyobshell.api.routes.agent import ObQueryTimeout, ob_timeout_seconds
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState

log = logging.getLogger(__name__)
router = obshell_router(prefix="/api/v1/agents", tags=["agent"])


@router.get(
    "/status",
    response_model=dict[str, AgentStatus],
    response_model_exclude_none=True,
    summary="Status of every agent of the cluster",
)
async def get_agents_status(
    state: Annotated[AgentState, Depends(agent_state)], ob_query_timeout: ObQueryTimeout = None
) -> dict[str, AgentStatus]:
    statuses = {state.agent.key(): await state.status(ob_timeout_seconds(ob_query_timeout))}
    try:
        peers = await state.peer_statuses()
    except Exception:  # obshell leaves out agents it cannot reach; never fail the whole call
        log.exception("cannot collect the other agents' statuses")
        peers = {}
    statuses.update({key: status for key, status in peers.items() if key not in statuses})
    return statuses
