"""Verifies one encrypted, authenticated request (obshell's HeaderDecrypt + Verify + BodyDecrypt).

Framework-independent: the HTTP layer passes the method, the raw request target (path and
query exactly as on the request line), the headers, the raw body and the client address, and
gets a :class:`VerifiedRequest` or an :class:`AuthError` (always 401 "Unauthorized").

Order of checks, each refusal counted as described in ``auth_error.AuthFailure``:

1. client address not locked out (before any decryption or password check);
2. ``X-OCS-Agent-Header`` (preferred) or ``X-OCS-Header`` present;
3. header is canonical base64 of whole RSA blocks that decrypt to a valid header JSON;
4. ``Uri`` equals the raw request target byte for byte;
5. ``Ts`` (the client's expiry time) is not older than ``clock_skew`` and not later than
   ``max_lifetime + clock_skew`` from now (the web UI sends now+1800, SDK v2 now+5);
6. the header ciphertext was never seen before (marked used here, whatever happens next, so a
   captured header can never serve as a padding oracle for its body);
7. the credential kind is allowed on this route: ``Token`` → agent token, else ``session_id``
   (when sessions are configured, root header only) → session, else the header type decides
   between root and agent password;
8. the credential is correct (a wrong one counts towards the lock-out);
9. the body, if any, decrypts with ``Keys`` (strict base64, 32-byte Keys, valid padding).

The wire format cannot bind the HTTP method or prove the body was not dropped; the caller
should treat an empty body as ``{}`` exactly as obshell does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pyobshell.security import aes_body, rsa_chunks, strict_base64
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.credentials import AuthKind, PasswordChecker, SecretChecker
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutTracker
from pyobshell.security.replay_cache import ReplayCache
from pyobshell.security.request_header import AGENT_HEADER, ROOT_HEADER, HeaderFormatError, RequestHeader
from pyobshell.security.rsa_chunks import DEFAULT_MAX_BLOCKS

logger = logging.getLogger(__name__)

ALL_KINDS = frozenset(AuthKind)


@dataclass(frozen=True)
class VerifierSettings:
    clock_skew: float = 60.0  # seconds of clock difference tolerated in either direction
    max_lifetime: float = 1800.0  # farthest future Ts accepted (web UI: now + 1800)
    max_header_blocks: int = DEFAULT_MAX_BLOCKS


@dataclass(frozen=True, repr=False)
class VerifiedRequest:
    """An authenticated request: how it authenticated, its header and its plaintext body."""

    kind: AuthKind
    header: RequestHeader
    body: bytes  # decrypted body; b"" when the request had none
    keys: AesKeys | None  # the request's AES keys, to encrypt a login/SSO reply value

    def __repr__(self) -> str:
        return f"VerifiedRequest(kind={self.kind.name}, uri={self.header.uri!r}, body={len(self.body)} bytes)"


def find_header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that also works on a plain dict."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def has_auth_header(headers: Mapping[str, str]) -> bool:
    """True if the request carries an auth header (obshell then verifies even public routes)."""
    return find_header(headers, AGENT_HEADER) is not None or find_header(headers, ROOT_HEADER) is not None


class RequestVerifier:
    """Stateful verifier shared by all requests of one agent (thread-safe)."""

    def __init__(
        self,
        key_pair: AgentKeyPair,
        password_checker: PasswordChecker,
        *,
        clock: Clock = system_clock,
        replay_cache: ReplayCache | None = None,
        lockout: LockoutTracker | None = None,
        token_checker: SecretChecker | None = None,
        session_checker: SecretChecker | None = None,
        settings: VerifierSettings = VerifierSettings(),
    ):
        self._key_pair = key_pair
        self._password_checker = password_checker
        self._clock = clock
        self._replay_cache = replay_cache if replay_cache is not None else ReplayCache(clock=clock)
        self._lockout = lockout if lockout is not None else LockoutTracker(clock=clock)
        self._token_checker = token_checker
        self._session_checker = session_checker
        self._settings = settings

    def verify(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        client_address: str | None,
        *,
        allowed: frozenset[AuthKind] = ALL_KINDS,
        body_encrypted: bool = True,
    ) -> VerifiedRequest:
        """Verify one request or raise :class:`AuthError`.

        ``target`` is the raw request target, e.g. ``/api/v1/task/12?show_details=true``
        (ASGI: ``raw_path`` plus ``"?" + query_string`` when the query is not empty).
        ``client_address`` keys the lock-out; ``None`` (e.g. a unix socket) disables it.
        ``body_encrypted=False`` leaves the body as is (multipart package upload).
        """
        try:
            return self._verify(target, headers, body, client_address, allowed, body_encrypted)
        except AuthError as err:
            path = target.split("?", 1)[0]
            logger.info("refused %s %s from %s: %s", method, path, client_address, err.failure.value)
            raise

    def _verify(
        self,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        client_address: str | None,
        allowed: frozenset[AuthKind],
        body_encrypted: bool,
    ) -> VerifiedRequest:
        if client_address is not None and self._lockout.is_locked(client_address):
            raise AuthError(AuthFailure.LOCKED_OUT)
        agent_value = find_header(headers, AGENT_HEADER)
        used_agent_header = agent_value is not None
        value = agent_value if used_agent_header else find_header(headers, ROOT_HEADER)
        if value is None:
            raise AuthError(AuthFailure.MISSING_HEADER)

        ciphertext, header = self._decrypt_header(value)
        if header.uri != target:
            raise AuthError(AuthFailure.URI_MISMATCH)
        self._check_ts(header.ts)
        if not self._replay_cache.add_if_new(ciphertext, header.ts + self._settings.clock_skew):
            raise AuthError(AuthFailure.REPLAYED)

        kind = self._credential_kind(header, used_agent_header)
        if kind not in allowed:
            raise AuthError(AuthFailure.KIND_NOT_ALLOWED)
        if not self._credential_ok(kind, header):
            if client_address is not None:
                self._lockout.record_failure(client_address)
            raise AuthError(AuthFailure.WRONG_CREDENTIAL)
        if client_address is not None:
            self._lockout.record_success(client_address)

        keys = _aes_keys_or_none(header.keys)
        plaintext = _decrypt_body(keys, body) if body_encrypted else body
        return VerifiedRequest(kind=kind, header=header, body=plaintext, keys=keys)

    def _decrypt_header(self, value: str) -> tuple[bytes, RequestHeader]:
        k = rsa_chunks.block_size(self._key_pair.private_key)
        if len(value) > 4 * -(-self._settings.max_header_blocks * k // 3):  # cheap bound before decoding
            raise AuthError(AuthFailure.HEADER_UNDECRYPTABLE)
        try:
            ciphertext = strict_base64.decode(value)
            plaintext = rsa_chunks.decrypt(
                self._key_pair.private_key, ciphertext, self._settings.max_header_blocks
            )
        except DecryptionError:
            raise AuthError(AuthFailure.HEADER_UNDECRYPTABLE) from None
        try:
            return ciphertext, RequestHeader.parse(plaintext)
        except HeaderFormatError:
            raise AuthError(AuthFailure.HEADER_INVALID) from None

    def _check_ts(self, ts: int) -> None:
        now = self._clock()
        if ts < now - self._settings.clock_skew:
            raise AuthError(AuthFailure.EXPIRED)
        if ts > now + self._settings.max_lifetime + self._settings.clock_skew:
            raise AuthError(AuthFailure.TOO_FAR_AHEAD)

    def _credential_kind(self, header: RequestHeader, used_agent_header: bool) -> AuthKind:
        if header.token:
            return AuthKind.AGENT_TOKEN
        if header.session_id and self._session_checker is not None and not used_agent_header:
            return AuthKind.SESSION
        return AuthKind.AGENT_PASSWORD if used_agent_header else AuthKind.ROOT_PASSWORD

    def _credential_ok(self, kind: AuthKind, header: RequestHeader) -> bool:
        if kind is AuthKind.AGENT_TOKEN:
            return self._token_checker is not None and self._token_checker(header.token)
        if kind is AuthKind.SESSION:
            return self._session_checker is not None and self._session_checker(header.session_id)
        return self._password_checker(kind, header.auth)


def _decrypt_body(keys: AesKeys | None, body: bytes) -> bytes:
    if not body:
        return b""
    if keys is None:  # Keys missing or not exactly 32 bytes
        raise AuthError(AuthFailure.BODY_UNDECRYPTABLE)
    try:
        return aes_body.decrypt(keys, body)
    except DecryptionError:
        raise AuthError(AuthFailure.BODY_UNDECRYPTABLE) from None


def _aes_keys_or_none(raw: bytes | None) -> AesKeys | None:
    if raw is None:
        return None
    try:
        return AesKeys.from_bytes(raw)
    except DecryptionError:
        return None
