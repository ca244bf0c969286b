"""Read timeouts for request bodies, and the settings of both HTTP read deadlines.

A client that announces a body and then stalls (``Content-Length: 3 GiB`` and 2 KB sent)
would hold its connection, a worker and, for an upload, a temporary file for as long as it
likes. Here each piece of a body must arrive within ``body_idle_s`` of the previous one;
otherwise the request fails with 408 ``Request.Body.Timeout`` (an upload removes its
temporary file on the way out, as on every failure). Any answer sent before its request's
body was read through closes the connection rather than wait for the rest. Once the
body is complete, ``receive`` is left alone: a streaming answer waits on it for a
disconnect, which may take as long as the answer does."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyobshell.env_seconds import seconds
from pyobshell.errors import ErrorCode, ErrorKind

HEADER_TIMEOUT_ENV = "PYOBSHELL_HTTP_HEADER_TIMEOUT_S"
BODY_TIMEOUT_ENV = "PYOBSHELL_HTTP_BODY_TIMEOUT_S"

BODY_TIMEOUT = ErrorCode("Request.Body.Timeout", ErrorKind.REQUEST_TIMEOUT,
                         "no part of the request body arrived for {} s; send the body without pauses")


@dataclass(frozen=True)
class RequestTimeouts:
    header_s: float = 10.0  # from the first byte of a request (or connection) to its last header
    body_idle_s: float = 15.0  # between two pieces of a body

    def __post_init__(self) -> None:
        if not (self.header_s > 0 and self.body_idle_s > 0):
            raise ValueError(f"{HEADER_TIMEOUT_ENV} and {BODY_TIMEOUT_ENV} must be positive numbers of seconds")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RequestTimeouts":
        values = os.environ if env is None else env
        defaults = cls()
        header = seconds(values, HEADER_TIMEOUT_ENV, defaults.header_s, minimum=0.001)
        body = seconds(values, BODY_TIMEOUT_ENV, defaults.body_idle_s, minimum=0.001)
        return cls(header_s=header, body_idle_s=body)


class BodyTimeoutMiddleware:
    """Gives every ``http.request`` message ``body_idle_s`` to arrive (see the module doc)."""

    def __init__(self, app: ASGIApp, body_idle_s: float = RequestTimeouts.body_idle_s):
        self.app = app
        self.body_idle_s = body_idle_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = not _has_body(scope)

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            with anyio.move_on_after(self.body_idle_s) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise BODY_TIMEOUT(f"{self.body_idle_s:g}")
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def send_closing_if_unread(message: Message) -> None:
            # An answer given before the body is read (a refusal from the headers alone, a
            # timeout) ends the connection: the rest of that body is never waited for.
            if message["type"] == "http.response.start" and not body_done:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_in_time, send_closing_if_unread)


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (HTTP/1.1: a non-zero length, or chunks)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return value.strip() not in (b"", b"0")
        if name.lower() == b"transfer-encoding":
            return True
    return False
