"""The one error every refused request gets.

Whatever went wrong (no header, undecryptable header, bad padding, wrong password, replay,
lock-out, ...) the caller sees HTTP 401 ``Common.Unauthorized`` with the message
"Unauthorized". obshell's detailed messages told a padding failure from a JSON failure (a
Bleichenbacher oracle) and a wrong password from an expired header; here the precise
:class:`AuthFailure` is kept on the exception for the agent's own log only.
"""

from __future__ import annotations

from enum import Enum

from pyobshell.errors import COMMON_UNAUTHORIZED, ObshellError

UNIFORM_MESSAGE = "Unauthorized"


class AuthFailure(Enum):
    """Why a request was refused (for logs and tests; never sent to the client)."""

    LOCKED_OUT = "client address is locked out after repeated wrong credentials"
    MISSING_HEADER = "no X-OCS-Header or X-OCS-Agent-Header"
    HEADER_UNDECRYPTABLE = "header is not valid base64 RSA ciphertext for this agent"
    HEADER_INVALID = "decrypted header is not a valid header"
    URI_MISMATCH = "header Uri differs from the request target"
    EXPIRED = "header Ts is in the past"
    TOO_FAR_AHEAD = "header Ts is too far in the future"
    REPLAYED = "header was already used"
    KIND_NOT_ALLOWED = "this credential kind is not accepted here"
    WRONG_CREDENTIAL = "wrong password, token or session"
    BODY_UNDECRYPTABLE = "body cannot be decrypted with the header Keys"


class AuthError(ObshellError):
    """HTTP 401 ``Common.Unauthorized`` "Unauthorized"; ``failure`` says why, for the log."""

    def __init__(self, failure: AuthFailure):
        super().__init__(COMMON_UNAUTHORIZED, UNIFORM_MESSAGE)
        self.failure = failure

    def __repr__(self) -> str:
        return f"AuthError({self.failure.name})"
