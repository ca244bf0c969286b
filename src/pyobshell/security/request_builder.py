"""Client side: builds the encrypted header and body of one request, as obshell clients do.

Three styles, all accepted by obshell and by :class:`~pyobshell.security.request_verifier.RequestVerifier`:

=========  ===============================  =============  =============  ===========================
style      header field names               ``Ts``         RSA chunk      ``Keys`` sent
=========  ===============================  =============  =============  ===========================
WEB_UI     Auth, Ts, Uri, Keys, session_id  now + 1800     53 bytes       with a body (or on request)
SDK_V2     auth, ts, uri, keys              now + 5        53 bytes       always
AGENT      Go names (Auth, Ts, Token, ...)  now + 10       k - 11 bytes   with a body (or on request)
=========  ===============================  =============  =============  ===========================

Each call draws a fresh AES key and IV, and RSA PKCS#1 v1.5 padding is random, so no two
headers are equal, which is what lets the server refuse a repeated header as a replay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pyobshell.security import aes_body, rsa_chunks
from pyobshell.security.aes_body import AesKeys
from pyobshell.security.clock import Clock, system_clock
from pyobshell.security.keypair import load_public_key_b64
from pyobshell.security.request_header import (
    AGENT_HEADER,
    ROOT_HEADER,
    ForwardAgent,
    ForwardType,
    KeyStyle,
    RequestHeader,
)


@dataclass(frozen=True)
class _StyleProfile:
    key_style: KeyStyle
    lifetime: int  # seconds added to now for Ts (Ts is an expiry time)
    chunk_size: int | None  # None: the key's maximum, k - 11
    always_keys: bool


class ClientStyle(Enum):
    WEB_UI = _StyleProfile(KeyStyle.GO, 1800, rsa_chunks.LEGACY_CHUNK_SIZE, always_keys=False)
    SDK_V2 = _StyleProfile(KeyStyle.LOWER, 5, rsa_chunks.LEGACY_CHUNK_SIZE, always_keys=True)
    AGENT = _StyleProfile(KeyStyle.GO, 10, None, always_keys=False)


@dataclass(frozen=True, repr=False)
class EncryptedRequest:
    """What to send: the auth header (name → value), the raw body, and the AES keys used."""

    headers: dict[str, str]
    body: bytes
    keys: AesKeys  # decrypts a value the server returns encrypted (login, SSO)

    def __repr__(self) -> str:
        return f"EncryptedRequest(headers={list(self.headers)}, body={len(self.body)} bytes)"


class RequestBuilder:
    """Builds requests for one target agent, identified by its public key."""

    def __init__(self, public_key: RSAPublicKey | str, style: ClientStyle = ClientStyle.SDK_V2, clock: Clock = system_clock):
        self.public_key = load_public_key_b64(public_key) if isinstance(public_key, str) else public_key
        self.style = style
        self._clock = clock

    def build(
        self,
        uri: str,
        body: bytes | None = None,
        *,
        password: str = "",
        agent_header: bool = False,
        token: str = "",
        session_id: str = "",
        with_keys: bool = False,
        forward_type: ForwardType = ForwardType.NOT_FORWARD,
        forward_agent: ForwardAgent | None = None,
        lifetime: int | None = None,
    ) -> EncryptedRequest:
        """Encrypt a request for ``uri`` (the exact request target: path plus ``?query``).

        ``body`` is the plaintext JSON bytes, or None for no body. ``agent_header`` selects
        ``X-OCS-Agent-Header`` (``password`` is then the agent password). ``with_keys`` sends
        ``Keys`` even without a body, for replies the server encrypts (login, SSO).
        ``lifetime`` overrides the style's Ts offset (tests use it to build stale headers).
        """
        profile = self.style.value
        keys = AesKeys.generate()
        send_keys = profile.always_keys or with_keys or body is not None
        ts = math.floor(self._clock()) + (profile.lifetime if lifetime is None else lifetime)
        header = RequestHeader(
            ts=ts,
            uri=uri,
            auth=password,
            keys=keys.to_bytes() if send_keys else None,
            session_id=session_id,
            token=token,
            forward_type=forward_type,
            forward_agent=forward_agent,
        )
        value = self.encrypt_header(header)
        encrypted_body = aes_body.encrypt(keys, body) if body is not None else b""
        name = AGENT_HEADER if agent_header else ROOT_HEADER
        return EncryptedRequest(headers={name: value}, body=encrypted_body, keys=keys)

    def encrypt_header(self, header: RequestHeader) -> str:
        """RSA-encrypt an already built header in this style (field names and chunk size)."""
        profile = self.style.value
        return rsa_chunks.encrypt_b64(self.public_key, header.to_json(profile.key_style), profile.chunk_size)
