"""Web sessions: ``POST /api/v1/login`` and ``POST /api/v1/logout`` (obshell's web UI signs in here).

Login takes the root@sys password only (a ``session_id`` in its header is ignored) and answers
``data`` = base64(AES-CBC(session id)) under the request's ``Keys``; later requests carry the id
as ``session_id`` in the encrypted header instead of a password, on any agent of the cluster.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pyobshell.api.auth import LOGIN, PASSWORD, CallerDep, accepts
from pyobshell.api.dependencies import SessionsDep
from pyobshell.api.routing import obshell_router
from pyobshell.security.credentials import AuthKind

router = obshell_router(prefix="/api/v1", tags=["session"])


class LogoutParam(BaseModel):
    model_config = ConfigDict(extra="ignore")
    session_id: str = Field(default="", max_length=128, description="the session to end")


@router.post("/login", response_model=str, dependencies=[accepts(LOGIN)],
             summary="Sign in: a session id, AES-encrypted with the header's Keys")
def login(sessions: SessionsDep, caller: CallerDep) -> str:
    return sessions.sign_in(caller.keys if caller is not None else None)


@router.post("/logout", dependencies=[accepts(PASSWORD)], summary="End a session")
def logout(body: LogoutParam, sessions: SessionsDep, caller: CallerDep) -> None:
    by_session = caller is not None and caller.kind is AuthKind.SESSION
    sessions.sign_out(body.session_id, header_session_id=caller.header.session_id if by_session else None)
