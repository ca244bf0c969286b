"""The file check of an authenticated upload: ``X-OCS-File-SHA256`` against the received bytes.

An upload route declares ``accepts(PASSWORD.with_plain_body())`` (the caller is authenticated
by the usual header, the multipart body is streamed as it comes), hashes the file while saving
it, then calls :func:`verify_file_digest`. The header is optional (obshell's SDK sends none:
the caller is authenticated anyway, and the package store verifies the RPM itself); when it is
sent it must name the file, or the upload is refused with obshell's ``Sha256Mismatch``.
"""

from __future__ import annotations

from starlette.requests import Request

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.file_digest import FILE_SHA256_HEADER, file_sha256_matches


def verify_file_digest(request: Request, security: AgentSecurity | None, actual_sha256_hex: str) -> None:
    """Refuse the upload when it carries a file header that does not name ``actual_sha256_hex``."""
    value = request.headers.get(FILE_SHA256_HEADER)
    if value is None:
        return
    if security is None or not file_sha256_matches(security.key_pair, value, actual_sha256_hex):
        raise AuthError(AuthFailure.FILE_DIGEST_MISMATCH)
