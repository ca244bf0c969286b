"""The audit trail as ``GET /api/v1/audit`` answers it and ``pyobshell audit`` prints it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class AuditRecord(BaseModel):
    """One state-changing or refused request, as the agent that received it saw it.

    Never holds a secret: no password, session id, token or AES key; a session appears only as
    the SHA-256 of its id (the hash the session table keys it by)."""

    id: int | None = Field(default=None, description="row id in the cluster store (null in the JSON lines)")
    time: str = Field(description="when the answer was sent, RFC 3339 UTC with milliseconds")
    time_ms: int = Field(description="the same, in milliseconds since the epoch")
    agent: str = Field(description="ip:port of the agent that received the request")
    client: str = Field(default="", description="the client's address")
    credential: str = Field(default="", description="password, session, agent_password, agent_token, "
                                                    "or empty when none was verified")
    session_hash: str = Field(default="", description="SHA-256 of the session id, for a session")
    method: str
    route: str = Field(description="the route template, e.g. /api/v1/task/dag/{gid}")
    path: str = Field(description="the path as requested (no query)")
    summary: dict[str, Any] = Field(default_factory=dict, description="what was asked for, secrets left out")
    status: int = Field(description="HTTP status of the answer")
    err_code: str = Field(default="", description="the answer's errCode, when it failed")
    trace_id: str = ""
    dag_id: str = Field(default="", description="generic id of the DAG the request created or operated")
    forwarded_from: str = Field(default="", description="ip:port of the agent that forwarded this request here")
    forwarded_to: str = Field(default="", description="ip:port of the agent this request was forwarded to")
