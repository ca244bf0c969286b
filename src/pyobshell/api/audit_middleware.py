"""ASGI middleware that hands every state-changing or refused request to the audit trail.

It sits between the envelope middleware (which sets the trace id and turns a crash into a 500)
and the auth middleware (which verifies the caller, decrypts the body, and answers refusals
itself), so it sees each request's verified credential kind, its plaintext body (left in the
scope's state by the auth middleware), and the final status and answer of every outcome,
refusals included. Building the record is cheap and never raises into the request; writing it
happens on the trail's worker thread (``audit.trail``).

A request forwarded here by another agent (``api.forwarding``) carries that agent in its
header: its record is marked ``forwarded_from``, and the receiving agent's own record of it
``forwarded_to``, so the trail holds one unmarked record per client request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyobshell.api.auth import CALLER_STATE_KEY, PLAIN_BODY_STATE_KEY, POLICY_STATE_KEY, REFUSAL_STATE_KEY
from pyobshell.api.envelope import TRACE_ID_KEY
from pyobshell.api.errors import is_enveloped_path
from pyobshell.api.route_table import matching_route
from pyobshell.audit.records import MAX_ANSWER_BYTES, Observation, build_record, should_record
from pyobshell.security.credentials import AuthKind
from pyobshell.security.request_header import ForwardType

log = logging.getLogger(__name__)
NOTES_STATE_KEY = "pyobshell_audit_notes"


def note(scope: Scope, **fields: Any) -> None:
    """Add what a handler learnt (an upload's file name, size and digest; where a request was
    forwarded) to the request's audit record. Only fields the summariser lists are kept."""
    scope.setdefault("state", {}).setdefault(NOTES_STATE_KEY, {}).update(fields)


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        trail = _trail(scope)
        if scope["type"] != "http" or trail is None or not is_enveloped_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        status = 0
        recording = False
        answer: list[bytes] = []
        size = 0

        async def send_observed(message: Message) -> None:
            nonlocal status, recording, size
            if message["type"] == "http.response.start":
                status = message["status"]
                recording = _records(scope, status)
            elif message["type"] == "http.response.body" and recording and size <= MAX_ANSWER_BYTES:
                chunk = message.get("body", b"")
                size += len(chunk)
                answer.append(chunk)
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            if not status:  # the envelope middleware answers it as a 500
                status, recording = 500, _records(scope, 500)
            raise
        finally:
            if recording:
                try:
                    trail.submit(build_record(observe(scope, status, b"".join(answer))))
                except Exception:  # noqa: BLE001 - an audit failure never fails the request
                    log.exception("cannot record %s %s in the audit trail", scope.get("method"), scope.get("path"))


def _records(scope: Scope, status: int) -> bool:
    policy = scope.get("state", {}).get(POLICY_STATE_KEY)
    return should_record(scope["method"], scope["path"], status, public=policy is not None and policy.public)


def observe(scope: Scope, status: int, answer: bytes) -> Observation:
    """What this request's record is built from."""
    state = scope.get("state", {})
    agent = getattr(getattr(scope.get("app"), "state", None), "agent", None)
    caller = state.get(CALLER_STATE_KEY)
    refusal = state.get(REFUSAL_STATE_KEY)
    credential, session_hash, forwarded_from = "", "", ""
    if caller is not None:
        credential = caller.kind.value
        if caller.kind is AuthKind.SESSION and caller.header.session_id:
            session_hash = hashlib.sha256(caller.header.session_id.encode("utf-8", "surrogateescape")).hexdigest()
        forward = caller.header.forward_agent
        if caller.header.forward_type is not ForwardType.NOT_FORWARD and forward is not None:
            forwarded_from = f"{forward.ip}:{forward.port}"
    elif refusal is not None:
        credential = getattr(refusal, "claimed_kind", "")
        session_hash = getattr(refusal, "session_hash", "")
    route, path_params = _route(scope)
    client = scope.get("client")
    return Observation(
        method=scope["method"], path=scope["path"], route=route, status=status, at_ns=time.time_ns(),
        agent=f"{agent.ip}:{agent.port}" if agent is not None else "",
        client=str(client[0]) if client else "", credential=credential, session_hash=session_hash,
        trace_id=str(state.get(TRACE_ID_KEY, "")), body=state.get(PLAIN_BODY_STATE_KEY),
        path_params=path_params, notes=dict(state.get(NOTES_STATE_KEY, {})), answer=answer,
        forwarded_from=forwarded_from,
    )


def _route(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The route template and path parameters of the request (the path itself when no route matches)."""
    route = matching_route(scope.get("app"), scope)
    if route is None:
        return scope["path"], {}
    _, child = route.matches(scope)
    return str(getattr(route, "path", scope["path"])), dict(child.get("path_params", {}))


def _trail(scope: Scope) -> Any:
    agent = getattr(getattr(scope.get("app"), "state", None), "agent", None)
    return getattr(agent, "audit", None)
