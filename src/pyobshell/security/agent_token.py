"""The cluster agent token: how pyobshell agents authenticate ``/rpc/v1`` calls to each other.

obshell sends the root@sys password on every inter-agent call, and otherwise per-agent UUID
tokens stored in plaintext, with a master that accepts an empty token (reference §5.3, §9).

pyobshell's design, deliberately simple:

* One **shared secret per cluster**: 32 random bytes as 64 hex characters, created by the
  first agent of the cluster and stored in ``<home>/agent_token`` (mode 0600) on every agent.
* **Distribution**: a joining agent authenticates its join call with the *agent password*
  (``X-OCS-Agent-Header``) and sends its public key; the master answers with
  :meth:`AgentToken.seal_for` (the token RSA-encrypted to that key, base64), which only the
  joiner can :meth:`AgentToken.unseal`. The token never travels in the clear.
* **Use**: an agent builds ``/rpc/v1`` requests with
  ``RequestBuilder(peer_public_key, ClientStyle.AGENT).build(uri, body, token=token.value)``;
  the token travels in the header's ``Token`` field, inside the same RSA-encrypted header as
  any credential, so the ``Uri`` binding, the ``Ts`` window and the replay cache all apply.
  The receiver passes ``token_checker=token`` to the verifier and ``allowed={AGENT_TOKEN}`` on
  ``/rpc/v1`` routes. The comparison is constant-time and an empty token never matches.
* **Rotation**: write a new token to every agent (:meth:`AgentToken.save`); there is no
  overlap period, so rotate when no inter-agent call is in flight.

The root password therefore never leaves the agent that knows it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.security import private_file, rsa_chunks
from pyobshell.security.credentials import secrets_equal
from pyobshell.security.crypto_errors import DecryptionError
from pyobshell.security.keypair import AgentKeyPair

TOKEN_FILE_NAME = "agent_token"
TOKEN_BYTES = 32
_TOKEN_FORMAT = re.compile(r"[0-9a-f]{64}")

AGENT_TOKEN_INVALID = ErrorCode("Security.AgentToken.Invalid", ErrorKind.BAD_REQUEST, "Invalid agent token: {}")
AGENT_TOKEN_STORE_FAILED = ErrorCode("Security.AgentToken.StoreFailed", ErrorKind.UNEXPECTED, "Agent token file: {}")


@dataclass(frozen=True, repr=False)
class AgentToken:
    """The cluster's shared agent token; call it with a candidate to check it."""

    value: str

    def __post_init__(self) -> None:
        if not _TOKEN_FORMAT.fullmatch(self.value):
            raise AGENT_TOKEN_INVALID(f"expected {TOKEN_BYTES * 2} lower-case hex characters")

    def __repr__(self) -> str:
        return "AgentToken(<hidden>)"

    @classmethod
    def generate(cls) -> "AgentToken":
        return cls(secrets.token_hex(TOKEN_BYTES))

    # -- checking (a SecretChecker for the request verifier) -------------------------------

    def __call__(self, candidate: str) -> bool:
        return self.matches(candidate)

    def matches(self, candidate: str) -> bool:
        return bool(candidate) and secrets_equal(candidate, self.value)

    # -- distribution ------------------------------------------------------------------------

    def seal_for(self, peer_public_key: RSAPublicKey) -> str:
        """The token encrypted to a peer's public key, for that peer only."""
        return rsa_chunks.encrypt_b64(peer_public_key, self.value.encode("ascii"))

    @classmethod
    def unseal(cls, key_pair: AgentKeyPair, sealed: str) -> "AgentToken":
        """Open a token sealed to this agent's key; a bad value raises ``Security.AgentToken.Invalid``."""
        try:
            return cls(key_pair.decrypt_text(sealed))
        except DecryptionError:
            raise AGENT_TOKEN_INVALID("cannot decrypt it with this agent's key") from None

    # -- storage -------------------------------------------------------------------------------

    @classmethod
    def load(cls, home: Path) -> "AgentToken | None":
        """The stored token, or None if this agent has none yet."""
        path = token_file(home)
        try:
            raw = private_file.read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AGENT_TOKEN_STORE_FAILED(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return cls(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ObshellError):
            raise AGENT_TOKEN_STORE_FAILED(f"{path} does not hold a valid token") from None

    @classmethod
    def load_or_create(cls, home: Path) -> "AgentToken":
        """The stored token, or a new one (for the first agent of a cluster)."""
        token = cls.load(home)
        if token is not None:
            return token
        path = token_file(home)
        try:
            # If another process creates it first, its token wins and is read back below.
            private_file.create_if_absent(path, (cls.generate().value + "\n").encode("ascii"))
        except OSError as exc:
            raise AGENT_TOKEN_STORE_FAILED(f"cannot write {path}: {exc.strerror or exc}") from None
        token = cls.load(home)
        if token is None:
            raise AGENT_TOKEN_STORE_FAILED(f"{path} disappeared while being created")
        return token

    def save(self, home: Path) -> None:
        """Store this token, replacing any previous one (joining a cluster, rotation)."""
        path = token_file(home)
        try:
            private_file.replace(path, (self.value + "\n").encode("ascii"))
        except OSError as exc:
            raise AGENT_TOKEN_STORE_FAILED(f"cannot write {path}: {exc.strerror or exc}") from None


def token_file(home: Path) -> Path:
    return Path(home) / TOKEN_FILE_NAME
