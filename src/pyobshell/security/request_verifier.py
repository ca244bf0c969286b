"""Verifies one encrypted, authenticated request (obshell's HeaderDecrypt + Verify + BodyDecrypt).

Framework-independent: the HTTP layer passes the method, the raw request target (path and
query exactly as on the request line), the headers, the raw body and the client address, and
gets a :class:`VerifiedRequest` or an :class:`AuthError` (always 401 "Unauthorized").

Order of checks; each refusal is answered with obshell's error code for it (``auth_error``):

1. client address not locked out (before any decryption or password check: 429 LockedOut);
2. ``X-OCS-Agent-Header`` (preferred) or ``X-OCS-Header`` present (400 Request.Header.NotFound);
3. header is canonical base64 of whole RSA blocks that decrypt to a valid header JSON
   (401 DecryptFailed, ``code`` 1, whichever of the two failed);
4. ``Uri`` equals the raw request target byte for byte;
5. ``Ts`` (the client's expiry time) is a decimal string, not older than ``clock_skew`` and not
   later than ``max_lifetime + clock_skew`` from now (the web UI sends its own clock + 1800);
6. the header ciphertext was never seen before (marked used here, whatever happens next, so a
   captured header can never serve as a padding oracle for its body);
7. the credential kind is allowed on this route: ``Token`` → agent token, else ``session_id``
   (root header, on routes that take sessions) → session, else the header type decides between
   root and agent password;
8. the credential is correct (a wrong password or token counts towards the lock-out);
9. the body, if any, decrypts with ``Keys`` (strict base64, 32-byte Keys, valid padding).

The wire format cannot bind the HTTP method or prove the body was not dropped; the caller
should treat an empty body as ``{}`` exactly as obshell does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pyobshell.security import aes_body, rsa_chunks, strict_base64
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.auth_error import AuthError, AuthFailure, locked_out
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.credentials import AuthKind, PasswordChecker, SecretChecker, SessionCheck, SessionChecker
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.lockout import LockoutTracker, fingerprint
from pyobshell.security.replay_cache import ReplayCache
from pyobshell.security.request_header import (
    AGENT_HEADER,
    ROOT_HEADER,
    HeaderFormatError,
    RequestHeader,
    TimestampFormatError,
)
from pyobshell.security.rsa_chunks import DEFAULT_MAX_BLOCKS

logger = logging.getLogger(__name__)

ALL_KINDS = frozenset(AuthKind)


@dataclass(frozen=True)
class VerifierSettings:
    clock_skew: float = 300.0  # seconds of clock difference tolerated in either direction
    max_lifetime: float = 1800.0  # farthest future Ts accepted beyond the skew (web UI: now + 1800)
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
        session_checker: SessionChecker | None = None,
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
            logger.info("refused %s %s from %s: %s", method, path, client_address, err.code)
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
        if client_address is not None:
            seconds_left = self._lockout.seconds_left(client_address)
            if seconds_left > 0:
                raise locked_out(client_address, seconds_left)
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

        kind = self._credential_kind(header, used_agent_header, allowed)
        try:
            if kind not in allowed:
                raise AuthError(_kind_refusal(kind, allowed))
            self._check_credential(kind, header, client_address)
            keys = _aes_keys_or_none(header.keys)
            plaintext = _decrypt_body(keys, body) if body_encrypted else body
        except AuthError as err:
            err.claimed_kind = kind.value
            if kind is AuthKind.SESSION:
                err.session_hash = hashlib.sha256(header.session_id.encode("utf-8", "surrogateescape")).hexdigest()
            raise
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
        except TimestampFormatError:
            raise AuthError(AuthFailure.TS_INVALID) from None
        except HeaderFormatError:  # the same answer as an undecryptable header: no oracle
            raise AuthError(AuthFailure.HEADER_UNDECRYPTABLE) from None

    def _check_ts(self, ts: int) -> None:
        now, skew = self._clock(), self._settings.clock_skew
        if ts < now - skew:
            raise AuthError(AuthFailure.EXPIRED, f"the header expired {now - ts:.0f} s ago by this agent's clock "
                                                 f"(clock skew allowed: {skew:.0f} s)")
        if ts > now + self._settings.max_lifetime + skew:
            raise AuthError(AuthFailure.TS_INVALID, f"the header's Ts is {ts - now:.0f} s ahead of this agent's clock; "
                                                    f"at most {self._settings.max_lifetime + skew:.0f} s are accepted")

    def _credential_kind(self, header: RequestHeader, used_agent_header: bool, allowed: frozenset[AuthKind]) -> AuthKind:
        if header.token:
            return AuthKind.AGENT_TOKEN
        if (header.session_id and self._session_checker is not None and not used_agent_header
                and AuthKind.SESSION in allowed):
            return AuthKind.SESSION
        return AuthKind.AGENT_PASSWORD if used_agent_header else AuthKind.ROOT_PASSWORD

    def _check_credential(self, kind: AuthKind, header: RequestHeader, client_address: str | None) -> None:
        if kind is AuthKind.SESSION:
            assert self._session_checker is not None
            outcome = self._session_checker(header.session_id)
            if outcome is SessionCheck.VALID:
                return
            raise AuthError(AuthFailure.SESSION_EXPIRED if outcome is SessionCheck.EXPIRED else AuthFailure.SESSION_INVALID)
        if kind is AuthKind.AGENT_TOKEN:
            candidate, ok = header.token, self._token_checker is not None and self._token_checker(header.token)
        else:
            candidate, ok = header.auth, self._password_checker(kind, header.auth)
        if ok:
            if client_address is not None:
                self._lockout.record_success(client_address)
            return
        if client_address is not None and self._lockout.record_failure(client_address, fingerprint(kind.value, candidate)):
            logger.warning("client %s is locked out for %.0f s after repeated wrong credentials",
                           client_address, self._lockout.policy.lock_seconds)
        raise AuthError(_WRONG[kind])


_WRONG = {
    AuthKind.ROOT_PASSWORD: AuthFailure.WRONG_ROOT_PASSWORD,
    AuthKind.AGENT_PASSWORD: AuthFailure.WRONG_AGENT_PASSWORD,
    AuthKind.AGENT_TOKEN: AuthFailure.WRONG_TOKEN,
}


def _kind_refusal(kind: AuthKind, allowed: frozenset[AuthKind]) -> AuthFailure:
    """What to tell a caller whose credential kind this route does not take."""
    if AuthKind.ROOT_PASSWORD in allowed or AuthKind.SESSION in allowed:
        return AuthFailure.NEEDS_ROOT_PASSWORD
    if AuthKind.AGENT_PASSWORD in allowed:
        return AuthFailure.NEEDS_AGENT_PASSWORD
    return AuthFailure.WRONG_TOKEN


def _decrypt_body(keys: AesKeys | None, body: bytes) -> bytes:
    if not body:
        return b""
    if keys is None:
        raise AuthError(AuthFailure.BODY_UNDECRYPTABLE, "the header has no Keys, or they are not 32 bytes (key and IV)")
    try:
        return aes_body.decrypt(keys, body)
    except DecryptionError as exc:
        raise AuthError(AuthFailure.BODY_UNDECRYPTABLE, str(exc) or "invalid ciphertext") from None


def _aes_keys_or_none(raw: bytes | None) -> AesKeys | None:
    if raw is None:
        return None
    try:
        return AesKeys.from_bytes(raw)
    except DecryptionError:
        return None
