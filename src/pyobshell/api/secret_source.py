"""Where /api/v1/secret gets the agent's public key from.

The key pair lives in the security layer; this is the one place that knows how to reach it,
so the route does not change when that layer changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyobshell.errors import ErrorCode, ErrorKind

SECURITY_NOT_READY = ErrorCode("Security.KeyPair.NotReady", ErrorKind.UNEXPECTED, "Agent key pair is not available: {}")

PublicKeySource = Callable[[], str]


def key_pair_public_key(home: Path) -> PublicKeySource:
    """A cached source of the base64 PKCS#1 public key of the agent's key pair in ``home``."""
    cached: list[str] = []

    def public_key() -> str:
        if not cached:
            try:
                from pyobshell.security.keypair import AgentKeyPair  # noqa: PLC0415 - optional until wired
            except ImportError as exc:
                raise SECURITY_NOT_READY(f"security layer missing ({exc})") from exc
            cached.append(AgentKeyPair.load_or_create(home).public_key_b64())
        return cached[0]

    return public_key
