"""obshell's response envelope: ``{successful, timestamp, duration, status, traceId, data|error}``.

The error's shape (``api.openapi`` documents the envelope with it) and the one parser every
reader of an envelope uses: the Python client, agents calling each other, the agent reading its
peers' statuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

NOT_AN_ENVELOPE = "Client.InvalidResponse"


class ApiError(BaseModel):
    """``error`` of an error envelope; optional members are omitted, never null."""

    code: int = Field(default=0, description="obshell's old numeric code; omitted when 0")
    errCode: str
    message: str
    subErrors: list[Any] = Field(default_factory=list, description="per-field problems; omitted when none")


@dataclass(eq=False)  # an exception compares and hashes by identity
class EnvelopeError(Exception):
    """An error envelope (or a reply that is no envelope: ``err_code`` ``Client.InvalidResponse``)."""

    err_code: str
    message: str
    status: int
    trace_id: str = ""
    sub_errors: list[Any] = field(default_factory=list)
    old_code: int = 0

    def __str__(self) -> str:
        return f"[{self.status} {self.err_code}] {self.message}" + (f" (trace {self.trace_id})" if self.trace_id else "")


def envelope_data(status: int, content: bytes | str) -> Any:
    """``data`` of a success envelope, or :class:`EnvelopeError`."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "successful" not in body:
        raise EnvelopeError(NOT_AN_ENVELOPE, f"HTTP {status}: the reply is not an obshell envelope", status)
    trace_id = str(body.get("traceId") or "")
    if body.get("successful") is True and status < 400:
        return body.get("data")
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    old_code = error.get("code") if isinstance(error.get("code"), int) else 0
    code = error.get("errCode") or (str(old_code) if old_code else NOT_AN_ENVELOPE)
    answered = body.get("status") if isinstance(body.get("status"), int) else status
    sub_errors = error.get("subErrors") if isinstance(error.get("subErrors"), list) else []
    raise EnvelopeError(str(code), str(error.get("message") or "no message"), answered, trace_id, sub_errors, old_code)
