"""/rpc/v1/agent/*: agent-to-agent calls (agent token or agent password, see api/auth.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from pyobshell.api.auth import AGENT, accepts
from pyobshell.api.dependencies import agent_state
from pyobshell.wire.agent import AgentInfoWithIdentity
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState

router = obshell_router(prefix="/rpc/v1/agent", tags=["rpc"], dependencies=[accepts(AGENT)])


@router.get("/info", response_model=AgentInfoWithIdentity, summary="This agent's identity (for peers)")
async def get_agent_identity(state: Annotated[AgentState, Depends(agent_state)]) -> AgentInfoWithIdentity:
    return state.agent
