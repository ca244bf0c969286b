"""Forwarding a task request to the agent that owns the id (obshell's ``ForwardRequest``).

A local generic id encodes its agent's ``ip:port``. When a ``/api/v1/task`` handler meets an id
of another agent (:class:`~pyobshell.engine.TaskOwnedByOtherAgent`), this agent re-sends the
request there and relays the answer's status and body byte for byte.

How it authenticates (security reference §5.5, manual forward): a *fresh* request, encrypted
for the owner's public key (from ``all_agent``), whose header carries this agent's own cached
root@sys password, as obshell does (every cluster agent knows it, and the owner checks it like
any client's). The caller's header is not relayed: it is bound to this agent's key and URI, and
the caller was already authenticated here. The plaintext body is the decrypted one, captured by
:class:`ForwardBodyMiddleware` before the handler consumed it.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pyobshell.api.auth_middleware import replay_body
from pyobshell.api.audit_middleware import note
from pyobshell.api.envelope import EnvelopeResponse, obshell_error_body, request_trace_id
from pyobshell.cluster.peer_client import PeerCallError
from pyobshell.engine import TaskOwnedByOtherAgent
from pyobshell.errors import ErrorCode, ErrorKind

log = logging.getLogger(__name__)

TASK_PREFIX = "/api/v1/task/"
BODY_KEY = "pyobshell_forward_body"
MAX_FORWARD_BODY = 64 * 1024
RPC_REQUEST_ERROR = ErrorCode("Agent.RPC.RequestError", ErrorKind.UNEXPECTED, "Request {} error: {}")


class ForwardBodyMiddleware:
    """Keeps the (already decrypted) body of task requests so they can be forwarded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(TASK_PREFIX) or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_FORWARD_BODY:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope.setdefault("state", {})[BODY_KEY] = body
        await self.app(scope, replay_body(body, receive), send)


async def forward_to_owner(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaskOwnedByOtherAgent)
    tasks = request.app.state.agent.tasks
    if tasks is None or tasks.member() is None:
        return EnvelopeResponse(request, exc.status, error=obshell_error_body(exc))
    target = request.scope.get("raw_path") or request.url.path.encode()
    uri = target.decode("latin-1") + (f"?{request.url.query}" if request.url.query else "")
    body = request.scope.get("state", {}).get(BODY_KEY) or None
    trace_id = request_trace_id(request)
    note(request.scope, forwarded_to=str(exc.agent))
    try:
        reply = await anyio.to_thread.run_sync(lambda: tasks.forward(exc.agent, request.method, uri, body, trace_id))
    except PeerCallError as error:
        failure = RPC_REQUEST_ERROR(f"[{request.method}]{uri} to {exc.agent}", str(error))
        return EnvelopeResponse(request, failure.status, error=obshell_error_body(failure))
    log.info("forwarded %s %s to %s: %d", request.method, uri, exc.agent, reply.status)
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
