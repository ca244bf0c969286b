"""FastAPI dependencies shared by route modules."""

from __future__ import annotations

from fastapi import Request

from pyobshell.api.state import AgentState


def agent_state(request: Request) -> AgentState:
    """The AgentState the app was created with."""
    return request.app.state.agent
