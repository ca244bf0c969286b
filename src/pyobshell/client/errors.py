"""Errors the client raises: every failure is an :class:`ObshellClientError`."""

from __future__ import annotations

from pyobshell.wire.envelope import NOT_AN_ENVELOPE, EnvelopeError


class ObshellClientError(Exception):
    """Base of the client's errors."""


class ObshellConnectionError(ObshellClientError):
    """The agent could not be reached (refused, timed out, DNS, TLS...)."""


class ObshellApiError(EnvelopeError, ObshellClientError):
    """The agent answered with an error envelope (or with something that is not an envelope).

    ``err_code`` is obshell's dotted code (``Security.Authentication.IncorrectOceanbasePassword``),
    ``old_code`` its old numeric one; a reply that is not an envelope at all gets
    ``Client.InvalidResponse``.
    """

    @classmethod
    def of(cls, error: EnvelopeError) -> "ObshellApiError":
        return cls(error.err_code, error.message, error.status, error.trace_id, error.sub_errors, error.old_code)


INVALID_RESPONSE = NOT_AN_ENVELOPE
