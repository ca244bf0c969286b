"""Why a request was refused, answered with obshell's own error codes.

obshell's clients branch on these codes: the Python SDK looks its cached public key up again
only on ``code`` 1 (``Security.Authentication.Header.DecryptFailed``) and tries a candidate
password on ``code`` 10008; the web UI goes back to its sign-in page on a session error. So
each refusal carries obshell's ``errCode`` and numeric ``code`` (reference §4.8), wrapped as
obshell wraps them: the message starts with "Unauthorized: ".

What the codes do not do is open an oracle: a header that does not decrypt and a header that
decrypts to something that is not a header JSON get the same answer (OpenSSL's implicit
rejection makes most bad RSA blocks "decrypt" to noise anyway), and no message repeats a
credential or says how close a guess was.
"""

from __future__ import annotations

from enum import Enum

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError

_B, _U = ErrorKind.BAD_REQUEST, ErrorKind.UNAUTHORIZED
_UNAUTHORIZED_CODE = 10008  # obshell's old code for every credential refusal
_DECRYPT_CODE = 1  # the SDK refreshes its key on this one


def _auth(code: str, template: str, kind: ErrorKind = _U, old_code: int = _UNAUTHORIZED_CODE) -> ErrorCode:
    return ErrorCode(code, kind, f"Unauthorized: {template}", old_code)


class AuthFailure(Enum):
    """Why a request was refused: the error code it is answered with."""

    MISSING_HEADER = _auth("Request.Header.NotFound", "the request carries no X-OCS-Header or X-OCS-Agent-Header",
                           _B, 0)
    HEADER_UNDECRYPTABLE = _auth("Security.Authentication.Header.DecryptFailed",
                                 "decrypt http header failed: it is not a header encrypted with this agent's current "
                                 "public key (GET /api/v1/secret for the key)", old_code=_DECRYPT_CODE)
    URI_MISMATCH = _auth("Security.Authentication.Header.UriMismatch",
                         "the header's Uri is not the request target (path and query exactly as sent)")
    TS_INVALID = _auth("Security.Authentication.Timestamp.Invalid", "{}")
    EXPIRED = _auth("Security.Authentication.Expired", "{}")
    REPLAYED = _auth("Security.Authentication.Header.Replayed",
                     "this header was already used; build a new header for every request")
    WRONG_ROOT_PASSWORD = _auth("Security.Authentication.IncorrectOceanbasePassword",
                                "incorrect root@sys password")
    WRONG_AGENT_PASSWORD = _auth("Security.Authentication.IncorrectAgentPassword", "incorrect agent password")
    WRONG_TOKEN = _auth("Security.Authentication.IncorrectToken", "incorrect agent token")
    NEEDS_AGENT_PASSWORD = _auth("Security.Authentication.WithAgentPassword",
                                 "this route needs the agent password (X-OCS-Agent-Header)")
    NEEDS_ROOT_PASSWORD = _auth("Security.Authentication.WithOceanBasePassword",
                                "this route needs the root@sys password or a session (X-OCS-Header)")
    SESSION_INVALID = _auth("Security.Authentication.SessionInvalid", "the session does not exist; sign in again")
    SESSION_EXPIRED = _auth("Security.Authentication.SessionExpired", "the session has expired; sign in again")
    FILE_DIGEST_MISMATCH = _auth("Security.Authentication.File.Sha256Mismatch",
                                 "X-OCS-File-SHA256 does not name the SHA-256 of the uploaded file", old_code=0)
    LOCKED_OUT = _auth("Security.Authentication.LockedOut",
                       "too many wrong credentials from {}; locked out for another {} s", ErrorKind.TOO_MANY_REQUESTS, 0)
    BODY_UNDECRYPTABLE = _auth("Request.Body.Decrypt.Failed",
                               "the body cannot be decrypted with the header's Keys: {}", _B, 0)


_DEFAULT_DETAIL = {
    AuthFailure.TS_INVALID: "the header's Ts is not a valid expiry time",
    AuthFailure.EXPIRED: "the header has expired (its Ts is in the past)",
    AuthFailure.BODY_UNDECRYPTABLE: "invalid ciphertext",
}


class AuthError(ObshellError):
    """A refused request. ``failure`` says why; ``args`` fill the message template."""

    def __init__(self, failure: AuthFailure, *args: object, headers: dict[str, str] | None = None):
        code: ErrorCode = failure.value
        if not args and failure in _DEFAULT_DETAIL:
            args = (_DEFAULT_DETAIL[failure],)
        message = code.template.format(*args) if "{}" in code.template else code.template
        super().__init__(code, message, headers=headers)
        self.failure = failure
        # What the refused request claimed, for the audit trail (never the credential itself):
        # the credential kind (an AuthKind value) once the header was read, and a session's hash.
        self.claimed_kind = ""
        self.session_hash = ""

    def __repr__(self) -> str:
        return f"AuthError({self.failure.name})"


def locked_out(address: str, seconds_left: float) -> AuthError:
    """The lock-out answer: 429 with the time left, also in ``Retry-After``."""
    left = max(1, int(seconds_left + 0.999))
    return AuthError(AuthFailure.LOCKED_OUT, address, left, headers={"Retry-After": str(left)})
