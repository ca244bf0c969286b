"""Errors the client raises: every failure is an :class:`ObshellClientError`."""

from __future__ import annotations

from typing import Any


class ObshellClientError(Exception):
    """Base of the client's errors."""


class ObshellConnectionError(ObshellClientError):
    """The agent could not be reached (refused, timed out, DNS, TLS...)."""


class ObshellApiError(ObshellClientError):
    """The agent answered with an error envelope (or with something that is not an envelope).

    ``err_code`` is obshell's dotted code (``Security.Authentication.IncorrectOceanbasePassword``); a reply that is not an
    envelope at all gets ``Client.InvalidResponse``.
    """

    def __init__(self, err_code: str, message: str, status: int, trace_id: str = "", sub_errors: list[Any] | None = None):
        super().__init__(f"[{status} {err_code}] {message}" + (f" (trace {trace_id})" if trace_id else ""))
        self.err_code = err_code
        self.message = message
        self.status = status
        self.trace_id = trace_id
        self.sub_errors = sub_errors or []


INVALID_RESPONSE = "Client.InvalidResponse"
