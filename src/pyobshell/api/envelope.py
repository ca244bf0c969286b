"""obshell's response envelope: ``{successful, timestamp, duration, status, traceId, data|error}``.

Every /api/v1 and /rpc/v1 response is built here. A list in ``data`` is wrapped as
``{"contents": [...]}``; ``data`` is omitted when there is none.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from pyobshell.errors import ObshellError

STARTED_NS_KEY = "obshell_started_ns"
TRACE_ID_KEY = "obshell_trace_id"


def rfc3339_nano(epoch_ns: int | None = None) -> str:
    """Local time as RFC 3339 with nine fractional digits and the UTC offset ("Z" for UTC)."""
    epoch_ns = time.time_ns() if epoch_ns is None else epoch_ns
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone()
    offset = moment.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{nanos:09d}{zone}"


def wrap_data(data: Any) -> Any:
    """Lists become ``{"contents": [...]}``, as obshell does for slices."""
    if isinstance(data, (list, tuple)):
        return {"contents": list(data)}
    return data


def error_body(code: str, message: str, sub_errors: list[Any] | None = None, old_code: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if old_code:
        body["code"] = old_code
    body["errCode"] = code
    body["message"] = message
    if sub_errors:
        body["subErrors"] = sub_errors
    return body


def obshell_error_body(exc: ObshellError) -> dict[str, Any]:
    return error_body(exc.code, exc.message, exc.sub_errors, exc.old_code)


def request_trace_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get(TRACE_ID_KEY, ""))


def _elapsed_ms(request: Request | None) -> int:
    started = request.scope.get("state", {}).get(STARTED_NS_KEY) if request is not None else None
    if started is None:
        return 0
    return max(0, (time.monotonic_ns() - started) // 1_000_000)


class EnvelopeResponse(Response):
    """A response whose body is the envelope. ``data_json`` is already-encoded JSON (or None)."""

    media_type = "application/json"

    def __init__(
        self,
        request: Request | None,
        status_code: int,
        *,
        data_json: bytes | None = None,
        error: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        head = {
            "successful": error is None and status_code < 400,
            "timestamp": rfc3339_nano(),
            "duration": _elapsed_ms(request),
            "status": status_code,
            "traceId": request_trace_id(request) if request is not None else "",
        }
        parts = [json.dumps(head, separators=(",", ":"))[:-1].encode()]
        if data_json is not None and data_json not in (b"", b"null"):
            parts.append(b',"data":' + data_json)
        if error is not None:
            parts.append(b',"error":' + _dumps(error))
        parts.append(b"}")
        super().__init__(b"".join(parts), status_code, headers, background=background)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def ok(request: Request, data: Any = None, status_code: int = 200) -> EnvelopeResponse:
    """A success envelope around plain JSON-able data (pydantic models: use ``model_dump``)."""
    payload = None if data is None else _dumps(wrap_data(data))
    return EnvelopeResponse(request, status_code, data_json=payload)


def fail(request: Request, status_code: int, code: str, message: str, sub_errors: list[Any] | None = None) -> EnvelopeResponse:
    return EnvelopeResponse(request, status_code, error=error_body(code, message, sub_errors))
