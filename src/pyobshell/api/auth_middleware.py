"""ASGI middleware that authenticates every ``/api/v1`` and ``/rpc/v1`` request (see ``auth.py``).

It runs inside the envelope middleware (so refusals carry the trace id) and outside FastAPI's
routing: it must replace the encrypted body before FastAPI reads and validates it.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.auth import (
    CALLER_STATE_KEY,
    PLAIN_BODY_STATE_KEY,
    POLICY_STATE_KEY,
    REFUSAL_STATE_KEY,
    AuthPolicy,
    BodyMode,
    Caller,
    declared_policy,
    effective_policy,
)
from pyobshell.api.envelope import EnvelopeResponse, obshell_error_body
from pyobshell.api.errors import is_enveloped_path
from pyobshell.api.route_table import matching_route
from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.metrics import AgentMetrics
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.request_verifier import ALL_KINDS, VerifiedRequest, has_auth_header

log = logging.getLogger(__name__)

# Distinct (method, path) pairs whose policy is remembered (paths carry ids, so bounded).
POLICY_CACHE_ENTRIES = 1024
CREDENTIAL_CHECK_FAILED = ErrorCode("Security.Authentication.CheckFailed", ErrorKind.UNAVAILABLE,
                                    "The credential cannot be checked now; try again")
_NO_ROUTE = object()


class BodyTooLarge(Exception):
    pass


def request_target(scope: Scope) -> str:
    """The raw request target as on the request line (path and query, percent-encoding kept).

    Decoded so that two targets compare equal exactly when their bytes do (Go compares bytes).
    """
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    raw_path = raw_path.split(b"?", 1)[0]  # some servers leave the query in raw_path
    query = scope.get("query_string") or b""
    target = raw_path + (b"?" + query if query else b"")
    return target.decode("utf-8", errors="surrogateescape")


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name (the first of repeated names wins)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the real one (disconnects)."""
    sent = False

    async def receive_plaintext() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_plaintext


def with_json_body_headers(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {**scope, "headers": headers}


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (routes of the app, method, path) -> policy or _NO_ROUTE: matching scans every route.
        self._policies: OrderedDict[tuple[int, str, str], object] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_enveloped_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        policy = self._policy_for(scope)
        state = scope.setdefault("state", {})
        headers = header_map(scope)
        if policy is None or (policy.public and not has_auth_header(headers)):
            # No route matches (404/405 follow, nothing runs) or a public route without a header.
            state[POLICY_STATE_KEY] = policy
            state[CALLER_STATE_KEY] = None
            await self.app(scope, receive, send)
            return
        try:
            verified = await self._verify(scope, receive, headers, policy)
        except ObshellError as err:
            await self._refuse(scope, receive, send, err)
            return
        except Exception:  # a failing credential check must not become a bare 500
            log.exception("credential check failed for %s %s", scope["method"], scope["path"])
            await self._refuse(scope, receive, send, CREDENTIAL_CHECK_FAILED())
            return
        state[POLICY_STATE_KEY] = policy
        state[CALLER_STATE_KEY] = Caller(kind=verified.kind, header=verified.header, keys=verified.keys)
        if policy.body is BodyMode.ENCRYPTED:
            body = verified.body or b"{}"  # obshell treats a missing body as {}
            state[PLAIN_BODY_STATE_KEY] = body
            scope, receive = with_json_body_headers(scope, len(body)), replay_body(body, receive)
        await self.app(scope, receive, send)

    async def _verify(self, scope: Scope, receive: Receive, headers: dict[str, str], policy: AuthPolicy) -> VerifiedRequest:
        security = _agent_security(scope)
        if security is None and not has_auth_header(headers):
            raise AuthError(AuthFailure.MISSING_HEADER)
        if security is None:
            log.warning("no AgentSecurity configured: refusing %s %s", scope["method"], scope["path"])
            raise CREDENTIAL_CHECK_FAILED()
        encrypted = policy.body is BodyMode.ENCRYPTED
        body = b""
        if encrypted and has_auth_header(headers):
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > security.max_body_bytes:  # refused before reading it
                raise AuthError(AuthFailure.BODY_UNDECRYPTABLE,
                                f"the body is larger than {security.max_body_bytes} bytes")
            try:
                body = await read_body(receive, security.max_body_bytes)
            except BodyTooLarge:
                raise AuthError(AuthFailure.BODY_UNDECRYPTABLE,
                                f"the body is larger than {security.max_body_bytes} bytes") from None
        client = scope.get("client")
        verify = functools.partial(
            security.verifier.verify,
            scope["method"],
            request_target(scope),
            headers,
            body,
            client[0] if client else None,
            allowed=policy.kinds or ALL_KINDS,
            body_encrypted=encrypted,
        )
        # The root password check may log in to the observer: keep it off the event loop. A check
        # that cannot be made (the cluster store is unreachable) raises its own coded error.
        return await anyio.to_thread.run_sync(verify)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: ObshellError) -> None:
        log.info("%d for %s %s: %s", err.status, scope["method"], scope["path"], err.code)
        scope.setdefault("state", {})[REFUSAL_STATE_KEY] = err
        metrics = _agent_metrics(scope)
        if metrics is not None:
            metrics.refused(err.code)
        response = EnvelopeResponse(Request(scope), err.status, error=obshell_error_body(err), headers=err.headers or None)
        await response(scope, receive, send)

    def _policy_for(self, scope: Scope) -> AuthPolicy | None:
        """The enforced policy of the route this request reaches; None if no route matches fully."""
        # Routes are only ever added (include_router after create_app, in tests): the count
        # of top-level routes tells a changed table apart.
        key = (_route_count(scope.get("app")), scope["method"], scope["path"])
        found = self._policies.get(key)
        if found is None:
            found = self._match_policy(scope)
            self._policies[key] = _NO_ROUTE if found is None else found
            if len(self._policies) > POLICY_CACHE_ENTRIES:
                self._policies.popitem(last=False)
        return None if found is _NO_ROUTE else found  # type: ignore[return-value]

    def _match_policy(self, scope: Scope) -> AuthPolicy | None:
        route = matching_route(scope.get("app"), scope)
        if route is None:
            return None
        route_path = getattr(route, "path", None) or scope["path"]
        return effective_policy(scope["path"], route_path, scope["method"], declared_policy(route))


def _route_count(app: object) -> int:
    return len(getattr(getattr(app, "router", None), "routes", ()))


def _agent_metrics(scope: Scope) -> AgentMetrics | None:
    agent = getattr(getattr(scope.get("app"), "state", None), "agent", None)
    return getattr(agent, "metrics", None)


def _agent_security(scope: Scope) -> AgentSecurity | None:
    agent = getattr(getattr(scope.get("app"), "state", None), "agent", None)
    return getattr(agent, "security", None)
