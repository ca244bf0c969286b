"""The outer layer of every /api/v1 and /rpc/v1 request: timing, trace id, request log, and a
500 envelope (without traceback) for any unexpected exception."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyobshell.api.envelope import STARTED_NS_KEY, TRACE_ID_KEY, EnvelopeResponse, error_body
from pyobshell.api.errors import is_enveloped_path
from pyobshell.api.trace import TRACE_HEADER, current_trace_id, new_trace_id
from pyobshell.errors import COMMON_UNEXPECTED

log = logging.getLogger("pyobshell.api.access")

# obshell skips tracing for exactly this path, so its traceId stays "".
UNTRACED_PATHS = frozenset({"/api/v1/status"})


class EnvelopeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_enveloped_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        trace_id = "" if scope["path"] in UNTRACED_PATHS else (request.headers.get(TRACE_HEADER) or new_trace_id())
        state = scope.setdefault("state", {})
        state[TRACE_ID_KEY] = trace_id
        state[STARTED_NS_KEY] = time.monotonic_ns()
        token = current_trace_id.set(trace_id)
        status = 0

        async def send_tracking_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_status)
        except Exception:
            log.exception("unexpected error in %s %s", scope["method"], scope["path"])
            if status:  # the response has started; nothing sane left to send
                raise
            status = 500
            error = error_body(COMMON_UNEXPECTED.code, "Unexpected error: Internal Server Error")
            await EnvelopeResponse(request, 500, error=error)(scope, receive, send)
        finally:
            elapsed_ms = (time.monotonic_ns() - state[STARTED_NS_KEY]) // 1_000_000
            level = logging.DEBUG if scope["path"] in UNTRACED_PATHS else logging.INFO
            log.log(level, "%s %s -> %d in %d ms", scope["method"], scope["path"], status, elapsed_ms)
            current_trace_id.reset(token)
